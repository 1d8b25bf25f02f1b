#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: build the benchmark kernel (the test config without debug
# options, its own build directory), boot it and run every scenario side by
# side, then write bench/results/<date>-<kernel>.{json,svg,md} and print the
# table. Each mode of BENCH_MODES boots BENCH_BOOTS times:
#   tcg     multi-threaded TCG: real memory and atomics costs, noisy (about
#           +-25% between boots); its first boot also runs perf, the
#           tracepoint's verdicts, the pairs, swap-pressure and churn
#           workloads
#   icount  -icount shift=0,sleep=off: guest time counts instructions, so a
#           boot repeats the last one's figures; its first boot also runs
#           the pairs workload (ksm_tests -C, completed), which TCG's also
#           runs
# Then one more boot, where gdb single-steps the first write faults of
# ksm_on and anon_reuse and counts their instructions by kernel symbol
# (bench-steps.py; BENCH_STEPS=0 skips it).
# BENCH_PAGES, BENCH_ROUNDS, CHURN_SECONDS size the run. Last, a TCG boot of
# its own runs real programs, each instance launched on its own with
# PR_SET_MEMORY_MERGE in a cgroup of its own (bench/workloads/run.py):
# WORKLOADS (default "python node java"; empty skips them), WORKLOAD_ROUNDS
# (5), WORKLOAD_ASLR ("on off"), WORKLOAD_KSMD ("default aggressive").
# WORKLOADS may also name "service", not in the default: a pre-fork Python
# service, Debian's gunicorn under load from Debian's wrk
# (bench/workloads/service.py), in a TCG boot of its own after the
# programs': WORKLOAD_ROUNDS rounds x SERVICE_WORKERS ("4 8") x SERVICE_KSMD
# ("default") x the switch; its sizes SERVICE_SECONDS (of load per phase,
# 25), SERVICE_RECORDS, SERVICE_KEYS, SERVICE_CONNECTIONS (a wrk thread
# each), SERVICE_WRK_TIMEOUT, SERVICE_SAMPLES,
# SERVICE_WORKER_LIFE, SERVICE_MAX_REQUESTS and SERVICE_PORT, if set, go to
# the guest (service.py says what each does).
# WORKLOADS may also name "vm", not in the default: identical virtual
# machines, NESTED_GUESTS QEMU guests under TCG inside a TCG boot of its own
# (bench/workloads/vm.py), last: NESTED_ROUNDS rounds (1; 0: one measured
# boot of the guests and their units once, nothing else) x NESTED_KSMD
# ("default") x the switch. It builds the nested guests' own kernel
# (KBUILD_CONFIG=nested: tinyconfig and nested/config.fragment) and their
# initramfs (scripts/nested-initramfs.sh; NESTED_DATA_KIB, NESTED_SEED);
# the outer guest gets VM_MEM_MB=4096 unless set. NESTED_GUESTS,
# NESTED_MEM_MIB, NESTED_FILES, NESTED_FILE_KIB, NESTED_FS, NESTED_UNITS,
# NESTED_TB_MIB, NESTED_BOOT_TIMEOUT, NESTED_UNIT_TIMEOUT and NESTED_APPEND,
# if set, go to the guest (vm.py says what each does).
# BENCH_MODES= (empty) runs only those boots.
# BENCH_KERNELS (default "bench") names the kernels the per-fault boots and
# the steps boot run on, each in turn, with the same benchmark program:
#   bench       the bench kernel built with GCC, as Debian builds its kernels
#   bench-llvm  the same config built with LLVM 19 and the rustc on its LLVM
#               (lib.sh), CONFIG_RUST_INLINE_HELPERS=y (bench/llvm.fragment):
#               the C helpers inlined into the Rust; a build directory and a
#               cold build of its own
#   bench-c     the bench kernel with the reuse decision in C instead of
#               Rust, built with GCC: bench/c-variant/'s patch (not part of
#               the series, not in code_fingerprint) applied to the overlay
#               in a kernel tree of its own (scripts/c-variant-tree.sh), and
#               CONFIG_KSM_WP_REUSE_C=y (bench/c-variant/config.fragment); a
#               tree, a build directory and a cold build of its own
# e.g. BENCH_KERNELS="bench bench-llvm bench-c". Each kernel's raw output
# goes to <raw>/<kernel>/ (the real programs' and the service's to
# <raw>/workloads, <raw>/service), the program to <raw>/bin; its report is
# bench/results/<date>-<release>.* for bench, <date>-<release>-llvm.* for
# bench-llvm and <date>-<release>-c.* for bench-c, and with bench and any
# other, <date>-<release>-kernels.md sets them side by side, each against
# bench; a second bench run on the same day writes its per-fault reports as
# <...>-2.*, a third as -3.* (bench-report.py's same_day_run()), leaving the
# earlier ones. The real programs and the service run on bench alone: WORKLOADS
# not empty needs bench in BENCH_KERNELS.
KBUILD_CONFIG=bench
. "$(dirname "$0")/lib.sh"

