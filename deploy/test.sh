#!/usr/bin/env bash
# The test command of the README: installs what the tests need, checks the C kernels on arm64
# under emulation, then runs every test suite (release mode: the engine's golden tests run the
# real model).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."
"$here/dev-setup.sh"
# The SIMD kernels against the scalar reference: arm64 NEON (with and without dotprod) under
# qemu-aarch64, and the host's own (about 15 s of CPU; fails early, before the long build).
"$here/arm64-kernel-check.sh"
swift build -c release --build-tests
swift test -c release --skip-build "$@"
