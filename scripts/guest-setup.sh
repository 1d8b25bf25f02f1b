#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prepare the guest for the mm tests: swap on zram, cgroup v2 with the memory
# controller, debugfs (gup_test) and tracefs. Idempotent.
set -u
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup
grep -qw memory /sys/fs/cgroup/cgroup.subtree_control ||
	echo +memory >/sys/fs/cgroup/cgroup.subtree_control
if ! grep -q '^/dev/zram0' /proc/swaps; then
	echo 1G >/sys/block/zram0/disksize &&
		mkswap /dev/zram0 >/dev/null &&
		swapon /dev/zram0
fi
echo "guest: $(nproc) CPUs, $(numactl -H | head -1), swap: $(awk 'NR > 1 { print $1, $3 " KiB" }' /proc/swaps)"
