#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Prepares, in the distribution's root (testbed/distro/root.sh), the kernel
# build tree an out-of-tree Rust module is built against: the Rust build
# products of the installed distribution kernel, made from its source
# package with its own config and its own toolchain.  Prints two lines:
# the root, then the tree's path inside it (OUT):
#
#   testbed/distro/prepare.sh debian-7.3
#
# In the root, as its user would: the source package's tarball unpacked
# in /usr/src/, the headers package's .config in OUT
# (/usr/src/linux-build-RELEASE), then
#   make O=OUT CC=DISTRO_CC HOSTCC=DISTRO_CC KERNELRELEASE=RELEASE \
#       olddefconfig prepare modules_prepare
# The config must come out unchanged (else the products would not be the
# kernel's: the one line names what differs).  Then the headers package's
# Module.symvers, the kernel's own list of exports with their crate
# hashes, replaces the one modules_prepare leaves, so that modpost checks
# the module against what the kernel really exports; and its vmlinux
# (BTF only) is put beside it for the module's BTF.
#
# Cached in the root, keyed by the root and this script (the root's key
# covers the .conf and the package versions); a warm run prints at once.
# Quiet on success; a failure is one line "gfn_to_pfn: ...", exit 1; the
# build's output is in $CACHE/distro/NAME/prepare.log.
set -euo pipefail
. "$(dirname "$0")/../env.sh"
. "$TOP/testbed/distro/lib.sh"

distro_load "${1:-}"
root=$(bash "$TOP/testbed/distro/root.sh" "$DISTRO" | tail -1)
out=/usr/src/linux-build-$DISTRO_RELEASE
src=/usr/src/$DISTRO_SOURCE
key=$(distro_key "${root##*/}" "$0")
stamp=$root$out/.gfn-prepared
if [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
	printf '%s\n%s\n' "$root" "$out"
	exit 0
fi

exec 8>"$DISTRO_DIR/.prepare.lock"
flock 8
if [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
	printf '%s\n%s\n' "$root" "$out"
	exit 0
fi

log=$DISTRO_DIR/prepare.log
kmake="make -s -j$(nproc) O=$out CC=$DISTRO_CC HOSTCC=$DISTRO_CC KERNELRELEASE=$DISTRO_RELEASE"
rm -rf "$root$src" "$root$out"
distro_chroot "$root" nice -n 10 /bin/bash -euc '
	cd /usr/src && tar -xf "$1"
	mkdir -p "$3" && cp "$4/.config" "$3/.config"
	cd "$2" && $5 olddefconfig' gfn-prepare "$DISTRO_SOURCE_TARBALL" "$src" "$out" \
	"$DISTRO_HEADERS_DIR" "$kmake" >"$log" 2>&1 ||
	distro_fail "unpacking $DISTRO_SOURCE and make olddefconfig in the $DISTRO root failed (see $log)"
[ -d "$root$src" ] || distro_fail "$DISTRO_SOURCE_TARBALL did not unpack to $src; fix DISTRO_SOURCE in $DISTRO_CONF"

# The config: the kernel's, option for option.
options() { grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set)' "$1" | sort; }
if ! diff -q <(options "$root$DISTRO_HEADERS_DIR/.config") <(options "$root$out/.config") >/dev/null; then
	changed=$(diff <(options "$root$DISTRO_HEADERS_DIR/.config") <(options "$root$out/.config") |
		sed -n 's/^\([<>]\) /\1/p' | head -6 | sed 's/^</-/; s/^>/+/' | paste -sd' ')
	distro_fail "make olddefconfig changed $DISTRO_RELEASE's config in the $DISTRO root (- kernel's, + ours: $changed); install what that option needs in the root (DISTRO_TOOLCHAIN of $DISTRO_CONF)"
fi

distro_chroot "$root" nice -n 10 /bin/bash -euc 'cd "$1" && $2 prepare modules_prepare' \
	gfn-prepare "$src" "$kmake" >>"$log" 2>&1 ||
	distro_fail "make prepare modules_prepare of $DISTRO_RELEASE in the $DISTRO root failed (see $log)"
missing=
for f in rust/libcore.rmeta rust/libkernel.rmeta rust/libmacros.so include/config/auto.conf; do
	[ -f "$root$out/$f" ] || missing+=" $f"
done
[ -z "$missing" ] || distro_fail "make modules_prepare left no${missing} in $out of the $DISTRO root (see $log)"
release=$(cat "$root$out/include/config/kernel.release")
[ "$release" = "$DISTRO_RELEASE" ] ||
	distro_fail "the prepared tree's release is $release, not $DISTRO_RELEASE (see $log)"
cp "$root$DISTRO_HEADERS_DIR/Module.symvers" "$root$out/Module.symvers"
# The headers' vmlinux (its BTF): a module's BTF is made against it, and
# the kernel checks that against its own at load.
if [ -f "$root$DISTRO_HEADERS_DIR/vmlinux" ]; then
	cp "$root$DISTRO_HEADERS_DIR/vmlinux" "$root$out/vmlinux"
fi
echo "$key" >"$stamp"
printf '%s\n%s\n' "$root" "$out"
