#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Make the kernel work tree the overlay is laid on: a git repository under
# the cache whose tag "upstream" is Linux 7.3 as it came, from Debian's
# linux-source-7.3 (default) or a copy of KERNEL_SRC (never modified).
. "$(dirname "$0")/lib.sh"

stamp=$KTREE/.git/ksm-wp-source

if [ -f "$stamp" ]; then
	info "kernel tree: $KTREE ($(cat "$stamp"))"
	exit 0
fi

check_version() {
	local mk=$1/Makefile v p s
	[ -f "$mk" ] || die "$1 is not a kernel tree (no Makefile)"
	v=$(awk '$1 == "VERSION" { print $3; exit }' "$mk")
	p=$(awk '$1 == "PATCHLEVEL" { print $3; exit }' "$mk")
	s=$(awk '$1 == "SUBLEVEL" { print $3; exit }' "$mk")
	[ "$v.$p" = "$KERNEL_SERIES" ] ||
		die "$1 is Linux ${v:-?}.${p:-?}, not $KERNEL_SERIES: point KERNEL_SRC at a $KERNEL_SERIES tree, or unset it to use Debian's linux-source-$KERNEL_SERIES"
	printf '%s.%s.%s\n' "$v" "$p" "${s:-0}"
}

# Check what we were given before creating anything.
if [ -n "${KERNEL_SRC:-}" ]; then
	[ -d "$KERNEL_SRC" ] || die "KERNEL_SRC=$KERNEL_SRC is not a directory"
	version=$(check_version "$KERNEL_SRC")
fi

tmp=$KTREE.tmp
rm -rf "$tmp"
mkdir -p "$(dirname "$KTREE")"
need_space "$(dirname "$KTREE")" 4 "the kernel work tree"

if [ -n "${KERNEL_SRC:-}" ]; then
	step "Importing $KERNEL_SRC (Linux $version) into $KTREE"
	info "the tree is copied; $KERNEL_SRC itself is not touched"
	rsync -a --exclude=/.git "$KERNEL_SRC"/ "$tmp"/ || die "copying $KERNEL_SRC failed"
	# A tree configured or built in place makes O= builds refuse it.
	if [ -e "$tmp/.config" ] || [ -d "$tmp/include/config" ]; then
		info "the copy was built in place: make mrproper (in the copy)"
		make -s -C "$tmp" mrproper
	fi
	origin="$KERNEL_SRC (Linux $version)"
else
	step "Fetching Debian's linux-source-$KERNEL_SERIES"
	mirror=$(debian_mirror)
	srcs="deb $mirror trixie-backports main"
	papt kernel "$srcs" apt-get update -q >/dev/null ||
		die "apt-get update for trixie-backports failed (mirror $mirror)"
	pkg=linux-source-$KERNEL_SERIES
	version=$(papt kernel "$srcs" apt-cache madison "$pkg" | awk '{ print $3 }' | sort -V | tail -1)
	[ -n "$version" ] || die "$pkg is not in trixie-backports on $mirror: use KERNEL_SRC=/path/to/linux-$KERNEL_SERIES"
	dl=$CACHE_DIR/dl
	deb=$dl/${pkg}_${version}_all.deb
	if [ ! -f "$deb" ]; then
		info "downloading $pkg $version (about 170 MB)"
		mkdir -p "$dl/partial"
		(cd "$dl/partial" && rm -f ./*.deb && papt kernel "$srcs" apt-get download -q "$pkg=$version") ||
			die "downloading $pkg $version failed; re-run to retry"
		mv "$dl/partial/"*.deb "$deb"
	fi
	info "extracting $(basename "$deb")"
	mkdir -p "$tmp"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$pkg.tar.xz" | tar -xJ -C "$tmp" --strip-components=1 ||
		die "extracting $deb failed (delete it to download again)"
	check_version "$tmp" >/dev/null
	origin="Debian $pkg $version"
fi

step "Recording the upstream tree in git (once; about a minute)"
git -C "$tmp" init -q -b linux
git -C "$tmp" config user.name "ksm-wp-reuse overlay"
git -C "$tmp" config user.email "ksm-wp-reuse@localhost"
git -C "$tmp" config gc.auto 0
git -C "$tmp" add -A -f
git -C "$tmp" commit -q -m "Linux $KERNEL_SERIES: $origin"
git -C "$tmp" tag upstream
printf '%s\n' "$origin" >"$tmp/.git/ksm-wp-source"
mv "$tmp" "$KTREE"
info "kernel tree: $KTREE ($origin)"
