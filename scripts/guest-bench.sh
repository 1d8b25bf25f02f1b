#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the benchmark guest, each part's output into OUTDIR for
# scripts/bench-report.py:
#   guest-bench.sh OUTDIR BENCH PAGES ROUNDS CHURN_SECONDS PARTS [WORKLOADS WORKLOAD_ROUNDS ASLR KSMD]
# Every boot but a steps or workloads one runs the interleaved per-fault
# rounds. PARTS adds:
#   full     perf stat and perf record per scenario, the tracepoint's
#            verdicts, the pairs, swap-pressure and churn workloads
#   pairs    the pairs workload (ksm_tests -C, completed) with its verdicts
#   none     nothing more (the repeated boots of a mode)
#   steps    only one timed write of ksm_on and of anon_reuse, each right
#            after the LRU drain, while bench-steps.py (gdb, on the host)
#            single-steps their first faults: nothing else
#   workloads  only the real programs of WORKLOADS (bench/workloads/run.py,
#            with the launcher built next to BENCH); WORKLOADS=service
#            alone: the pre-fork service (bench/workloads/service.py), with
#            SERVICE_WORKERS workers ("4 8") and the ksmd settings of KSMD,
#            ASLR unused (every worker is a fork of one master);
#            WORKLOADS=vm alone: identical virtual machines, nested QEMU
#            guests (bench/workloads/vm.py), the ksmd settings of KSMD,
#            WORKLOAD_ROUNDS 0 for a measured boot alone, ASLR unused; the
#            nested kernel, initramfs and sizes come as NESTED_* variables
set -eu
OUT=$1 BENCH=$2 PAGES=$3 ROUNDS=$4 CHURN=$5 PARTS=$6
WORKLOADS=${7:-} WORKLOAD_ROUNDS=${8:-5} ASLR=${9:-on off} KSMD=${10:-default}
SCENARIOS="ksm_on ksm_off anon_reuse anon_cow"

case $PARTS in
full | pairs | none | steps | workloads) ;;
*) echo "guest-bench.sh: PARTS=$PARTS: use full, pairs, none, steps or workloads" >&2; exit 2 ;;
esac

"$(dirname "$0")/guest-setup.sh"
# teed FILE CMD...: CMD's output to stdout and FILE; CMD's exit status (set -e
# then stops on a failed part, which a bare pipe into tee would hide).
teed() {
	local out=$1
	shift
	"$@" | tee "$out"
	return "${PIPESTATUS[0]}"
}
if [ "$PARTS" = steps ]; then
	# Whole before the host sees it.
	cat /proc/kallsyms >"$OUT/kallsyms.tmp"
	mv "$OUT/kallsyms.tmp" "$OUT/kallsyms"
	for _ in $(seq 600); do
		[ -e "$OUT/armed" ] && break
		sleep 1
	done
	[ -e "$OUT/armed" ] || { echo "guest-bench.sh: gdb did not attach within 600 s" >&2; exit 1; }
	for s in ksm_on anon_reuse; do
		echo "== stepped: $s"
		"$BENCH" -s "$s" -n "$PAGES" -r 1 -D move_pages -q
	done
	exit 0
fi
if [ "$PARTS" = workloads ]; then
	[ -n "$WORKLOADS" ] || { echo "guest-bench.sh: PARTS=workloads needs WORKLOADS" >&2; exit 2; }
	if [ "$WORKLOADS" = service ]; then
		echo "== pre-fork service: gunicorn, ${SERVICE_WORKERS:=4 8} workers, $WORKLOAD_ROUNDS rounds x ksmd $KSMD x wp_reuse=1,0"
		teed "$OUT/service.txt" /usr/bin/python3 "$(dirname "$0")/../bench/workloads/service.py" \
			"$OUT" "$(dirname "$BENCH")" "$WORKLOAD_ROUNDS" "$SERVICE_WORKERS" "$KSMD"
		exit 0
	fi
	if [ "$WORKLOADS" = vm ]; then
		echo "== identical virtual machines: ${NESTED_GUESTS:-3} nested QEMU guests, $WORKLOAD_ROUNDS rounds (0: a boot alone) x ksmd $KSMD x wp_reuse=1,0"
		teed "$OUT/vm.txt" /usr/bin/python3 "$(dirname "$0")/../bench/workloads/vm.py" \
			"$OUT" "$WORKLOAD_ROUNDS" "$KSMD"
		exit 0
	fi
	case " $WORKLOADS " in
	*" service "*) echo "guest-bench.sh: the service runs in a boot of its own: WORKLOADS=service alone" >&2; exit 2 ;;
	*" vm "*) echo "guest-bench.sh: the virtual machines run in a boot of their own: WORKLOADS=vm alone" >&2; exit 2 ;;
	esac
	echo "== real programs: $WORKLOADS, $WORKLOAD_ROUNDS rounds x ASLR $ASLR x ksmd $KSMD x wp_reuse=1,0"
	teed "$OUT/workloads.txt" /usr/bin/python3 "$(dirname "$0")/../bench/workloads/run.py" \
		"$OUT" "$(dirname "$BENCH")" "$WORKLOAD_ROUNDS" "$WORKLOADS" "$ASLR" "$KSMD"
	exit 0
