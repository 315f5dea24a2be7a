#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Makes the root of a distribution's release that builds for its kernel,
# and prints its path (the last line of stdout):
#
#   testbed/distro/root.sh debian-7.3
#
# As a user of that release would set up the machine: mmdebstrap (Debian
# 12's, installed when missing) bootstraps DISTRO_SUITE from the machine's
# own Debian mirror with the kernel's toolchain (DISTRO_TOOLCHAIN of
# testbed/distro/NAME.conf), then inside the root apt installs from
# DISTRO_KERNEL_SUITE the kernel's source package and headers package
# (with whatever they depend on).  The machine's apt sources and dpkg
# database are not touched (only mmdebstrap itself may be installed).
#
# Cached as $CACHE/distro/NAME/root-KEY/, KEY of what it is made of: the
# .conf, this script, mmdebstrap's version and the mirror; a warm run
# prints it at once.  Packages are those of the day the root was made
# (delete the directory for newer ones).  Quiet on success; a failure is
# one line "gfn_to_pfn: ..." on stderr, exit 1; mmdebstrap's output is in
# $CACHE/distro/NAME/root.log.
set -euo pipefail
. "$(dirname "$0")/../env.sh"
. "$TOP/testbed/distro/lib.sh"

distro_load "${1:-}"
[ "$(id -u)" -eq 0 ] || distro_fail "making the $DISTRO root needs root (mmdebstrap, chroot); run as root"
log=$DISTRO_DIR/root.log

if ! command -v mmdebstrap >/dev/null; then
	{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap; }
	} >"$log" 2>&1 || distro_fail "cannot install mmdebstrap (see $log); apt-get install mmdebstrap"
fi
distro_mirror
key=$(distro_key "$DISTRO_CONF" "$0" "$(mmdebstrap --version)" "$MIRROR" "$(distro_source_opt)")
root=$DISTRO_DIR/root-$key
if [ -e "$root/.gfn-root" ]; then
	echo "$root"
	exit 0
fi

exec 8>"$DISTRO_DIR/.root.lock"
flock 8
if [ -e "$root/.gfn-root" ]; then
	echo "$root"
	exit 0
fi

opt=$(distro_source_opt)
tmp=$root.tmp
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
# The kernel's packages come from the backports suite, which apt installs
# from only when asked (-t): the second step, in the root, as a user of
# the release installs them.
# shellcheck disable=SC2086 # DISTRO_TOOLCHAIN is a list of words
include=$(printf '%s,' $DISTRO_TOOLCHAIN)
# In a mount namespace of its own: a mount mmdebstrap fails to undo
# ("target is busy", seen) dies with it instead of staying on the machine.
nice -n 10 unshare --mount --propagation private -- mmdebstrap --quiet --variant=apt --aptopt='APT::Install-Recommends "false"' \
	--include="${include%,}" --skip=cleanup/apt/lists \
	"$DISTRO_SUITE" "$tmp" \
	"deb [$opt] $MIRROR $DISTRO_SUITE $DISTRO_COMPONENTS" \
	"deb [$opt] $MIRROR $DISTRO_KERNEL_SUITE $DISTRO_COMPONENTS" >"$log" 2>&1 ||
	distro_fail "mmdebstrap of $DISTRO_SUITE from $MIRROR failed (see $log)"
distro_chroot "$tmp" nice -n 10 apt-get install -y -q -t "$DISTRO_KERNEL_SUITE" \
	"$DISTRO_SOURCE" "$DISTRO_HEADERS" >>"$log" 2>&1 ||
	distro_fail "apt-get install -t $DISTRO_KERNEL_SUITE $DISTRO_SOURCE $DISTRO_HEADERS in the $DISTRO root failed (see $log)"
[ -f "$tmp$DISTRO_SOURCE_TARBALL" ] ||
	distro_fail "$DISTRO_SOURCE is installed in the $DISTRO root but $DISTRO_SOURCE_TARBALL is not there; fix DISTRO_SOURCE_TARBALL in $DISTRO_CONF"
[ -f "$tmp$DISTRO_HEADERS_DIR/.config" ] && [ -f "$tmp$DISTRO_HEADERS_DIR/Module.symvers" ] ||
	distro_fail "$DISTRO_HEADERS is installed in the $DISTRO root but $DISTRO_HEADERS_DIR has no .config or Module.symvers; fix DISTRO_HEADERS_DIR in $DISTRO_CONF"
# What is in it, for the record.
distro_chroot "$tmp" dpkg-query -W -f '${Package} ${Version}\n' >"$tmp/.gfn-packages"
mv "$tmp" "$root"
trap - EXIT
touch "$root/.gfn-root"
# Roots of other keys are stale.
for old in "$DISTRO_DIR"/root-*; do
	[ "$old" = "$root" ] || [ ! -d "$old" ] || rm -rf "$old"
done
echo "$root"
