# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Shared settings and helpers for the project's scripts. Sourced, not run.

set -euo pipefail

PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything large (apt state, downloads, kernel trees, build output, venv)
# lives outside the clone so that a fresh clone reuses it.
CACHE_DIR=${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ksm-wp-reuse}
VENV=$CACHE_DIR/venv
KERNEL_SERIES=7.3

# Pinned tool versions (see ../shared/notes/toolchain.md).
BINDGEN_VERSION=0.73.2
LIBCLANG_VERSION=18.1.1
VIRTME_NG_VERSION=1.42
# The LLVM toolchain of the kasan and bench-llvm kernels: Debian 12's LLVM 19,
# and the rustc built on the same LLVM (19.1.7), as CONFIG_RUST_INLINE_HELPERS
# (RUSTC_CLANG_LLVM_COMPATIBLE) wants; Rust with KASAN needs CC_IS_CLANG.
LLVM_VERSION=19
LLVM_RUSTC=1.86.0

step()  { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
info()  { printf '    %s\n' "$*" >&2; }
warn()  { printf 'warning: %s\n' "$*" >&2; }
die()   { printf 'error: %s\n' "$*" >&2; exit 1; }

# Free space check before large steps: need_space DIR GIB WHAT
need_space() {
	local dir=$1 gib=$2 what=$3 avail
	mkdir -p "$dir"
	avail=$(df -Pk "$dir" | awk 'NR==2 { print int($4 / 1048576) }')
	[ "$avail" -ge "$gib" ] ||
		die "$what needs ${gib} GiB free in $dir, only ${avail} GiB left (set CACHE_DIR elsewhere or free space)"
}

# The kernel tree the overlay is laid on, and its O= build directory.
# KERNEL_SRC (a user's own 7.3 tree) is never modified: it is imported into
# its own work tree under the cache.
tree_id() {
	if [ -n "${KERNEL_SRC:-}" ]; then
		printf 'user-%s\n' "$(realpath "$KERNEL_SRC" | sha1sum | cut -c1-12)"
	else
		printf 'debian\n'
	fi
}
TREE_ID=$(tree_id)
KTREE=${KTREE:-$CACHE_DIR/trees/$TREE_ID}
# The build flavour, each in its own build directory (scripts/config.sh):
# test (make test's), bench, kcsan, kasan, bench-llvm, bench-c, package,
# and nested, the small kernel of the guests that make bench WORKLOADS=vm
# runs inside its guest (tinyconfig and nested/config.fragment; no Rust).
KBUILD_CONFIG=${KBUILD_CONFIG:-test}
# bench-c, the bench kernel with the reuse decision in C (bench/c-variant/:
# a benchmark comparison, not the series), builds from a tree of its own: a
# git worktree of KTREE beside it, the overlay with bench/c-variant's patch
# (scripts/c-variant-tree.sh, which scripts/config.sh runs for it). KTREE
# stays the series' tree for everything else, making and laying it too.
c_variant_tree() { printf '%s-c\n' "$KTREE"; }
# The source tree a flavour builds from: KTREE, but for bench-c.
flavour_tree() { # flavour_tree FLAVOUR
	if [ "$1" = bench-c ]; then c_variant_tree; else printf '%s\n' "$KTREE"; fi
}
build_dir() { printf '%s\n' "$CACHE_DIR/build/$TREE_ID-$1"; } # build_dir FLAVOUR
KOUT=${KOUT:-$(build_dir "$KBUILD_CONFIG")}
# Where the project's out-of-tree module (top-level Kbuild: probe/) is built
# against the kernel in $KOUT.
probe_dir() { printf '%s\n' "$KOUT-probe"; }
# The demo (demo/: make run's), built against the kernel in $KOUT.
demo_bin() { printf '%s\n' "$KOUT/demo/ksm_wp_reuse_demo"; }

# Whether a build flavour is built with LLVM (make setup installs it).
llvm_flavour() { case $1 in kasan | bench-llvm) return 0 ;; *) return 1 ;; esac; }

# Rust toolchain environment for Kbuild, and in KMAKE_TOOLCHAIN the make
# variables of the flavour's compiler: GCC (what Debian's kernels are built
# with) but for the LLVM flavours, whose libclang and rustc match clang's.
rust_env() {
	local native
	export PATH="$VENV/bin:$HOME/.cargo/bin:$PATH"
	if llvm_flavour "$KBUILD_CONFIG"; then
		export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VERSION/lib RUSTUP_TOOLCHAIN=$LLVM_RUSTC
		KMAKE_TOOLCHAIN=("LLVM=-$LLVM_VERSION")
		if [ ! -x "/usr/bin/clang-$LLVM_VERSION" ] || ! rustup run "$LLVM_RUSTC" rustc --version >/dev/null 2>&1; then
			die "the $KBUILD_CONFIG kernel is built with LLVM $LLVM_VERSION and rustc $LLVM_RUSTC: run 'make setup'"
		fi
		return
	fi
	native=$("$VENV/bin/python" -c 'import clang, os; print(os.path.join(os.path.dirname(clang.__file__), "native"))' 2>/dev/null) ||
		die "libclang is not installed in $VENV: run 'make setup'"
	export LIBCLANG_PATH=$native
	KMAKE_TOOLCHAIN=()
}

