#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make patches: write the project as a git-am-able series against the
# kernel it is laid on (tag "upstream"), one commit per patches/*.patch:
# that patch's edits to upstream files plus the project files its "Files:"
# line names, with its header as the commit message, signed off by the
# identity git has for this repo. Output: $PATCHES_OUT (default series/ in the project), cover letter
# from patches/cover-letter.txt.
. "$(dirname "$0")/lib.sh"

out=${PATCHES_OUT:-$PROJECT_DIR/series}
[ -f "$KTREE/.git/ksm-wp-source" ] || die "no kernel tree at $KTREE: run 'make tree'"
GIT_AUTHOR_NAME=$(git -C "$PROJECT_DIR" config user.name) ||
	die "git has no user.name: set it (git config --global user.name ...) to sign off the series"
GIT_AUTHOR_EMAIL=$(git -C "$PROJECT_DIR" config user.email) || die "git has no user.email: set it"
export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
signoff="Signed-off-by: $GIT_AUTHOR_NAME <$GIT_AUTHOR_EMAIL>"

index=$(mktemp "$KTREE/.git/series-index.XXXXXX")
msg=$(mktemp)
trap 'rm -f "$index" "$msg"' EXIT
export GIT_INDEX_FILE=$index
cd "$KTREE" || exit 1
git read-tree upstream
head=$(git rev-parse upstream)

# A project file as patch number I adds it: the file (its final version),
# less what later patches change in it, taken back latest first.
added_blob() { # added_blob I FILE: prints the blob id
	local i=$1 f=$2 dest tmp later
	dest=$(tree_path "$f")
	tmp=$(mktemp -d)
	mkdir -p "$tmp/$(dirname "$dest")"
	cp "$PROJECT_DIR/$f" "$tmp/$dest"
	for ((later = ${#patches[@]} - 1; later > i; later--)); do
		(cd "$tmp" && env -u GIT_INDEX_FILE git apply -R --include="$dest" "${patches[later]}") ||
			die "$(basename "${patches[later]}") does not take back from $f: is it the file's final version?"
	done
	git hash-object -w "$tmp/$dest"
	rm -rf "$tmp"
}

step "Series against $(cat .git/ksm-wp-source)"
patches=("$PROJECT_DIR"/patches/*.patch)
for i in "${!patches[@]}"; do
	p=${patches[i]}
	header=$(sed '/^---$/q' "$p")
	subject=$(sed -n 's/^Subject: //p' <<<"$header" | head -1)
	[ -n "$subject" ] || die "$(basename "$p") has no Subject: line"
	git apply --cached "$p" || die "$(basename "$p") does not apply on the previous patches"
	# shellcheck disable=SC2013 # the Files: line is a list of words
	for f in $(sed -n 's/^Files://p' <<<"$header"); do
		[ -f "$PROJECT_DIR/$f" ] || die "$(basename "$p") names $f, which does not exist"
		mode=100644
		[ -x "$PROJECT_DIR/$f" ] && mode=100755
		git update-index --add --cacheinfo "$mode,$(added_blob "$i" "$f"),$(tree_path "$f")"
	done
	{
		printf '%s\n' "$subject"
		# The body: after the Subject line, without our own header lines.
		sed -e '0,/^Subject: /d' -e '/^---$/,$d' -e '/^Files:/d' <<<"$header" |
			sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
		printf '\n%s\n' "$signoff"
	} >"$msg"
	head=$(git commit-tree "$(git write-tree)" -p "$head" -F "$msg")
	info "$(git log -1 --format=%s "$head")"
done
git update-ref refs/heads/series "$head"
unset GIT_INDEX_FILE

rm -rf "$out"
mkdir -p "$out"
git format-patch -q --cover-letter -o "$out" upstream..series
cover=$(ls "$out"/0000-cover-letter.patch)
subject=$(sed -n 's/^Subject: //p' "$PROJECT_DIR/patches/cover-letter.txt")
blurb=$(sed '1,/^$/d' "$PROJECT_DIR/patches/cover-letter.txt")
python3 - "$cover" "$subject" "$blurb" <<'PY'
import sys
path, subject, blurb = sys.argv[1:]
s = open(path).read()
s = s.replace('*** SUBJECT HERE ***', subject).replace('*** BLURB HERE ***', blurb)
open(path, 'w').write(s)
PY
info "$(find "$out" -name '*.patch' | wc -l) files in $out (branch 'series' in $KTREE)"
