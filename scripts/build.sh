#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the kernel (O= build directory under the cache), showing progress.
# Extra arguments are make targets (default: all, and then the demo, a user
# program built against this kernel's uapi headers); "probe" builds the
# project's out-of-tree module (the top-level Kbuild) against this kernel.
. "$(dirname "$0")/lib.sh"

targets=("${@:-all}")
[ "${targets[*]}" = probe ] && targets=(M="$PROJECT_DIR" MO="$(probe_dir)" modules)
# The mm selftests probe for liburing once and cache the answer in the source
# tree; probe again so a library installed since is used.
case " ${targets[*]} " in
*" kselftest-all "*) rm -f "$(flavour_tree "$KBUILD_CONFIG")"/tools/testing/selftests/mm/local_config.{h,mk} ;;
esac
log=$KOUT/build.log
step "Building ${targets[*]} in $KOUT (log: $log)"
[ -f "$KOUT/vmlinux" ] || info "cold build: about 12 minutes on 2 cores"
need_space "$KOUT" 3 "the kernel build"
start=$(date +%s)
: >"$log"
if ! with_progress "$log" kmake "${targets[@]}"; then
	grep -E 'error|Error' "$log" | head -20 >&2
	die "kernel build failed after $(($(date +%s) - start))s; full log: $log"
fi
info "built in $(($(date +%s) - start))s"
if [ "${targets[*]}" = all ]; then
	mkdir -p "$KOUT/demo"
	gcc -O2 -Wall -Wextra -isystem "$KOUT/usr/include" -o "$(demo_bin)" \
		"$PROJECT_DIR/demo/ksm_wp_reuse_demo.c" || die "compiling demo/ksm_wp_reuse_demo.c failed"
fi
