#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest (as root, host filesystem mounted copy-on-write).
# Each suite's (K)TAP output goes to $OUT/<suite>.log for the host to count
# (scripts/count-results.py); this script's exit status is not the verdict.
#   guest-test.sh OUTDIR KOUT SUITE...   (scripts/test.sh lists them all)
set -u
OUT=${1:?usage: guest-test.sh OUTDIR KOUT SUITE...}
KOUT=${2:?usage: guest-test.sh OUTDIR KOUT SUITE...}
shift 2
PROJECT_DIR=$(cd "$(dirname "$0")/.." && pwd)
MM=$KOUT/kselftest/mm

run_suite() { # run_suite NAME CMD... : run one suite, tee its output to NAME.log
	local name=$1 start=$SECONDS
	shift
	echo "=== $name: $*"
	"$@" 2>&1 | tee "$OUT/$name.log"
	echo "=== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start))s"
}

# A program that does not speak TAP counts as one test: its exit status.
tap_exit() { # tap_exit NAME CMD...
	local name=$1
	shift
	echo "TAP version 13"
	echo "1..1"
	if "$@" | sed 's/^/# /'; then echo "ok 1 $name"; else echo "not ok 1 $name"; fi
}

# Data races that KCSAN reports in upstream code under this load, none in
# code the project adds or changes; each was read in the source:
#  - all_vm_events() alone (no other side: a race of unknown origin).
#    /proc/vmstat sums the per-CPU vm event counters unsynchronized, by
#    design ("unavoidably approximate", says its comment), while other CPUs
#    bump them with this_cpu ops, which KCSAN does not instrument.
UPSTREAM_RACES='BUG: KCSAN: data-race in all_vm_events\+0x[0-9a-f]+/0x[0-9a-f]+$'

# The reports the dmesg suite fails on. Lockdep and RCU reports start with
# "WARNING:" too, KASAN's and KFENCE's with "BUG:".
DMESG_BAD='WARNING:|BUG:|Oops|Call Trace:|KCSAN:|list_(add|del) corruption'
# The kasan_canary suite's deliberate report lies between these two lines.
CANARY_START='ksm-wp-reuse: kasan canary: a deliberate use-after-free follows'
CANARY_END='ksm-wp-reuse: kasan canary: end'

# Nothing the tests did may have warned or oopsed (the boot log is checked
# too), but for the canary's report. The whole log is kept next to the
# suites' for the context of a report.
dmesg_clean() {
	local bad known
	echo "TAP version 13"
	echo "1..1"
	dmesg >"$OUT/guest-dmesg.txt"
	bad=$(sed "/$CANARY_START/,/$CANARY_END/d" "$OUT/guest-dmesg.txt" | grep -E "$DMESG_BAD")
	known=$(grep -E "$UPSTREAM_RACES" <<<"$bad")
	bad=$(grep -Ev "$UPSTREAM_RACES" <<<"$bad")
	[ -z "$known" ] || printf '# known upstream data race, not counted: %s\n' "${known//$'\n'/$'\n'# known upstream data race, not counted: }"
	if [ -z "$bad" ]; then echo "ok 1 dmesg: no warning, BUG or oops"; else
		printf '# %s\n' "${bad//$'\n'/$'\n'# }"
		echo "# the whole log: $OUT/guest-dmesg.txt"
		echo "not ok 1 dmesg: no warning, BUG or oops"
	fi
}

