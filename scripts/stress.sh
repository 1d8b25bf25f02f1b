#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make stress: boot the test (debug) kernel and run ksm_wp_reuse_stress for
# DURATION seconds (default 300), alternating merge_across_nodes, then check
# the guest's log. SEED=n reproduces a run. Pass/fail is counted like make test.
#   MIX=reuse            the reuse-heavy mix (merged twin pairs cycled)
#                        instead of the hostile one
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
# Other kernels than the test one are configured and built here as needed,
# each in its own build directory; the test programs are the test build's.
. "$(dirname "$0")/lib.sh"

duration=${DURATION:-300}
case ${MIX:-hostile} in
hostile) suite=stress ;;
reuse) suite=stress_reuse ;;
*) die "MIX=$MIX: use MIX=hostile (default) or MIX=reuse (reuse-heavy: merged twin pairs)" ;;
esac
tests=$KOUT
case ${STRESS_KERNEL:-test} in
test) ;;
bench | kcsan)
	KBUILD_CONFIG=$STRESS_KERNEL
	KOUT=$(build_dir "$KBUILD_CONFIG")
	export KBUILD_CONFIG KOUT
	"$PROJECT_DIR/scripts/config.sh"
	"$PROJECT_DIR/scripts/build.sh"
	;;
*) die "STRESS_KERNEL=$STRESS_KERNEL: use test (the debug kernel, default), bench or kcsan" ;;
esac
results=$CACHE_DIR/results/stress-$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"
step "Stress, ${MIX:-hostile} mix: ${duration}s on $(cat "$KOUT/include/config/kernel.release") ($KOUT; output in $results)"
# The guest does not inherit our environment: pass it on the command line.
VM_OUT=$results VM_TIMEOUT=$((duration + 900)) "$PROJECT_DIR/scripts/vm.sh" \
	env STRESS_SECONDS="$duration" STRESS_SEED="${SEED:-}" STRESS_REUSE_TARGET="${REUSE_TARGET:-}" \
	STRESS_WP_FLIP_MS="${WP_FLIP_MS:-}" STRESS_FLIP_STORM="${FLIP_STORM:-}" \
	STRESS_SWAP_PRESSURE="${SWAP_PRESSURE:-}" \
	"$PROJECT_DIR/scripts/guest-test.sh" "$results" "$tests" "$suite" dmesg ||
	warn "the guest run exited with status $?"
step "Results"
if ! "$VENV/bin/python" "$PROJECT_DIR/scripts/count-results.py" "$KTREE" "$results" "$suite" dmesg; then
	# The program prints its seed first thing, also when none was given.
	seed=$(sed -n 's/^# seed \([0-9]*\);.*/\1/p' "$results/$suite.log" 2>/dev/null | head -n 1)
	info "reproduce: make stress MIX=${MIX:-hostile} DURATION=$duration${REUSE_TARGET:+ REUSE_TARGET=$REUSE_TARGET}${WP_FLIP_MS:+ WP_FLIP_MS=$WP_FLIP_MS}${FLIP_STORM:+ FLIP_STORM=$FLIP_STORM}${SWAP_PRESSURE:+ SWAP_PRESSURE=$SWAP_PRESSURE}${STRESS_KERNEL:+ STRESS_KERNEL=$STRESS_KERNEL} SEED=${seed:-${SEED:-<not printed: see $results>}}"
	exit 1
fi
