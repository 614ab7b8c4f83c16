#!/usr/bin/env bash
# Provision the narration LoRA adapter (optional; the agent narrates without it).
#
# Usage: deploy/provision-adapter.sh [DEST_DIR]
#   DEST_DIR defaults to <repo>/models. Trains the adapter with tools/narration-train on
#   sensors/narration/train.jsonl, with the options of the reference run
#   (tools/narration-train/ADAPTER.md), into DEST_DIR/vigil-narration-lora.gguf and its .sha256.
#   Needs the default model (deploy/provision-model.sh runs first) and python3; installs the
#   tool's PyPI requirements (torch, about 4 GB) into a virtual environment under
#   ${VIGIL_TRAIN_VENV:-$HOME/.cache/vigil-narration-train}. About 5 minutes of training on 2 cores.
#   Running it again does nothing when the file there has the pinned SHA-256.
#   The same inputs, torch version and CPU give the pinned file; on another CPU the hash may
#   differ: the script then says so, and `narration.adapter_sha256` names the new digest.
set -euo pipefail

say() { printf 'provision-adapter: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

case "${1:-}" in
  -h|--help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 0 ;;
esac
[[ $# -le 1 ]] || die "expected at most one argument (DEST_DIR), got $#; see --help"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
dest_dir="${1:-$root/models}"
target="$dest_dir/vigil-narration-lora.gguf"
# The pinned digest, read from the engine's source so that the two never disagree.
pinned=$(sed -n 's/.*narrationAdapterSHA256 = "\([0-9a-f]\{64\}\)".*/\1/p' "$root/Sources/MicroLM/ModelLocator.swift")
[[ ${#pinned} -eq 64 ]] || die "cannot read narrationAdapterSHA256 from Sources/MicroLM/ModelLocator.swift"

if [[ -f "$target" ]] && [[ "$(sha256sum "$target" | cut -d' ' -f1)" == "$pinned" ]]; then
  say "already provisioned: $target (SHA-256 verified)"
  exit 0
fi

"$here/provision-model.sh" "$dest_dir"
model="$dest_dir/SmolLM2-135M-Instruct.Q4_1.gguf"

venv=${VIGIL_TRAIN_VENV:-$HOME/.cache/vigil-narration-train}
if ! "$venv/bin/python" -c "import torch, gguf, numpy, regex" 2>/dev/null; then
  say "installing the training tool's requirements into $venv (first use only)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$root/tools/narration-train/requirements.txt"
fi

mkdir -p "$dest_dir"
say "training the adapter (about 5 minutes on 2 cores)"
(cd "$root/tools/narration-train" && nice -n 19 "$venv/bin/python" train.py \
  --model "$model" --pairs "$root/sensors/narration/train.jsonl" --out "$target" \
  --max-pairs 96 --batch 4 --lr 2e-3 --check 3)

digest=$(sha256sum "$target" | cut -d' ' -f1)
if [[ "$digest" == "$pinned" ]]; then
  say "provisioned $target (SHA-256 verified)"
else
  say "provisioned $target with SHA-256 $digest, not the pinned $pinned (another CPU or torch build);"
  say "set narration.adapter_sha256: $digest to use it"
fi
