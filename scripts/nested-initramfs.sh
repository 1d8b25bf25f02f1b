#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The nested guests' initramfs (make bench WORKLOADS=vm), into OUTDIR:
#   nested-initramfs.sh OUTDIR
#   OUTDIR/initramfs.cpio   Debian's static busybox, nested/init as /init,
#                           and /data.bin
#   OUTDIR/data.bin         what the guests' unit of work copies from:
#                           NESTED_DATA_KIB (8192) KiB, SHA-256 in counter
#                           mode over NESTED_SEED, the same bytes on every
#                           machine and every run; bench/workloads/vm.py
#                           reads it to know the checksum every guest must
#                           print
# The archive is made by the kernel's own usr/gen_init_cpio, which a kernel
# with BLK_DEV_INITRD builds: GEN_INIT_CPIO, default the nested kernel's
# (build it first: KBUILD_CONFIG=nested). It writes the device node
# /dev/console without root, and with -t every timestamp is the same, so
# the same inputs give the same bytes. Not compressed: the guests would
# inflate it under two emulators, and the random data does not shrink.
. "$(dirname "$0")/lib.sh"

out=${1:-}
[ -n "$out" ] || die "usage: nested-initramfs.sh OUTDIR"
busybox=/bin/busybox # Debian's busybox-static (scripts/setup.sh)
gen=${GEN_INIT_CPIO:-$(build_dir nested)/usr/gen_init_cpio}
kib=${NESTED_DATA_KIB:-8192}
seed=${NESTED_SEED:-ksm-wp-reuse nested guests}
case $kib in '' | *[!0-9]* | 0*) die "NESTED_DATA_KIB=$kib: give a size in KiB, 1 or more" ;; esac
[ -x "$gen" ] || die "no $gen: build the nested kernel first (KBUILD_CONFIG=nested), or set GEN_INIT_CPIO"
[ -x "$busybox" ] || die "no $busybox: run 'make setup' (busybox-static)"
# A dynamic busybox would need its libraries in the archive.
[ "$(readelf -l "$busybox" | grep -c 'program interpreter')" = 0 ] ||
	die "$busybox is dynamically linked: install busybox-static"

mkdir -p "$out"
out=$(cd "$out" && pwd)
# gen_init_cpio's list is split on white space.
case $out$PROJECT_DIR in *[[:space:]]*) die "$out or $PROJECT_DIR has white space in its path: gen_init_cpio cannot take it" ;; esac

python3 - "$out/data.bin.tmp" "$kib" "$seed" <<'EOF'
import hashlib, sys
path, kib, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
with open(path, "wb") as f:
    for i in range(kib * 1024 // 32):
        f.write(hashlib.sha256(seed + i.to_bytes(8, "little")).digest())
EOF
mv "$out/data.bin.tmp" "$out/data.bin"

cat >"$out/initramfs.list" <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /bin 0755 0 0
file /bin/busybox $busybox 0755 0 0
file /init $PROJECT_DIR/nested/init 0755 0 0
file /data.bin $out/data.bin 0444 0 0
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /units 0755 0 0
EOF
"$gen" -t 0 -o "$out/initramfs.cpio.tmp" "$out/initramfs.list" ||
	die "gen_init_cpio failed on $out/initramfs.list"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
info "nested initramfs: $out/initramfs.cpio ($(($(stat -c %s "$out/initramfs.cpio") >> 10)) KiB, sha256 $(sha256sum <"$out/initramfs.cpio" | cut -c1-16))"
