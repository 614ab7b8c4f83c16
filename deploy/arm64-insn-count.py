#!/usr/bin/env python3
"""Dynamic arm64 instruction counts of MicroLM's matrix products, without an ARM machine.

Runs `kernel_check --count TYPE LEVEL ROWS COLS BATCH` (built by
deploy/arm64-kernel-check.sh --keep DIR) under qemu-aarch64 with `-d in_asm,exec,nochain`:
QEMU logs each translated block's instructions once and every execution of a block, so
the guest instructions executed between the driver's mlk_count_begin() and mlk_count_end()
markers (activation quantization plus one matrix product) are the sum, over executed
blocks, of their sizes. Debian's qemu-user-static ships no TCG plugins (libinsn.so), hence
this. An instruction count is not a cycle count: on an in-order Cortex-A53 a 128-bit NEON
instruction often costs 2 issue slots, and memory bandwidth bounds large products, so the
ratios are an estimate of the compute speed-up, not a measurement.

    deploy/arm64-insn-count.py DIR/kernel_check-arm64-clang [--quick] [--only TEXT]

--quick: two small shapes; --only TEXT: the workloads whose name contains TEXT.
"""
import os
import re
import subprocess
import sys
import tempfile

# (name, type, rows, columns, batch, scale): scale multiplies the count to the full shape when
# fewer rows are traced (every row costs the same; traced rows stay a multiple of 4).
WORKLOADS = [
    ("generate: ffn gate/up 1536x576, 1 token", "q4_1", 1536, 576, 1, 1),
    ("generate: ffn down 576x1536, 1 token", "q4_1", 576, 1536, 1, 1),
    ("generate: output (Q8_0) 1536 of 49152 rows x576, 1 token", "q8_0", 1536, 576, 1, 1),
    ("generate: Q4_K 576x1536, 1 token", "q4_K", 576, 1536, 1, 1),
    ("generate: Q6_K 576x1536, 1 token", "q6_K", 576, 1536, 1, 1),
    ("prompt: ffn gate/up 1536x576, 64 tokens (192 rows traced)", "q4_1", 192, 576, 64, 8),
    ("prompt: output (Q8_0) 1536x576, 64 tokens (192 rows traced)", "q8_0", 192, 576, 64, 8),
    ("prompt: Q4_K 576x1536, 64 tokens (96 rows traced)", "q4_K", 96, 1536, 64, 6),
    ("prompt: Q6_K 576x1536, 64 tokens (96 rows traced)", "q6_K", 96, 1536, 64, 6),
]
QUICK = [("generate: ffn gate/up 96x576, 1 token", "q4_1", 96, 576, 1, 1),
         ("prompt: ffn gate/up 32x576, 16 tokens", "q4_1", 32, 576, 16, 1)]
# (level, QEMU CPU): the kernels pick their path from the CPU's HWCAP bits.
LEVELS = [(0, "scalar", "cortex-a53"), (1, "neon", "cortex-a53"), (2, "neon+dotprod", "cortex-a76")]

IN_RE = re.compile(r"^0x([0-9a-f]+):")
TRACE_RE = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")


def count(binary, cpu, args):
    """Guest instructions executed between the markers, and the driver's output line."""
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "log")
        os.mkfifo(fifo)
        proc = subprocess.Popen(["qemu-aarch64-static", "-cpu", cpu, "-d", "in_asm,exec,nochain",
                                 "-D", fifo, binary, "--count"] + args,
                                stdout=subprocess.PIPE, text=True)
        sizes = {}      # block start pc -> instructions (latest translation)
        pending = None  # block being read from in_asm: [start pc, instructions]
        begin = end = None
        total, counting = 0, False
        with open(fifo) as log:
            for line in log:
                if line.startswith("Trace"):
                    m = TRACE_RE.match(line)
                    pc = int(m.group(1), 16)
                    if counting:
                        if pc == end:
                            counting = False
                        else:
                            total += sizes[pc]
                    elif begin is None and line.rstrip().endswith(" mlk_count_begin"):
                        begin = pc
                        counting = True
                    if end is None and counting and line.rstrip().endswith(" mlk_count_end"):
                        counting = False
                    continue
                if line.startswith("IN:"):
                    pending = None
                    continue
                m = IN_RE.match(line)
                if m:
                    if pending is None:
                        pending = [int(m.group(1), 16), 0]
                    pending[1] += 1
                    sizes[pending[0]] = pending[1]
                elif not line.strip():
                    pending = None
        out = proc.stdout.read().strip()
        if proc.wait() != 0:
            raise SystemExit(f"arm64-insn-count: the driver failed: {out}")
        return total, out


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    binary = sys.argv[1]
    workloads = QUICK if "--quick" in sys.argv else WORKLOADS
    if "--only" in sys.argv:
        text = sys.argv[sys.argv.index("--only") + 1]
        workloads = [w for w in workloads if text in w[0]]
    print(f"arm64 instructions executed (qemu-aarch64 -d exec), {os.path.basename(binary)}")
    print(f"{'workload':<62} {'scalar':>14} {'neon':>14} {'neon+dotprod':>14}  scalar/neon  scalar/dotprod")
    for name, typ, rows, cols, batch, scale in workloads:
        counts = []
        for level, label, cpu in LEVELS:
            n, out = count(binary, cpu, [typ, str(level), str(rows), str(cols), str(batch)])
            if f"({label})" not in out:
                raise SystemExit(f"arm64-insn-count: expected the {label} path on {cpu}: {out}")
            counts.append(n * scale)
        s, v, d = counts
        print(f"{name:<62} {s:>14,} {v:>14,} {d:>14,}  {s / v:>10.1f}x  {s / d:>13.1f}x", flush=True)


if __name__ == "__main__":
    main()
