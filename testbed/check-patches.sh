#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Checks that each kernel series' export patches (patches/SERIES/*.patch)
# still apply to Debian's pristine linux-source-SERIES (testbed/source.sh),
# the two ways they are used:
#
#   testbed/check-patches.sh [SERIES...]     (default: every patches/*/)
#
#  - patch -p1, as testbed/kernel.sh applies them: each patch is first
#    tried with --dry-run, then applied.  A hunk that needs fuzz fails the
#    check: its context has changed, and git am would refuse it.
#  - git am, in a separate git repository of the same files, committed
#    once: the patches are mails (git format-patch), and must stay mails
#    that apply.  The tree it ends with must be the one patch -p1 made.
#
# In both patched trees, every symbol a patch exports must have exactly
# one EXPORT line in the whole tree: a symbol exported twice does not
# build.  Only the files the patches touch are unpacked (unpacking the
# whole tree is slow); EXPORT lines elsewhere are counted in the pristine
# tarball's stream and added in.
#
# Prints one line per series and way, "PASS patches SERIES (patch -p1)" or
# "FAIL patches SERIES (git am): reason"; progress goes to stderr.  Exits
# non-zero when anything failed.
set -euo pipefail
. "$(dirname "$0")/env.sh"

if [ $# -gt 0 ]; then
	series=("$@")
else
	series=()
	for d in "$TOP"/patches/*/; do
		series+=("$(basename "$d")")
	done
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gfn-check-patches.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# git am with nothing of the user's configuration (am.threeWay and such).
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=check-patches GIT_AUTHOR_EMAIL=check-patches@example.invalid
export GIT_COMMITTER_NAME=check-patches GIT_COMMITTER_EMAIL=check-patches@example.invalid

failed=0
result() {	# SERIES WAY REASON (empty: pass)
	if [ -z "$3" ]; then
		echo "PASS patches $1 ($2)"
	else
		echo "FAIL patches $1 ($2): $3"
		failed=1
	fi
}

# The files the patches change (not those they create), one a line.
touched_files() {
	awk '/^diff --git a\// { if (p != "") print p; p = $3; sub(/^a\//, "", p); next }
	     /^new file mode/ { p = "" }
	     END { if (p != "") print p }' "$@" | sort -u
}

# The symbols the patches export (on lines they add), one a line.
exported_symbols() {
	grep -hoE '^\+[[:space:]]*EXPORT_[A-Z_]+\([[:space:]]*[A-Za-z_][A-Za-z0-9_]*' "$@" |
		sed -E 's/.*\([[:space:]]*//' | sort -u
}

# EXPORT lines of SYMBOL under DIR (a tree of the touched files): "file:line" each.
export_lines() {
	grep -rnE "^[[:space:]]*EXPORT_[A-Z_]*\([[:space:]]*$2[[:space:]]*[,)]" "$1" \
		--exclude-dir=.git 2>/dev/null | cut -d: -f1,2 | sed "s|^$1/||" || true
}

# Empty when each of SYMS has exactly one EXPORT line in the tree made of
# DIR (the patched touched files) and the rest of the pristine tree;
# otherwise says which do not.
check_exports() {	# DIR
	local s whole before after n out=""
	for s in "${syms[@]}"; do
		whole=$(grep -cx "$s" "$work/whole-exports" || true)
		before=$(export_lines "$work/pristine" "$s" | wc -l)
		after=$(export_lines "$1" "$s" | wc -l)
		n=$((whole - before + after))
		if [ "$n" -ne 1 ]; then
			out+="${out:+; }$s has $n EXPORT lines"
			[ "$after" -gt 0 ] && out+=" ($(export_lines "$1" "$s" | paste -sd, | sed 's/,/, /g')$(
				[ $((whole - before)) -gt 0 ] && echo ", and elsewhere"))"
		fi
	done
	echo "$out"
}

