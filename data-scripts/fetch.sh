#!/usr/bin/env bash
# Downloads a public dataset for the LRML kit from its official address, verifies it against the checksums
# pinned in data-scripts/checksums.txt, and unpacks it where the kit looks for it.
#
#   data-scripts/fetch.sh NAME [--data-dir DIR] [--force] [--remove-archive]
#   data-scripts/fetch.sh --list [--data-dir DIR]
#
# Needs bash, coreutils (sha256sum/md5sum, mktemp, mv), curl or wget, and unzip. See data-scripts/README.md.
#
# Guarantees:
#   * resumable: the download goes to DIR/.downloads/FILE.part and continues from where it stopped
#     (curl -C - / wget -c); it is renamed to DIR/.downloads/FILE only once complete and verified;
#   * verified: size and SHA-256 (MD5 where no SHA-256 is known) of the archive, a zip integrity test, and the
#     SHA-256 of the key extracted files where those are pinned; a corrupt or truncated archive is refused;
#   * atomic: the archive is unpacked into a temporary folder on the same filesystem and renamed into place only
#     when complete and verified, so the kit never sees a half-unpacked dataset;
#   * idempotent: a dataset already present and verified is left alone ("already present and verified");
#   * no leftovers: the temporary folder (.fetch-NAME.PID.XXXXXX next to the dataset folder) is removed on exit, and
#     one left by a run that was killed (SIGKILL, power loss) is removed by the next run, which first puts back a
#     previous dataset folder that a killed --force run had moved aside.
#
# Test hooks (used by the kit's tests with a local file:// server; not needed otherwise):
#   --base-url URL    fetch FILE from URL/FILE instead of the official address
#   --checksums FILE  use another checksums file
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECKSUMS="$SCRIPT_DIR/checksums.txt"
GROUPLENS=https://files.grouplens.org/datasets
NCF_COMMIT=4aab159e81c44b062c091bdaed0ab54ac632371f
NCF_BASE=https://raw.githubusercontent.com/hexiangnan/neural_collaborative_filtering/$NCF_COMMIT/Data

say()  { printf 'fetch.sh: %s\n' "$*"; }
die()  { printf 'fetch.sh: error: %s\n' "$*" >&2; exit 1; }
usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  echo
  echo "Datasets: $(names | tr '\n' ' ')"
  exit "${1:-0}"
}

# ---- dataset table --------------------------------------------------------------------------------------
# spec NAME -> sets TYPE (zip|files), URLDIR, FILES (archive or data files), TOP (folder inside the zip, "" if
# flat), DEST (folder under the data dir), KEYS (files that must exist), SIZE, LICENCE, ABOUT
names() { printf '%s\n' ml-100k ml-1m ml-1m-ncf ml-10m ml-20m ml-25m ml-latest-small lastfm-2k; }
spec() {
  TYPE=zip; URLDIR=$GROUPLENS/movielens; TOP=$1; DEST=$1
  LICENCE="GroupLens: research use only, cite Harper & Konstan 2015, NO redistribution"
  case "$1" in
    ml-100k) FILES=ml-100k.zip; KEYS="u.data u.item u.genre"; SIZE="4.7 MB"
             ABOUT="MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies" ;;
    ml-1m)   FILES=ml-1m.zip; KEYS="ratings.dat movies.dat users.dat"; SIZE="5.6 MB"
             ABOUT="MovieLens 1M: 1,000,209 ratings, 6,040 users, 3,706 rated movies" ;;
    ml-10m)  FILES=ml-10m.zip; TOP=ml-10M100K; DEST=ml-10M100K; KEYS="ratings.dat movies.dat"; SIZE="63 MB"
             ABOUT="MovieLens 10M: 10,000,054 ratings, 69,878 users, 10,677 movies (MD5-verified only)" ;;
    ml-20m)  FILES=ml-20m.zip; KEYS="ratings.csv movies.csv"; SIZE="190 MB"
             ABOUT="MovieLens 20M: 20,000,263 ratings, 138,493 users, 26,744 movies" ;;
    ml-25m)  FILES=ml-25m.zip; KEYS="ratings.csv movies.csv"; SIZE="250 MB"
             ABOUT="MovieLens 25M: 25,000,095 ratings, 162,541 users, 59,047 movies" ;;
    ml-latest-small) FILES=ml-latest-small.zip; KEYS="ratings.csv movies.csv"; SIZE="1 MB"
             ABOUT="MovieLens latest-small (2018-09 build): 100,836 ratings, 610 users, 9,742 movies"
             LICENCE="GroupLens: research use, cite Harper & Konstan 2015, redistribution only under the same terms" ;;
    lastfm-2k) URLDIR=$GROUPLENS/hetrec2011; FILES=hetrec2011-lastfm-2k.zip; TOP=""; DEST=hetrec2011-lastfm-2k
             KEYS="user_artists.dat artists.dat"; SIZE="2.5 MB"
             ABOUT="HetRec 2011 Last.fm 2K: 92,834 user-artist listening counts, 1,892 users, 17,632 artists"
             LICENCE="HetRec 2011 / Last.fm: non-commercial research use, cite Cantador et al. 2011" ;;
    ml-1m-ncf) TYPE=files; URLDIR=$NCF_BASE; FILES="ml-1m.test.rating ml-1m.test.negative"; TOP=""; DEST=ml-1m/ncf
             KEYS="ml-1m.test.rating ml-1m.test.negative"; SIZE="3 MB"
             ABOUT="NCF leave-one-out test split of ML-1M with 99 sampled negatives per user (He et al. 2017)"
             LICENCE="code Apache-2.0; the data derive from ML-1M, so the GroupLens terms apply" ;;
    *) return 1 ;;
  esac
}

