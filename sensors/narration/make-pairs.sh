#!/bin/sh
# Rebuilds the narration training pairs and the held-out evaluation set (deterministic: same code, same files).
#   train.jsonl          2,246 pairs from plants/train-plants.yaml (8 made-up assets, 31 sensors): every kind
#                        and stage, 3 variants each, and 200 incidents; each reference passed the verifier.
#   events-plants.jsonl  604 events from plants/eval-plants.yaml (held-out plants: other assets, names, tags
#                        and units): every kind and stage once per sensor, and 30 incidents (ids incident-N/K).
set -eu
VIGIL=${VIGIL:-.build/release/vigil}
"$VIGIL" explain --export-pairs sensors/narration/train.jsonl --catalog sensors/narration/plants/train-plants.yaml \
  --incidents 200 --seed 1
"$VIGIL" explain --export-events sensors/narration/events-plants.jsonl --catalog sensors/narration/plants/eval-plants.yaml \
  --variants 1 --incidents 30 --seed 2
