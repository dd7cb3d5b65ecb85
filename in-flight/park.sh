#!/usr/bin/env bash
# Carry unfinished training runs from one machine to the next through git.
#
#   in-flight/park.sh park runs/<run> ...   copy each run's config.json and checkpoints/*.pt here
#   in-flight/park.sh unpark                copy every parked run back to runs/<run>
#   in-flight/park.sh list                  each parked run and the step it reached
#
# runs/ is not tracked, and a new machine starts from what git holds, so a run that is still
# training when a session ends is lost unless its checkpoint is committed. The data folders
# are not parked: experiments regenerate them from the seed. After `unpark`, go on with the
# run's own command plus --resume (in-flight/README.md lists them); once a run has finished
# and its results are committed, `git rm -r in-flight/<run>`.
# IN_FLIGHT_DIR and RUNS_DIR override where runs are parked and unparked (for the tests).
set -euo pipefail
root="$(dirname "$(cd "$(dirname "$0")" && pwd)")"
here="${IN_FLIGHT_DIR:-$root/in-flight}"
runs="${RUNS_DIR:-$root/runs}"

# A run's folder as origin.txt records it: relative to the repository when inside it (the
# same on every checkout), absolute otherwise.
where() {
  local path
  path="$(cd "$1" && pwd)"
  case "$path" in "$root"/*) echo "${path#"$root"/}" ;; *) echo "$path" ;; esac
}

case "${1:-}" in
  park)
    shift
    [ $# -gt 0 ] || { echo "park: name at least one runs/<run> folder" >&2; exit 2; }
    # A run is parked under its folder's name: check every argument before copying any,
    # so that two runs of one name (runs/seed0/mem, runs/seed1/mem) never overwrite each
    # other, in one call or across calls (origin.txt says which run a parked copy is).
    seen=" "
    for run in "$@"; do
      run="${run%/}"
      name="$(basename "$run")"
      [ -f "$run/config.json" ] || { echo "park: $run/config.json not found" >&2; exit 2; }
      ls "$run"/checkpoints/*.pt >/dev/null 2>&1 || { echo "park: no $run/checkpoints/*.pt" >&2; exit 2; }
      case "$seen" in *" $name "*)
        echo "park: two runs named $name in one call; rename one folder first" >&2; exit 2 ;;
      esac
      seen="$seen$name "
      origin="$(where "$run")"
      if [ -f "$here/$name/origin.txt" ] && [ "$(cat "$here/$name/origin.txt")" != "$origin" ]; then
        echo "park: in-flight/$name holds another run ($(cat "$here/$name/origin.txt")); rename $run first" >&2
        exit 2
      fi
    done
    for run in "$@"; do
      run="${run%/}"
      name="$(basename "$run")"
      rm -rf "$here/$name.tmp" && mkdir -p "$here/$name.tmp/checkpoints"
      cp "$run/config.json" "$here/$name.tmp/"
      cp "$run"/checkpoints/*.pt "$here/$name.tmp/checkpoints/"
      where "$run" > "$here/$name.tmp/origin.txt"
      rm -rf "$here/$name" && mv "$here/$name.tmp" "$here/$name"
      echo "parked $run -> in-flight/$name"
    done ;;
  unpark)
    status=0
    for dir in "$here"/*/; do
      [ -f "$dir/config.json" ] || continue
      name="$(basename "$dir")"
      dest="$runs/$name"
      if ! ls "$dir"/checkpoints/*.pt >/dev/null 2>&1; then
        # Resuming without it would start again from step 0 and say nothing.
        echo "unpark: in-flight/$name has no checkpoints/*.pt; nothing to resume" >&2
        status=1
        continue
      fi
      if [ -e "$dest/checkpoints" ] || [ -e "$dest/config.json" ]; then
        echo "unpark: $dest already holds a run; left as it is" >&2
        continue
      fi
      mkdir -p "$dest/checkpoints"
      cp "$dir/config.json" "$dest/"
      cp "$dir"/checkpoints/*.pt "$dest/checkpoints/"
      echo "unparked in-flight/$name -> runs/$name"
    done
    exit "$status" ;;
  list)
    python="${PYTHON:-$root/.venv/bin/python}"
    [ -x "$python" ] || python=python3
    for ckpt in "$here"/*/checkpoints/*.pt; do
      [ -f "$ckpt" ] || continue
      step="$(cd "$root" && "$python" -c \
        "import sys; from experiments.runner import load_checkpoint as l; \
print(l(sys.argv[1])['progress']['step'])" "$ckpt")"
      echo "$(basename "$(dirname "$(dirname "$ckpt")")"): step $step"
    done ;;
  *)
    echo "usage: in-flight/park.sh park runs/<run> ... | unpark | list" >&2; exit 2 ;;
esac
