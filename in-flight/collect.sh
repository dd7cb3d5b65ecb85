#!/usr/bin/env bash
# Copy a finished experiments.video run's result files into the docs:
#   in-flight/collect.sh runs/<run> docs/results/video-speed-long/<run>
# (config.json, curves.json, frame_metrics.{json,png}, strip_speed*.png, table.{json,md});
# then `python -m experiments.docs_tables` renders them.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: in-flight/collect.sh runs/<run> <results folder>/<name>" >&2; exit 2; }
run="${1%/}"
dest="${2%/}"
[ -f "$run/table.json" ] || { echo "collect: $run has no table.json (not finished?)" >&2; exit 2; }
mkdir -p "$dest"
cp "$run"/config.json "$run"/curves.json "$run"/frame_metrics.json "$run"/frame_metrics.png \
   "$run"/strip_speed*.png "$run"/table.json "$run"/table.md "$dest/"
echo "collected $run -> $dest"
