#!/usr/bin/env bash
# Checks MicroLM's SIMD kernels against the scalar reference without an ARM machine:
# Tests/CKernelChecks/kernel_check.c and the kernel sources are cross-compiled for arm64
# and run under qemu-aarch64 on a CPU without the dot-product extension (Cortex-A53: the
# plain NEON kernels) and on CPUs with it (Cortex-A76, QEMU's "max": NEON+dotprod), each
# run also checking that the kernels detected the path that CPU should get. The same
# driver also runs natively on the host (x86-64: AVX2 / AVX-512 VNNI kernels; on an arm64
# machine without the cross tools, only this native run).
#
# Compilers: aarch64-linux-gnu-gcc, and the Swift toolchain's clang when it is on PATH
# (the compiler SwiftPM builds CMicroLMKernels with). Needs gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user-static (deploy/dev-setup.sh installs them).
# Exits non-zero on any mismatch; prints one summary line.
#
#   deploy/arm64-kernel-check.sh            everything
#   deploy/arm64-kernel-check.sh --keep DIR  leave the binaries in DIR (for insn-count.py)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src="$root/Sources/CMicroLMKernels"
driver="$root/Tests/CKernelChecks/kernel_check.c"
out=""
if [ "${1:-}" = "--keep" ]; then out="$2"; mkdir -p "$out"; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -n "$out" ] || out="$work"

host=$(uname -m)
emulate=1
for tool in aarch64-linux-gnu-gcc qemu-aarch64-static; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    if [ "$host" = aarch64 ]; then emulate=0; continue; fi  # an arm64 machine checks its own CPU below
    echo "arm64-kernel-check: FAIL: $tool missing (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static)" >&2
    exit 1
  fi
done

sources=("$src"/scalar.c "$src"/kernels.c "$src"/ops.c "$src"/pool.c "$src"/cpu.c "$src"/neon.c "$src"/x86.c "$driver")
cflags=(-O2 -std=gnu11 -Wall -Wextra -Werror -I "$src/include" -I "$src")
failed=0
runs=()

# run NAME EXPECTED_PATH COMMAND...: the driver must pass and report the expected kernel path.
run() {
  local name=$1 expected=$2
  shift 2
  local log="$work/$name.log" rc=0 start=$SECONDS
  "$@" >"$log" 2>&1 || rc=$?
  local path
  path=$(sed -n 's/^kernel_check: kernel path \([^ ]*\) .*/\1/p' "$log")
  local summary
  summary=$(grep '^kernel_check: \(PASS\|FAIL\)' "$log" || true)
  if [ "$rc" -ne 0 ] || [ -z "$summary" ] || { [ -n "$expected" ] && [ "$path" != "$expected" ]; }; then
    echo "arm64-kernel-check: $name: FAIL (exit $rc, path '$path', expected '${expected:-any}')"
    grep -v '^kernel_check: level' "$log" | head -30
    failed=1
  else
    echo "arm64-kernel-check: $name: ${summary#kernel_check: } ($((SECONDS - start)) s)"
  fi
  runs+=("$name")
}

if [ "$emulate" -eq 1 ]; then
  # arm64, GCC (static: qemu-aarch64 needs no sysroot)
  aarch64-linux-gnu-gcc "${cflags[@]}" -static -o "$out/kernel_check-arm64-gcc" "${sources[@]}" -lm -lpthread
  run "arm64-gcc cortex-a53" neon qemu-aarch64-static -cpu cortex-a53 "$out/kernel_check-arm64-gcc"
  run "arm64-gcc cortex-a76" neon+dotprod qemu-aarch64-static -cpu cortex-a76 "$out/kernel_check-arm64-gcc"
  run "arm64-gcc max" neon+dotprod qemu-aarch64-static -cpu max "$out/kernel_check-arm64-gcc"

  # arm64, the Swift toolchain's clang (compiles; links with the cross GCC)
  clang=$(command -v clang || true)
  [ -n "$clang" ] || { [ -x /opt/swift/usr/bin/clang ] && clang=/opt/swift/usr/bin/clang; }
  if [ -n "$clang" ]; then
    objs=()
    for s in "${sources[@]}"; do
      o="$work/clang-$(basename "$s" .c).o"
      "$clang" --target=aarch64-linux-gnu "${cflags[@]}" -c "$s" -o "$o"
      objs+=("$o")
    done
    aarch64-linux-gnu-gcc -static -o "$out/kernel_check-arm64-clang" "${objs[@]}" -lm -lpthread
    run "arm64-clang cortex-a53" neon qemu-aarch64-static -cpu cortex-a53 "$out/kernel_check-arm64-clang"
    run "arm64-clang max" neon+dotprod qemu-aarch64-static -cpu max "$out/kernel_check-arm64-clang"
  else
    echo "arm64-kernel-check: no clang on PATH: skipped the clang build"
  fi
fi

# the host itself (x86-64: the AVX2 / AVX-512 kernels; an arm64 gateway: its own NEON kernels)
cc=$(command -v gcc || command -v cc || true)
if [ -n "$cc" ]; then
  "$cc" "${cflags[@]}" -o "$out/kernel_check-host" "${sources[@]}" -lm -lpthread
  run "$host host" "" "$out/kernel_check-host"
fi

if [ "$failed" -ne 0 ]; then
  echo "arm64-kernel-check: FAIL (see above)"
  exit 1
fi
echo "arm64-kernel-check: PASS: every SIMD kernel matches the scalar reference (${#runs[@]} runs: $(IFS=,; echo "${runs[*]}"))"
