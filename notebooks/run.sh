#!/usr/bin/env bash
# Runs the kit's notebooks headlessly, renders them to HTML and checks that their charts show.
#
#   notebooks/run.sh [--profile quick|full] [--data-dir DIR] [--results DIR] [--out DIR] [--only PATTERN] [--no-render]
#
# For every numbered notebook notebooks/NN-*.ipynb and NNx-*.ipynb (or those whose name contains PATTERN):
#   1. checks the committed notebook carries no outputs and the VS Code Polyglot metadata;
#   2. runs it with dotnet-repl from the notebooks folder, passing LRML_PROFILE and LRML_DATA_DIR to the
#      notebook's parameters cell; every cell runs, and a failing cell is named (notebook, cell, error);
#   3. restores the VS Code metadata in the executed copy and drops package-installation progress outputs;
#   4. renders it to one self-contained HTML file with jupyter nbconvert;
#   5. checks the HTML: chart divs with data (at least the number the notebook declares in metadata.lrml.charts),
#      plotly.js inlined, and (with Chromium) every chart drawn and a screenshot with coloured pixels.
# Experiments write runs, tables and charts under --results (LRML_RESULTS_DIR; default: the repository's results/, where
# finished runs are reused). Outputs go to notebooks/out/ (git-ignored): NN-name.ipynb, NN-name.html, NN-name.png,
# NN-name.log, each written atomically (temporary file, then rename). Ends with "N passed, N failed" (one count per notebook) and a non-zero
# exit when anything failed.
#
# Needs the .NET 10 SDK. Rendering needs Debian's jupyter-nbconvert and python3-nbformat, the screenshots chromium
# and fonts-liberation: run as root with apt-get available, the script installs what is missing; otherwise it says
# what to install. Environment: LRML_NOTEBOOK_TIMEOUT (seconds per notebook, default 1800 quick / 14400 full),
# LRML_THREADS (compute threads), LRML_CHROMIUM (browser executable), LRML_NBCONVERT (converter executable). Without a
# converter it stops before building anything (rendering would fail every notebook at its end).
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${LRML_PROFILE:-quick}"
data_dir="${LRML_DATA_DIR:-}"
results_dir="${LRML_RESULTS_DIR:-}"
out="$repo/notebooks/out"
only=""
render=1

while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="${2:?--profile needs quick or full}"; shift 2 ;;
    --profile=*) profile="${1#*=}"; shift ;;
    --data-dir) data_dir="${2:?--data-dir needs a folder}"; shift 2 ;;
    --data-dir=*) data_dir="${1#*=}"; shift ;;
    --results) results_dir="${2:?--results needs a folder}"; shift 2 ;;
    --results=*) results_dir="${1#*=}"; shift ;;
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    --only) only="${2:?--only needs a pattern}"; shift 2 ;;
    --only=*) only="${1#*=}"; shift ;;
    --no-render) render=0; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "notebooks/run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$profile" in quick|full) ;; *) echo "notebooks/run.sh: --profile must be quick or full, not '$profile'" >&2; exit 2 ;; esac
mkdir -p "$out" || exit 2
out="$(cd "$out" && pwd)"
if [ -n "$data_dir" ]; then data_dir="$(cd "$data_dir" 2>/dev/null && pwd || echo "$data_dir")"; fi
if [ -n "$results_dir" ]; then mkdir -p "$results_dir" && results_dir="$(cd "$results_dir" && pwd)" || exit 2; fi
timeout_s="${LRML_NOTEBOOK_TIMEOUT:-$([ "$profile" = full ] && echo 14400 || echo 1800)}"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf '%s\n' "$*"; }