# On a KASAN kernel: a use-after-free made on purpose (LKDTM's
# READ_AFTER_FREE, a read of freed slab memory) must give a KASAN report
# that the dmesg suite's scan counts as a failure: the sanitizer and the
# scan shown to work on a bug of known place. The guest boots with
# kasan_multi_shot (scripts/vm.sh), so this report hides no other; the
# dmesg suite leaves it out.
kasan_canary() {
	local report
	echo "TAP version 13"
	echo "1..1"
	if ! grep -q '^CONFIG_KASAN=y' "$KOUT/.config"; then
		echo "ok 1 kasan_canary # SKIP not a KASAN kernel (make test KERNEL=kasan)"
		return
	fi
	if ! insmod "$KOUT/drivers/misc/lkdtm/lkdtm.ko"; then
		echo "not ok 1 kasan_canary: cannot load LKDTM ($KOUT/drivers/misc/lkdtm/lkdtm.ko)"
		return
	fi
	echo "$CANARY_START" >/dev/kmsg
	echo READ_AFTER_FREE >/sys/kernel/debug/provoke-crash/DIRECT
	echo "$CANARY_END" >/dev/kmsg
	rmmod lkdtm
	report=$(dmesg | sed -n "/$CANARY_START/,/$CANARY_END/p")
	printf '# %s\n' "${report//$'\n'/$'\n'# }"
	if grep -q 'BUG: KASAN: slab-use-after-free in lkdtm_READ_AFTER_FREE' <<<"$report" &&
		grep -qE "$DMESG_BAD" <<<"$report"; then
		echo "ok 1 kasan_canary: a use-after-free is reported by KASAN and failed by the dmesg scan"
	else
		echo "not ok 1 kasan_canary: no KASAN report of the use-after-free, or the dmesg scan misses it"
	fi
}

# With STRESS_FLIP_STORM set, a shell loop on CPU 1 flips wp_reuse as fast as
# it can while the stress runs; the stress's own flips go on as well.
flip_storm() { # flip_storm SECONDS: until then or SIGTERM; prints the number of flips
	local end=$((SECONDS + $1)) start=$SECONDS n=0
	trap 'end=0' TERM
	while [ $SECONDS -lt $end ]; do
		echo 0 >/sys/kernel/mm/ksm/wp_reuse || break
		echo 1 >/sys/kernel/mm/ksm/wp_reuse || break
		n=$((n + 2))
	done
	echo "# flip storm: $n flips of wp_reuse in $((SECONDS - start)) s"
}

# Every decision of a stress run, counted by result: one tracefs instance
# per result of the ksm_wp_reuse event, filtered to it and never read; in
# overwrite mode a ring buffer counts every event it took (entries plus
# overrun), so a long run loses none. Faults with the switch off copy with no
# decision: cow_ksm minus the refusals.
TRACEFS=/sys/kernel/tracing
verdicts_results() { # the event's results, "N name" per line
	sed -n 's/.*__print_symbolic(REC->result, //p' "$TRACEFS/events/ksm/ksm_wp_reuse/format" |
		grep -o '{ *[0-9]*, *"[a-z_]*" *}' | tr -d '{}",' | awk '{print $1, $2}'
}
verdicts_start() {
	local n r
	verdicts_results | while read -r n r; do
		mkdir -p "$TRACEFS/instances/verdict_$r" &&
			echo 8 >"$TRACEFS/instances/verdict_$r/buffer_size_kb" &&
			echo "result==$n" >"$TRACEFS/instances/verdict_$r/events/ksm/ksm_wp_reuse/filter" &&
			echo 1 >"$TRACEFS/instances/verdict_$r/events/ksm/ksm_wp_reuse/enable"
	done
}
verdicts_end() { # prints "# verdicts: reused N, mapped N, ..."; removes the instances
	local n r line=
	while read -r n r; do
		[ -d "$TRACEFS/instances/verdict_$r" ] || continue
		echo 0 >"$TRACEFS/instances/verdict_$r/events/ksm/ksm_wp_reuse/enable"
		n=$(cat "$TRACEFS/instances/verdict_$r"/per_cpu/cpu*/stats |
			awk '/^(entries|overrun):/ {s += $2} END {print s + 0}')
		rmdir "$TRACEFS/instances/verdict_$r"
		line+="${line:+, }$r $n"
	done < <(verdicts_results)
	echo "# verdicts: ${line:-not counted (no ksm_wp_reuse event)}"
}

