# SPDX-License-Identifier: GPL-2.0
# ksm-wp-reuse: reuse single-mapped KSM pages on write faults, in Rust, on
# Linux 7.3. `make run` and `make test` are all a new user needs: each runs
# whatever earlier step is missing. Heavy state (tools, kernel tree, build)
# lives in $(CACHE_DIR), outside this clone.
#
# Variables: KERNEL_SRC=/path/to/linux-7.3 (default: Debian's linux-source-7.3)
#            VM_ACCEL=auto|kvm|tcg, CACHE_DIR=..., DEMO_ARGS="-n 4096",
#            KERNEL=test|bench|kasan (make run), KERNEL=test|kasan (make test),
#            BENCH_KERNELS="bench bench-llvm bench-c" (make bench: the GCC
#            bench kernel, the same built with LLVM 19 and
#            CONFIG_RUST_INLINE_HELPERS=y, the same with the decision in C,
#            bench/c-variant/, a comparison outside the series)

S := scripts
export KERNEL_SRC VM_ACCEL CACHE_DIR DURATION SEED MIX REUSE_TARGET WP_FLIP_MS FLIP_STORM SWAP_PRESSURE STRESS_KERNEL
export BASE_CONFIG PACKAGE_KERNEL GUEST_ONLY BENCH_KERNELS
# KERNEL=kasan: the steps make test runs (config, kernel, selftests, the
# guest) take the KASAN kernel, built with LLVM (kasan/config.fragment)
ifneq ($(KERNEL),)
export KBUILD_CONFIG := $(KERNEL)
endif

.PHONY: help run test setup tree overlay config kernel selftests bench stress stress-report package patches check bisect shell clean distclean

help:
	@sed -n 's/^## //p' $(firstword $(MAKEFILE_LIST))
	@echo "targets: run test setup tree overlay config kernel selftests bench stress stress-report package patches check bisect shell clean distclean"

## make run    build everything missing, boot the kernel, run the demo (KERNEL=bench: no debug options)
run: tree
	$(S)/overlay.sh
	KERNEL=$(KERNEL) $(S)/demo.sh $(DEMO_ARGS)

## make test   everything CI runs; last line "N passed, N failed, N skipped" (KERNEL=kasan: on the KASAN kernel; GUEST_ONLY=1: the guest suites alone)
test: selftests
	$(S)/test.sh

## make setup  install the tools (Debian packages, bindgen, libclang, virtme-ng)
setup:
	$(S)/setup.sh

## make tree   fetch Linux 7.3 (or import KERNEL_SRC) into the cache
tree: setup
	$(S)/kernel-tree.sh

## make overlay  lay the project's files and patches onto the tree
overlay: tree
	$(S)/overlay.sh

config: overlay
	$(S)/config.sh

## make kernel  configure and build (incremental)
kernel: config
	$(S)/build.sh

## make selftests  build the mm kselftests (with ksm_wp_reuse) against the kernel
selftests: kernel
	$(S)/build.sh kselftest-all TARGETS=mm
	$(S)/build.sh probe

## make bench  the numbers: reuse vs copy vs the anon floor, TCG and icount (BENCH_MODES, BENCH_BOOTS), perf, swap pressure, churn (bench kernel; BENCH_KERNELS="bench bench-llvm bench-c": also on the LLVM-built one and on the one with the decision in C, side by side)
bench: tree
	$(S)/overlay.sh
	$(S)/bench.sh

## make stress  DURATION=300 SEED=n MIX=hostile|reuse|swapcache REUSE_TARGET=n WP_FLIP_MS=n FLIP_STORM=1 SWAP_PRESSURE=1 STRESS_KERNEL=test|bench|kcsan|kasan: the stress run
stress: selftests
	$(S)/stress.sh

## make stress-report  totals of the stress ledger (bench/results/stress-ledger.jsonl) per kernel and series, after recording the runs a killed make stress left pending; MARKDOWN=1: README's table
stress-report:
	python3 $(S)/stress-report.py $(if $(MARKDOWN),--markdown)

## make package  Debian packages of the kernel (bindeb-pkg) from BASE_CONFIG=<.config>; PACKAGE_KERNEL=test: the test kernel
package: tree
	$(S)/overlay.sh
	$(S)/package.sh

## make patches  the git-am-able series against Linux 7.3, in series/
patches: overlay
	$(S)/patches.sh

## make check  lints: shellcheck, checkpatch, rustfmt, clippy, rustdoc, =n builds
check: config
	$(S)/check.sh

## make bisect  build each commit of the series on its own (ccache; cold: ~40 min)
bisect: config
	$(S)/bisect.sh

## make shell  an interactive shell in the guest
shell: kernel
	$(S)/vm.sh

## make clean  remove the build output (the next build is cold)
clean:
	. $(S)/lib.sh; step "Removing $$KOUT"; rm -rf "$$KOUT"

## make distclean  remove the whole cache (tools venv, kernel trees, builds)
distclean:
	. $(S)/lib.sh; step "Removing $$CACHE_DIR"; rm -rf "$$CACHE_DIR"
