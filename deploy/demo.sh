#!/usr/bin/env bash
# The demo of the README: builds Vigil and replays a recorded fault of the demo plant through
# the whole pipeline (detection, narration by the on-device model, alert assembly), then prints
# the alerts and the summary scored against the fault's labels.
#
#   deploy/demo.sh [SCENARIO]      SCENARIO: cavitation (default), bearing-wear, blocked-valve,
#                                  sensor-faults, tank-overfill, normal
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."
export PATH=/opt/swift/usr/bin:$PATH
scenario=${1:-cavitation}
recording=sensors/recordings/$scenario.csv
[ -f "$recording" ] || { echo "no recording $recording; try one of: $(ls sensors/recordings/*.csv | xargs -n1 basename | sed 's/.csv//' | tr '\n' ' ')" >&2; exit 2; }

"$here/dev-setup.sh"
echo "building vigil (release) ..." >&2
swift build -c release --product vigil >&2
vigil=.build/release/vigil

echo >&2
echo "== replaying $recording: $(sed -n 's/.*"description" : "\(.*\)".*/\1/p' "${recording%.csv}.labels.json" | head -1)" >&2
echo >&2
"$vigil" replay "$recording" --format text
