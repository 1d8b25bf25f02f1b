#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: build the benchmark kernel (the test config without debug
# options, its own build directory), boot it once and run every scenario
# side by side, then write bench/results/<date>-<kernel>.{json,svg} and print
# the table. BENCH_PAGES, BENCH_ROUNDS, CHURN_SECONDS size the run.
KBUILD_CONFIG=bench
. "$(dirname "$0")/lib.sh"
export KBUILD_CONFIG KOUT

PAGES=${BENCH_PAGES:-16384}
ROUNDS=${BENCH_ROUNDS:-5}
CHURN=${CHURN_SECONDS:-20}

"$PROJECT_DIR/scripts/config.sh"
"$PROJECT_DIR/scripts/build.sh"

step "Building the benchmark program"
bin=$KOUT/bench/ksm_wp_bench
mkdir -p "$(dirname "$bin")"
gcc -O2 -g -fno-omit-frame-pointer -Wall -Wextra -isystem "$KOUT/usr/include" \
	-I "$PROJECT_DIR/samples/ksm_wp_reuse" \
	-o "$bin" "$PROJECT_DIR/bench/ksm_wp_bench.c" || die "compiling bench/ksm_wp_bench.c failed"

raw=$CACHE_DIR/results/bench-$(date +%Y%m%d-%H%M%S)
mkdir -p "$raw"
step "Benchmark guest ($PAGES pages x $ROUNDS rounds, churn ${CHURN}s; raw output in $raw)"
VM_OUT=$raw "$PROJECT_DIR/scripts/vm.sh" "$PROJECT_DIR/scripts/guest-bench.sh" \
	"$raw" "$bin" "$PAGES" "$ROUNDS" "$CHURN" || die "the benchmark failed in the guest; see $raw"

step "Report"
"$VENV/bin/python" "$PROJECT_DIR/scripts/bench-report.py" "$raw" \
	"$(cat "$KOUT/include/config/kernel.release")" "$PROJECT_DIR/bench/results"
