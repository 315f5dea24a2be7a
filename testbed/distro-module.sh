#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds gfn_to_pfn.ko for a distribution's own, unmodified kernel, as a
# user of that distribution would, and prints the .ko's absolute path (the
# last line of stdout):
#
#   testbed/distro-module.sh debian-7.3      (make distro-module DISTRO=debian-7.3)
#
# testbed/distro/NAME.conf says which kernel and release.  In a root of
# that release (testbed/distro/root.sh: its toolchain, its kernel's source
# and headers packages, installed with its apt) the kernel's Rust build
# products are made from its source package with its own config and
# compiler (testbed/distro/prepare.sh), and this module is built against
# them from a copy of its sources in ROOT/build/gfn_to_pfn, with the
# Makefile's modules target, as a user would:
#   make KDIR=OUT CC=DISTRO_CC HOSTCC=DISTRO_CC KERNELRELEASE=RELEASE modules
# (KERNELRELEASE: the vermagic must be the kernel's release, which its
# make would otherwise take from the sources, without Debian's suffix).
# The Makefile runs testbed/kdir-check.sh first: the toolchain must be the
# kernel's (same rustc, same C compiler), the Rust products there, the
# kernel's exports or CONFIG_KALLSYMS_ALL.  After it, every undefined
# symbol of the .ko must be exported to it by the kernel's own
# Module.symvers (testbed/distro/symvers-check.sh).
#
# GFN_SYMBOLS=kallsyms in the environment (make's variable) goes to the
# module's make.  Everything is cached ($CACHE/distro/NAME/); a warm run
# costs seconds.  Quiet on success; a failure is one line
# "gfn_to_pfn: ...", exit 1; the build's output is in
# $CACHE/distro/NAME/module.log.
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$TOP/testbed/distro/lib.sh"

distro_load "${1:-}"
{ read -r root && read -r out; } < <(bash "$TOP/testbed/distro/prepare.sh" "$DISTRO")
[ -n "${out:-}" ] || exit 1 # prepare.sh said why
m=/build/gfn_to_pfn
log=$DISTRO_DIR/module.log

exec 8>"$DISTRO_DIR/.module.lock"
flock 8

# The sources the build needs, as testbed/module.sh copies them; only what
# changed, so make's timestamps stay meaningful.
cd "$TOP"
for f in Kbuild Makefile module/*.rs module/*/*.rs shim/* tools/proto/src/*.rs \
	testbed/kdir-check.sh patches/*/*.patch; do
	[ -f "$f" ] || continue
	if ! cmp -s "$f" "$root$m/$f"; then
		mkdir -p "$(dirname "$root$m/$f")"
		cp "$f" "$root$m/$f"
	fi
done

args=(KDIR="$out" CC="$DISTRO_CC" HOSTCC="$DISTRO_CC" KERNELRELEASE="$DISTRO_RELEASE")
[ -z "${GFN_SYMBOLS:-}" ] || args+=(GFN_SYMBOLS="$GFN_SYMBOLS")
# A build for other arguments than the last one's starts clean.
stamp=$root$m/.gfn-args
if [ "$(cat "$stamp" 2>/dev/null)" != "${args[*]}" ]; then
	rm -f "$stamp"
	distro_chroot "$root" make -s -C "$m" KDIR="$out" clean >/dev/null 2>&1 || true
fi
rm -f "$root$m/gfn_to_pfn.ko"
rc=0
distro_chroot "$root" nice -n 10 make -s -j"$(nproc)" -C "$m" "${args[@]}" modules >"$log" 2>&1 || rc=$?
echo "${args[*]}" >"$stamp"
if [ "$rc" -ne 0 ]; then
	# kdir-check.sh's own line, else the first undefined symbols modpost
	# names, else the first compiler error.
	line=$(grep -m1 '^gfn_to_pfn: ' "$log" || true)
	[ -z "$line" ] || distro_fail "${line#gfn_to_pfn: }"
	# modpost's two formats: 7.x "M.ko: symbol 'S' undefined!", older
	# "\"S\" [M.ko] undefined!".
	undef=$(sed -n -e "s/^ERROR: modpost: .*: symbol '\\([^']*\\)' undefined!\$/\\1/p" \
		-e 's/^ERROR: modpost: "\([^"]*\)" \[.*\] undefined!$/\1/p' "$log")
	if [ -n "$undef" ]; then
		n=$(printf '%s\n' "$undef" | wc -l)
		first=$(printf '%s\n' "$undef" | head -5 | paste -sd, | sed 's/,/, /g')
		distro_fail "$n undefined symbol(s) of gfn_to_pfn.ko are not exported by $DISTRO_RELEASE ($out/Module.symvers, Debian's own): $first$([ "$n" -gt 5 ] && echo ', ...'); the module must find them in /proc/kallsyms where the kernel does not export them (see $log)"
	fi
	err=$(grep -m1 -E '^(error(\[E[0-9]+\])?: |.*: error: |ERROR: modpost: )' "$log" || true)
	distro_fail "building gfn_to_pfn.ko for $DISTRO_RELEASE in the $DISTRO root failed${err:+: $err} (see $log)"
fi
ko=$root$m/gfn_to_pfn.ko
[ -f "$ko" ] || distro_fail "the build for $DISTRO_RELEASE succeeded but left no $ko (see $log)"
vermagic=$(modinfo -F vermagic "$ko" 2>/dev/null || true)
[[ "$vermagic" == "$DISTRO_RELEASE "* ]] ||
	distro_fail "$ko has vermagic '$vermagic', not $DISTRO_RELEASE's; the kernel would refuse it (see $log)"
bash "$TOP/testbed/distro/symvers-check.sh" "$ko" "$root$DISTRO_HEADERS_DIR/Module.symvers"
echo "$ko"
