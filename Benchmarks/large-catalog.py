#!/usr/bin/env python3
"""Writes a sensor catalog of N sensors (10 per asset) for the large-catalog measurements of #13.

    python3 Benchmarks/large-catalog.py 100000 > /tmp/catalog-100k.yaml
    vigil check-config ...  # or: vigil bench live --catalog /tmp/catalog-100k.yaml

Topics are plant/<asset>/<sensor>; every sensor has limits 0..100, so a reading of 50 is normal.
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
per_asset = 10
assets = (n + per_asset - 1) // per_asset
out = sys.stdout
out.write("plant: Large plant\nsite: large\ndefaults: {period: 1s, decimals: 1}\nassets:\n")
for a in range(assets):
    out.write(f"  - {{id: a{a}, name: Asset {a}, kind: machine}}\n")
out.write("sensors:\n")
for i in range(n):
    a = i // per_asset
    out.write(f"  - {{id: a{a}.s{i}, name: Sensor {i}, unit: bar, asset: a{a}, topic: plant/a{a}/s{i}, limits: {{low: 0, high: 100}}}}\n")
