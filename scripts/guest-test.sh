#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest (as root, host filesystem mounted copy-on-write).
# Each suite's raw output goes to $OUT/<suite>.log for the host to count;
# the exit status of this script is not the verdict, the logs are.
set -u
OUT=${1:?usage: guest-test.sh OUTDIR KOUT}
KOUT=${2:?usage: guest-test.sh OUTDIR KOUT}
PROJECT_DIR=$(cd "$(dirname "$0")/.." && pwd)

suite() { # suite NAME CMD... : run one suite, tee its output to NAME.log
	local name=$1
	shift
	echo "=== $name: $*"
	"$@" 2>&1 | tee "$OUT/$name.log"
	echo "=== $name: exit ${PIPESTATUS[0]}"
}

# The kernel's boot log holds the KUnit results (built-in suites run at boot).
dmesg >"$OUT/dmesg.log"

suite guest-basics "$PROJECT_DIR/scripts/guest-basics.sh" "$KOUT"
