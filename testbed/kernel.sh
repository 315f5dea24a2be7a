#!/usr/bin/env bash
# Builds the test-bed kernel of one flavour (fast|debug) and prints its tree's path.
# Debian's linux-source-6.12 + patches/ + config fragments; cached under $CACHE/kernel,
# keyed by everything the build depends on, so an unchanged rerun costs seconds.
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

key=$( {
	dpkg-query -W -f '${Version}\n' linux-source-6.12
	cat "$TOP"/patches/*.patch "${frags[@]}" "$0"
	/usr/bin/rustc --version; clang-19 --version | head -1; bindgen --version
} | sha256sum | cut -c1-16)
dir="$CACHE/kernel/$flavour-$key"
if [ -e "$dir/.built" ]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$CACHE/kernel"
for old in "$CACHE/kernel/$flavour"-*; do
	[ -e "$old" ] && [ "$old" != "$dir" ] && rm -rf "$old"
done
tmp="$dir.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
echo "kernel.sh: building $flavour kernel in $dir (about 5 minutes)" >&2
tar xf "$KERNEL_TARBALL" --strip-components=1 -C "$tmp"
cd "$tmp"
for p in "$TOP"/patches/*.patch; do
	patch -p1 -s <"$p"
done
"${KMAKE[@]}" -s tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m -O . .config "${frags[@]}" >/dev/null
"${KMAKE[@]}" -s olddefconfig >/dev/null

# merge_config only warns; a silently dropped option would make tests meaningless.
bad=0
while read -r line; do
	case "$line" in
	CONFIG_*=n) opt=${line%=n}
		grep -q "^$opt=" .config && { echo "kernel.sh: $opt is set, wanted off" >&2; bad=1; } ;;
	CONFIG_*) grep -qx "$line" .config || { echo "kernel.sh: $line did not stick" >&2; bad=1; } ;;
	esac
done < <(cat "${frags[@]}")
[ $bad -eq 0 ] || exit 1

"${KMAKE[@]}" -s -j"$(nproc)" >build.log 2>&1 || { tail -40 build.log >&2; exit 1; }
touch .built
cd /
mv "$tmp" "$dir"
echo "$dir"
