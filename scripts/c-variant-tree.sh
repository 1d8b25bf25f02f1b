#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Make or refresh the kernel tree of the bench-c flavour, idempotently
# (scripts/config.sh runs this for it): the overlay (the series, as
# scripts/overlay.sh laid it on the shared tree, KTREE) with the patches of
# bench/c-variant/ applied, which build the reuse decision in C instead of
# the Rust. A benchmark comparison: not part of the series, and not in
# code_fingerprint() (lib.sh), which hashes patches/, mm/, rust/, include/.
#
# The tree is a git worktree of the shared tree beside it, $KTREE-c, on a
# branch of its own, c-variant: one commit on top of overlay, whose message
# records what it was made from (the overlay commit and the hash of the
# patches). A tree made from the same is left as it is; another one moves to
# a new commit made from the current overlay and patches, and git rewrites
# only the files that differ, so the build stays incremental. The commit is
# made in a scratch index first: a patch that does not apply leaves the tree
# as it was. The shared tree's checkout is never touched.
#
# The C mirrors one version of mm/ksm_wp_reuse.rs, which bench/c-variant/mirrors
# names: an overlay with another is refused, as the comparison would not be
# of the same decision.
. "$(dirname "$0")/lib.sh"

[ -f "$KTREE/.git/ksm-wp-source" ] || die "no kernel tree at $KTREE: run 'make tree'"
ctree=$(c_variant_tree)
cdir=$PROJECT_DIR/bench/c-variant
shopt -s nullglob
patches=("$cdir"/*.patch)
[ "${#patches[@]}" -gt 0 ] || die "no patch in $cdir"
overlay=$(git -C "$KTREE" rev-parse -q --verify 'refs/heads/overlay^{commit}') ||
	die "the kernel tree has no overlay: run 'make overlay'"

want=$(awk '!/^#/ && $2 == "mm/ksm_wp_reuse.rs" { print $1; exit }' "$cdir/mirrors")
[ -n "$want" ] || die "$cdir/mirrors names no version of mm/ksm_wp_reuse.rs"
have=$(git -C "$KTREE" rev-parse -q --verify "$overlay:mm/ksm_wp_reuse.rs") ||
	die "the overlay has no mm/ksm_wp_reuse.rs: run 'make overlay'"
if [ "$have" != "$want" ]; then
	die "mm/ksm_wp_reuse.rs changed since the C of bench/c-variant/ was written to mirror it (blob ${want:0:12}, now ${have:0:12}): bring mm/ksm_wp_reuse_c.c in $(basename "${patches[0]}") up to date with it, then write the new blob ($have) into bench/c-variant/mirrors"
fi

made_from="Overlay: $overlay
C-variant: $(cat "${patches[@]}" | sha1sum | cut -c1-40)"

common_dir() { git -C "$1" rev-parse --path-format=absolute --git-common-dir 2>/dev/null; }
if [ -e "$ctree" ]; then
	if [ "$(common_dir "$ctree")" != "$(common_dir "$KTREE")" ] ||
		! git -C "$ctree" rev-parse -q --verify HEAD >/dev/null; then
		# Left by a shared tree made since, or half made: ours to remake.
		warn "$ctree is not a worktree of $KTREE: removing it"
		rm -rf "$ctree"
	elif [ "$(git -C "$ctree" log -1 --format=%B HEAD | grep -E '^(Overlay|C-variant): ')" = "$made_from" ] &&
		git -C "$ctree" diff --quiet HEAD; then
		info "bench-c tree: up to date ($ctree)"
		exit 0
	fi
fi
git -C "$KTREE" worktree prune

step "bench-c tree: the overlay with $(cd "$PROJECT_DIR" && printf '%s ' bench/c-variant/*.patch)in $ctree"
index=$(mktemp "$KTREE/.git/c-variant-index.XXXXXX")
trap 'rm -f "$index"' EXIT
GIT_INDEX_FILE=$index git -C "$KTREE" read-tree "$overlay"
for p in "${patches[@]}"; do
	if ! out=$(GIT_INDEX_FILE=$index git -C "$KTREE" apply --cached "$p" 2>&1); then
		printf '%s\n' "$out" >&2
		die "$(basename "$p") does not apply to the overlay ($overlay); the bench-c tree was left as it was"
	fi
done
tree=$(GIT_INDEX_FILE=$index git -C "$KTREE" write-tree)
commit=$(git -C "$KTREE" commit-tree "$tree" -p "$overlay" \
	-m "ksm-wp-reuse overlay with the reuse decision in C (bench/c-variant/, bench only)" -m "$made_from")

if [ -e "$ctree" ]; then
	# Never lose hand edits made in the work tree: save them first.
	if ! git -C "$ctree" diff --quiet HEAD; then
		save=$CACHE_DIR/saved-edits-c-$(date +%Y%m%d-%H%M%S).patch
		git -C "$ctree" diff HEAD >"$save"
		warn "the bench-c tree had local edits; saved to $save before moving it"
	fi
	git -C "$ctree" reset -q --hard "$commit"
else
	need_space "$(dirname "$ctree")" 3 "the bench-c kernel tree"
	info "checking out a kernel tree (once; a minute or two)"
	git -C "$KTREE" worktree add -q -B c-variant "$ctree" "$commit"
fi
info "bench-c tree: $(git -C "$ctree" diff --stat "$overlay" HEAD | tail -1)"