# use_kernel FLAVOUR: the kernel the next config, build and boots are of
# (lib.sh set KOUT once, from the KBUILD_CONFIG it was sourced with).
use_kernel() {
	KBUILD_CONFIG=$1
	KOUT=$(build_dir "$1")
	export KBUILD_CONFIG KOUT
}

PAGES=${BENCH_PAGES:-16384}
ROUNDS=${BENCH_ROUNDS:-5}
CHURN=${CHURN_SECONDS:-20}
WORKLOADS=${WORKLOADS-python node java}
WORKLOAD_ROUNDS=${WORKLOAD_ROUNDS:-5}
WORKLOAD_ASLR=${WORKLOAD_ASLR:-on off}
WORKLOAD_KSMD=${WORKLOAD_KSMD:-default aggressive}
MODES=${BENCH_MODES-tcg icount}
BOOTS=${BENCH_BOOTS:-2}
for m in $MODES; do
	case $m in tcg | icount) ;; *) die "BENCH_MODES: $m is not a mode (tcg, icount)" ;; esac
done
[ -n "$MODES$WORKLOADS" ] || die "BENCH_MODES and WORKLOADS are both empty: nothing to run"
# The programs run in one boot, the service and the virtual machines each
# in one of their own.
programs='' service='' vm=''
for w in $WORKLOADS; do
	case $w in
	python | node | java) programs+="${programs:+ }$w" ;;
	service) service=1 ;;
	vm) vm=1 ;;
	*) die "WORKLOADS: $w is not a workload (python, node, java, service, vm)" ;;
	esac
done
SERVICE_WORKERS=${SERVICE_WORKERS:-4 8}
SERVICE_KSMD=${SERVICE_KSMD:-default}
SERVICE_SIZES="SERVICE_SECONDS SERVICE_RECORDS SERVICE_KEYS SERVICE_CONNECTIONS
	SERVICE_WRK_TIMEOUT SERVICE_SAMPLES SERVICE_WORKER_LIFE SERVICE_MAX_REQUESTS SERVICE_PORT"
if [ -n "$service" ]; then
	for n in $SERVICE_WORKERS; do
		case $n in *[!0-9]* | 0*) die "SERVICE_WORKERS: $n is not a number of workers, 1 or more" ;; esac
	done
	for k in $SERVICE_KSMD; do
		case $k in default | aggressive) ;; *) die "SERVICE_KSMD: $k is not default or aggressive" ;; esac
	done
	for v in $SERVICE_SIZES; do
		case ${!v-1} in '' | *[!0-9]* | 0*) die "$v=${!v}: give a whole number, 1 or more" ;; esac
	done
fi
NESTED_ROUNDS=${NESTED_ROUNDS:-1}
NESTED_KSMD=${NESTED_KSMD:-default}
NESTED_SIZES="NESTED_GUESTS NESTED_MEM_MIB NESTED_FILES NESTED_FILE_KIB NESTED_UNITS NESTED_TB_MIB
	NESTED_BOOT_TIMEOUT NESTED_UNIT_TIMEOUT"
if [ -n "$vm" ]; then
	case $NESTED_ROUNDS in '' | *[!0-9]* | 0?*) die "NESTED_ROUNDS=$NESTED_ROUNDS: give a number of rounds (0: a boot alone)" ;; esac
	for k in $NESTED_KSMD; do
		case $k in default | aggressive) ;; *) die "NESTED_KSMD: $k is not default or aggressive" ;; esac
	done
	for v in $NESTED_SIZES; do
		case ${!v-1} in '' | *[!0-9]* | 0*) die "$v=${!v}: give a whole number, 1 or more" ;; esac
	done
	case ${NESTED_FS:-tmpfs} in tmpfs | ext2) ;; *) die "NESTED_FS=$NESTED_FS: use tmpfs or ext2" ;; esac