fi
# perf needs kernel symbols and events as root.
echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid

echo "== interleaved rounds: $ROUNDS x $SCENARIOS, $PAGES pages each"
teed "$OUT/bench.txt" "$BENCH" -n "$PAGES" -r "$ROUNDS" -o "$OUT/bench.json"

# The tracepoint's verdicts in perf.data $1, counted by the pattern $2.
# Under multi-threaded TCG, Debian's perf 6.1 wrote some events twice: the
# same thread, CPU, nanosecond, PFN and address (202 of 16842 in a pairs
# round whose vmstat counter said 16640, every one a duplicate), which no two
# faults can share; count each once.
verdicts() {
	perf script -i "$1" -F tid,cpu,time,trace 2>/dev/null | sort -u |
		grep -o "$2" | sort | uniq -c
}

# perf.data cannot be written to the 9p share: keep it in the guest's /tmp.
data=$(mktemp -d)
trap 'rm -rf "$data"; "$(dirname "$0")/guest-loop-swap.sh" off' EXIT

if [ "$PARTS" = full ] || [ "$PARTS" = pairs ]; then
	# Upstream's peer benchmark (ksm_tests -C) writes one page of each merged
	# pair; this writes the other too, the one left mapping its KSM page alone.
	# Timed without perf (the tracepoint fires with the switch on only),
	# then one round under perf for the verdicts.
	echo "== pairs (ksm_tests -C, and the second write): $ROUNDS rounds x wp_reuse=1,0, $PAGES pairs"
	teed "$OUT/pairs.txt" "$BENCH" -C -n "$PAGES" -r "$ROUNDS" -o "$OUT/pairs.json"
	echo "== tracepoint verdicts: pairs, one round"
	perf record -q -e ksm:ksm_wp_reuse -o "$data/trace-pairs.data" -- \
		"$BENCH" -C -n "$PAGES" -r 1 -q >/dev/null
	verdicts "$data/trace-pairs.data" 'result=[a-z_]*' | tee "$OUT/trace-pairs.txt"
fi

[ "$PARTS" = full ] || exit 0

for s in $SCENARIOS; do
	echo "== perf stat: $s"
	perf stat -x, -o "$OUT/perfstat-$s.csv" \
		-e task-clock,page-faults,ksm:ksm_wp_reuse -- \
		"$BENCH" -s "$s" -n "$PAGES" -r 1 >/dev/null
	cat "$OUT/perfstat-$s.csv"
done

for s in ksm_on ksm_off; do
	echo "== perf record -g: $s"
	perf record -q -g -e cpu-clock -o "$data/perf-$s.data" -- \
		"$BENCH" -s "$s" -n "$PAGES" -r 1 >/dev/null 2>&1
	perf report -i "$data/perf-$s.data" --stdio --no-children --percent-limit 1.5 \
		--sort symbol 2>/dev/null | grep -v '^$' >"$OUT/perf-$s.txt" || true
	# Inclusive cost of the write fault's parts: the fault, the reuse decision
	# (Rust, with its helpers), the copy.
	perf report -i "$data/perf-$s.data" --stdio --children --sort symbol 2>/dev/null |
		grep -E '^ +[0-9.]+% +[0-9.]+% +\[k\] (do_wp_page|wp_page_copy|wp_page_reuse|__ksm_wp_reuse|ksm_wp_reuse_folio|wp_can_reuse_anon_folio|folio_move_anon_rmap|ksm_folio_to_anon|rust_helper_[a-z_]+|copy_mc_enhanced_fast_string|__folio_alloc|vma_alloc_folio_noprof|clear_highpages_kasan_tagged|asm_exc_page_fault) ' \
		>"$OUT/perf-$s-children.txt" || true
	head -25 "$OUT/perf-$s.txt"
	cat "$OUT/perf-$s-children.txt"
	echo "== tracepoint verdicts: $s"
	perf record -q -e ksm:ksm_wp_reuse -o "$data/trace-$s.data" -- \
		"$BENCH" -s "$s" -n "$PAGES" -r 1 >/dev/null 2>&1
	verdicts "$data/trace-$s.data" 'result=[a-z_]*' | tee "$OUT/trace-$s.txt"
done

# The swap-pressure workload swaps to a loop device (guest-loop-swap.sh).
echo "== swap pressure: $ROUNDS rounds x wp_reuse=1,0, $PAGES pages"
"$(dirname "$0")/guest-loop-swap.sh" on $(((PAGES * 4096 * 3 + (1 << 20) - 1) >> 20))
teed "$OUT/pressure.txt" perf record -q -e ksm:ksm_wp_reuse -o "$data/trace-pressure.data" -- \
	"$BENCH" -p -n "$PAGES" -r "$ROUNDS" -o "$OUT/pressure.json"
# The switch-off rounds send no events: the verdicts are the switch-on ones.
verdicts "$data/trace-pressure.data" 'swapcache=[01] result=[a-z_]*' | tee "$OUT/trace-pressure.txt"
"$(dirname "$0")/guest-loop-swap.sh" off

for w in 1 0; do
	echo "== churn: wp_reuse=$w, $CHURN s"
	teed "$OUT/churn-$w.txt" "$BENCH" -c -w "$w" -t "$CHURN" -o "$OUT/churn-$w.json"
done
