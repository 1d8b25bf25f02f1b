#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make stress: boot the test (debug) kernel and run ksm_wp_reuse_stress for
# DURATION seconds (default 300), alternating merge_across_nodes, then check
# the guest's log. SEED=n reproduces a run. Pass/fail is counted like make test.
#   MIX=reuse            the reuse-heavy mix (merged twin pairs cycled)
#                        instead of the hostile one
#   MIX=swapcache        the reuse-heavy mix with each merged pair's KSM
#                        page paged out to a loop device and written back
#                        in from the swap cache: reuses of swap-cache
#                        folios at ksmd's merge rate
#   REUSE_TARGET=n       stop the load early once n faults were reused
#   WP_FLIP_MS=n         mean pause before each flip of wp_reuse (default 800)
#   SWAP_PRESSURE=1      swap on a loop device with the workers' cgroups at
#                        memory.max 3/4 of their pages (-S): swap-ins of KSM
#                        pages are routine; the report counts the faults on
#                        KSM folios in the swap cache, reused and refused
#   FLIP_STORM=1         also flip wp_reuse in a shell loop on CPU 1, as fast
#                        as it goes, for the whole run (faults in flight
#                        meet every flip; see README, Stress)
#   STRESS_KERNEL=bench  the benchmark kernel instead (no debug options:
#                        about 8 times the reuse rate under TCG)
#   STRESS_KERNEL=kcsan  the test kernel plus KCSAN (kcsan/config.fragment)
#   STRESS_KERNEL=kasan  the test kernel plus KASAN, built with LLVM so that
#                        the Rust is instrumented too (kasan/config.fragment)
# Other kernels than the test one are configured and built here as needed,
# each in its own build directory; the test programs are the test build's.
# Every run, passed, failed, died or stopped, appends one record to
# bench/results/stress-ledger.jsonl (scripts/stress-report.py; make
# stress-report totals it).
. "$(dirname "$0")/lib.sh"

duration=${DURATION:-300}
case ${MIX:-hostile} in
hostile) suite=stress ;;
reuse) suite=stress_reuse ;;
swapcache) suite=stress_swapcache ;;
*) die "MIX=$MIX: use MIX=hostile (default), MIX=reuse (reuse-heavy: merged twin pairs) or MIX=swapcache (the pairs through the swap cache)" ;;
esac
tests=$KOUT
case ${STRESS_KERNEL:-test} in
test) ;;
bench | kcsan | kasan)
	KBUILD_CONFIG=$STRESS_KERNEL
	KOUT=$(build_dir "$KBUILD_CONFIG")
	export KBUILD_CONFIG KOUT
	"$PROJECT_DIR/scripts/config.sh"
	"$PROJECT_DIR/scripts/build.sh"
	;;
*) die "STRESS_KERNEL=$STRESS_KERNEL: use test (the debug kernel, default), bench, kcsan or kasan" ;;
esac
# Every run goes into the ledger, whatever its end (README, Stress):
# record() runs once, at the end or from the EXIT trap. A make stress killed
# outright (SIGKILL, or a session's end that kills it so) runs no trap: its
# pending mark stays in its results directory, and the next make stress
# (here, first thing) or make stress-report of the same ledger records it as
# stopped from its output (stress-report.py recover).
ledger=$PROJECT_DIR/bench/results/stress-ledger.jsonl
python3 "$PROJECT_DIR/scripts/stress-report.py" recover --ledger "$ledger" \
	--results-root "$CACHE_DIR/results" ||
	warn "could not record the runs an earlier make stress was killed before recording"
