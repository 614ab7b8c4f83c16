#!/bin/sh
# Rebuilds sensors/narration/events.jsonl: the narration evaluation set.
# Replays the demo recordings and 18 more simulated ones (fixed seeds and faults) through the plant
# detector and keeps up to 8 opened events per (sensor, kind). The simulator and detector never
# produce oscillation or seasonal events, so five of each are derived from volatility and level
# shifts (ids start with `derived-`). Deterministic: same code, same file.
set -eu
VIGIL=${VIGIL:-.build/release/vigil}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
sim() { "$VIGIL" simulate --duration 3h "$@" >/dev/null; }
sim --seed 11 --fault spike@fan1.speed:40m+10s --fault out_of_range@tank1:60m+10m --fault stuck_sensor@pump2.current:90m+15m --fault silent_sensor@hx1.coolant_flow:120m+10m --fault cavitation@pump2:140m+20m --out "$TMP/mix1.csv"
sim --seed 12 --fault spike@hx1.inlet_temp:30m+20s --fault stuck_sensor@fan1.vibration:80m+15m --fault silent_sensor@tank1.temperature:110m+10m --fault bearing_wear@pump1:60m+110m --out "$TMP/mix2.csv"
sim --seed 13 --fault spike@pump2.vibration:35m+10s --fault out_of_range@tank1:55m+10m --fault stuck_sensor@tank1.level:85m+15m --fault silent_sensor@fan1.current:115m+10m --fault blocked_valve@pump1:130m+40m --out "$TMP/mix3.csv"
sim --seed 14 --fault spike@pump1.flow:20m+10s --fault spike@hx1.outlet_temp:45m+10s --fault stuck_sensor@pump1.suction_pressure:70m+15m --fault silent_sensor@pump2.vibration:100m+10m --fault cavitation@pump1:120m+30m --out "$TMP/mix4.csv"
sim --seed 15 --fault spike@fan1.current:25m+10s --fault spike@pump2.discharge_pressure:50m+10s --fault stuck_sensor@hx1.inlet_temp:75m+15m --fault silent_sensor@pump1.bearing_temp:100m+10m --fault blocked_valve@pump2:120m+40m --out "$TMP/mix5.csv"
sim --seed 16 --fault cavitation@pump1:20m+20m --fault spike@tank1.level:50m+10s --fault stuck_sensor@pump1.flow:70m+15m --fault silent_sensor@hx1.inlet_temp:100m+10m --fault bearing_wear@pump2:100m+70m --out "$TMP/mix6.csv"
sim --seed 17 --fault blocked_valve@pump2:20m+30m --fault spike@fan1.vibration:60m+10s --fault out_of_range@tank1:80m+10m --fault stuck_sensor@pump2.discharge_pressure:100m+15m --fault silent_sensor@fan1.speed:130m+10m --out "$TMP/mix7.csv"
sim --seed 18 --fault cavitation@pump2:30m+25m --fault spike@pump1.current:70m+10s --fault stuck_sensor@hx1.coolant_flow:90m+15m --fault silent_sensor@pump1.vibration:120m+10m --fault blocked_valve@pump1:140m+30m --out "$TMP/mix8.csv"
SENSORS="pump1.current pump1.flow pump1.discharge_pressure pump1.suction_pressure pump1.vibration pump1.bearing_temp \
       pump2.current pump2.flow pump2.discharge_pressure pump2.suction_pressure pump2.vibration pump2.bearing_temp \
       fan1.speed fan1.current fan1.vibration hx1.inlet_temp hx1.outlet_temp hx1.coolant_flow tank1.level tank1.temperature"
pick() { echo $SENSORS | cut -d' ' -f$(( $1 % 20 + 1 )); }
for i in 0 1 2 3 4 5 6 7 8 9; do
  case $((i % 2)) in 0) a=pump1 ;; *) a=pump2 ;; esac
  case $((i % 3)) in 0) f=cavitation ;; 1) f=bearing_wear ;; *) f=blocked_valve ;; esac
  sim --seed $((21 + i)) --fault "spike@$(pick $((i * 7 + 3))):25m+10s" --fault "stuck_sensor@$(pick $((i * 11 + 5))):50m+15m" \
      --fault "silent_sensor@$(pick $((i * 13 + 1))):80m+10m" --fault "spike@$(pick $((i * 3 + 9))):100m+10s" \
      --fault "$f@$a:115m+45m" --fault out_of_range@tank1:30m+8m --out "$TMP/gen$i.csv"
done
"$VIGIL" collect-events sensors/recordings/*.csv "$TMP"/mix*.csv "$TMP"/gen*.csv --per-sensor-kind 8 \
  --derive-missing-kinds -o sensors/narration/events.jsonl