fi
for a in $WORKLOAD_ASLR; do
	case $a in on | off) ;; *) die "WORKLOAD_ASLR: $a is not on or off" ;; esac
done
for k in $WORKLOAD_KSMD; do
	case $k in default | aggressive) ;; *) die "WORKLOAD_KSMD: $k is not default or aggressive" ;; esac
done
case $WORKLOAD_ROUNDS in *[!0-9]* | 0) die "WORKLOAD_ROUNDS=$WORKLOAD_ROUNDS: give a number of rounds, 1 or more" ;; esac
case $BOOTS in '' | *[!0-9]* | 0) die "BENCH_BOOTS=$BOOTS: give a number of boots, 1 or more" ;; esac
kernels=''
for k in ${BENCH_KERNELS:-bench}; do
	case $k in
	bench | bench-llvm | bench-c) ;;
	*) die "BENCH_KERNELS: $k is not a bench kernel (bench: GCC, as Debian builds; bench-llvm: LLVM $LLVM_VERSION with CONFIG_RUST_INLINE_HELPERS; bench-c: GCC, the decision in C, bench/c-variant/)" ;;
	esac
	case " $kernels " in *" $k "*) ;; *) kernels+="${kernels:+ }$k" ;; esac
done
[ -n "$kernels" ] || die "BENCH_KERNELS=\"$BENCH_KERNELS\": name one or more of bench, bench-llvm, bench-c"
if [ -n "$programs$service$vm" ] && [[ " $kernels " != *" bench "* ]]; then
	die "WORKLOADS=\"$WORKLOADS\" run on the bench kernel (GCC) alone: add bench to BENCH_KERNELS=\"$kernels\", or set WORKLOADS= for the per-fault part alone"
fi
# The kernels to build: those the per-fault boots run on, and bench for the
# workloads.
build=''
[ -z "$MODES" ] || build=$kernels
if [ -n "$programs$service$vm" ] && [[ " $build " != *" bench "* ]]; then
	build+="${build:+ }bench"
fi
[ -n "$build" ] || die "BENCH_MODES and WORKLOADS are both empty: nothing to run"
if [ -z "$MODES" ] && [ "$kernels" != bench ]; then
	others=$(for k in $kernels; do [ "$k" = bench ] || printf '%s ' "$k"; done)
	warn "BENCH_MODES is empty: ${others% } neither built nor booted (the workloads run on bench alone)"
fi

# Every kernel is configured and built before the first boot: a build that
# fails does so before hours of boots, not after.
for k in $build; do
	use_kernel "$k"
	"$PROJECT_DIR/scripts/config.sh"
	"$PROJECT_DIR/scripts/build.sh"
done
if [ -n "$vm" ]; then
	# The nested guests' kernel, a flavour of its own, and their initramfs
	# beside it.
	nested_kout=$(build_dir nested)
	KBUILD_CONFIG=nested KOUT=$nested_kout "$PROJECT_DIR/scripts/config.sh"
	KBUILD_CONFIG=nested KOUT=$nested_kout "$PROJECT_DIR/scripts/build.sh" bzImage
	"$PROJECT_DIR/scripts/nested-initramfs.sh" "$nested_kout/nested"
fi

raw=$CACHE_DIR/results/bench-$(date +%Y%m%d-%H%M%S)
mkdir -p "$raw"
# One benchmark program for every kernel: a user program, against the uapi
# headers of the first kernel built (the same tree's, whichever kernel).
step "Building the benchmark program"
bin=$raw/bin/ksm_wp_bench
mkdir -p "$(dirname "$bin")"
headers=$(build_dir "${build%% *}")/usr/include
gcc -O2 -g -fno-omit-frame-pointer -Wall -Wextra -isystem "$headers" \
	-I "$PROJECT_DIR/demo" \
	-o "$bin" "$PROJECT_DIR/bench/ksm_wp_bench.c" || die "compiling bench/ksm_wp_bench.c failed"
gcc -O2 -Wall -Wextra -o "$(dirname "$bin")/launch" "$PROJECT_DIR/bench/workloads/launch.c" ||
	die "compiling bench/workloads/launch.c failed"

