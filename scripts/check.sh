#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: the lints a reviewer runs, as TAP (make test counts them):
#  - shellcheck on the project's scripts;
#  - scripts/checkpatch.pl --strict on every patch of the series (make
#    patches), failing on errors and warnings but for the known idioms below;
#  - git am of the series on a clean upstream checkout gives the tested tree;
#  - make bisect built every commit of this very series (it takes too long
#    to run here: its committed record, patches/bisect.ok, must match);
#  - make rustfmtcheck, and rustfmt on the probe module (probe/);
#  - a CLIPPY=1 build of the Rust code (kernel crate, the decision, the
#    probe module) and make rustdoc, in their own build directory
#    ($KOUT-check); again with the LLVM toolchain of the kasan and
#    bench-llvm kernels and the C helpers inlined ($KOUT-check-llvm);
#  - mm/ still compiles with CONFIG_KSM_WP_REUSE=n and with CONFIG_RUST=n
#    (build directories $KOUT-noreuse, $KOUT-norust);
#  - a module cannot reach what mm keeps to itself: the modules of
#    probe/unreachable/ fail to build, each for the reasons it is written for;
#    and neither do copies of mm/ksm_wp_reuse.rs that misuse its proof of
#    reuse (probe/unreachable/token_*.rs).
. "$(dirname "$0")/lib.sh"
set +e

# checkpatch types that are the kernel's own idioms here, not defects: the
# EM()/EMe() tables of trace headers (and their CamelCase), commit ids of
# history checkpatch cannot see without the upstream git history,
# MAINTAINERS for the selftest and sample patches (their new files fall under
# the mm selftests' and samples' entries; the kernel code's files are added
# to the KSM and MM Rust sections by the patches that add them), and
# user-space types in the selftest and sample.
CHECKPATCH_IGNORE=CAMELCASE,COMPLEX_MACRO,MACRO_ARG_UNUSED,TRAILING_SEMICOLON,UNKNOWN_COMMIT_ID,FILE_PATH_CHANGES,PREFER_DEFINED_ATTRIBUTE_MACRO,VOLATILE,CONFIG_DESCRIPTION,OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT,BIT_MACRO,PREFER_KERNEL_TYPES,PREFER_FALLTHROUGH

n=0
log=$CACHE_DIR/check.log
: >"$log"
result() { # result DESCRIPTION CMD... : one TAP line; output to the log
	local desc=$1
	shift
	n=$((n + 1))
	echo "### $desc: $*" >>"$log"
	if "$@" >>"$log" 2>&1; then echo "ok $n $desc"; else
		echo "not ok $n $desc"
		tail -20 "$log" | sed 's/^/# /'
	fi
}

# A build directory configured like the test kernel, with extra options.
variant() { # variant NAME CONFIG_LINE...
	local dir=$KOUT-$1
	shift
	mkdir -p "$dir"
	[ "$dir/.config" -nt "$KOUT/.config" ] && return 0
	cp "$KOUT/.config" "$dir/.config"
	printf '%s\n' "$@" >"$dir/variant.config"
	"$KTREE/scripts/kconfig/merge_config.sh" -m -O "$dir" "$dir/.config" "$dir/variant.config" &&
		make -s -C "$KTREE" O="$dir" "${KMAKE_TOOLCHAIN[@]}" olddefconfig
}

checkpatch_series() {
	local p bad=0
	PATCHES_OUT=$CACHE_DIR/series "$PROJECT_DIR/scripts/patches.sh" || return 1
	# checkpatch leaves a CamelCase cache in its working directory.
	cd "$CACHE_DIR" || return 1
	for p in "$CACHE_DIR"/series/0*-*.patch; do
		case $p in */0000-cover-letter.patch) continue ;; esac
		"$KTREE/scripts/checkpatch.pl" --strict --no-tree --ignore "$CHECKPATCH_IGNORE" "$p" || bad=1
	done
	return $bad
}

