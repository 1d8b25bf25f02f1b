#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bisect: build every commit of the series on its own, in order, with
# the test kernel's configuration, so that a bisection landing inside the
# series finds a kernel that builds. A commit fails if the build fails or if
# the compiler (C or Rust) warns about a file the series touches. Commits
# touching the mm selftests also build those. Documentation-only commits
# have nothing to build.
#
# The commits are make patches' branch "series" in the kernel tree, checked
# out one by one in their own worktree and build directory ($KOUT-bisect),
# compiled through ccache: the first run costs about three full builds
# (patches 1 and 4 change widely included headers), later runs of an
# unchanged series mostly hit the cache. A commit verified before (the same
# tree, configuration and set of files the series touches) is not built
# again, so a series changed in its later commits rebuilds only those. On
# success the series' fingerprint
# (its commits' trees) and the upstream tree it was built on are recorded in
# patches/bisect.ok, which is committed with the patches: make check fails
# when the series no longer matches it.
. "$(dirname "$0")/lib.sh"

wt=$CACHE_DIR/bisect-tree
out=$KOUT-bisect
results=$CACHE_DIR/results/bisect-$(date +%Y%m%d-%H%M%S)
export CCACHE_DIR=$CACHE_DIR/ccache
command -v ccache >/dev/null || die "ccache is missing: run 'make setup'"
[ -f "$KOUT/.config" ] || die "no test kernel configuration in $KOUT: run 'make config'"
need_space "$CACHE_DIR" 8 "the bisect build"
ccache -M 8G >/dev/null

PATCHES_OUT=$CACHE_DIR/series "$PROJECT_DIR/scripts/patches.sh"
mapfile -t commits < <(git -C "$KTREE" rev-list --reverse upstream..series)
[ "${#commits[@]}" -gt 0 ] || die "the series branch is empty: run 'make patches'"
fingerprint=$(series_fingerprint)
touched=$(git -C "$KTREE" diff --name-only upstream series)
touched_re=$(printf '%s\n' "$touched" | sed 's/[.]/[.]/g' | paste -sd'|')

[ -d "$wt" ] || git -C "$KTREE" worktree add -q --detach "$wt" upstream ||
	die "cannot create the worktree $wt"
mkdir -p "$out" "$results"

# Warnings located in the series' files: "file:line:col: warning:" from the C
# compiler, "warning: ..." followed by "--> file:line:col" from rustc.
our_warnings() { # our_warnings LOG
	{
		grep -E "^[^ ]*($touched_re):[0-9]+:[0-9]+: warning:" "$1"
		grep -A4 '^warning' "$1" | grep -E -- "--> [^ ]*($touched_re):"
	} || true
}

bisect_make() { KTREE=$wt KOUT=$out kmake CC="ccache gcc" "$@"; }

failed_build() { # failed_build LOG WHAT: show the errors, say what failed
	grep -E 'error|Error' "$1" | head -20 >&2
	echo "$2 failed: $1" >&2
}

build_step() { # build_step N COMMIT: build one commit; 0 if it is fine
	local n=$1 c=$2 log=$results/$1.log files start warnings
	files=$(git -C "$KTREE" diff-tree --no-commit-id --name-only -r "$c")
	git -C "$wt" checkout -q -f --detach "$c" || return 1
	start=$(date +%s)
	if ! grep -qv '^Documentation/' <<<"$files"; then
		echo "documentation only: nothing to build" >"$log"
		return 0
	fi
	# The test configuration, less what this commit does not know yet.
	cp "$KOUT/.config" "$out/.config"
	: >"$log"
	{ with_progress "$log" bisect_make olddefconfig &&
		with_progress "$log" bisect_make all; } || { failed_build "$log" build; return 1; }
	if grep -q '^tools/testing/selftests/mm/' <<<"$files"; then
		rm -f "$wt"/tools/testing/selftests/mm/local_config.{h,mk}
		with_progress "$log" bisect_make kselftest-all TARGETS=mm ||
			{ failed_build "$log" "selftests build"; return 1; }
	fi
	warnings=$(our_warnings "$log")
	if [ -n "$warnings" ]; then
		printf '%s\n' "$warnings" >&2
		echo "warnings in the series' files: $log" >&2
		return 1
	fi
	info "built in $(($(date +%s) - start))s"
}

# What a commit's verdict depends on: its tree, the configuration, and the
# files whose warnings count. A line per commit that built cleanly.
verified=$CACHE_DIR/bisect-verified
touch "$verified"
config_id=$(sha1sum <"$KOUT/.config" | cut -c1-16)
touched_id=$(printf '%s\n' "$touched" | sha1sum | cut -c1-16)
verdict_key() { # verdict_key COMMIT
	printf '%s %s %s\n' "$(git -C "$KTREE" rev-parse "$1^{tree}")" "$config_id" "$touched_id"
}

step "Bisect build of ${#commits[@]} commits in $out (log: $results)"
echo "TAP version 13" >"$results/bisect.tap"
echo "1..${#commits[@]}" >>"$results/bisect.tap"
failed=0 n=0
for c in "${commits[@]}"; do
	n=$((n + 1))
	subject=$(git -C "$KTREE" log -1 --format=%s "$c")
	step "[$n/${#commits[@]}] $subject"
	if grep -qxF "$(verdict_key "$c")" "$verified"; then
		info "built cleanly before: the same tree, configuration and series files"
		echo "ok $n $subject (verified before)" >>"$results/bisect.tap"
	elif build_step "$n" "$c"; then
		verdict_key "$c" >>"$verified"
		echo "ok $n $subject" >>"$results/bisect.tap"
	else
		echo "not ok $n $subject" >>"$results/bisect.tap"
		failed=$((failed + 1))
	fi
done
cat "$results/bisect.tap"
[ "$failed" -eq 0 ] || die "$failed of ${#commits[@]} commits do not build cleanly (logs: $results)"
record=$PROJECT_DIR/patches/bisect.ok
printf '%s %s %s %s\n' "$fingerprint" "$(git -C "$KTREE" rev-parse 'upstream^{tree}')" \
	"$(date -u +%Y-%m-%d)" "$(head -1 "$KTREE/.git/ksm-wp-source")" >"$record.new"
mv "$record.new" "$record"
step "Every commit builds; recorded in $record (commit it with the patches)"
