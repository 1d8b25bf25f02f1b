#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make run: configure and build the kernel if needed, boot it and run the
# demo (demo/ksm_wp_reuse_demo.c): KSM pages left mapped once are written with
# the switch on and off, next to an ordinary anon reuse fault; it prints how
# many faults reused or copied the page and what a fault cost. Extra
# arguments go to the demo (-n PAGES).
#   KERNEL=test   the test kernel make test boots (default): debug options on
#   KERNEL=bench  the benchmark kernel (no debug options): the times to compare
#   KERNEL=kasan  the test kernel plus KASAN, built with LLVM
KBUILD_CONFIG=${KERNEL:-test}
case $KBUILD_CONFIG in
test | bench | kasan) ;;
*) printf 'error: KERNEL=%s: use KERNEL=test (the debug kernel, default), bench or kasan\n' "$KBUILD_CONFIG" >&2; exit 1 ;;
esac
. "$(dirname "$0")/lib.sh"

"$PROJECT_DIR/scripts/config.sh"
"$PROJECT_DIR/scripts/build.sh"
demo=$(demo_bin)
[ -x "$demo" ] || die "no demo at $demo after the build: see $KOUT/build.log"
release=$(cat "$KOUT/include/config/kernel.release")
debug=()
for opt in DEBUG_VM PROVE_LOCKING PAGE_OWNER DEBUG_PAGEALLOC KCSAN; do
	grep -q "^CONFIG_$opt=y" "$KOUT/.config" && debug+=("$opt")
done
step "Booting $release ($KBUILD_CONFIG kernel, $KOUT) and running the demo"
status=0
"$PROJECT_DIR/scripts/vm.sh" "$demo" "$@" || status=$?
echo
if [ "${#debug[@]}" -gt 0 ]; then
	echo "Kernel: $release, the $KBUILD_CONFIG kernel, with ${debug[*]}."
	echo "These debug options inflate every fault, and the copy most (PAGE_OWNER and"
	echo "DEBUG_PAGEALLOC work on every page allocated): the counts above hold, the"
	echo "times do not compare. For times to compare: make run KERNEL=bench."
else
	echo "Kernel: $release, the $KBUILD_CONFIG kernel, without debug options (TCG guest:"
	echo "absolute times mean little, the ratios do)."
fi
exit "$status"
