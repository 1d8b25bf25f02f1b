#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install everything the project needs on Debian 12, as root. Idempotent:
# each step checks first and only installs what is missing.
. "$(dirname "$0")/lib.sh"

APT_PACKAGES=(build-essential flex bison bc libelf-dev libssl-dev cpio rsync
	kmod xz-utils git python3 libnuma-dev libcap-dev busybox-static
	linux-perf shellcheck numactl udev liburing-dev ccache debhelper file libdw-dev
	nodejs default-jre-headless gunicorn wrk)

[ "$(id -u)" -eq 0 ] || die "setup installs packages: run it as root"
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] ||
	warn "tested on Debian 12 (bookworm); this is ${PRETTY_NAME:-unknown}"
need_space "$CACHE_DIR" 12 "the kernel tree, its build and the tools"

missing_debs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
			printf '%s\n' "$p"
	done
}

apt_updated=
apt_update_once() {
	[ -n "$apt_updated" ] && return
	step "apt-get update"
	apt-get update -q >/dev/null || die "apt-get update failed: check the machine's apt sources"
	apt_updated=1
}

step "Debian packages"
mapfile -t need < <(missing_debs "${APT_PACKAGES[@]}")
if [ "${#need[@]}" -gt 0 ]; then
	apt_update_once
	info "installing: ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi
info "ok"

# qemu-system-x86 must match the machine's qemu-utils (bookworm-backports):
# plain bookworm's 7.2 would remove it. Install from a private apt state that
# knows bookworm-backports, leaving the machine's apt configuration alone.
step "qemu-system-x86"
if [ -n "$(missing_debs qemu-system-x86)" ]; then
	mirror=$(debian_mirror)
	sec=$(printf '%s\n' "$mirror" | sed 's,/debian/*$,/debian-security,')
	srcs="deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $mirror bookworm-backports main
deb $sec bookworm-security main"
	info "from bookworm-backports via $mirror"
	papt qemu "$srcs" apt-get update -q >/dev/null || die "apt-get update (private, bookworm-backports) failed"
	DEBIAN_FRONTEND=noninteractive papt qemu "$srcs" apt-get install -y -q --no-install-recommends \
		-t bookworm-backports qemu-system-x86 >/dev/null ||
		die "installing qemu-system-x86 from bookworm-backports failed"
fi
qemu-system-x86_64 --version | head -1 | sed 's/^/    /' >&2

step "Rust: rust-src, bindgen-cli $BINDGEN_VERSION"
command -v rustc >/dev/null || die "no rustc on PATH: install rustup's stable toolchain first"
sysroot=$(rustc --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ]; then
	rustup component add rust-src || die "rustup component add rust-src failed"
fi
if [ "$(bindgen --version 2>/dev/null)" != "bindgen $BINDGEN_VERSION" ]; then
	info "cargo install bindgen-cli $BINDGEN_VERSION (about a minute)"
	cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION" ||
		die "cargo install bindgen-cli failed"
fi
info "$(rustc --version), $(bindgen --version)"

step "Python venv: libclang $LIBCLANG_VERSION, virtme-ng $VIRTME_NG_VERSION ($VENV)"
if [ ! -x "$VENV/bin/python" ]; then
	rm -rf "$VENV.tmp"
	python3 -m venv "$VENV.tmp" || die "python3 -m venv failed"
	mv "$VENV.tmp" "$VENV"
fi
want="libclang==$LIBCLANG_VERSION virtme-ng==$VIRTME_NG_VERSION"
if ! "$VENV/bin/python" -m pip freeze 2>/dev/null | grep -qx "libclang==$LIBCLANG_VERSION" ||
   ! "$VENV/bin/python" -m pip freeze 2>/dev/null | grep -qx "virtme-ng==$VIRTME_NG_VERSION"; then
	# shellcheck disable=SC2086
	"$VENV/bin/python" -m pip install -q $want || die "pip install $want failed"
fi
info "ok"
step "LLVM $LLVM_VERSION and rustc $LLVM_RUSTC (the kasan and bench-llvm kernels)"
mapfile -t need < <(missing_debs "clang-$LLVM_VERSION" "lld-$LLVM_VERSION" "llvm-$LLVM_VERSION" "libclang-$LLVM_VERSION-dev")
if [ "${#need[@]}" -gt 0 ]; then
	apt_update_once
	info "installing: ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi
if ! rustup run "$LLVM_RUSTC" rustc --version >/dev/null 2>&1; then
	info "rustup toolchain install $LLVM_RUSTC (about a minute)"
	rustup toolchain install "$LLVM_RUSTC" --profile minimal --component rust-src >/dev/null 2>&1 ||
		die "rustup toolchain install $LLVM_RUSTC failed"
fi
[ -d "$(rustup run "$LLVM_RUSTC" rustc --print sysroot)/lib/rustlib/src/rust/library" ] ||
	rustup component add rust-src --toolchain "$LLVM_RUSTC" || die "rustup component add rust-src --toolchain $LLVM_RUSTC failed"
# make check runs clippy with it, and bindgen formats what it generates.
for c in clippy:clippy-driver rustfmt:rustfmt; do
	rustup run "$LLVM_RUSTC" "${c#*:}" --version >/dev/null 2>&1 ||
		rustup component add "${c%%:*}" --toolchain "$LLVM_RUSTC" >/dev/null 2>&1 ||
		die "rustup component add ${c%%:*} --toolchain $LLVM_RUSTC failed"
done
# RUST_INLINE_HELPERS links clang's bitcode into rustc's: the same LLVM major.
rustc_llvm=$(rustup run "$LLVM_RUSTC" rustc -vV | sed -n 's/^LLVM version: //p')
[ "${rustc_llvm%%.*}" = "$LLVM_VERSION" ] ||
	die "rustc $LLVM_RUSTC is built on LLVM $rustc_llvm, not $LLVM_VERSION: change LLVM_RUSTC in scripts/lib.sh"
info "$("clang-$LLVM_VERSION" --version | head -1), rustc $LLVM_RUSTC on LLVM $rustc_llvm"
touch "$CACHE_DIR/.setup-done"