# git am of the series on a clean checkout of upstream gives the series'
# tree, which is the tree make test tests.
git_am_series() {
	local wt=$CACHE_DIR/am-tree
	[ -d "$wt" ] || git -C "$KTREE" worktree add -q --detach "$wt" upstream || return 1
	git -C "$wt" am --abort >/dev/null 2>&1
	git -C "$wt" checkout -q -f --detach upstream || return 1
	find "$CACHE_DIR/series" -name '0*-*.patch' ! -name '0000-cover-letter.patch' | sort |
		xargs git -C "$wt" -c user.name=check -c user.email=check@localhost am -q || return 1
	[ "$(git -C "$wt" rev-parse 'HEAD^{tree}')" = "$(git -C "$KTREE" rev-parse 'series^{tree}')" ] || {
		echo "git am gave another tree than make patches"
		return 1
	}
	[ "$(git -C "$KTREE" rev-parse 'series^{tree}')" = "$(git -C "$KTREE" rev-parse 'overlay^{tree}')" ] || {
		git -C "$KTREE" diff --stat series overlay
		echo "the series and the overlay differ (above): a project file in no patch's Files: line?"
		return 1
	}
}

# make bisect records, in patches/bisect.ok, the fingerprint of the series it
# built commit by commit and the upstream tree it built it on. A series that
# changed since is not verified: that fails. A record made on another base
# (a newer 7.3.y, a user's tree) says nothing about this one: skipped.
bisect_record() {
	local desc="make bisect: every commit of the series builds on its own" fp base date src
	n=$((n + 1))
	read -r fp base date src 2>/dev/null <"$PROJECT_DIR/patches/bisect.ok" || fp=
	if [ -z "$fp" ]; then
		echo "not ok $n $desc"
		echo "# no patches/bisect.ok: run make bisect and commit the record"
	elif [ "$base" != "$(git -C "$KTREE" rev-parse 'upstream^{tree}')" ]; then
		echo "ok $n $desc # SKIP verified on another base ($src): run make bisect for this one"
	elif [ "$fp" = "$(series_fingerprint)" ]; then
		echo "ok $n $desc (verified $date on $src)"
	else
		echo "not ok $n $desc"
		echo "# the series changed since make bisect verified it ($date): run make bisect and commit patches/bisect.ok"
	fi
}

config_is() { grep -qx "$2" "$1/.config"; }

reuse_off() {
	variant noreuse "# CONFIG_KSM_WP_REUSE is not set" &&
		config_is "$KOUT-noreuse" "# CONFIG_KSM_WP_REUSE is not set" &&
		kmake_dir "$KOUT-noreuse" mm/ && [ ! -e "$KOUT-noreuse/mm/ksm_wp_reuse.o" ]
}

rust_off() {
	variant norust "# CONFIG_RUST is not set" &&
		config_is "$KOUT-norust" "# CONFIG_RUST is not set" &&
		! grep -q '^CONFIG_KSM_WP_REUSE=' "$KOUT-norust/.config" &&
		kmake_dir "$KOUT-norust" mm/ && [ ! -e "$KOUT-norust/mm/ksm_wp_reuse.o" ]
}

# The project's Rust files: a warning located in one of them is ours.
OUR_RUST='(mm/ksm_wp_reuse|rust/kernel/mm/folio|probe/ksm_wp_reuse_probe)\.rs'

clippy_rustdoc() {
	variant check "CONFIG_RUST=y" && clippy_rustdoc_in "$KOUT-check"
}

clippy_rustdoc_in() { # clippy_rustdoc_in BUILD_DIR
	local dir=$1 out
	out=$({ kmake_dir "$dir" CLIPPY=1 rust/ mm/ksm_wp_reuse.o &&
		kmake_dir "$dir" CLIPPY=1 M="$PROJECT_DIR" MO="$dir-probe" \
			probe/ksm_wp_reuse_probe.o; } 2>&1) || {
		printf '%s\n' "$out"
		return 1
	}
	printf '%s\n' "$out"
	if printf '%s\n' "$out" | grep -A4 '^warning' | grep -Eq -- "--> .*$OUR_RUST"; then
		echo "clippy or rustc warned about the project's code (above)"
		return 1
	fi
	kmake_dir "$dir" rustdoc
}

kmake_dir() { local dir=$1; shift; KOUT=$dir kmake "$@"; }

