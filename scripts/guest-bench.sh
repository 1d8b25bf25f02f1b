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

# perf.data cannot be written to the 9p share: keep it in the guest's /tmp.
data=$(mktemp -d)
for s in ksm_on ksm_off; do
	echo "== perf record -g: $s"
	perf record -q -g -e cpu-clock -o "$data/perf-$s.data" -- \
		"$BENCH" -s "$s" -n "$PAGES" -r 1 >/dev/null 2>&1
	perf report -i "$data/perf-$s.data" --stdio --no-children --percent-limit 1.5 \
		--sort symbol 2>/dev/null | grep -v '^$' >"$OUT/perf-$s.txt" || true
	# Inclusive cost of the write fault's parts: the fault, the reuse decision
	# (Rust, with its helpers), the copy.
	perf report -i "$data/perf-$s.data" --stdio --children --sort symbol 2>/dev/null |
		grep -E '^ +[0-9.]+% +[0-9.]+% +\[k\] (do_wp_page|wp_page_copy|wp_page_reuse|__ksm_wp_reuse|ksm_wp_reuse_folio|wp_can_reuse_anon_folio|folio_move_anon_rmap|lru_add_drain|rust_helper_[a-z_]+|copy_mc_enhanced_fast_string|__folio_alloc|vma_alloc_folio_noprof|clear_highpages_kasan_tagged|asm_exc_page_fault) ' \
		>"$OUT/perf-$s-children.txt" || true
	head -25 "$OUT/perf-$s.txt"
	cat "$OUT/perf-$s-children.txt"
	echo "== tracepoint verdicts: $s"
	perf record -q -e ksm:ksm_wp_reuse -o "$data/trace-$s.data" -- \
		"$BENCH" -s "$s" -n "$PAGES" -r 1 >/dev/null 2>&1
	perf script -i "$data/trace-$s.data" 2>/dev/null |
		grep -o 'result=[a-z_]*' | sort | uniq -c | tee "$OUT/trace-$s.txt"
done
rm -rf "$data"

for w in 1 0; do
	echo "== churn: wp_reuse=$w, $CHURN s"
	"$BENCH" -c -w "$w" -t "$CHURN" -o "$OUT/churn-$w.json" | tee "$OUT/churn-$w.txt"
done
