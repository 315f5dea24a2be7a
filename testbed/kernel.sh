#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the test-bed kernel of one series and flavour and prints its build
# directory (a `make O=` tree; its `source` link leads to the sources):
#   kernel.sh [SERIES-]FLAVOUR     SERIES 6.12 (the default) or 7.3,
#                                  FLAVOUR fast or debug
# Debian's linux-source-SERIES (testbed/source.sh) + patches/SERIES/ is
# unpacked once, under $CACHE/kernel, and both flavours build from it out of
# tree with their config fragments (config/SERIES.config, when there is one,
# says what differs for the series).  Each is cached, keyed by everything
# it depends on, so an unchanged rerun costs seconds.
set -euo pipefail
. "$(dirname "$0")/env.sh"

kernel=${1:-fast}
case "$kernel" in
*-*) series=${kernel%-*} flavour=${kernel##*-} ;;
*) series=6.12 flavour=$kernel ;;
esac
frags=("$TOP/testbed/config/fast.config")
case "$flavour" in
fast) frags+=("$TOP/testbed/config/optimize.config") ;;
debug) frags+=("$TOP/testbed/config/debug.config") ;;
*) echo "kernel.sh: unknown flavour '$flavour' (fast|debug)" >&2; exit 2 ;;
esac
[ -d "$TOP/patches/$series" ] || { echo "kernel.sh: unknown series '$series' (6.12|7.3)" >&2; exit 2; }
[ -e "$TOP/testbed/config/$series.config" ] && frags+=("$TOP/testbed/config/$series.config")
# The 6.12 entries keep their names of before there were two series.
case "$series" in
6.12) name=$flavour src_name=src ;;
*) name=$series-$flavour src_name=src-$series ;;
esac

"$TOP/testbed/deps.sh"
mkdir -p "$CACHE/kernel"
# source.sh tells the package's version on stderr: kept, and shown on failure.
tarball=$("$TOP/testbed/source.sh" "$series" 2>"$CACHE/source-$series.log") ||
	{ cat "$CACHE/source-$series.log" >&2; exit 1; }

# Replaces the other entries named PREFIX-<key> by DIR (an older key's),
# and an older key's build left unfinished (PREFIX-<key>.tmp).
prune() {
	local old
	for old in "$CACHE/kernel/$1"-???????????????? "$CACHE/kernel/$1"-????????????????.tmp; do
		[ -e "$old" ] && [ "$old" != "$2" ] && [ "$old" != "$2.tmp" ] && rm -rf "$old"
	done
	return 0
}

# The patched sources, shared by the flavours.
src_key=$( {
	if [ "$series" = 6.12 ]; then
		dpkg-query -W -f '${Version}\n' linux-source-6.12
	else
		cat "$tarball.version"
	fi
	cat "$TOP/patches/$series"/*.patch
} | sha256sum | cut -c1-16)
src="$CACHE/kernel/$src_name-$src_key"
# Two flavours may be built at once: one unpacks, the other waits.
exec 9>"$CACHE/kernel/.lock"
flock 9
if [ ! -e "$src/.unpacked" ]; then
	prune "$src_name" "$src"
	rm -rf "$src"
	mkdir -p "$src"
	echo "kernel.sh: unpacking the kernel sources into $src" >&2
	tar xf "$tarball" --strip-components=1 -C "$src"
	for p in "$TOP/patches/$series"/*.patch; do
		patch -d "$src" -p1 -s <"$p"
	done
	touch "$src/.unpacked"
fi
flock -u 9

# How a kernel is built from the sources and the fragments: its text is in
# the cache key (not the whole script's, so choosing what to build can
# change without rebuilding what was built).
build() { # tmp: configures and builds into the make O= tree tmp
	local tmp=$1 kmake bad line opt
	kmake=("${KMAKE[@]}" -C "$src" O="$tmp")
	"${kmake[@]}" -s tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$tmp" "$tmp/.config" "${frags[@]}" >/dev/null
	"${kmake[@]}" -s olddefconfig >/dev/null
	# merge_config only warns; a silently dropped option would make tests
	# meaningless.
	bad=0
	while read -r line; do
		case "$line" in
		CONFIG_*=n) opt=${line%=n}
			grep -q "^$opt=" "$tmp/.config" && { echo "kernel.sh: $opt is set, wanted off" >&2; bad=1; } ;;
		CONFIG_*) grep -qx "$line" "$tmp/.config" || { echo "kernel.sh: $line did not stick" >&2; bad=1; } ;;
		esac
	done < <(cat "${frags[@]}")
	[ $bad -eq 0 ] || return 1
	"${kmake[@]}" -s -j"$(nproc)" >"$tmp/build.log" 2>&1 || { tail -40 "$tmp/build.log" >&2; return 1; }
}

key=$( {
	echo "$src_key"
	cat "${frags[@]}"
	declare -f build
	/usr/bin/rustc --version; clang-19 --version | head -1; bindgen --version
} | sha256sum | cut -c1-16)
dir="$CACHE/kernel/$name-$key"
if [ -e "$dir/.built" ]; then
	echo "$dir"
	exit 0
fi

prune "$name" "$dir"
tmp="$dir.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
echo "kernel.sh: building the $series $flavour kernel in $dir (about 10 minutes)" >&2
build "$tmp"
touch "$tmp/.built"
mv "$tmp" "$dir"
# 7.3's make O= tree names itself in its Makefile (KBUILD_OUTPUT).
sed -i "s|^export KBUILD_OUTPUT = $tmp\$|export KBUILD_OUTPUT = $dir|" "$dir/Makefile"
echo "$dir"
