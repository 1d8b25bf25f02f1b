#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# KTAP checks that the guest runs the kernel just built from the overlay.
set -u
KOUT=$1
n=0 failed=0
check() { # check DESCRIPTION CMD...
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n $desc"; else echo "not ok $n $desc"; failed=1; fi
}
echo "TAP version 13"
echo "1..2"
built=$(sed -n 's/^#define UTS_VERSION "\(.*\)"$/\1/p' "$KOUT/include/generated/utsversion.h")
check "booted kernel is the build in $KOUT ($(uname -r) $built)" \
	test "$(uname -r) $(uname -v)" = "$(cat "$KOUT/include/config/kernel.release") $built"
check "the overlay's Rust probe ran at boot" \
	grep -q 'ksm-wp-reuse overlay: Rust code built in' <(dmesg)
exit $failed
