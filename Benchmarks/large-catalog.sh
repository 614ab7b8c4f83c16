#!/usr/bin/env bash
# The large-catalog figures of #13: catalog load time, start time (connected and subscribed),
# ingest rate of `vigil run` through a real mosquitto, and its peak RSS (VmHWM), without the model.
#
#   swift build -c release --product vigil
#   Benchmarks/large-catalog.sh 100000            # N sensors; 10 readings each
#
# Feeds with `vigil replay --broker` (QoS 0) from a long CSV; the agent's rate is its
# vigil_readings_total over the time from the first to the last reading it counted.
set -euo pipefail
n=${1:-100000}
rounds=${2:-10}
vigil=${VIGIL:-.build/release/vigil}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/vigil-large.XXXXXX)
port=$((20000 + RANDOM % 20000)); mport=$((port + 1))
python3 "$here/large-catalog.py" "$n" > "$dir/catalog.yaml"
python3 "$here/large-catalog-readings.py" "$n" "$rounds" > "$dir/readings.csv"
cat > "$dir/vigil.yaml" <<YAML
agent: {name: large, catalog: $dir/catalog.yaml, state_dir: $dir/state}
local: {url: "mqtt://127.0.0.1:$port"}
narration: {enabled: false}
detector: {persist_state: false}
metrics: {listen: "127.0.0.1:$mport"}
YAML
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\n' "$port" > "$dir/mosquitto.conf"
now() { date +%s.%N; }
readings() { curl -s "http://127.0.0.1:$mport/metrics" | awk '/^vigil_readings_total/ {print $2}' | head -1; }

t0=$(now); "$vigil" check-config "$dir/vigil.yaml" > "$dir/check.txt"; t1=$(now)
echo "catalog: $n sensors; check-config (load + validate): $(echo "$t1 - $t0" | bc) s"

mosquitto -c "$dir/mosquitto.conf" > "$dir/mosquitto.log" 2>&1 & mpid=$!
sleep 0.5
t0=$(now)
"$vigil" run --config "$dir/vigil.yaml" > "$dir/vigil.log" 2>&1 & vpid=$!
trap 'kill $vpid $mpid 2>/dev/null || true' EXIT
until grep -q '"subscribed"\|subscribed' "$dir/vigil.log" 2>/dev/null; do sleep 0.1; kill -0 $vpid || { cat "$dir/vigil.log"; exit 1; }; done
t1=$(now)
echo "start (process start to subscribed to $n topics): $(echo "$t1 - $t0" | bc) s"
grep VmHWM /proc/$vpid/status | sed 's/^/after start: /'

before=$(readings); before=${before:-0}
t0=$(now)
"$vigil" replay "$dir/readings.csv" --catalog "$dir/catalog.yaml" --broker "mqtt://127.0.0.1:$port" --qos 0 2> "$dir/replay.txt"
t1=$(now)
cat "$dir/replay.txt" | tail -1
last=$before; tlast=$t0
while :; do
  sleep 0.5
  cur=$(readings); cur=${cur:-0}
  if [[ "$cur" == "$last" ]]; then
    if [[ $(echo "$(now) - $tlast > 3" | bc) == 1 ]]; then break; fi
  else
    last=$cur; tlast=$(now)
  fi
done
ingested=$(echo "$last - $before" | bc)
echo "ingested $ingested of $((n * rounds)) readings in $(echo "$tlast - $t0" | bc) s: $(echo "$ingested / ($tlast - $t0)" | bc) readings/s (publisher took $(echo "$t1 - $t0" | bc) s)"
grep -E 'VmHWM|VmRSS' /proc/$vpid/status
curl -s "http://127.0.0.1:$mport/metrics" | grep -E '^vigil_(mqtt_inbound_dropped|readings_rejected_total)' | grep -v ' 0$' || true
kill -TERM $vpid; wait $vpid || true
echo "files in $dir"