# ---- checksums --------------------------------------------------------------------------------------------
# pins NAME KIND -> lines "TARGET ALGO DIGEST BYTES"
pins() { awk -v n="$1" -v k="$2" '$0 !~ /^[[:space:]]*#/ && $1 == n && $2 == k { print $3, $4, $5, $6 }' "$CHECKSUMS"; }
pin_of() { pins "$1" "$2" | awk -v t="$3" '$1 == t { print $2, $3, $4 }'; }

digest() { # ALGO FILE
  case "$1" in
    sha256) if command -v sha256sum >/dev/null; then sha256sum "$2" | cut -d' ' -f1; else shasum -a 256 "$2" | cut -d' ' -f1; fi ;;
    md5)    if command -v md5sum >/dev/null; then md5sum "$2" | cut -d' ' -f1; else md5 -q "$2"; fi ;;
    *) die "unknown checksum algorithm '$1' in $CHECKSUMS" ;;
  esac
}
size_of() { wc -c <"$1" | tr -d ' '; }

# verify_file FILE ALGO DIGEST BYTES -> 0 when it matches; prints why not
verify_file() {
  local f=$1 algo=$2 want=$3 bytes=$4 got
  [ -f "$f" ] || { echo "missing"; return 1; }
  if [ "$bytes" != "-" ] && [ -n "$bytes" ] && [ "$(size_of "$f")" != "$bytes" ]; then
    echo "size $(size_of "$f") bytes, expected $bytes"; return 1
  fi
  got=$(digest "$algo" "$f")
  [ "$got" = "$want" ] || { echo "$algo $got, expected $want"; return 1; }
}

# verify_folder NAME DIR -> checks key files and pinned extracted files; prints problems, returns 1 on any
verify_folder() {
  local name=$1 dir=$2 ok=0 k target algo want bytes why
  for k in $KEYS; do [ -f "$dir/$k" ] || { echo "  $dir/$k is missing"; ok=1; }; done
  while read -r target algo want bytes; do
    [ -n "$target" ] || continue
    case " $KEYS " in *" $target "*) [ -f "$dir/$target" ] || continue ;; esac   # already reported missing
    if ! why=$(verify_file "$dir/$target" "$algo" "$want" "$bytes"); then echo "  $dir/$target: $why"; ok=1; fi
  done < <(pins "$name" file; if [ "$TYPE" = files ]; then pins "$name" archive; fi)
  return $ok
}

# has_any_key DIR -> whether DIR holds at least one key file (a folder holding none, e.g. ml-1m/ with only the
# ncf/ subfolder, counts as absent and is completed without --force)
has_any_key() { local k; for k in $KEYS; do [ -f "$1/$k" ] && return 0; done; return 1; }

