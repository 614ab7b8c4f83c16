#!/usr/bin/env python3
"""Writes a long CSV (ts,sensor,value) with R readings for each of N sensors of
Benchmarks/large-catalog.py's catalog, one round per second, for `vigil replay --broker`.

    python3 Benchmarks/large-catalog-readings.py 100000 10 > /tmp/readings-100k.csv
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
t0 = 1_767_225_600_000
w = sys.stdout.write
w("ts,sensor,value\n")
for r in range(rounds):
    ts = t0 + r * 1000
    for i in range(n):
        w(f"{ts},a{i // 10}.s{i},{50 + ((i * 7919 + r) % 13 - 6) * 0.1:.1f}\n")