mkdir -p "$CACHE_DIR/results"
results=$CACHE_DIR/results/stress-$(date +%Y%m%d-%H%M%S)
# A directory of its own, also for two runs started in the same second.
mkdir "$results" 2>/dev/null || { results+=-$$ && mkdir "$results"; }
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
series=$(code_fingerprint)
reproduce="make stress MIX=${MIX:-hostile} DURATION=$duration${REUSE_TARGET:+ REUSE_TARGET=$REUSE_TARGET}${WP_FLIP_MS:+ WP_FLIP_MS=$WP_FLIP_MS}${FLIP_STORM:+ FLIP_STORM=$FLIP_STORM}${SWAP_PRESSURE:+ SWAP_PRESSURE=$SWAP_PRESSURE}${STRESS_KERNEL:+ STRESS_KERNEL=$STRESS_KERNEL} SEED=?"
run=("$results" --ledger "$ledger"
	--suite "$suite" --kernel "${STRESS_KERNEL:-test}" --kout "$KOUT" --series "$series"
	--started "$started" --mix "${MIX:-hostile}" --reproduce "$reproduce"
	--duration "$duration" --seed "${SEED:-}"
	--reuse-target "${REUSE_TARGET:-}" --wp-flip-ms "${WP_FLIP_MS:-}"
	--flip-storm "${FLIP_STORM:-}" --swap-pressure "${SWAP_PRESSURE:-}")
python3 "$PROJECT_DIR/scripts/stress-report.py" pending "${run[@]}" --owner $$ ||
	warn "could not mark this run pending: if make stress is killed outright, the ledger will not have it"
verdict='' stopped='' stop_status='' recorded='' vm=''
record() {
	[ -z "$recorded" ] || return 0
	recorded=1
	python3 "$PROJECT_DIR/scripts/stress-report.py" record "${run[@]}" \
		--verdict "$verdict" --stopped "$stopped" ||
		warn "could not append this run to $ledger (its output is in $results)"
}
on_exit() {
	local rc=$?
	record
	exit "$rc"
}
trap on_exit EXIT
# Stopped (Ctrl-C, or make stress got SIGTERM or SIGHUP): stop the guest
# (vm.sh's timeout takes QEMU down with it), then record the run as stopped.
stop() { # stop SIGNAL STATUS
	stopped=$1 stop_status=$2
	warn "$1: stopping the guest; the run is recorded as stopped"
	[ -n "$vm" ] || exit "$stop_status"
	pkill -TERM -P "$vm" || true
}
trap 'stop SIGINT 130' INT
trap 'stop SIGTERM 143' TERM
trap 'stop SIGHUP 129' HUP
step "Stress, ${MIX:-hostile} mix: ${duration}s on $(cat "$KOUT/include/config/kernel.release") ($KOUT; output in $results)"
# The guest does not inherit our environment: pass it on the command line.
# In the background, so that a signal's trap runs while the guest does.
# The guest's limit: its boot's (vm.sh's VM_BOOT_TIMEOUT), the run, and 15
# minutes for the checks after it.
VM_OUT=$results VM_TIMEOUT=$((${VM_BOOT_TIMEOUT:-900} + duration + 900)) "$PROJECT_DIR/scripts/vm.sh" \
	env STRESS_SECONDS="$duration" STRESS_SEED="${SEED:-}" STRESS_REUSE_TARGET="${REUSE_TARGET:-}" \
	STRESS_WP_FLIP_MS="${WP_FLIP_MS:-}" STRESS_FLIP_STORM="${FLIP_STORM:-}" \
	STRESS_SWAP_PRESSURE="${SWAP_PRESSURE:-}" \
	"$PROJECT_DIR/scripts/guest-test.sh" "$results" "$tests" "$suite" dmesg &
vm=$!
# wait returns early when a trapped signal comes: wait again until vm.sh ends.
while kill -0 "$vm" 2>/dev/null; do wait "$vm" || true; done
guest=$(cat "$results/rc" 2>/dev/null || echo 'none (see above)')
[ "$guest" = 0 ] || warn "the guest run exited with status $guest"
[ -z "$stopped" ] || exit "$stop_status"
step "Results"
if "$VENV/bin/python" "$PROJECT_DIR/scripts/count-results.py" "$KTREE" "$results" "$suite" dmesg; then
	verdict=pass
	record
else
	verdict=fail
	record
	# The program prints its seed first thing, also when none was given.
	seed=$(sed -n 's/^# seed \([0-9]*\);.*/\1/p' "$results/$suite.log" 2>/dev/null | head -n 1) || true
	info "reproduce: ${reproduce%SEED=\?}SEED=${seed:-${SEED:-<not printed: see $results>}}"
	exit 1
fi
