#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Puts Debian's qemu-system-x86_64 into an initramfs tree ROOT: the binary,
# the libraries ldd lists at their own paths, the loader, and the firmware
# a -nic none -vga none PC needs (in /qemu-fw).  Also a second-level guest
# in /inner: KERNEL and an initramfs with busybox and writer.
#   qemu-files.sh ROOT KERNEL WRITER
set -euo pipefail
root=$1 kernel=$2 writer=$3
here=$(dirname "$0")

qemu=/usr/bin/qemu-system-x86_64
mkdir -p "$root/usr/bin" "$root/qemu-fw" "$root/inner"
cp "$qemu" "$root/usr/bin/"
for lib in $(ldd "$qemu" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
cp /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
	/usr/share/qemu/kvmvapic.bin "$root/qemu-fw/"

inner=$(mktemp -d)
mkdir -p "$inner"/{bin,proc,dev}
cp /bin/busybox "$writer" "$inner/bin/"
for applet in sh mount sed; do
	ln -s busybox "$inner/bin/$applet"
done
cp "$here/inner-init" "$inner/init"
(cd "$inner" && find . | cpio -o -H newc --quiet | gzip -1) >"$root/inner/initramfs.gz"
rm -rf "$inner"
cp "$kernel" "$root/inner/bzImage"