# The per-fault boots of kernel $1 and its steps boot, into $raw/$1 with its
# release and .config (the report reads the compiler from it).
per_fault() { # per_fault KERNEL INDEX
	local k=$1 kraw=$raw/$1 mode boot parts out icount port vmpid
	use_kernel "$k"
	mkdir -p "$kraw"
	cp "$KOUT/include/config/kernel.release" "$kraw/kernel.release"
	cp "$KOUT/.config" "$kraw/config"
	for mode in $MODES; do
		for boot in $(seq "$BOOTS"); do
			parts=none
			[ "$boot$mode" != 1tcg ] || parts=full
			[ "$boot$mode" != 1icount ] || parts=pairs
			out=$kraw/$mode-$boot
			mkdir -p "$out"
			step "Benchmark guest, $k kernel, $mode, boot $boot of $BOOTS ($PAGES pages x $ROUNDS rounds, extra parts: $parts; raw output in $out)"
			icount=0
			[ "$mode" = tcg ] || icount=1 # vm.sh: icount is TCG
			VM_ICOUNT=$icount VM_OUT=$out \
				"$PROJECT_DIR/scripts/vm.sh" "$PROJECT_DIR/scripts/guest-bench.sh" \
				"$out" "$bin" "$PAGES" "$ROUNDS" "$CHURN" "$parts" ||
				die "the benchmark failed in the $mode guest of the $k kernel (boot $boot); see $out"
		done
	done

	# Where a fault's instructions go, exactly: gdb single-steps the first
	# faults of one timed write of ksm_on and of anon_reuse (bench-steps.py).
	[ "${BENCH_STEPS:-1}" = 1 ] || return 0
	out=$kraw/steps
	mkdir -p "$out"
	port=$((20000 + ($$ + $2) % 10000))
	step "Stepping the first write faults of ksm_on and anon_reuse in gdb, $k kernel (raw output in $out)"
	VM_GDB_PORT=$port VM_ACCEL=tcg VM_OUT=$out "$PROJECT_DIR/scripts/vm.sh" \
		"$PROJECT_DIR/scripts/guest-bench.sh" "$out" "$bin" 64 1 0 steps >"$out/guest.log" 2>&1 &
	vmpid=$!
	for _ in $(seq 600); do
		[ -s "$out/kallsyms" ] && break
		kill -0 "$vmpid" 2>/dev/null || break
		sleep 1
	done
	[ -s "$out/kallsyms" ] || die "the steps guest of the $k kernel did not come up; see $out/guest.log"
	STEPS_DIR=$out STEPS_FAULTS=16 timeout 1800 gdb -batch -nx \
		-ex "target remote 127.0.0.1:$port" -x "$PROJECT_DIR/scripts/bench-steps.py" \
		>"$out/gdb.log" 2>&1 || warn "gdb stepping failed; see $out/gdb.log"
	wait "$vmpid" || die "the steps guest of the $k kernel failed; see $out/guest.log"
	[ -s "$out/steps.json" ] || die "no steps.json from gdb; see $out/gdb.log"
}
if [ -n "$MODES" ]; then
	n=0
	for k in $kernels; do
		per_fault "$k" "$n"
		n=$((n + 1))
	done
fi

# The real programs and the service boot the bench kernel.
use_kernel bench

# Real programs, in a TCG boot of their own: their rounds take long (ksmd's
# full scans at its default pace), and they need no other part.
if [ -n "$programs" ]; then
	out=$raw/workloads
	mkdir -p "$out"
	# A run (one program, ASLR and ksmd setting, switch position) took about
	# 30 s under TCG for CPython and Node.js and 70 s for the JVM: allow 5
	# minutes each.
	runs=$(($(wc -w <<<"$programs") * $(wc -w <<<"$WORKLOAD_ASLR") * $(wc -w <<<"$WORKLOAD_KSMD") * 2 * WORKLOAD_ROUNDS))
	step "Real programs: $programs, $WORKLOAD_ROUNDS rounds x ASLR $WORKLOAD_ASLR x ksmd $WORKLOAD_KSMD x wp_reuse=1,0: $runs runs of 30-80 s (raw output in $out)"
	VM_TIMEOUT=$((runs * 300 + 900)) VM_OUT=$out "$PROJECT_DIR/scripts/vm.sh" "$PROJECT_DIR/scripts/guest-bench.sh" \
		"$out" "$bin" "$PAGES" "$ROUNDS" "$CHURN" workloads \
		"$programs" "$WORKLOAD_ROUNDS" "$WORKLOAD_ASLR" "$WORKLOAD_KSMD" ||
		warn "the real programs failed in their guest (see $out); reporting what there is"
