#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# TAP checks of the project's scripts on the host: lint, and that bad input
# fails with a clear error and leaves nothing half-done.
. "$(dirname "$0")/lib.sh"
set +e

n=0
ok() { n=$((n + 1)); echo "ok $n $*"; }
notok() { n=$((n + 1)); echo "not ok $n $*"; }
check() { # check DESCRIPTION CMD...
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else notok "$desc"; fi
}
# expect_error DESCRIPTION PATTERN CMD...: CMD fails and says PATTERN
expect_error() {
	local desc=$1 pat=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		notok "$desc (succeeded)"
	elif ! grep -q -- "$pat" <<<"$out"; then
		notok "$desc (error did not say '$pat')"
		printf '# %s\n' "$out"
	else
		ok "$desc"
	fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "TAP version 13"
echo "1..14" # one per check below

cd "$PROJECT_DIR" || exit 1
check "shellcheck: the project's scripts" shellcheck -x scripts/*.sh .ci/run nested/init

expect_error "VM_ACCEL=bogus is refused" "VM_ACCEL=bogus: use auto, kvm or tcg" \
	env VM_ACCEL=bogus scripts/vm.sh true
expect_error "VM_ICOUNT=1 with VM_ACCEL=kvm is refused" "VM_ICOUNT=1 needs TCG" \
	env VM_ICOUNT=1 VM_ACCEL=kvm scripts/vm.sh true
expect_error "BENCH_BOOTS=0 is refused before anything is built" "BENCH_BOOTS=0: give a number of boots" \
	env BENCH_BOOTS=0 scripts/bench.sh
expect_error "an unknown WORKLOADS entry is refused before anything is built" "WORKLOADS: bogus is not a workload" \
	env WORKLOADS=bogus scripts/bench.sh

mkdir -p "$tmp/linux-6.1"
printf 'VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 0\n' >"$tmp/linux-6.1/Makefile"
expect_error "a KERNEL_SRC that is not 7.3 is refused" "is Linux 6.1, not 7.3" \
	env KERNEL_SRC="$tmp/linux-6.1" CACHE_DIR="$tmp/cache" scripts/kernel-tree.sh
check "... and leaves no work tree behind" test ! -e "$tmp/cache/trees"

# Re-laying an unchanged overlay changes nothing, so nothing rebuilds.
before=$(git -C "$KTREE" rev-parse HEAD)
out=$(scripts/overlay.sh 2>&1)
check "overlay: re-run is idempotent" \
	test "$(git -C "$KTREE" rev-parse HEAD)" = "$before" -a "$out" = "    overlay: up to date"

# A patch that does not apply names itself and leaves the tree as it was.
cp -r "$PROJECT_DIR" "$tmp/project"
cat >"$tmp/project/patches/9999-broken.patch" <<'PATCH'
--- a/Makefile
+++ b/Makefile
@@ -1,3 +1,3 @@
-this line is not in the kernel's Makefile
+nor is this one
 
PATCH
expect_error "overlay: a patch that fails is named" "9999-broken.patch does not apply" \
	"$tmp/project/scripts/overlay.sh"
check "... and the tree is as it was" \
	test "$(git -C "$KTREE" rev-parse HEAD)" = "$before" -a -z "$(git -C "$KTREE" status --porcelain -uno)"

# make package: bad input is refused before anything is made.
expect_error "make package: a BASE_CONFIG that does not exist is refused" "no such file" \
	env BASE_CONFIG="$tmp/no-such-config" CACHE_DIR="$tmp/pcache" scripts/package.sh
printf '#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86_64 6.1.0 Kernel Configuration\n#\nCONFIG_KSM=y\n' >"$tmp/config-6.1"
expect_error "make package: a BASE_CONFIG that is not a 7.x one is refused" "is not a Linux 7.x configuration" \
	env BASE_CONFIG="$tmp/config-6.1" CACHE_DIR="$tmp/pcache" scripts/package.sh
check "... and neither left a build or packages behind" test ! -e "$tmp/pcache/build" -a ! -e "$tmp/pcache/packages"

# Packaging the test kernel (the one the guest boots next) gives a
# linux-image package whose vmlinuz is that very build: the same bytes as
# its bzImage, and the release and build number the guest then reports.
package_test_kernel() {
	local start release build deb
	start=$(date +%s)
	PACKAGE_KERNEL="test" scripts/package.sh || return 1
	release=$(cat "$KOUT/include/config/kernel.release")
	build=$(sed -n 's/^#define UTS_VERSION "\(.*\)"$/\1/p' "$KOUT/include/generated/utsversion.h")
	deb=$(find "$CACHE_DIR/packages/test" -name "linux-image-${release}_*.deb" | head -n 1)
	[ -n "$deb" ] || { echo "# no linux-image-$release package"; return 1; }
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./boot/vmlinuz-$release" >"$tmp/vmlinuz" ||
		{ echo "# $deb has no ./boot/vmlinuz-$release"; return 1; }
	cmp -s "$tmp/vmlinuz" "$KOUT/arch/x86/boot/bzImage" ||
		{ echo "# the packaged vmlinuz is not $KOUT/arch/x86/boot/bzImage"; return 1; }
	echo "# $(basename "$deb"): $(file -b "$tmp/vmlinuz" | sed 's/, RO-rootFS.*//')"
	if ! file -b "$tmp/vmlinuz" | grep -qF "version $release " ||
		! file -b "$tmp/vmlinuz" | grep -qF "$build"; then
		echo "# its version is not $release $build"
		return 1
	fi
	echo "# packaged in $(($(date +%s) - start)) s"
}
check "make package PACKAGE_KERNEL=test: a linux-image .deb of the very test build" package_test_kernel

