#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make stress: boot the test (debug) kernel and run ksm_wp_reuse_stress for
# DURATION seconds (default 300), alternating merge_across_nodes, then check
# the guest's log. SEED=n reproduces a run. Pass/fail is counted like make test.
. "$(dirname "$0")/lib.sh"

duration=${DURATION:-300}
results=$CACHE_DIR/results/stress-$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"
step "Stress: ${duration}s on $(cat "$KOUT/include/config/kernel.release") (output in $results)"
# The guest does not inherit our environment: pass it on the command line.
VM_OUT=$results VM_TIMEOUT=$((duration + 900)) "$PROJECT_DIR/scripts/vm.sh" \
	env STRESS_SECONDS="$duration" STRESS_SEED="${SEED:-}" \
	"$PROJECT_DIR/scripts/guest-test.sh" "$results" "$KOUT" stress dmesg ||
	warn "the guest run exited with status $?"
step "Results"
"$VENV/bin/python" "$PROJECT_DIR/scripts/count-results.py" "$KTREE" "$results" stress dmesg