# ---- download -------------------------------------------------------------------------------------------
# fetch_one URL OUT ALGO DIGEST BYTES: resumable download into OUT.part, verified, then renamed to OUT
fetch_one() {
  local url=$1 out=$2 algo=$3 want=$4 bytes=$5 part="$2.part" why have rc
  if [ -f "$out" ]; then
    if why=$(verify_file "$out" "$algo" "$want" "$bytes"); then say "using verified $(basename "$out") from an earlier download"; return 0; fi
    say "discarding $(basename "$out") from an earlier download ($why)"
    rm -f "$out"
  fi
  if [ -f "$part" ] && [ "$bytes" != "-" ] && [ "$(size_of "$part")" -gt "$bytes" ]; then
    say "discarding $(basename "$part"): larger than the expected $bytes bytes"
    rm -f "$part"
  fi
  if [ -f "$part" ] && [ "$bytes" != "-" ] && [ "$(size_of "$part")" -eq "$bytes" ]; then
    say "$(basename "$part") is complete ($bytes bytes)"
  else
    if [ -s "$part" ]; then say "resuming $(basename "$out") at byte $(size_of "$part") from $url"; else say "downloading $url"; fi
    rc=0
    if command -v curl >/dev/null; then
      curl --fail --location --retry 3 --retry-delay 2 --connect-timeout 30 --silent --show-error -C - -o "$part" "$url" || rc=$?
      if [ "$rc" -eq 33 ] || [ "$rc" -eq 36 ]; then   # server cannot resume: start over
        say "the server cannot resume; downloading from the start"; rm -f "$part"; rc=0
        curl --fail --location --retry 3 --retry-delay 2 --connect-timeout 30 --silent --show-error -o "$part" "$url" || rc=$?
      fi
    elif command -v wget >/dev/null; then
      wget --quiet --tries=3 --continue -O "$part" "$url" || rc=$?
    else
      die "neither curl nor wget is installed"
    fi
    if [ "$rc" -ne 0 ]; then
      if [ -s "$part" ]; then
        die "download of $url failed (exit $rc) after $(size_of "$part") bytes; the partial file $part is kept: run the same command again to resume"
      fi
      rm -f "$part"
      die "could not download $url (exit $rc: offline, or the server is unreachable); nothing was kept.
To install it by hand: download that address on a machine that can reach it, put the file at
  $out
and run the same command again: it verifies the file against $(basename "$CHECKSUMS") and unpacks it."
    fi
  fi
  have=$(size_of "$part")
  if [ "$bytes" != "-" ] && [ "$have" -lt "$bytes" ]; then
    die "incomplete download of $(basename "$out"): $have of $bytes bytes (truncated); the partial file is kept: run the same command again to resume"
  fi
  if ! why=$(verify_file "$part" "$algo" "$want" "$bytes"); then
    rm -f "$part"
    die "checksum mismatch for $(basename "$out") ($why): the download is corrupt or the server's file changed; it was deleted. Run again to download afresh; if it fails again, do not edit checksums.txt without checking the file by hand (see data-scripts/README.md)"
  fi
  mv -f "$part" "$out"
  say "verified $(basename "$out") ($algo $want)"
}

# ---- temporary folders ----------------------------------------------------------------------------------
alive() { kill -0 "$1" 2>/dev/null || [ -d "/proc/$1" ]; }

# discard_tmp TMP DEST: removes the temporary folder TMP of a run for DEST. If the run stopped between the two
# renames of its swap (DEST moved to TMP/old, the new folder not yet in place), the previous folder is put back
# first, with the NCF split if it had already been moved into the new folder.
discard_tmp() {
  local t=$1 d=$2 n
  [ -n "$t" ] && [ -d "$t" ] || return 0
  if [ -d "$t/old" ] && [ ! -e "$d" ]; then
    mv "$t/old" "$d" && say "restored $d, which an interrupted run had moved aside"
    for n in "$t/x/ncf" "$t"/x/*/ncf; do
      if [ -d "$n" ] && [ ! -e "$d/ncf" ]; then mv "$n" "$d/ncf"; fi
    done
  fi
  rm -rf "$t"
}

# clean_stale: temporary folders of runs that were killed (their pid, part of the name, no longer runs; folders
# without a pid come from older versions of this script), for every dataset
clean_stale() {
  local n t rest pid
  for n in $(names); do
    spec "$n"
    for t in "$(dirname "$DATA_DIR/$DEST")/.fetch-$n".*; do
      [ -d "$t" ] || continue
      rest=${t##*/.fetch-"$n".}; pid=${rest%%.*}
      case "$pid" in ''|*[!0-9]*) ;; *) if [ "$rest" != "$pid" ] && alive "$pid"; then continue; fi ;; esac
      say "removing $t, left by an interrupted run"
      discard_tmp "$t" "$DATA_DIR/$DEST"
    done
  done
}

