#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Prepares the boot of a stock distribution kernel (guest.sh's debian-7.3):
# the distribution's own image and modules, unpatched and not rebuilt, as
# testbed/distro-kernel.sh unpacks them.  Puts into the initramfs tree ROOT
# the modules the test bed needs that this kernel builds as modules, each
# with the modules it depends on (the package's modules.dep), decompressed
# (busybox's insmod takes a plain ELF file), and appends their paths to
# ROOT/modules.load, each after those it depends on: the guest's init
# loads them in that order.  Prints the kernel image's path (last line).
#   stock-boot.sh KERNEL ROOT
set -euo pipefail
. "$(dirname "$0")/env.sh"

die() { echo "stock-boot.sh: $*" >&2; exit 1; }

kernel=$1 root=$2
out=$("$TOP/testbed/distro-kernel.sh" "$kernel")
dir=${out##*$'\n'}
releases=("$dir"/lib/modules/*/)
[ -d "${releases[0]}" ] && [ ${#releases[@]} -eq 1 ] ||
	die "$dir/lib/modules/ holds ${#releases[@]} releases, not one"
release=$(basename "${releases[0]}")
moddir=$dir/lib/modules/$release
image=$dir/boot/vmlinuz-$release
[ -e "$image" ] || die "no $image"
[ -e "$moddir/modules.dep" ] || die "no $moddir/modules.dep"

# A module's name as the kernel writes it, of its file's path (modules.dep
# names files, with dashes where the name may have underscores), in $name
# (no subshell: this runs for each of some thousand modules).
modname() {
	name=${1##*/}
	name=${name%%.ko*}
	name=${name//-/_}
}

# Each module's file and what it depends on.  modules.dep lists every
# module a module needs, directly or not, as files relative to moddir.
declare -A file deps builtin added
while IFS= read -r line; do
	modname "${line%%:*}"
	file[$name]=${line%%:*}
	deps[$name]=${line#*:}
done <"$moddir/modules.dep"
# What is built in, when the tree has the list (Debian 13 ships it in
# linux-base-RELEASE, with the config): a module wanted below that is built
# in needs no loading.  Without the list, a wanted module that is built in
# fails below, loudly.
if [ -e "$moddir/modules.builtin" ]; then
	while IFS= read -r line; do
		modname "$line"
		builtin[$name]=1
	done <"$moddir/modules.builtin"
fi

add() { # NAME SUBDIR: NAME and what it needs, into ROOT/SUBDIR, needs first
	local n d f name
	modname "$1"
	n=$name
	[ -z "${added[$n]:-}" ] || return 0
	added[$n]=1
	if [ -n "${builtin[$n]:-}" ]; then
		echo "stock-boot.sh: $n is built in" >&2
		return 0
	fi
	[ -n "${file[$n]:-}" ] || die "$release has no module $1 (not in modules.dep nor modules.builtin)"
	for d in ${deps[$n]}; do
		add "$d" "$2"
	done
	f=${file[$n]##*/}
	mkdir -p "$root/$2"
	case "$f" in
	*.ko.xz) xz -dc "$moddir/${file[$n]}" >"$root/$2/${f%.xz}" ;;
	*.ko) cp "$moddir/${file[$n]}" "$root/$2/$f" ;;
	*) die "$f: a compression this script does not unpack" ;;
	esac
	echo "/$2/${f%.xz}" >>"$root/modules.load"
}

# KVM in /kvm, where the suite reloads kvm-amd.ko from (t_held).
add kvm-amd kvm
# zram: the swap device of the swapped-out-page tests.  nd_e820 and nd_pmem:
# /dev/pmem0 from memmap=SIZE!START, for the fsdax test, whose ext2 file
# system ext4 mounts (this kernel has no ext2 driver: EXT4_USE_FOR_EXT2).
for m in zram nd_e820 nd_pmem ext4; do
	add "$m" modules
done
echo "$image"