# The same, built by the LLVM toolchain of the kasan and bench-llvm kernels
# (clang 19, and rustc 1.86.0 on the same LLVM): another rustc, with other
# lints, and CONFIG_RUST_INLINE_HELPERS, which compiles the C helpers to
# bitcode and links them into the Rust objects (rust/Makefile), a build the
# GCC kernels never make. The test configuration, so that only the
# toolchain differs. make bisect stays GCC-only: the series' C is the same
# for both, and the LLVM-only path is this one.
clippy_rustdoc_llvm() (
	KBUILD_CONFIG=bench-llvm # rust_env and kmake: the LLVM flavours' toolchain
	rust_env
	variant check-llvm "CONFIG_RUST=y" "CONFIG_EXPERT=y" "CONFIG_RUST_INLINE_HELPERS=y" || exit 1
	if ! config_is "$KOUT-check-llvm" "CONFIG_CC_IS_CLANG=y" ||
		! config_is "$KOUT-check-llvm" "CONFIG_RUST_INLINE_HELPERS=y"; then
		echo "$KOUT-check-llvm/.config: not a clang build with the Rust helpers inlined"
		exit 1
	fi
	clippy_rustdoc_in "$KOUT-check-llvm"
)

# Builds DIR/NAME.rs as a module against the test kernel; it must fail, and
# its log must show every message given (rustc's or modpost's).
must_not_build() { # must_not_build DIR NAME MESSAGE...
	local dir=$1 name=$2 out msg
	shift 2
	if out=$(kmake M="$dir" MO="$KOUT-unreachable-$name" UNREACHABLE="$name" modules 2>&1); then
		printf '%s\n' "$out"
		echo "$name.rs built, and must not"
		return 1
	fi
	for msg in "$@"; do
		grep -qF -- "$msg" <<<"$out" && continue
		printf '%s\n' "$out"
		echo "$name.rs failed, but not with: $msg"
		return 1
	done
}

mm_internals_unreachable() {
	local dir=$PROJECT_DIR/probe/unreachable
	must_not_build "$dir" api "could not find \`ksm\` in \`mm\`" \
		"no method named \`ref_count\` found" "no method named \`mapcount\` found" \
		"no method named \`free_swap\` found" "no method named \`set_index\` found" &&
		must_not_build "$dir" link "symbol 'ksm_folio_to_anon' undefined" \
			"symbol 'folio_free_swap' undefined"
}

# The proof that a fault reused its folio (mm/ksm_wp_reuse.rs) is good for
# that fault alone: a copy of the file with each misuse of
# probe/unreachable/token_*.rs appended must not build, for its reason.
reuse_token_unforgeable() {
	local tmp t
	tmp=$(mktemp -d)
	cp "$PROJECT_DIR/probe/unreachable/Kbuild" "$tmp/"
	for t in escape other send; do
		cat "$PROJECT_DIR/mm/ksm_wp_reuse.rs" "$PROJECT_DIR/probe/unreachable/token_$t.rs" >"$tmp/token_$t.rs"
	done
	must_not_build "$tmp" token_escape "borrowed data escapes outside of closure" &&
		must_not_build "$tmp" token_other "the struct \`Reused<'f>\` is invariant over the parameter \`'f\`" &&
		must_not_build "$tmp" token_send "cannot be sent between threads safely"
	t=$?
	rm -rf "$tmp"
	return $t
}

# The in-tree Rust code, and the out-of-tree probe with the kernel's rules.
rustfmt_all() {
	kmake rustfmtcheck &&
		rustfmt --check --edition 2021 --config-path "$KTREE/.rustfmt.toml" \
			"$PROJECT_DIR"/probe/*.rs "$PROJECT_DIR"/probe/unreachable/*.rs
}

rust_env
echo "TAP version 13"
echo "1..11"
result "shellcheck: the project's scripts" shellcheck -x "$PROJECT_DIR"/scripts/*.sh "$PROJECT_DIR/.ci/run" "$PROJECT_DIR/nested/init"
result "checkpatch --strict: every patch of the series" checkpatch_series
result "git am: the series applies to a clean tree and gives what make test tests" git_am_series
bisect_record
result "make rustfmtcheck, and rustfmt on the probe module" rustfmt_all
result "CLIPPY=1 build of the Rust code without warnings; make rustdoc" clippy_rustdoc
result "the same with LLVM $LLVM_VERSION, rustc $LLVM_RUSTC and CONFIG_RUST_INLINE_HELPERS" clippy_rustdoc_llvm
result "mm/ builds with CONFIG_KSM_WP_REUSE=n (no Rust object)" reuse_off
result "mm/ builds with CONFIG_RUST=n (feature gone)" rust_off
result "a module cannot reach mm's internals (probe/unreachable/ fails to build)" mm_internals_unreachable
result "a fault's proof of reuse cannot outlive it, serve another fault or leave its thread" reuse_token_unforgeable
