#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the test-bed kernel of one flavour (fast|debug) and prints its build
# directory (a `make O=` tree; its `source` link leads to the sources).
# Debian's linux-source-6.12 + patches/6.12/ is unpacked once, under $CACHE/kernel,
# and both flavours build from it out of tree with their config fragments.
# Each is cached, keyed by everything it depends on, so an unchanged rerun
# costs seconds.
set -euo pipefail
. "$(dirname "$0")/env.sh"

flavour=${1:-fast}
frags=("$TOP/testbed/config/fast.config")
case "$flavour" in
fast) ;;
debug) frags+=("$TOP/testbed/config/debug.config") ;;
*) echo "kernel.sh: unknown flavour '$flavour' (fast|debug)" >&2; exit 2 ;;
esac

"$TOP/testbed/deps.sh"
mkdir -p "$CACHE/kernel"

# Replaces the other entries named PREFIX-* by DIR (an older key's).
prune() {
	local old
	for old in "$CACHE/kernel/$1"-*; do
		[ -e "$old" ] && [ "$old" != "$2" ] && [ "$old" != "$2.tmp" ] && rm -rf "$old"
	done
	return 0
}

# The patched sources, shared by the flavours.
src_key=$( {
	dpkg-query -W -f '${Version}\n' linux-source-6.12
	cat "$TOP"/patches/6.12/*.patch
} | sha256sum | cut -c1-16)
src="$CACHE/kernel/src-$src_key"
# Two flavours may be built at once: one unpacks, the other waits.
exec 9>"$CACHE/kernel/.lock"
flock 9
if [ ! -e "$src/.unpacked" ]; then
	prune src "$src"
	rm -rf "$src"
	mkdir -p "$src"
	echo "kernel.sh: unpacking the kernel sources into $src" >&2
	tar xf "$KERNEL_TARBALL" --strip-components=1 -C "$src"
	for p in "$TOP"/patches/6.12/*.patch; do
		patch -d "$src" -p1 -s <"$p"
	done
	touch "$src/.unpacked"
fi
flock -u 9

key=$( {
	echo "$src_key"
	cat "${frags[@]}" "$0"
	/usr/bin/rustc --version; clang-19 --version | head -1; bindgen --version
} | sha256sum | cut -c1-16)
dir="$CACHE/kernel/$flavour-$key"
if [ -e "$dir/.built" ]; then
	echo "$dir"
	exit 0
fi

prune "$flavour" "$dir"
tmp="$dir.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
echo "kernel.sh: building $flavour kernel in $dir (about 7 minutes)" >&2
kmake=("${KMAKE[@]}" -C "$src" O="$tmp")
"${kmake[@]}" -s tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$tmp" "$tmp/.config" "${frags[@]}" >/dev/null
"${kmake[@]}" -s olddefconfig >/dev/null

# merge_config only warns; a silently dropped option would make tests meaningless.
bad=0
while read -r line; do
	case "$line" in
	CONFIG_*=n) opt=${line%=n}
		grep -q "^$opt=" "$tmp/.config" && { echo "kernel.sh: $opt is set, wanted off" >&2; bad=1; } ;;
	CONFIG_*) grep -qx "$line" "$tmp/.config" || { echo "kernel.sh: $line did not stick" >&2; bad=1; } ;;
	esac
done < <(cat "${frags[@]}")
[ $bad -eq 0 ] || exit 1

"${kmake[@]}" -s -j"$(nproc)" >"$tmp/build.log" 2>&1 || { tail -40 "$tmp/build.log" >&2; exit 1; }
touch "$tmp/.built"
mv "$tmp" "$dir"
echo "$dir"
