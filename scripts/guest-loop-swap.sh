#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In the guest: swap on a loop device, and on it alone, for the parts of
# make bench that put KSM pages under swap pressure.
#   guest-loop-swap.sh on MIB   a MIB-sized loop device on a file in the
#                               guest's memory becomes the only swap
#   guest-loop-swap.sh off      back to the swap that was on before
# A loop device is disk-like (not SWP_SYNCHRONOUS_IO, unlike zram), so a
# folio read back stays in the swap cache, where the write fault meets it.
# It must be the only swap: 7.3's allocator takes a CPU's cached cluster of
# any device before it looks at priorities. "on" while on, or "off" while
# off, changes nothing.
set -eu
state=/run/ksm-wp-loop-swap
die() { echo "guest-loop-swap.sh: $*" >&2; exit 1; }

case ${1:-} in
on)
	mib=${2:-}
	case $mib in '' | *[!0-9]* | 0*) die "on wants a size in MiB, not '$mib'" ;; esac
	if [ -e "$state" ]; then
		# shellcheck source=/dev/null # written by "on" below
		. "$state"
		# shellcheck disable=SC2154 # set by the state file
		if grep -q "^$loopdev " /proc/swaps; then exit 0; fi
		"$0" off # a half-done "on": undo it, then start again
	fi
	img=$(mktemp /dev/shm/ksm-wp-swap.XXXXXX)
	truncate -s "${mib}M" "$img" || { rm -f "$img"; die "cannot size $img to $mib MiB"; }
	loopdev=$(losetup --find --show "$img") || { rm -f "$img"; die "losetup failed"; }
	mkswap -q "$loopdev" || { losetup -d "$loopdev"; rm -f "$img"; die "mkswap $loopdev failed"; }
	others=$(awk 'NR > 1 { print $1 }' /proc/swaps | paste -sd' ')
	# Written before anything changes: "off" can undo a half-done "on".
	printf 'loopdev=%q img=%q others=%q\n' "$loopdev" "$img" "$others" >"$state"
	for d in $others; do swapoff "$d"; done
	swapon -p 32767 "$loopdev"
	;;
off)
	[ -e "$state" ] || exit 0
	# shellcheck source=/dev/null # written by "on" above
	. "$state"
	# shellcheck disable=SC2154 # set by the state file
	if grep -q "^$loopdev " /proc/swaps; then swapoff "$loopdev"; fi
	losetup -d "$loopdev" 2>/dev/null || true
	rm -f "$img"
	# shellcheck disable=SC2154
	for d in $others; do grep -q "^$d " /proc/swaps || swapon "$d"; done
	rm -f "$state"
	;;
*)
	die "usage: guest-loop-swap.sh on MIB | off"
	;;
esac