for s in "${series[@]}"; do
	patches=("$TOP"/patches/"$s"/*.patch)
	if [ ! -e "${patches[0]}" ]; then
		result "$s" "patch -p1" "no patches/$s/*.patch"
		result "$s" "git am" "no patches/$s/*.patch"
		continue
	fi
	if ! tarball=$("$TOP/testbed/source.sh" "$s"); then
		result "$s" "patch -p1" "no linux-source-$s tarball (testbed/source.sh $s failed)"
		result "$s" "git am" "no linux-source-$s tarball (testbed/source.sh $s failed)"
		continue
	fi
	work=$tmp/$s
	mkdir -p "$work/pristine"
	mapfile -t files < <(touched_files "${patches[@]}")
	mapfile -t syms < <(exported_symbols "${patches[@]}")

	# The tarball's top directory (linux-source-SERIES), from its first entry.
	top=$(tar -tf "$tarball" 2>/dev/null | head -n1 || true)
	top=${top%%/*}
	echo "check-patches: $s: unpacking ${files[*]} from ${tarball##*/}" >&2
	if [ ${#files[@]} -eq 0 ]; then
		:	# the patches only create files: nothing to unpack
	elif ! err=$(tar -xf "$tarball" -C "$work/pristine" --strip-components=1 \
			"${files[@]/#/$top/}" 2>&1); then
		reason="cannot unpack the touched files: $(echo "$err" | grep -v '^tar: Exiting' | head -n1)"
		result "$s" "patch -p1" "$reason"
		result "$s" "git am" "$reason"
		continue
	fi
	# Every EXPORT line of those symbols in the pristine tree, whichever file.
	: >"$work/whole-exports"
	if [ ${#syms[@]} -gt 0 ]; then
		alt=$(IFS='|'; echo "${syms[*]}")
		xz -dc "$tarball" | LC_ALL=C grep -aoE \
			"^[[:space:]]*EXPORT_[A-Z_]*\([[:space:]]*($alt)[[:space:]]*[,)]" |
			sed -E 's/.*\([[:space:]]*//; s/[[:space:]]*[,)]$//' \
			>"$work/whole-exports" || true
	fi

	# patch -p1: a dry run, then the patch, one at a time.
	cp -a "$work/pristine" "$work/patch"
	reason=""
	for p in "${patches[@]}"; do
		name=${p##*/}
		if ! out=$(patch -d "$work/patch" -p1 -f --dry-run <"$p" 2>&1); then
			reason="$name: $(echo "$out" | grep -m1 -iE 'fail|reject|can.t|not found|malformed|only garbage' || echo "$out" | head -n1)"
			break
		fi
		if echo "$out" | grep -q 'with fuzz'; then
			reason="$name: $(echo "$out" | grep -m1 'with fuzz') (context changed)"
			break
		fi
		if ! out=$(patch -d "$work/patch" -p1 -f -s --no-backup-if-mismatch \
				-r - <"$p" 2>&1); then
			reason="$name: applied in the dry run, but not then: $(echo "$out" | head -n1)"
			break
		fi
	done
	[ -z "$reason" ] && reason=$(check_exports "$work/patch")
	result "$s" "patch -p1" "$reason"
	patched=$([ -z "$reason" ] && echo yes || echo no)

	# git am, in a repository of the pristine files committed once.
	cp -a "$work/pristine" "$work/git"
	reason=""
	if ! out=$( { git -C "$work/git" init -q &&
			git -C "$work/git" add -A &&
			git -C "$work/git" commit -q --allow-empty -m "linux-source-$s (pristine)"; } 2>&1); then
		reason="git init/commit: $(echo "$out" | head -n1)"
	elif ! out=$(git -C "$work/git" am -q "${patches[@]}" 2>&1); then
		cur=$(cat "$work/git/.git/rebase-apply/next" 2>/dev/null || echo 1)
		reason="${patches[$((cur - 1))]##*/}: $(echo "$out" | grep -m1 -E '^(error|fatal):' || echo "$out" | head -n1)"
		git -C "$work/git" am --abort >/dev/null 2>&1 || true
	elif [ "$(git -C "$work/git" rev-list --count HEAD)" -ne $((${#patches[@]} + 1)) ]; then
		reason="git am made $(($(git -C "$work/git" rev-list --count HEAD) - 1)) commits of ${#patches[@]} patches"
	else
		reason=$(check_exports "$work/git")
		if [ -z "$reason" ] && [ "$patched" = yes ] &&
		   ! diff -r -q -x .git "$work/patch" "$work/git" >/dev/null; then
			reason="the tree differs from patch -p1's: $(diff -r -q -x .git "$work/patch" "$work/git" | head -n1)"
		fi
	fi
	result "$s" "git am" "$reason"
	rm -rf "$work"
done
exit $failed
