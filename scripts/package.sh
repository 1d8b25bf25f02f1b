#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make package: Debian packages of the series on Linux 7.3 (linux-image,
# linux-headers, linux-libc-dev), built by the kernel's own bindeb-pkg in
# their own build directory, from the user's configuration:
#   BASE_CONFIG=FILE    the .config to start from; default: the running
#                       host's /boot/config-$(uname -r) if it is a 7.x one,
#                       else virtme-ng's defconfig. package/config.fragment
#                       (Rust, KSM, the feature) and bench/config.fragment
#                       (the test kernel's debug options off) go over it.
#   PACKAGE_KERNEL=test package the test kernel make test builds and boots,
#                       as it is (no headers package): what make test checks.
# The packages land in $CACHE_DIR/packages/<flavour>/, replaced only once a
# build succeeded.
. "$(dirname "$0")/lib.sh"

is_7x_config() { grep -qE '^# Linux/[^ ]+ 7\.[0-9]+\.[0-9]+.* Kernel Configuration' "$1"; }

flavour=package
profiles=
case ${PACKAGE_KERNEL:-} in
"") ;;
test)
	flavour="test"
	[ -f "$KOUT/arch/x86/boot/bzImage" ] || die "no test kernel in $KOUT: run 'make kernel'"
	profiles="pkg.linux-upstream.nokernelheaders pkg.linux-upstream.nokerneldbg"
	# A package version without '-': debian/rules then passes no
	# KBUILD_BUILD_VERSION, which would change init/utsversion-tmp.h and
	# relink vmlinux (here, and again in the next make). It names the build.
	KDEB_PKGVERSION="$(tr - . <"$KOUT/include/config/kernel.release")test$(cat "$KOUT/.version")"
	export KDEB_PKGVERSION
	;;
*) die "PACKAGE_KERNEL=$PACKAGE_KERNEL: use PACKAGE_KERNEL=test, or leave it unset to build from BASE_CONFIG" ;;
esac

if [ "$flavour" = package ]; then
	if [ -n "${BASE_CONFIG:-}" ]; then
		[ -f "$BASE_CONFIG" ] || die "BASE_CONFIG=$BASE_CONFIG: no such file"
		[ -r "$BASE_CONFIG" ] || die "BASE_CONFIG=$BASE_CONFIG: not readable"
		is_7x_config "$BASE_CONFIG" ||
			die "BASE_CONFIG=$BASE_CONFIG is not a Linux 7.x configuration (its header says: $(sed -n 2p "$BASE_CONFIG")); give a .config made for a 7.x kernel"
		BASE_CONFIG=$(realpath "$BASE_CONFIG")
	elif [ -r "/boot/config-$(uname -r)" ] && is_7x_config "/boot/config-$(uname -r)"; then
		BASE_CONFIG=/boot/config-$(uname -r)
	else
		BASE_CONFIG=
		info "no BASE_CONFIG and /boot/config-$(uname -r) is not a 7.x configuration: starting from virtme-ng's defconfig"
	fi
	# A distribution configuration builds thousands of modules.
	modules=0
	[ -n "$BASE_CONFIG" ] && modules=$(grep -c '=m$' "$BASE_CONFIG" || true)
	if [ "$modules" -gt 500 ]; then
		need_space "$CACHE_DIR" 40 "a distribution-sized build ($modules modules in $BASE_CONFIG; hours on 2 cores)"
	else
		need_space "$CACHE_DIR" 10 "the package build"
	fi
	export KBUILD_CONFIG=package BASE_CONFIG
	KOUT=$(build_dir package)
	export KOUT
	from=${BASE_CONFIG:-the defconfig of virtme-ng}
	step "Configuring from $from"
	"$PROJECT_DIR/scripts/config.sh"
fi

release=$(cat "$KOUT/include/config/kernel.release" 2>/dev/null || true)
outdir=$CACHE_DIR/packages/$flavour
staging=$(dirname "$KOUT")
step "Packaging ${release:-the kernel} from $KOUT (bindeb-pkg)"
# bindeb-pkg writes its packages next to the build directory, which other
# flavours share: start from none there.
rm -f "$staging"/linux-*.deb "$staging"/linux-upstream_*
# arch/x86/Makefile appends to the exported RETPOLINE_RUSTFLAGS (+=, never
# reset): the make that debian/rules starts would inherit it from the make
# running bindeb-pkg and append it again, so that every rustc command gets
# -Zfunction-return=thunk-extern twice and all Rust crates are rebuilt (and
# again by the next make). debian/rules runs without it.
DPKG_FLAGS="--rules-file='env -u RETPOLINE_RUSTFLAGS make -f debian/rules'" \
	DEB_BUILD_PROFILES=$profiles "$PROJECT_DIR/scripts/build.sh" bindeb-pkg
release=$(cat "$KOUT/include/config/kernel.release")
shopt -s nullglob
made=("$staging"/linux-*.deb "$staging"/linux-upstream_*)
shopt -u nullglob
ls "$staging"/linux-image-*.deb >/dev/null 2>&1 || die "bindeb-pkg made no linux-image package; see $KOUT/build.log"
rm -rf "$outdir.new"
mkdir -p "$outdir.new"
mv "${made[@]}" "$outdir.new/"
rm -rf "$outdir"
mv "$outdir.new" "$outdir"

step "Packages of $release in $outdir:"
for f in "$outdir"/*.deb; do info "$(basename "$f")"; done
cat >&2 <<EOT
    On the target host (Debian or Ubuntu, as root):
      install:   dpkg -i $outdir/linux-image-${release}_*.deb
      boot:      reboot into $release (grub-reboot, or pick it in the boot menu)
      check:     uname -r                          # $release
                 cat /sys/kernel/mm/ksm/wp_reuse   # 1: reuse on; echo 0 > it to switch off
                 grep ksm_wp_reuse /proc/vmstat    # reuses so far (cow_ksm: copies)
      roll back: boot the previous kernel, then apt-get remove linux-image-$release
EOT
