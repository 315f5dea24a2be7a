#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Where a single address's time goes, in a test guest: boots KERNEL (a
# test-bed kernel: fast, debug, 7.3-fast, 7.3-debug) for the profile job,
# which asks single addresses for a minute WHAT way (single: write and
# pread on one open file, as the bench's goal row; seed: open, write,
# read, close each), and samples where each vCPU is from outside, through
# QEMU's QMP socket (testbed/profile.py; the test kernels have no ftrace
# or perf, and the guest needs nothing).  Prints the share of samples per
# function of vCPU 0, where the load runs, then the module's samples by
# source line (from a twin of the module built with debug information, in
# OUT.debuginfo); keeps the serial log in OUT and the samples in
# OUT.samples.  Not a test.
#   profile.sh KERNEL single|seed OUT
set -euo pipefail
. "$(dirname "$0")/env.sh"

kernel=$1 what=$2 out=$3
case "$kernel" in
debian-*) echo "profile.sh: test-bed kernels only (Debian's has KASLR and no System.map here)" >&2; exit 2 ;;
esac
sock=$(mktemp -u /tmp/gfn-qmp.XXXXXX)
rm -f "$out"
GFN_FILTER=$what GFN_QEMU_EXTRA="-qmp unix:$sock,server=on,wait=off" \
	"$TOP/testbed/guest.sh" "$kernel" profile "$out" &
guest=$!
rc=0
"$TOP/testbed/profile.py" sample "$sock" "$out" "$out.samples" || rc=$?
wait "$guest" || rc=$?
rm -f "$sock"
[ "$rc" -eq 0 ] || exit "$rc"
grep -a "^PROFILE-END" "$out"
kdir=$("$TOP/testbed/kernel.sh" "$kernel")
"$TOP/testbed/profile.py" report "$kdir/System.map" "$out" "$out.samples"
# The module's samples by source line: a twin of the module that ran, with
# debug information (which changes no code: profile.py checks its layout).
"$TOP/testbed/module.sh" "$kdir" "$out.debuginfo" KRUSTFLAGS=-Cdebuginfo=2 KCFLAGS=-g >&2
"$TOP/testbed/profile.py" lines "$out.debuginfo/gfn_to_pfn.ko" "$out" "$out.samples"
