#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot the built kernel with virtme-ng on the host's root filesystem (copy on
# write) and run a command in it; its output and exit status come back.
#   vm.sh [CMD...]    no CMD: an interactive shell
# VM_ACCEL=auto|kvm|tcg (default auto: KVM only after a bounded test boot
# succeeded on this machine, else TCG). VM_MEM_MB sizes the guest; it
# gets two NUMA nodes (one per vCPU) for the migration tests.
# VM_ICOUNT=1 (TCG only): guest time counts executed instructions, one per
# nanosecond (-icount shift=0,sleep=off, single-threaded TCG), so the same
# kernel and program give the same timings boot after boot.
# VM_GDB_PORT=n: QEMU's gdbstub listens on 127.0.0.1:n (bench.sh's steps).
# VM_TIMEOUT (s, default 3600) bounds the whole run; VM_BOOT_TIMEOUT (s,
# default 900) bounds the boot: a guest that has not started the command by
# then is stopped (one hung early in boot under a loaded host, silent).
. "$(dirname "$0")/lib.sh"
rust_env

VM_ACCEL=${VM_ACCEL:-auto}
VM_MEM_MB=${VM_MEM_MB:-3072}
VM_TIMEOUT=${VM_TIMEOUT:-3600}
VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-900}
VM_ICOUNT=${VM_ICOUNT:-0}
VM_GDB_PORT=${VM_GDB_PORT:-}
case $VM_ACCEL in
auto | kvm | tcg) ;;
*) die "VM_ACCEL=$VM_ACCEL: use auto, kvm or tcg" ;;
esac
case $VM_ICOUNT in
0 | 1) ;;
*) die "VM_ICOUNT=$VM_ICOUNT: use 0 or 1" ;;
esac
for t in VM_TIMEOUT VM_BOOT_TIMEOUT; do
	case ${!t} in '' | *[!0-9]* | 0) die "$t=${!t}: give a number of seconds, 1 or more" ;; esac
done
[ "$VM_ICOUNT" = 0 ] || [ "$VM_ACCEL" != kvm ] || die "VM_ICOUNT=1 needs TCG: drop VM_ACCEL=kvm"
kernel=$KOUT/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no kernel at $kernel: run 'make kernel'"

# One NUMA node per vCPU, sockets split the same way so that QEMU's CPU
# topology matches the NUMA layout (else the guest warns in topology_sane()).
half=$((VM_MEM_MB / 2))
qemu_opts="-smp 2,sockets=2,cores=1,threads=1"
[ "$VM_ICOUNT" = 0 ] || qemu_opts+=" -accel tcg,thread=single -icount shift=0,sleep=off"
[ -z "$VM_GDB_PORT" ] || qemu_opts+=" -gdb tcp:127.0.0.1:$VM_GDB_PORT"
# KASAN reports only the first bug it finds unless told otherwise: a
# deliberate one (the kasan_canary suite) must not hide a real one.
# no5lvl: 7.3's identify_cpu() clears the boot CPU's capabilities, LA57 with
# them, and an interrupt in that window makes KASAN read the 5-level direct
# map as a 4-level one: a false wild-memory-access in the handler's spinlock,
# repeated on every tick under kasan_multi_shot, and the boot never ends
# (upstream: "kasan: Fix false-positive wild-memory-access on x86 under
# 5-level paging", June 2026). QEMU's TCG CPU has LA57; 4-level sidesteps it.
append=page_owner=on
! grep -q '^CONFIG_KASAN=y' "$KOUT/.config" || append+=" kasan_multi_shot no5lvl"
vng_args=(--run "$KOUT" --memory "${VM_MEM_MB}M" --cpus 2
	--numa "${half}M,cpus=0" --numa "${half}M,cpus=1"
	--qemu-opts="$qemu_opts"
	--user root --cwd /
	--append "$append")

# Sets kvm_why to the reason when KVM cannot be used.
kvm_usable() {
	local probe
	if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
		kvm_why="no read-write /dev/kvm"
		return 1
	fi
	probe=$CACHE_DIR/kvm-probe-$(cat /proc/sys/kernel/random/boot_id)
	if [ ! -f "$probe" ]; then
		info "test boot with KVM (at most 60 s)"
		if timeout -k 5 60 vng "${vng_args[@]}" --exec true >"$probe.log" 2>&1; then
			echo ok >"$probe"
		else
			echo fail >"$probe"
		fi
	fi
	[ "$(cat "$probe")" = ok ] && return 0
	kvm_why="a test boot with KVM failed or took over 60 s"
	[ -f "$probe.log" ] && kvm_why+=", its output in $probe.log"
	kvm_why+="; remove $probe to try again"
	return 1
}

accel=$VM_ACCEL
[ "$VM_ICOUNT" = 0 ] || accel=tcg
if [ "$accel" = auto ]; then
	if kvm_usable; then accel=kvm; else
		accel=tcg
		info "KVM is not usable here ($kvm_why): using TCG (VM_ACCEL=tcg skips this check)"
	fi
fi
[ "$accel" = tcg ] && vng_args+=(--disable-kvm)

if [ "$#" -eq 0 ]; then
	step "Guest shell on $(basename "$(flavour_tree "$KBUILD_CONFIG")") ($accel); exit with Ctrl-D"
	exec vng "${vng_args[@]}"
fi

# The command's exit status also goes through a shared directory: it must
# not depend on how the console relays it.
# VM_OUT: a host directory the guest can write, at the same path (kept).
if [ -n "${VM_OUT:-}" ]; then
	shared=$VM_OUT
	mkdir -p "$shared"
	rm -f "$shared/rc"
else
	shared=$(mktemp -d "$CACHE_DIR/guest.XXXXXX")
	trap 'rm -rf "$shared"' EXIT
fi
# The kernel's console (vng --verbose sends it to stderr) goes to a file: if
# the guest dies, its last words are there. The command's own stderr joins
# its stdout so that the console file holds the kernel's output only.
console=$shared/console.log
cmd=$(printf '%q ' "$@")
q_shared=$(printf %q "$shared")
rm -f "$shared/started"
set +e
# timeout (not --foreground) signals vng's whole process group, QEMU with it.
timeout -k 10 "$VM_TIMEOUT" vng "${vng_args[@]}" --verbose --rwdir "$shared" \
	--exec ": >$q_shared/started; $cmd 2>&1; echo \$? >$q_shared/rc" 2>"$console" \
	> >(grep -v --line-buffered 'cannot find script I/O ports') &
vm=$!
booted='' boot_end=$((SECONDS + VM_BOOT_TIMEOUT))
while kill -0 "$vm" 2>/dev/null; do
	if [ -z "$booted" ] && [ -e "$shared/started" ]; then
		booted=1
	elif [ -z "$booted" ] && [ "$SECONDS" -ge "$boot_end" ]; then
		warn "the guest has not started the command after ${VM_BOOT_TIMEOUT}s of boot: stopping it"
		kill -TERM "$vm"
		break
	fi
	sleep 2
done
wait "$vm"
wait # the output filter, to its last line
set -e
rc=$(cat "$shared/rc" 2>/dev/null || echo 255)
if [ "$rc" = 255 ]; then
	warn "the guest did not report an exit status (crashed, hung, timed out after ${VM_TIMEOUT}s or in boot after ${VM_BOOT_TIMEOUT}s); the end of its console:"
	tail -n 40 "$console" >&2
	[ -z "${VM_OUT:-}" ] || info "whole console log: $console"
fi
exit "$rc"
