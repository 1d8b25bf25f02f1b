#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Configure the build directory: virtme-ng's defconfig, then the project's
# .config.fragment and the mm selftests' own config merged with the kernel's
# merge_config.sh, then olddefconfig. Every option of .config.fragment must
# hold its value in the result. Skipped when no input changed, so an
# unchanged tree rebuilds nothing. The package flavour (make package) starts
# from BASE_CONFIG instead, with package/config.fragment and the bench
# fragment (no debug options) over it. The nested flavour (the guests of make
# bench WORKLOADS=vm) starts from tinyconfig, with nested/config.fragment
# alone. The bench-c flavour builds from a tree of its own, made or brought
# up to date first (scripts/c-variant-tree.sh).
. "$(dirname "$0")/lib.sh"
rust_env
ksrc=$(flavour_tree "$KBUILD_CONFIG")
[ "$KBUILD_CONFIG" != bench-c ] || "$PROJECT_DIR/scripts/c-variant-tree.sh"

# Fragments, later ones overriding earlier ones: ours, the mm selftests'
# own (as kselftest expects), then the one of this build's flavour: test,
# bench (no debug options), kcsan (test plus KCSAN), kasan (test plus KASAN,
# built with LLVM), bench-llvm (bench, built with LLVM, the C helpers
# inlined into the Rust) or bench-c (bench, the reuse decision in C). Files
# in hashed change the configuration's hash without being merged (bench-c's
# patches: its tree's HEAD changes with them too).
fragments=("$PROJECT_DIR/.config.fragment" "$ksrc/tools/testing/selftests/mm/config")
checked=("$PROJECT_DIR/.config.fragment")
hashed=()
base=
tiny=()
case $KBUILD_CONFIG in
test) ;;
bench | kcsan | kasan) fragments+=("$PROJECT_DIR/$KBUILD_CONFIG/config.fragment"); checked+=("$PROJECT_DIR/$KBUILD_CONFIG/config.fragment") ;;
bench-llvm)
	fragments+=("$PROJECT_DIR/bench/config.fragment" "$PROJECT_DIR/bench/llvm.fragment")
	checked+=("$PROJECT_DIR/bench/config.fragment" "$PROJECT_DIR/bench/llvm.fragment")
	;;
bench-c)
	fragments+=("$PROJECT_DIR/bench/config.fragment" "$PROJECT_DIR/bench/c-variant/config.fragment")
	checked+=("$PROJECT_DIR/bench/config.fragment" "$PROJECT_DIR/bench/c-variant/config.fragment")
	hashed=("$PROJECT_DIR"/bench/c-variant/*.patch)
	;;
package)
	base=${BASE_CONFIG:-} # empty: virtme-ng's defconfig
	fragments=("$PROJECT_DIR/package/config.fragment" "$PROJECT_DIR/bench/config.fragment")
	checked=("$PROJECT_DIR/package/config.fragment")
	;;
nested)
	# tinyconfig's own fragments, in its order, then ours. They go through
	# allnoconfig together (merge_config.sh -n), as tinyconfig does with
	# its base: an option that ours turns on shows others (TTY shows VT,
	# BLOCK the I/O schedulers), which must come out off, not at their
	# defaults as olddefconfig after a merge would leave them.
	tiny=("$ksrc/kernel/configs/tiny-base.config" "$ksrc/kernel/configs/tiny.config"
		"$ksrc/arch/x86/configs/tiny.config")
	fragments=("$PROJECT_DIR/nested/config.fragment")
	checked=("$PROJECT_DIR/nested/config.fragment")
	;;
*) die "KBUILD_CONFIG=$KBUILD_CONFIG: use test, bench, kcsan, kasan, bench-llvm, bench-c, package or nested" ;;
esac
for f in ${EXTRA_FRAGMENTS:-}; do fragments+=("$f"); checked+=("$f"); done

inputs=$(cat ${base:+"$base"} "${fragments[@]}" "${hashed[@]}" "$KTREE/.git/ksm-wp-source"; git -C "$ksrc" rev-parse HEAD; echo "$KBUILD_CONFIG")
hash=$(printf '%s\n' "$inputs" | sha1sum | cut -c1-40)
if [ -f "$KOUT/.config" ] && [ "$(cat "$KOUT/.ksm-wp-config-hash" 2>/dev/null)" = "$hash" ]; then
	info "config: up to date ($KOUT/.config)"
	exit 0
fi

step "Configuring $KOUT"
mkdir -p "$KOUT"
# The nested guests' kernel has no Rust.
if [ "${#tiny[@]}" -eq 0 ] && ! make -s -C "$ksrc" O="$KOUT" "${KMAKE_TOOLCHAIN[@]}" rustavailable >"$KOUT/rustavailable.log" 2>&1; then
	cat "$KOUT/rustavailable.log" >&2
	die "the Rust toolchain is not usable for this kernel (above): run 'make setup' to install rust-src, bindgen and libclang"
fi
rm -f "$KOUT/.ksm-wp-config-hash"
if [ "${#tiny[@]}" -gt 0 ]; then
	# merge_config.sh runs make where it is run. ARCH=x86_64: with
	# ARCH=x86, allnoconfig answers the 64-bit prompt no.
	(cd "$ksrc" && ARCH=x86_64 scripts/kconfig/merge_config.sh -n -O "$KOUT" "${tiny[@]}" "${fragments[@]}") \
		>"$KOUT/config.log" 2>&1 || die "merge_config.sh -n (tinyconfig) failed: see $KOUT/config.log"
else
	if [ -n "$base" ]; then
		cp "$base" "$KOUT/.config"
		: >"$KOUT/config.log"
	else
		(cd "$ksrc" && virtme-configkernel --defconfig O="$KOUT" >"$KOUT/config.log" 2>&1) ||
			die "virtme-configkernel --defconfig failed: see $KOUT/config.log"
	fi
	"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$KOUT" "$KOUT/.config" "${fragments[@]}" >>"$KOUT/config.log" 2>&1 ||
		die "merge_config.sh failed: see $KOUT/config.log"
fi
make -C "$ksrc" O="$KOUT" "${KMAKE_TOOLCHAIN[@]}" olddefconfig >>"$KOUT/config.log" 2>&1 ||
	die "make olddefconfig failed: see $KOUT/config.log"

# Every option of the project's fragments must hold its value (the last
# fragment that sets an option decides it).
declare -A want=()
for f in "${checked[@]}"; do
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) want[${line%%=*}]=${line#*=} ;;
		"# CONFIG_"*" is not set") opt=${line#\# }; want[${opt%% *}]=n ;;
		esac
	done <"$f"
done
bad=()
for opt in "${!want[@]}"; do
	have=$(grep -E "^$opt=" "$KOUT/.config" | cut -d= -f2- || true)
	[ -n "$have" ] || have=n
	[ "$have" = "${want[$opt]}" ] || bad+=("$opt: wanted ${want[$opt]}, got $have")
done
if [ "${#bad[@]}" -gt 0 ]; then
	printf '    %s\n' "${bad[@]}" >&2
	die "${#bad[@]} option(s) did not keep their value (unmet dependencies?); see 'make O=$KOUT menuconfig' and search for them"
fi
printf '%s\n' "$hash" >"$KOUT/.ksm-wp-config-hash"
info "config: ok ($(grep -c '=y' "$KOUT/.config") options built in)"