# The tree path of a project file, as scripts/overlay.sh lays it.
tree_path() { # tree_path PROJECT_FILE
	case $1 in
	selftests/*) printf 'tools/testing/selftests/mm/%s\n' "${1#selftests/}" ;;
	*) printf '%s\n' "$1" ;;
	esac
}

# The series make patches wrote (branch "series"), as the trees of its
# commits: what make bisect verified, whoever signed it off and when.
series_fingerprint() {
	git -C "$KTREE" log --reverse --format=%T upstream..series | sha1sum | cut -c1-16
}

# Run CMD... with its output appended to LOG, showing every 15 s how many
# Kbuild steps it took and the latest. Its exit status is CMD's.
with_progress() { # with_progress LOG CMD...
	local log=$1 pid start shown last
	shift
	start=$(date +%s)
	shown=$start
	"$@" >>"$log" 2>&1 &
	pid=$!
	# CMD runs in a subshell: stop its children too (make, which then
	# removes the targets it was building), not the subshell alone.
	trap 'pkill -TERM -P $pid 2>/dev/null; kill $pid 2>/dev/null' INT TERM
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		[ $(($(date +%s) - shown)) -ge 15 ] || continue
		shown=$(date +%s)
		last=$(grep -E '^  [A-Z]' "$log" | tail -1 | awk '{ print $NF }')
		info "$((shown - start))s: $(grep -cE '^  [A-Z]' "$log") steps, now ${last:-starting}"
	done
	trap - INT TERM
	wait "$pid"
}

# The fingerprint of the kernel code the project lays, which make stress's
# ledger groups runs by: the diffs of patches/*.patch (from their first
# "diff --git": commit messages, bisect.ok and the cover letter left out)
# and the files under mm/ rust/ include/ with their paths. Not the tests,
# samples, docs or config fragments. From the project's files alone: cheap,
# and there whether or not make patches ran.
code_fingerprint() {
	(
		cd "$PROJECT_DIR" || exit 1
		for p in patches/*.patch; do sed -n '/^diff --git /,$p' "$p"; done
		for d in mm rust include; do
			[ ! -d "$d" ] || find "$d" -type f ! -name '*~' ! -name '.*.swp' -print0
		done | LC_ALL=C sort -z | xargs -0 -r sha1sum
	) | sha1sum | cut -c1-16
}

# A build killed outright (SIGKILL: a session's end, a CI time limit) can leave
# a target written but unfinished and newer than its inputs, which the next
# make takes as done: vmlinux.o linked but objtool never run on it failed the
# next link with "incomplete ORC unwind tables". kbuild saves a target's
# command in .TARGET.cmd only once the whole command has succeeded, so a
# target newer than its .cmd is unfinished. kmake marks the build directory
# while make runs; a kmake that finds the mark removes, of the files written
# since, those unfinished targets and the selftest binaries (built by plain
# make rules, without a .cmd), and keeps every finished one. make runs in
# the flavour's source tree (flavour_tree).
kmake() {
	local mark=$KOUT/.kmake-running rc=0 f cmd n=0
	rust_env
	mkdir -p "$KOUT"
	if [ -e "$mark" ]; then
		while IFS= read -r -d '' f; do
			cmd=${f%/*}/.${f##*/}.cmd
			if { [ -e "$cmd" ] && [ "$f" -nt "$cmd" ]; } || [[ ! -e $cmd && $f == "$KOUT"/kselftest/* ]]; then
				rm -f "$f"
				n=$((n + 1))
			fi
		done < <(find "$KOUT" -type f -newer "$mark" ! -name '.*.cmd' -print0)
		info "a build in $KOUT was killed before it finished: removed $n unfinished files it left"
	fi
	touch "$mark"
	make -C "$(flavour_tree "$KBUILD_CONFIG")" O="$KOUT" -j"$(($(nproc) + 1))" "${KMAKE_TOOLCHAIN[@]}" "$@" || rc=$?
	rm -f "$mark"
	return "$rc"
}

# The mirror URI the machine's own apt configuration uses for Debian.
debian_mirror() {
	local uri
	uri=$( { cat /etc/apt/sources.list 2>/dev/null; cat /etc/apt/sources.list.d/*.list 2>/dev/null; } |
		awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }')
	if [ -z "$uri" ]; then
		uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk 'tolower($1) == "uris:" && $2 !~ /security/ { print $2; exit }')
	fi
	[ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d}: configure apt first"
	printf '%s\n' "$uri"
}

# apt-get with a private state (sources, lists, cache) under the cache dir,
# so the machine's apt configuration is never changed.
#   papt NAME 'SOURCE LINES' apt-get ARGS...
papt() {
	local name=$1 sources=$2 dir
	shift 2
	dir=$CACHE_DIR/apt/$name
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/parts"
	printf '%s\n' "$sources" >"$dir/sources.list.new"
	if ! cmp -s "$dir/sources.list.new" "$dir/sources.list"; then
		mv "$dir/sources.list.new" "$dir/sources.list"
		rm -f "$dir/lists/"*_Release 2>/dev/null || true
	else
		rm -f "$dir/sources.list.new"
	fi
	"$@" -o Dir::Etc::sourcelist="$dir/sources.list" \
		-o Dir::Etc::sourceparts="$dir/parts" \
		-o Dir::State::Lists="$dir/lists" \
		-o Dir::Cache="$dir/cache" \
		-o APT::Sandbox::User=root
}
