#!/usr/bin/env bash
# The kit's test command (README "Run the tests"). Works on a fresh machine with the .NET 10 SDK:
# restores local tools and packages, builds, runs every test, and ends with "N passed, N failed".
# Tests that need real MovieLens data read $LRML_DATA_DIR (or ./data) and skip with a message
# when it is absent.
#
# Then the notebooks (notebooks/run.sh, quick profile: run headless, rendered to HTML, each page checked for its
# charts) when data is available — $LRML_DATA_DIR set (CI sets it) or ./data present — with results in a fresh
# temporary folder, so nothing stale is reused. Each notebook counts as one test in the totals.
# LRML_NOTEBOOKS=0 skips them, LRML_NOTEBOOKS=1 runs them without data (synthetic fallback); arguments for dotnet test
# (e.g. --filter) select a subset of the tests, and skip the notebooks too.
#
# The Slurm integration test (tests/Lrml.Tests/Cli/SlurmBackendTests.cs) runs a sweep through a real Slurm. With CI=true
# or LRML_SLURM=1 this script starts a one-machine cluster for it (build/slurm-local-cluster.sh: needs root and the
# slurm-wlm and munge packages; state in the temporary folder), exports SLURM_CONF, and stops the daemons by their pids
# when the tests end. Otherwise the test skips with a message when no cluster answers (CI=true: it fails instead).
# LRML_SLURM=0 leaves Slurm alone even in CI.
set -uo pipefail
cd "$(dirname "$0")/.."

config=${LRML_TEST_CONFIGURATION:-Release}
results=$(mktemp -d)
slurm_state=""
# stops the local Slurm cluster (once); called before every result line, so that line is the last of the output
stop_cluster() {
  if [ -n "$slurm_state" ]; then build/slurm-local-cluster.sh stop "$slurm_state"; slurm_state=""; fi
}
cleanup() {
  stop_cluster
  rm -rf "$results"
}
trap cleanup EXIT

if [ "${LRML_SLURM:-}" = 1 ] || { [ "${CI:-}" = true ] && [ "${LRML_SLURM:-}" != 0 ]; }; then
  slurm_state="$results/slurm"
  if build/slurm-local-cluster.sh start "$slurm_state"; then
    export SLURM_CONF="$slurm_state/slurm.conf"
  else
    echo "the local Slurm cluster did not start: the Slurm test will fail (see build/slurm-local-cluster.sh)"
  fi
fi

if [ -f .config/dotnet-tools.json ]; then
  dotnet tool restore >/dev/null || { echo "dotnet tool restore failed"; stop_cluster; echo "0 passed, 1 failed"; exit 1; }
fi

if ! dotnet build Lrml.Research.sln -c "$config" -nologo -v q; then
  echo "build failed"
  stop_cluster
  echo "0 passed, 1 failed"
  exit 1
fi

dotnet test Lrml.Research.sln -c "$config" --no-build -nologo \
  --logger "trx;LogFileName=tests.trx" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@"
status=$?

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx "$results"/*/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); p=${p:-0}
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=${f:-0}
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters"); e=${e:-0}
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters"); t=${t:-0}
  x=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters"); x=${x:-0}
  passed=$((passed + p)); failed=$((failed + f + e)); skipped=$((skipped + t - x))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

notebooks="${LRML_NOTEBOOKS:-auto}"
if [ "$notebooks" = auto ]; then
  if [ $# -gt 0 ]; then notebooks=0; why="arguments were passed to dotnet test"
  elif [ -n "${LRML_DATA_DIR:-}" ] || [ -d data ]; then notebooks=1
  else notebooks=0; why="no data: set LRML_DATA_DIR or create ./data (LRML_NOTEBOOKS=1 runs them anyway)"; fi
fi
if [ "$notebooks" = 1 ]; then
  echo "notebooks (quick profile) ..."
  nb_start=$(date +%s)
  nb_log="$results/notebooks.log"
  notebooks/run.sh --profile quick --results "$results/notebook-results" 2>&1 | tee "$nb_log"
  nb_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$nb_log" | tail -n 1)
  if [ -n "$nb_line" ]; then
    passed=$((passed + $(cut -d' ' -f1 <<<"$nb_line"))); failed=$((failed + $(cut -d' ' -f3 <<<"$nb_line")))
  else
    echo "notebooks/run.sh ended without a result line"; failed=$((failed + 1))
  fi
  echo "notebooks: $(( $(date +%s) - nb_start )) s (rendered copies in notebooks/out/)"
else
  echo "notebooks: skipped (${why:-LRML_NOTEBOOKS=$notebooks})"
fi

stop_cluster
echo "skipped: $skipped (tests that need data or tools this machine lacks; see the log above)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
