#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lay the project onto the kernel work tree, idempotently.
#
# The result is computed in a scratch git index first (upstream + patches/ +
# the project's files) and only then checked out, so a patch that does not
# apply leaves the tree as it was, and files whose content did not change keep
# their timestamps (no needless rebuilds).
#
# Project path -> tree path:
#   patches/NNNN-*.patch  applied in order to upstream files
#   mm/ include/ rust/ Documentation/  -> same path
#   selftests/*           -> tools/testing/selftests/mm/*
# A patch may also change a project file that an earlier patch adds (so that
# each commit of make patches' series holds one idea): the file here is the
# final version, so those hunks are not applied here.
. "$(dirname "$0")/lib.sh"

[ -f "$KTREE/.git/ksm-wp-source" ] || die "no kernel tree at $KTREE: run 'make tree'"
cd "$KTREE" || exit 1

index=$(mktemp "$KTREE/.git/overlay-index.XXXXXX")
trap 'rm -f "$index"' EXIT
export GIT_INDEX_FILE=$index
git read-tree upstream

mapfile -d '' files < <(cd "$PROJECT_DIR" && find mm include rust Documentation selftests -type f \
	! -name '*~' ! -name '.*.swp' -print0 2>/dev/null)
excludes=()
for f in "${files[@]}"; do excludes+=("--exclude=$(tree_path "$f")"); done

shopt -s nullglob
for p in "$PROJECT_DIR"/patches/*.patch; do
	if ! out=$(git apply --cached --whitespace=nowarn "${excludes[@]}" "$p" 2>&1); then
		printf '%s\n' "$out" >&2
		die "patch $(basename "$p") does not apply to $(cat .git/ksm-wp-source); the tree was left as it was"
	fi
done

add_file() { # add_file SRC DEST
	local mode=100644
	[ -x "$1" ] && mode=100755
	git update-index --add --cacheinfo "$mode,$(git hash-object -w "$1"),$2"
}

for f in "${files[@]}"; do add_file "$PROJECT_DIR/$f" "$(tree_path "$f")"; done

tree=$(git write-tree)
unset GIT_INDEX_FILE
if [ "$(git rev-parse -q --verify 'HEAD^{tree}')" = "$tree" ] && git diff --quiet HEAD; then
	info "overlay: up to date"
	exit 0
fi

# Never lose hand edits made in the work tree: save them first.
if ! git diff --quiet HEAD 2>/dev/null; then
	save=$CACHE_DIR/saved-edits-$(date +%Y%m%d-%H%M%S).patch
	git diff HEAD >"$save"
	warn "the work tree had local edits; saved to $save before laying the overlay"
fi

commit=$(git commit-tree "$tree" -p upstream -m "ksm-wp-reuse overlay")
git update-ref refs/heads/overlay "$commit"
git symbolic-ref HEAD refs/heads/overlay
git reset -q --hard overlay
info "overlay: $(git diff --stat upstream overlay | tail -1)"