# ---- commands -------------------------------------------------------------------------------------------
resolve_data_dir() {
  if [ -n "${DATA_DIR:-}" ]; then :;
  elif [ -n "${LRML_DATA_DIR:-}" ]; then DATA_DIR=$LRML_DATA_DIR
  elif [ -f "$SCRIPT_DIR/../Lrml.Research.sln" ]; then DATA_DIR="$SCRIPT_DIR/../data"
  else DATA_DIR="$PWD/data"; fi
  if [ ! -d "$DATA_DIR" ]; then mkdir -p "$DATA_DIR"; CREATED_DATA_DIR=1; fi
  DATA_DIR=$(cd "$DATA_DIR" && pwd)
}

# leave_nothing: on a failed run, the data directory and its .downloads folder go again when this run created them
# and they are still empty (an empty data/ would make the kit believe data was placed there)
leave_nothing() {
  [ -n "$DATA_DIR" ] || return 0
  if [ "$CREATED_DOWNLOADS" -eq 1 ]; then rmdir "$DATA_DIR/.downloads" 2>/dev/null || true; fi
  if [ "$CREATED_DATA_DIR" -eq 1 ]; then rmdir "$DATA_DIR" 2>/dev/null || true; fi
}

list() {
  resolve_data_dir
  printf '%-16s %-8s %-8s %s\n' NAME SIZE STATUS ABOUT
  local n status
  for n in $(names); do
    spec "$n"
    if [ -d "$DATA_DIR/$DEST" ]; then
      if verify_folder "$n" "$DATA_DIR/$DEST" >/dev/null; then status=present; else status=partial; fi
    else status=absent; fi
    printf '%-16s %-8s %-8s %s\n' "$n" "$SIZE" "$status" "$ABOUT"
    printf '%-16s %-8s %-8s licence: %s\n' "" "" "" "$LICENCE"
  done
  echo
  echo "Data directory: $DATA_DIR"
  echo "Not fetchable: netflix (no longer distributed; see data-scripts/README.md), ml-32m (no pinned checksum)."
}

