#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The project's test run (make test): host-side checks of the scripts, then
# one guest boot running every guest suite. Each suite writes KTAP/TAP; the
# counts of all of them make the last line: "N passed, N failed, N skipped".
. "$(dirname "$0")/lib.sh"

results=$CACHE_DIR/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"
step "Host checks (log: $results/host.log)"
"$PROJECT_DIR/scripts/host-checks.sh" >"$results/host.log" 2>&1
sed -n 's/^\(not ok\|ok\) [0-9]* /    \1 /p' "$results/host.log" >&2

step "Lints (make check; log: $CACHE_DIR/check.log)"
"$PROJECT_DIR/scripts/check.sh" >"$results/check.log" 2>&1
sed -n 's/^\(not ok\|ok\) [0-9]* /    \1 /p' "$results/check.log" >&2

step "Guest run on $KOUT (TCG: a few minutes; output in $results)"
VM_OUT=$results "$PROJECT_DIR/scripts/vm.sh" "$PROJECT_DIR/scripts/guest-test.sh" "$results" "$KOUT" ||
	warn "the guest run exited with status $?"

step "Results"
"$VENV/bin/python" "$PROJECT_DIR/scripts/count-results.py" "$KTREE" "$results" \
	host check kunit basics ksm_wp_reuse stress demo ksm_functional_tests ksm_tests cow gup_longterm dmesg
