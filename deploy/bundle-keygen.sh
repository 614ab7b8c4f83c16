#!/usr/bin/env bash
# Make an Ed25519 key pair for signing model bundles (deploy/DEPLOY.md, "Model bundles").
#
# Usage: deploy/bundle-keygen.sh PRIVATE.pem [PUBLIC.pub]
#   PRIVATE.pem  the signing key (PEM, PKCS #8), written with mode 0600. Keep it off the gateways
#                and out of any repository: whoever holds it can make bundles the gateways load.
#   PUBLIC.pub   its public half as `ed25519:BASE64` (default: PRIVATE with .pub): the line that
#                goes into narration.trusted_keys, or the file `vigil model --trusted-key` reads.
# Refuses to overwrite an existing key. Needs openssl.
set -euo pipefail
die() { printf 'bundle-keygen: error: %s\n' "$*" >&2; exit 1; }
[[ $# -ge 1 && $# -le 2 && "$1" != -h && "$1" != --help ]] || { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2; }
priv=$1
pub=${2:-${priv%.pem}.pub}
[[ ! -e "$priv" ]] || die "$priv exists; a signing key is never overwritten (move it aside first)"
command -v openssl >/dev/null || die "openssl is needed (apt-get install openssl)"
mkdir -p -- "$(dirname "$priv")" "$(dirname "$pub")"
(umask 077 && openssl genpkey -algorithm ed25519 -out "$priv")
# The DER public key is a fixed 12-byte header and the 32 raw key bytes.
raw=$(openssl pkey -in "$priv" -pubout -outform DER | tail -c 32 | base64 -w0)
[[ ${#raw} -eq 44 ]] || die "openssl did not give a 32-byte Ed25519 public key"
printf 'ed25519:%s\n' "$raw" > "$pub"
printf 'bundle-keygen: private key %s (keep it secret), public key %s:\n' "$priv" "$pub" >&2
cat "$pub"
