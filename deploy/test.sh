#!/usr/bin/env bash
# The test command of the README: installs what the tests need, then runs every test suite
# (release mode: the engine's golden tests run the real model).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."
"$here/dev-setup.sh"
swift build -c release --build-tests
swift test -c release --skip-build "$@"
