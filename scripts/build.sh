#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the kernel (O= build directory under the cache), showing progress.
# Extra arguments are make targets (default: all).
. "$(dirname "$0")/lib.sh"

targets=("${@:-all}")
# The mm selftests probe for liburing once and cache the answer in the source
# tree; probe again so a library installed since is used.
case " ${targets[*]} " in
*" kselftest-all "*) rm -f "$KTREE"/tools/testing/selftests/mm/local_config.{h,mk} ;;
esac
log=$KOUT/build.log
step "Building ${targets[*]} in $KOUT (log: $log)"
[ -f "$KOUT/vmlinux" ] || info "cold build: about 12 minutes on 2 cores"
need_space "$KOUT" 3 "the kernel build"
start=$(date +%s)
kmake "${targets[@]}" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' INT TERM
while kill -0 "$pid" 2>/dev/null; do
	sleep 15
	kill -0 "$pid" 2>/dev/null || break
	last=$(grep -E '^  [A-Z]' "$log" | tail -1 | awk '{ print $NF }')
	info "$(($(date +%s) - start))s: $(grep -cE '^  [A-Z]' "$log") steps, now ${last:-starting}"
done
if ! wait "$pid"; then
	grep -E 'error|Error' "$log" | head -20 >&2
	die "kernel build failed after $(($(date +%s) - start))s; full log: $log"
fi
info "built in $(($(date +%s) - start))s"
