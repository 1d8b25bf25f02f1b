#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the benchmark guest: the interleaved benchmark, perf stat and
# perf record per scenario, the tracepoint's verdicts, and the churn workload,
# each into OUTDIR for scripts/bench-report.py.
#   guest-bench.sh OUTDIR BENCH PAGES ROUNDS CHURN_SECONDS
set -eu
OUT=$1 BENCH=$2 PAGES=$3 ROUNDS=$4 CHURN=$5
SCENARIOS="ksm_on ksm_off anon_reuse anon_cow"

"$(dirname "$0")/guest-setup.sh"
# perf needs kernel symbols and events as root.
echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid

echo "== interleaved rounds: $ROUNDS x $SCENARIOS, $PAGES pages each"
"$BENCH" -n "$PAGES" -r "$ROUNDS" -o "$OUT/bench.json" | tee "$OUT/bench.txt"

for s in $SCENARIOS; do
	echo "== perf stat: $s"
	perf stat -x, -o "$OUT/perfstat-$s.csv" \
		-e task-clock,page-faults,ksm:ksm_wp_reuse -- \
		"$BENCH" -s "$s" -n "$PAGES" -r 1 >/dev/null
	cat "$OUT/perfstat-$s.csv"
done

for s in ksm_on ksm_off; do
	echo "== perf record -g: $s"
	perf record -q -g -e cpu-clock -o "$OUT/perf-$s.data" -- \
		"$BENCH" -s "$s" -n "$PAGES" -r 1 >/dev/null 2>&1
	perf report -i "$OUT/perf-$s.data" --stdio --no-children --percent-limit 1.5 \
		--sort symbol 2>/dev/null | grep -v '^$' >"$OUT/perf-$s.txt" || true
	head -40 "$OUT/perf-$s.txt"
	echo "== tracepoint verdicts: $s"
	perf record -q -e ksm:ksm_wp_reuse -o "$OUT/trace-$s.data" -- \
		"$BENCH" -s "$s" -n "$PAGES" -r 1 >/dev/null 2>&1
	perf script -i "$OUT/trace-$s.data" 2>/dev/null |
		grep -o 'result=[a-z_]*' | sort | uniq -c | tee "$OUT/trace-$s.txt"
	rm -f "$OUT/perf-$s.data" "$OUT/trace-$s.data"
done

for w in 1 0; do
	echo "== churn: wp_reuse=$w, $CHURN s"
	"$BENCH" -c -w "$w" -t "$CHURN" -o "$OUT/churn-$w.json" | tee "$OUT/churn-$w.txt"
done