stress_suite() { # stress_suite NAME ARGS...
	local name=$1 secs=${STRESS_SECONDS:-20} storm=
	shift
	verdicts_start
	if [ -n "${STRESS_FLIP_STORM:-}" ]; then
		flip_storm "$secs" >"$OUT/$name-flips.txt" &
		storm=$!
		taskset -p -c 1 "$storm" >/dev/null
	fi
	# This guest is the stress test's own machine: it may change all of it.
	run_suite "$name" env KSM_WP_REUSE_INTRUSIVE=1 "$MM/ksm_wp_reuse_stress" -d "$secs" -m a \
		${STRESS_SEED:+-s "$STRESS_SEED"} ${STRESS_REUSE_TARGET:+-n "$STRESS_REUSE_TARGET"} \
		${STRESS_WP_FLIP_MS:+-w "$STRESS_WP_FLIP_MS"} ${STRESS_SWAP_PRESSURE:+-S} "$@"
	if [ -n "$storm" ]; then
		kill -TERM "$storm" 2>/dev/null
		wait "$storm"
		echo 1 >/sys/kernel/mm/ksm/wp_reuse
		tee -a "$OUT/$name.log" <"$OUT/$name-flips.txt"
	fi
	verdicts_end | tee -a "$OUT/$name.log"
}

"$PROJECT_DIR/scripts/guest-setup.sh"
# The mm selftests expect to run from their own directory (some exec ./self).
cd "$MM" || exit 1
# The boot log holds the KUnit results (the built-in suites run at boot).
dmesg >"$OUT/kunit.log"

for s in "$@"; do
	case $s in
	basics) run_suite basics "$PROJECT_DIR/scripts/guest-basics.sh" "$KOUT" ;;
	# The guest is a throwaway machine: run the intrusive cases too (own
	# swap devices, run=2, poisoned pages, DAMON, exact machine-wide counts).
	ksm_wp_reuse) run_suite ksm_wp_reuse env KSM_WP_REUSE_INTRUSIVE=1 "$MM/ksm_wp_reuse" ;;
	# The kselftest again on the classic LRU: the multi-gen LRU (on at boot,
	# as distributions ship it) switched off at run time, and on again.
	ksm_wp_reuse_classic_lru)
		if [ -w /sys/kernel/mm/lru_gen/enabled ] && echo n >/sys/kernel/mm/lru_gen/enabled; then
			run_suite ksm_wp_reuse_classic_lru env KSM_WP_REUSE_INTRUSIVE=1 "$MM/ksm_wp_reuse"
			echo y >/sys/kernel/mm/lru_gen/enabled
		else
			printf 'TAP version 13\n1..1\nok 1 ksm_wp_reuse_classic_lru # SKIP the multi-gen LRU cannot be switched off\n' |
				tee "$OUT/ksm_wp_reuse_classic_lru.log"
		fi ;;
	# The short forms of make stress, hostile and reuse-heavy mix (and
	# make stress's swap-cache mix); the seed is printed for a rerun.
	stress) stress_suite stress ;;
	stress_reuse) stress_suite stress_reuse -r ;;
	stress_swapcache) stress_suite stress_swapcache -c ;;
	demo) run_suite demo tap_exit "ksm_wp_reuse_demo: merge, reuse, copy, data intact" \
		"$KOUT/demo/ksm_wp_reuse_demo" ;;
	ksm_functional_tests) run_suite ksm_functional_tests "$MM/ksm_functional_tests" ;;
	ksm_tests)
		# The mm runner's own cases (run_vmtests.sh): merge, unmerge, zero pages.
		{
			echo "TAP version 13"; echo "1..4"
			n=0
			for args in "-M -p 10" "-U" "-Z -p 10 -z 0" "-Z -p 10 -z 1"; do
				n=$((n + 1))
				# shellcheck disable=SC2086
				if ./ksm_tests $args | sed 's/^/# /'; then echo "ok $n ksm_tests $args"
				else echo "not ok $n ksm_tests $args"; fi
			done
		} 2>&1 | tee "$OUT/ksm_tests.log" ;;
	cow) run_suite cow "$MM/cow" ;;
	# Its "local tmpfile" cases create the file in the working directory,
	# which must be a local fs (tmpfs), not the host's root over 9p.
	gup_longterm)
		# shellcheck disable=SC2016 # $0 is for the inner shell
		run_suite gup_longterm unshare -m sh -c \
			'mount -t tmpfs tmpfs /tmp && cd /tmp && exec "$0"' "$MM/gup_longterm" ;;
	kasan_canary) run_suite kasan_canary kasan_canary ;;
	dmesg) run_suite dmesg dmesg_clean ;;
	*) echo "unknown suite $s" >&2 ;;
	esac
done