fetch() {
  local name=$1 dest src target algo want bytes f marker problems tmp
  spec "$name" || die "unknown dataset '$name'; known: $(names | tr '\n' ' ')"
  resolve_data_dir
  clean_stale
  spec "$name"
  dest="$DATA_DIR/$DEST"
  [ -n "$(pins "$name" archive)" ] || die "no pinned checksum for $name in $CHECKSUMS"
  for f in $FILES; do [ -n "$(pin_of "$name" archive "$f")" ] || die "no pinned checksum for $f in $CHECKSUMS"; done

  if [ -d "$dest" ] && [ "$FORCE" -eq 0 ] && has_any_key "$dest"; then
    if problems=$(verify_folder "$name" "$dest"); then
      marker="$dest/.lrml-fetch"
      if [ -n "$(pins "$name" file)" ] || [ "$TYPE" = files ]; then say "$name is already present and verified in $dest"
      elif [ -f "$marker" ]; then say "$name is already present in $dest (fetched from a verified archive: $(head -n 1 "$marker"))"
      else say "$name is already present in $dest (its files are not individually pinned; it was not fetched by this script)"; fi
      return 0
    fi
    die "$dest exists but does not verify:
$problems
Move it away, or run again with --force to replace it (the old folder is removed only after the new one is in place)."
  fi

  if [ ! -d "$DATA_DIR/.downloads" ]; then mkdir -p "$DATA_DIR/.downloads"; CREATED_DOWNLOADS=1; fi
  for f in $FILES; do
    read -r algo want bytes < <(pin_of "$name" archive "$f")
    fetch_one "${BASE_URL:-$URLDIR}/$f" "$DATA_DIR/.downloads/$f" "$algo" "$want" "$bytes"
  done

  mkdir -p "$(dirname "$dest")"
  TMP_DEST=$dest
  tmp=$(mktemp -d "$(dirname "$dest")/.fetch-$name.$$.XXXXXX")
  TMP_DIR=$tmp
  trap 'discard_tmp "$TMP_DIR" "$TMP_DEST"; [ "$SUCCEEDED" -eq 1 ] || leave_nothing' EXIT
  if [ "$TYPE" = zip ]; then
    command -v unzip >/dev/null || die "unzip is not installed"
    if ! unzip -tq "$DATA_DIR/.downloads/$FILES" >"$tmp/unzip-test.log" 2>&1; then
      rm -f "$DATA_DIR/.downloads/$FILES"
      die "corrupt archive $FILES (zip integrity test failed: $(head -n 3 "$tmp/unzip-test.log" | tr '\n' ' ')); it was deleted"
    fi
    unzip -q "$DATA_DIR/.downloads/$FILES" -d "$tmp/x" || die "unzip of $FILES failed"
    src="$tmp/x${TOP:+/$TOP}"
    [ -d "$src" ] || die "the archive has no folder '$TOP'"
  else
    src="$tmp/x"; mkdir -p "$src"
    for f in $FILES; do cp "$DATA_DIR/.downloads/$f" "$src/$f"; done
  fi
  if ! problems=$(verify_folder "$name" "$src"); then
    die "the unpacked files do not verify:
$problems
Nothing was installed."
  fi
  read -r algo want bytes < <(pins "$name" archive | head -n 1 | cut -d' ' -f2-)
  printf '%s %s of %s, %s\n' "$algo" "$want" "$FILES" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$src/.lrml-fetch"
  # swap into place by renames on the same filesystem; the previous folder (if any, e.g. with --force) goes
  # to the temporary folder and is deleted at exit, or restored if the swap fails
  if [ -e "$dest" ]; then mv "$dest" "$tmp/old"; fi
  # keep the NCF split (ml-1m/ncf, fetched separately) when ml-1m itself is (re)installed
  if [ -d "$tmp/old/ncf" ] && [ ! -e "$src/ncf" ]; then mv "$tmp/old/ncf" "$src/ncf"; fi
  if ! mv "$src" "$dest"; then
    if [ -d "$src/ncf" ] && [ -d "$tmp/old" ]; then mv "$src/ncf" "$tmp/old/ncf"; fi
    if [ -e "$tmp/old" ]; then mv "$tmp/old" "$dest"; fi
    die "could not move the dataset into $dest; the previous folder, if any, was restored"
  fi
  SUCCEEDED=1
  say "$name is ready in $dest"
  if [ "$REMOVE_ARCHIVE" -eq 1 ]; then for f in $FILES; do rm -f "$DATA_DIR/.downloads/$f"; done; fi
  case "$LICENCE" in *"NO redistribution"*) say "licence: $LICENCE. Never commit or share these files.";; esac
}

TMP_DIR=""; TMP_DEST=""; DATA_DIR=""; BASE_URL=""; FORCE=0; REMOVE_ARCHIVE=0; NAME=""; LIST=0
CREATED_DATA_DIR=0; CREATED_DOWNLOADS=0; SUCCEEDED=0
trap '[ "$SUCCEEDED" -eq 1 ] || leave_nothing' EXIT
while [ $# -gt 0 ]; do
  case "$1" in
    --list) LIST=1 ;;
    --data-dir) [ $# -ge 2 ] || die "--data-dir needs a folder"; DATA_DIR=$2; shift ;;
    --data-dir=*) DATA_DIR=${1#*=} ;;
    --base-url) [ $# -ge 2 ] || die "--base-url needs a URL"; BASE_URL=${2%/}; shift ;;
    --checksums) [ $# -ge 2 ] || die "--checksums needs a file"; CHECKSUMS=$2; shift ;;
    --force) FORCE=1 ;;
    --remove-archive) REMOVE_ARCHIVE=1 ;;
    -h|--help) usage 0 ;;
    -*) printf 'fetch.sh: error: unknown option %s\n' "$1" >&2; usage 2 >&2 ;;
    *) [ -z "$NAME" ] || die "one dataset at a time (got '$NAME' and '$1')"; NAME=$1 ;;
  esac
  shift
done
[ -f "$CHECKSUMS" ] || die "checksums file $CHECKSUMS not found"
if [ "$LIST" -eq 1 ]; then list; exit 0; fi
[ -n "$NAME" ] || usage 2 >&2
case "$NAME" in
  netflix) die "the Netflix Prize data is no longer distributed and cannot be fetched: obtain a copy by hand (see data-scripts/README.md, section Netflix Prize)" ;;
  ml-32m) die "ml-32m has no pinned checksum here: download https://files.grouplens.org/datasets/movielens/ml-32m.zip by hand, compare it with ml-32m.zip.md5 next to it, and unzip it into the data directory" ;;
esac
fetch "$NAME"
