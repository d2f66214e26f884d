#!/usr/bin/env bash
# Run the ring, queue and emulator test binaries under valgrind memcheck. Any memcheck error or definite leak fails.
#   bash scripts/valgrind-tests.sh            # uacce-sys and uacce-emu tests
#   bash scripts/valgrind-tests.sh -p uacce-async   # other packages (passed to cargo test)
# UACCE_TEST_SCALE scales the job counts of the async tests (default here 0.01: valgrind is ~50x slower);
# VALGRIND_SKIP lists test-name filters to leave out of the memcheck run (timing assertions that measure the
# machine, not memory safety; they run in the normal `cargo test`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(-p uacce-sys -p uacce-emu)
mapfile -t bins < <(cargo test "${pkgs[@]}" --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    try: m=json.loads(line)
    except ValueError: continue
    if m.get("reason")=="compiler-artifact" and m.get("profile",{}).get("test") and m.get("executable"):
        print(m["executable"])')
[ ${#bins[@]} -gt 0 ] || { echo "no test binaries found" >&2; exit 1; }
export UACCE_TEST_SCALE=${UACCE_TEST_SCALE:-0.01}
skip=()
for s in ${VALGRIND_SKIP:-}; do skip+=(--skip "$s"); done
status=0
for b in "${bins[@]}"; do
  echo "== valgrind $(basename "$b")"
  if ! valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
      --show-leak-kinds=definite "$b" --test-threads=1 "${skip[@]}" 2>&1 |
      grep -v -E '^ +([0-9]+: |at /)' | tail -n 60; then
    echo "!! valgrind failed on $b"
    status=1
  fi
done
exit $status
