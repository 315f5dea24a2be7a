#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetches a distribution's own kernel, unmodified, for the test bed to boot,
# and prints the directory it is unpacked in (the last line of stdout):
#
#   testbed/distro-kernel.sh debian-7.3
#
# DIR/boot/vmlinuz-RELEASE and DIR/lib/modules/RELEASE/ (its modules as
# the package ships them, .ko.xz, and the modules.dep depmod makes of them)
# are there; RELEASE is DISTRO_RELEASE of testbed/distro/NAME.conf.  The image metapackage's parts that hold the
# files (Debian 13: linux-binary-RELEASE and linux-modules-RELEASE, read
# from its Depends) are downloaded with apt-get download and a private apt
# state under $CACHE/distro/NAME/apt-kernel/, and unpacked with dpkg-deb -x:
# nothing is installed on this machine, its apt sources are not touched.
#
# Cached in $CACHE/distro/NAME/kernel-RELEASE/, keyed by the release (a
# package of the same release is the same kernel; delete the directory to
# fetch a newer upload).  Idempotent; quiet on success; a failure is one
# line "gfn_to_pfn: ..." on stderr and exit 1.
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$TOP/testbed/distro/lib.sh"

distro_load "${1:-}"
out=$DISTRO_DIR/kernel-$DISTRO_RELEASE
done_file=$out/.gfn-unpacked
if [ -e "$done_file" ]; then
	echo "$out"
	exit 0
fi

exec 9>"$DISTRO_DIR/.kernel.lock"
flock 9
if [ -e "$done_file" ]; then
	echo "$out"
	exit 0
fi

apt_dir=$DISTRO_DIR/apt-kernel
distro_apt "$apt_dir" "$DISTRO_KERNEL_SUITE"
log=$apt_dir/apt.log
: >"$log"
apt-get "${APT_OPTS[@]}" update >>"$log" 2>&1 ||
	distro_fail "apt-get update of $DISTRO_KERNEL_SUITE from $MIRROR failed (see $log); check the network or set GFN_DEBIAN_MIRROR"
# The parts: the image package's dependencies of the release that carry
# its files.
deps=$(apt-cache "${APT_OPTS[@]}" depends --no-recommends --no-suggests "$DISTRO_IMAGE" 2>>"$log") ||
	distro_fail "$DISTRO_IMAGE is not in $DISTRO_KERNEL_SUITE (see $log); fix DISTRO_RELEASE in $DISTRO_CONF"
mapfile -t parts < <(printf '%s\n' "$deps" | sed -n 's/^ *Depends: \([^ ]*\)$/\1/p' |
	grep -E "$DISTRO_IMAGE_PARTS_RE" | grep -F -- "$DISTRO_RELEASE" | sort -u)
[ "${#parts[@]}" -gt 0 ] ||
	distro_fail "$DISTRO_IMAGE depends on no package matching $DISTRO_IMAGE_PARTS_RE (its Depends: $(printf '%s' "$deps" | sed -n 's/^ *Depends: //p' | tr '\n' ' ')); fix DISTRO_IMAGE_PARTS_RE in $DISTRO_CONF"

dl=$apt_dir/download
rm -rf "$dl" && mkdir -p "$dl"
(cd "$dl" && apt-get "${APT_OPTS[@]}" download "${parts[@]}") >>"$log" 2>&1 ||
	distro_fail "apt-get download ${parts[*]} failed (see $log)"

tmp=$out.tmp
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
for deb in "$dl"/*.deb; do
	dpkg-deb -x "$deb" "$tmp" 2>>"$log" || distro_fail "dpkg-deb -x ${deb##*/} failed (see $log)"
	dpkg-deb -W --showformat '${Package} ${Version}\n' "$deb" >>"$tmp/.gfn-packages"
done
# Debian 13's packages ship under /usr/lib (merged /usr; /lib is a link
# to it on the system): the same here.
if [ ! -e "$tmp/lib" ] && [ -d "$tmp/usr/lib/modules" ]; then
	ln -s usr/lib "$tmp/lib"
fi
# The image is modules/RELEASE/vmlinuz; the system's kernel-install hooks
# put it at /boot/vmlinuz-RELEASE, which the boot loader reads.
mkdir -p "$tmp/boot"
if [ ! -e "$tmp/boot/vmlinuz-$DISTRO_RELEASE" ] && [ -f "$tmp/lib/modules/$DISTRO_RELEASE/vmlinuz" ]; then
	ln "$tmp/lib/modules/$DISTRO_RELEASE/vmlinuz" "$tmp/boot/vmlinuz-$DISTRO_RELEASE"
fi
[ -f "$tmp/boot/vmlinuz-$DISTRO_RELEASE" ] ||
	distro_fail "no vmlinuz in ${parts[*]}; fix DISTRO_IMAGE_PARTS_RE in $DISTRO_CONF"
[ -d "$tmp/lib/modules/$DISTRO_RELEASE/kernel" ] ||
	distro_fail "no lib/modules/$DISTRO_RELEASE/kernel in ${parts[*]}; fix DISTRO_IMAGE_PARTS_RE in $DISTRO_CONF"
# modules.dep and the rest, as the package's installation makes them.
depmod -b "$tmp" "$DISTRO_RELEASE" 2>>"$log" ||
	distro_fail "depmod of $DISTRO_RELEASE's modules failed (see $log)"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
rm -rf "$dl"
touch "$done_file"
echo "$out"
