#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# TAP checks that the guest runs the kernel just built from the overlay, with
# the feature's interfaces in place.
set -u
KOUT=$1
n=0
check() { # check DESCRIPTION CMD...
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n $desc"; else echo "not ok $n $desc"; fi
}
echo "TAP version 13"
echo "1..5"
built=$(sed -n 's/^#define UTS_VERSION "\(.*\)"$/\1/p' "$KOUT/include/generated/utsversion.h")
# No '#' in a description: TAP reads it as a directive.
echo "# booted: $(uname -r) $(uname -v)"
check "booted kernel is the build in $KOUT" \
	test "$(uname -r) $(uname -v)" = "$(cat "$KOUT/include/config/kernel.release") $built"
check "the overlay's Rust probe ran at boot" \
	grep -q 'ksm-wp-reuse overlay: Rust code built in' <(dmesg)
check "/sys/kernel/mm/ksm/wp_reuse: 1 by default, mode 0644" \
	test "$(cat /sys/kernel/mm/ksm/wp_reuse) $(stat -c %a /sys/kernel/mm/ksm/wp_reuse)" = "1 644"
check "/proc/vmstat counts ksm_wp_reuse next to cow_ksm" \
	grep -q '^ksm_wp_reuse [0-9]' /proc/vmstat
check "tracepoint ksm:ksm_wp_reuse exists" \
	test -d /sys/kernel/tracing/events/ksm/ksm_wp_reuse