fi

# The pre-fork service, in a TCG boot of its own as well.
if [ -n "$service" ]; then
	out=$raw/service
	mkdir -p "$out"
	# A run is five phases of SERVICE_SECONDS of load and twelve full scans
	# of ksmd between them: about 5 minutes with 4 workers and 7 with 8 at
	# the defaults (an estimate: time it on the first run); allow 20.
	runs=$(($(wc -w <<<"$SERVICE_WORKERS") * $(wc -w <<<"$SERVICE_KSMD") * 2 * WORKLOAD_ROUNDS))
	# The guest gets the sizes that are set through env(1).
	service_env=("SERVICE_WORKERS=$SERVICE_WORKERS")
	for v in $SERVICE_SIZES; do
		[ -z "${!v:-}" ] || service_env+=("$v=${!v}")
	done
	step "Pre-fork service: gunicorn with $SERVICE_WORKERS workers under wrk, $WORKLOAD_ROUNDS rounds x ksmd $SERVICE_KSMD x wp_reuse=1,0: $runs runs of about 5-7 min (raw output in $out)"
	VM_TIMEOUT=$((runs * 1200 + 900)) VM_ACCEL=tcg VM_OUT=$out "$PROJECT_DIR/scripts/vm.sh" env "${service_env[@]}" \
		"$PROJECT_DIR/scripts/guest-bench.sh" "$out" "$bin" "$PAGES" "$ROUNDS" "$CHURN" workloads \
		service "$WORKLOAD_ROUNDS" on "$SERVICE_KSMD" ||
		warn "the service failed in its guest (see $out); reporting what there is"
fi

# Identical virtual machines, in a TCG boot of their own, last: the
# longest and least known.
if [ -n "$vm" ]; then
	out=$raw/vm
	mkdir -p "$out"
	vm_env=("NESTED_KERNEL=$nested_kout/arch/x86/boot/bzImage"
		"NESTED_INITRD=$nested_kout/nested/initramfs.cpio" "NESTED_DATA=$nested_kout/nested/data.bin")
	for v in $NESTED_SIZES NESTED_FS NESTED_APPEND; do
		[ -z "${!v:-}" ] || vm_env+=("$v=${!v}")
	done
	# Not timed yet: in a first look, two nested guests booting the bench
	# kernel printed nothing after SeaBIOS in 400 s; a run is two boots,
	# five waits for ksmd and four phases of units. Allow an hour a run.
	runs=$(($(wc -w <<<"$NESTED_KSMD") * 2 * NESTED_ROUNDS))
	[ "$runs" -gt 0 ] || runs=1
	step "Identical virtual machines: ${NESTED_GUESTS:-3} nested QEMU guests, $NESTED_ROUNDS rounds (0: a boot alone) x ksmd $NESTED_KSMD x wp_reuse=1,0 (raw output in $out)"
	# The guests' RAM, QEMU's translation caches and the swap of the
	# pressure phase need room beside the guest's own: 3 GiB was every
	# other boot's.
	VM_MEM_MB=${VM_MEM_MB:-4096} VM_TIMEOUT=$((runs * 3600 + 900)) VM_ACCEL=tcg VM_OUT=$out \
		"$PROJECT_DIR/scripts/vm.sh" env "${vm_env[@]}" \
		"$PROJECT_DIR/scripts/guest-bench.sh" "$out" "$bin" "$PAGES" "$ROUNDS" "$CHURN" workloads \
		vm "$NESTED_ROUNDS" on "$NESTED_KSMD" ||
		warn "the virtual machines failed in their guest (see $out); reporting what there is"
fi

step "Report"
# The release given is the bench kernel's (the workloads'), or the first
# kernel's; each kernel's per-fault report takes its own, $raw/<kernel>/kernel.release.
release_kernel=bench
[[ " $build " == *" bench "* ]] || release_kernel=${build%% *}
"$VENV/bin/python" "$PROJECT_DIR/scripts/bench-report.py" "$raw" \
	"$(cat "$(build_dir "$release_kernel")/include/config/kernel.release")" "$PROJECT_DIR/bench/results"
