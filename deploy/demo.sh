#!/usr/bin/env bash
# The demo of the README, end to end on this machine:
#   1. builds Vigil (release) and provisions the model;
#   2. starts a local mosquitto on a free loopback port and `vigil run` against it (with an upstream
#      link to the same broker through the SQLite outbox), plays a recorded pump fault at the broker
#      as the sensors would, and prints the alerts a dashboard receives;
#   3. replays the same recording offline and prints the summary scored against its labels.
#
#   deploy/demo.sh [SCENARIO]      SCENARIO: cavitation (default), bearing-wear, blocked-valve,
#                                  sensor-faults, tank-overfill, normal
#   VIGIL_DEMO_SPEED=N             play the live part at N x plant speed (default 30; max: as fast as possible)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
export PATH=/opt/swift/usr/bin:$PATH
scenario=${1:-cavitation}
recording=sensors/recordings/$scenario.csv
[ -f "$recording" ] || { echo "no recording $recording; try one of: $(ls sensors/recordings/*.csv | xargs -n1 basename | sed 's/.csv//' | tr '\n' ' ')" >&2; exit 2; }

"$here/dev-setup.sh"
echo "building vigil (release; the first build takes a few minutes) ..." >&2
swift build -c release --product vigil >&2
vigil=$root/.build/release/vigil
model=$root/models/SmolLM2-135M-Instruct.Q4_1.gguf

work=$(mktemp -d /tmp/vigil-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -P $$ 2>/dev/null || true    # the subscriber pipeline's other half
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
CONF
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)

# The model goes in as the agent takes it on a gateway: the default signed bundle, verified against
# the project's public key, self-tested and made current (vigil model install).
echo "installing the default signed model bundle (signature, SHA-256, narration self-test) ..." >&2
"$here/default-bundle.sh" assemble "$model" "$work/bundle"
"$vigil" model install --store "$work/state/models/bundles" --trusted-key "$root/deploy/keys/vigil-default.pub" "$work/bundle" >&2
rm -rf "$work/bundle"

cat > "$work/vigil.yaml" <<CONF
agent: {name: demo, catalog: $root/sensors/plant.yaml, state_dir: $work/state}
local: {url: "mqtt://127.0.0.1:$port"}
ingest: {max_future_skew: 30d}     # the recording is played faster than real time
narration: {trusted_keys: [$root/deploy/keys/vigil-default.pub], deadline: 1.5s}
upstream: {url: "mqtt://127.0.0.1:$port", client_id: demo-upstream}
metrics: {listen: "127.0.0.1:0"}
CONF
sleep 0.5
echo >&2
echo "== live: vigil run against a local mosquitto on port $port" >&2
"$vigil" run --config "$work/vigil.yaml" 2>"$work/agent.log" &
agent=$!
pids+=($agent)
sleep 2

# What an operator's dashboard sees: every opened or resolved alert, as it arrives.
mosquitto_sub -p "$port" -t 'vigil/demo/alerts/#' | python3 -u -c '
import json, sys
for line in sys.stdin:
    a = json.loads(line)
    n = a["narrative"]
    print("  {}  {:8} {:8} {} ({}) [{}, {:.0f} ms]".format(a["detected_at"][11:19], a["stage"], a["severity"],
          a["sensor_name"], a["kind"], n["source"], n["latency_ms"]), flush=True)
    print("      " + n["text"], flush=True)
' &
pids+=($!)
mosquitto_sub -p "$port" -q 1 -t 'vigil/north/demo/events' > "$work/upstream.jsonl" &
pids+=($!)
sleep 0.5
# At a plant's pace, sped up only as far as a demo needs: the 2.5 h recording in about 5 min at 30x
# (20 sensors every 2 s become 300 readings/s). Alerts then arrive as far apart as they would in a plant
# (scaled), and the model has its 1.5 s per alert; played as fast as possible, a whole fault storm lands
# within seconds and most alerts fall back to the template. VIGIL_DEMO_SPEED=max restores that.
speed=${VIGIL_DEMO_SPEED:-30}
pace=(--speed "$speed"); [ "$speed" = max ] && pace=(--max)
echo "== playing $recording at the broker (as the sensors would publish it, ${speed}x plant speed) ..." >&2
"$vigil" replay "$recording" --broker "mqtt://127.0.0.1:$port" --qos 1 "${pace[@]}"
sleep 8    # let the last narrations finish
kill -TERM "$agent"; wait "$agent" 2>/dev/null || true
echo >&2
echo "== the agent's retained status after a clean stop:" >&2
mosquitto_sub -p "$port" -t vigil/demo/status -C 1 -W 3 || true
echo "== upstream: $(wc -l < "$work/upstream.jsonl") incident messages arrived upstream through the outbox (vigil/north/demo/events: one per asset incident, not per alert)" >&2

echo >&2
echo "== offline replay of $recording, scored against its labels:" >&2
"$vigil" replay "$recording" --format text --model "$model"