# ---------------------------------------------------------------------------------------------- prerequisites
missing_pkgs=()
nbconvert=""
find_nbconvert() {
  if [ -n "${LRML_NBCONVERT:-}" ]; then [ -x "$LRML_NBCONVERT" ] && nbconvert="$LRML_NBCONVERT"; return; fi
  for c in /usr/bin/jupyter-nbconvert "$(command -v jupyter-nbconvert 2>/dev/null)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then nbconvert="$c"; break; fi
  done
}
find_nbconvert
cannot_render() {
  say "cannot render: jupyter-nbconvert ${LRML_NBCONVERT:+($LRML_NBCONVERT) }is not available — install jupyter-nbconvert and python3-nbformat, or run with --no-render"
  say "0 passed, 1 failed"
  exit 1
}
if [ "$render" = 1 ] && [ -n "${LRML_NBCONVERT:-}" ] && [ -z "$nbconvert" ]; then cannot_render; fi
if [ "$render" = 1 ]; then
  # a converter named by LRML_NBCONVERT is the user's choice: it is not installed for them
  [ -n "$nbconvert" ] || [ -n "${LRML_NBCONVERT:-}" ] || missing_pkgs+=(jupyter-nbconvert python3-nbformat)
  { [ -n "${LRML_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; } || missing_pkgs+=(chromium)
  [ -d /usr/share/fonts/truetype/liberation ] || missing_pkgs+=(fonts-liberation)
fi
if [ ${#missing_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    t0=$(now)
    say "installing ${missing_pkgs[*]} (apt-get) ..."
    if DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$out/apt.log" 2>&1 &&
       DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}" >>"$out/apt.log" 2>&1; then
      say "installed in $(since "$t0") s"
    else
      say "apt-get failed (see $out/apt.log)"
    fi
    find_nbconvert
  else
    say "missing for rendering: ${missing_pkgs[*]} — install them (Debian/Ubuntu: sudo apt-get install -y ${missing_pkgs[*]})"
  fi
fi
# Fail now, not after every notebook has run: rendering without a converter would fail each one at its end.
if [ "$render" = 1 ] && [ -z "$nbconvert" ]; then cannot_render; fi
if [ "$render" = 1 ] && [ -z "${LRML_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  say "no chromium: the rendered HTML is checked statically only (no drawn-chart count, no screenshots)"
fi

# ---------------------------------------------------------------------------------------------- build
cd "$repo" || exit 2
t0=$(now)
if ! dotnet tool restore >"$out/build.log" 2>&1 ||
   ! dotnet build src/Lrml.Cli -c Release -nologo -v q >>"$out/build.log" 2>&1 ||
   ! dotnet build notebooks/tools/NotebookTool -c Release -nologo -v q -o "$out/.tool" >>"$out/build.log" 2>&1; then
  tail -n 30 "$out/build.log"
  say "build failed (log: $out/build.log)"
  say "0 passed, 1 failed"
  exit 1
fi
say "build: $(since "$t0") s (kit: src/Lrml.Cli/bin/Release/net10.0)"
export LRML_KIT_DIR="$repo/src/Lrml.Cli/bin/Release/net10.0"
tool() { dotnet "$out/.tool/lrml-notebook-tool.dll" "$@"; }

# ---------------------------------------------------------------------------------------------- notebooks
shopt -s nullglob
notebooks=()
# NN-name and NNx-name (a notebook placed after NN without renumbering the rest), in byte order: 00, 00b, 01, ...
while IFS= read -r f; do
  [ -n "$f" ] || continue
  name="$(basename "$f" .ipynb)"
  if [ -z "$only" ] || [[ "$name" == *"$only"* ]]; then notebooks+=("$f"); fi
done < <(printf '%s\n' "$repo"/notebooks/[0-9][0-9]-*.ipynb "$repo"/notebooks/[0-9][0-9][a-z]-*.ipynb | LC_ALL=C sort)
if [ ${#notebooks[@]} -eq 0 ]; then
  say "no notebook matches${only:+ '$only'} in notebooks/"
  say "0 passed, 1 failed"
  exit 1
fi

passed=0; failed=0; detail=""
t_all=$(now)
export LRML_PROFILE="$profile"
if [ -n "$data_dir" ]; then export LRML_DATA_DIR="$data_dir"; fi
if [ -n "$results_dir" ]; then export LRML_RESULTS_DIR="$results_dir"; fi
say "profile: $profile · data: ${LRML_DATA_DIR:-(repository data/ or ../shared/data)} · results: ${LRML_RESULTS_DIR:-(repository results/)} · out: $out"

for f in "${notebooks[@]}"; do
  name="$(basename "$f" .ipynb)"
  work="$(mktemp -d "$out/.work-$name.XXXXXX")"
  log="$work/$name.log"
  problems=()
  timing=""

  # 1. committed notebook
  if ! tool check-committed "$f" >>"$log" 2>&1; then problems+=("committed notebook not clean (outputs or metadata; see log)"); fi

  # 2. run (from the notebooks folder: relative #r paths resolve against the working directory)
  t0=$(now)
  (cd "$repo/notebooks" && timeout "$timeout_s" dotnet repl --run "$f" --exit-after-run --output-format ipynb --output-path "$work/executed.ipynb") \
    >"$work/repl.log" 2>&1
  rc=$?
  timing="run $(since "$t0") s"
  cat "$work/repl.log" >>"$log"
  if [ ! -s "$work/executed.ipynb" ]; then
    if [ $rc -eq 124 ]; then problems+=("timed out after $timeout_s s"); else problems+=("dotnet-repl exited $rc without writing the executed notebook"); fi
    tail -n 15 "$work/repl.log" | sed 's/^/    /'
  else
    # 3. restore VS Code metadata, name failed cells
    finish_out="$(tool finish "$f" "$work/executed.ipynb" "$work/$name.ipynb" 2>&1)"
    frc=$?
    printf '%s\n' "$finish_out" >>"$log"
    if [ $frc -eq 3 ]; then
      problems+=("cells failed")
      printf '%s\n' "$finish_out" | grep '^  failed' | sed "s/^  failed /    $name: /"
    elif [ $frc -ne 0 ]; then
      problems+=("could not restore the executed notebook: $finish_out")
    elif [ $rc -ne 0 ]; then
      problems+=("dotnet-repl exited $rc")
    fi
    [ -s "$work/$name.ipynb" ] && mv -f "$work/$name.ipynb" "$out/$name.ipynb"

    # 4. render, 5. check
    if [ "$render" = 1 ] && [ -s "$out/$name.ipynb" ]; then
      if [ -z "$nbconvert" ]; then
        problems+=("not rendered: jupyter-nbconvert missing")
      else
        t0=$(now)
        if "$nbconvert" --to html --output-dir "$work" --output "$name" "$out/$name.ipynb" >>"$log" 2>&1 && [ -s "$work/$name.html" ]; then
          timing="$timing · render $(since "$t0") s"
          t0=$(now)
          png_arg="$work/$name.png"
          check_out="$(tool check-html "$work/$name.html" "$png_arg" "$f" 2>&1)"
          crc=$?
          printf '%s\n' "$check_out" >>"$log"
          timing="$timing · check $(since "$t0") s"
          [ $crc -eq 0 ] || problems+=("render check: ${check_out#check: }")
          mv -f "$work/$name.html" "$out/$name.html"
          [ -s "$work/$name.png" ] && mv -f "$work/$name.png" "$out/$name.png"
          detail="${check_out#check: }"
        else
          problems+=("nbconvert failed (see log)")
        fi
      fi
    fi
  fi
  mv -f "$log" "$out/$name.log"
  rm -rf "$work"

  if [ ${#problems[@]} -eq 0 ]; then
    passed=$((passed + 1))
    say "PASS $name · $timing${detail:+ · $detail}"
  else
    failed=$((failed + 1))
    joined="$(printf '%s; ' "${problems[@]}")"
    say "FAIL $name · $timing · ${joined%; } (log: $out/$name.log)"
  fi
  detail=""
done

say "notebooks: $(since "$t_all") s · outputs: $out"
say "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
