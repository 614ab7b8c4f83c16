#!/usr/bin/env bash
# Installs what building, testing and the demo need on a Debian machine that has the Swift toolchain:
# the C libraries Vigil links (libmosquitto, libsqlite3), the mosquitto broker and clients that the
# tests and the demo start, the arm64 cross compiler and QEMU that check the NEON kernels, and the
# default model (through deploy/provision-model.sh).
# Idempotent: installs only what is missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then export PATH=/opt/swift/usr/bin:$PATH; else
    echo "error: no Swift toolchain on PATH; install Swift 6.1 or later (https://www.swift.org/install/linux/)" >&2
    exit 1
  fi
fi

# libcurl4-openssl-dev: the tests fetch /metrics with URLSession (FoundationNetworking links libcurl); vigil itself does not need it.
packages=(pkg-config mosquitto mosquitto-clients libmosquitto-dev libsqlite3-dev libcurl4-openssl-dev openssl python3 python3-pip unzip)
# deploy/arm64-kernel-check.sh checks the arm64 (NEON) kernels under emulation with a cross compiler and
# qemu-user-static; an arm64 machine checks its own CPU natively instead (and has no cross packages).
if [ "$(dpkg --print-architecture)" != arm64 ]; then
  packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian mosquitto package starts a broker on port 1883; Vigil's tests and demo start their own.

"$here/provision-model.sh" "$root/models"
