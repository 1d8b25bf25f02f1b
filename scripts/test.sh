#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The project's test run (make test): host-side checks of the scripts, then
# one guest boot running every guest suite. Each suite writes KTAP/TAP; the
# counts of all of them make the last line: "N passed, N failed, N skipped".
# GUEST_ONLY=1: the guest boot alone (the host checks and make check do not
# depend on the kernel: for another kernel, e.g. make test KERNEL=kasan).
. "$(dirname "$0")/lib.sh"

# The guest suites (scripts/guest-test.sh runs them in this order). kunit is
# the boot log the guest saves; a suite that leaves no log counts as failed.
GUEST_SUITES=(basics ksm_wp_reuse ksm_wp_reuse_classic_lru stress stress_reuse demo ksm_functional_tests ksm_tests cow gup_longterm kasan_canary dmesg)

results=$CACHE_DIR/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"

host_suite() { # host_suite NAME SCRIPT: run it into NAME.log, show its verdicts
	"$PROJECT_DIR/scripts/$2" >"$results/$1.log" 2>&1
	sed -n 's/^\(not ok\|ok\) [0-9]* /    \1 /p' "$results/$1.log" >&2
}
host_suites=(host check)
if [ -n "${GUEST_ONLY:-}" ]; then
	host_suites=()
	info "GUEST_ONLY=$GUEST_ONLY: no host checks, no make check"
else
	step "Host checks (log: $results/host.log)"
	host_suite host host-checks.sh
	step "Lints (make check; log: $CACHE_DIR/check.log)"
	host_suite check check.sh
fi

step "Guest run on $KOUT (TCG: a few minutes; output in $results)"
VM_OUT=$results "$PROJECT_DIR/scripts/vm.sh" "$PROJECT_DIR/scripts/guest-test.sh" "$results" "$KOUT" \
	"${GUEST_SUITES[@]}" || warn "the guest run exited with status $?"

step "Results"
"$VENV/bin/python" "$PROJECT_DIR/scripts/count-results.py" "$KTREE" "$results" \
	"${host_suites[@]}" kunit "${GUEST_SUITES[@]}"
