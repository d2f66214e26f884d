#!/usr/bin/env bash
# Application instructions per null job, from callgrind (instruction counts do not depend on the machine's load).
#   bash scripts/callgrind-per-job.sh [BINARY] [MODE] [DEPTH...]
# BINARY defaults to target/release/examples/nop-overhead (cargo build --release --example nop-overhead). For each
# depth it runs 20,000 and 60,000 jobs under callgrind and prints the difference of the application threads'
# instructions (the main thread and the one tokio worker, callgrind's threads 1 and 2; not the emulator's device
# threads, which start later) divided by 40,000: the marginal cost of one job, without the set-up.
set -euo pipefail
bin=${1:-target/release/examples/nop-overhead}
mode=${2:-eventfd}
shift 2 2>/dev/null || shift $#
depths=("$@")
[ ${#depths[@]} -gt 0 ] || depths=(16 64)
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
app_instr() { # app_instr JOBS DEPTH
	rm -f "$out"/callgrind.out.*
	valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/callgrind.out.%p" \
		"$bin" --depth "$2" --jobs "$1" --mode "$mode" >/dev/null 2>&1
	local sum=0 f n
	for f in "$out"/callgrind.out.*-01 "$out"/callgrind.out.*-02; do
		n=$(sed -n 's/^\(totals\|summary\): *\([0-9]*\).*/\2/p' "$f" | head -n 1)
		sum=$((sum + n))
	done
	echo "$sum"
}
for d in "${depths[@]}"; do
	a=$(app_instr 20000 "$d")
	b=$(app_instr 60000 "$d")
	echo "$mode depth $d: $(( (b - a) / 40000 )) application instructions per job ($a at 20000 jobs, $b at 60000)"
done
