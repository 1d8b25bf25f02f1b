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
# The probe module, built out of tree against this kernel (top-level
# Kbuild), loads only into it and uses the series' Rust abstractions.
probe_loads() {
	local ko=$KOUT-probe/probe/ksm_wp_reuse_probe.ko
	[ -f "$ko" ] || { echo "# no $ko: make selftests builds it"; return 1; }
	insmod "$ko" || return 1
	dmesg | grep 'ksm-wp-reuse probe:' | sed 's/^/# /'
	dmesg | grep -q 'ksm-wp-reuse probe: CONFIG_KSM_WP_REUSE=y' && rmmod ksm_wp_reuse_probe
}
check "the probe module (built through the top-level Kbuild) loads and finds CONFIG_KSM_WP_REUSE" \
	probe_loads
check "/sys/kernel/mm/ksm/wp_reuse: 1 by default, mode 0644" \
	test "$(cat /sys/kernel/mm/ksm/wp_reuse) $(stat -c %a /sys/kernel/mm/ksm/wp_reuse)" = "1 644"
check "/proc/vmstat counts ksm_wp_reuse next to cow_ksm" \
	grep -q '^ksm_wp_reuse [0-9]' /proc/vmstat
check "tracepoint ksm:ksm_wp_reuse exists" \
	test -d /sys/kernel/tracing/events/ksm/ksm_wp_reuse
