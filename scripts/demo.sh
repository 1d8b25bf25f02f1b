#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make run: boot the built kernel and run the demo (samples/ksm_wp_reuse):
# KSM pages left mapped once are written with the switch on and off, next to
# an ordinary anon reuse fault; it prints how many faults reused or copied
# the page and what a fault cost. Extra arguments go to the demo (-n PAGES).
. "$(dirname "$0")/lib.sh"

demo=$KOUT/samples/ksm_wp_reuse/ksm_wp_reuse_demo
[ -x "$demo" ] || die "no demo at $demo: run 'make kernel'"
step "Booting $(cat "$KOUT/include/config/kernel.release") and running the demo"
"$PROJECT_DIR/scripts/vm.sh" "$demo" "$@"
