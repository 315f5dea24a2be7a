#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boots a kernel under QEMU (TCG, -cpu max: SVM with nested paging, so
# kvm_amd works in the guest) with an initramfs holding busybox, the module
# and the static tools, and runs one job in it.
#   guest.sh KERNEL JOB LOG
# KERNEL: a test-bed kernel, [SERIES-]FLAVOUR as kernel.sh names them (fast,
# debug, 7.3-fast, 7.3-debug), built here with the module; or debian-7.3,
# Debian's own kernel, unpatched and not rebuilt (testbed/distro-kernel.sh,
# testbed/stock-boot.sh), with the module built for it by
# testbed/distro-module.sh; its suite runs at the fast counts.
# JOB: check (the in-guest suite) | soak | bench | demo | refusals (the
# refusals that need a boot of their own, testbed/refusals-guest.sh: this
# boot is under lockdown=integrity) | profile (the load testbed/profile.sh
# samples; GFN_FILTER: single or seed).  GFN_QEMU_EXTRA: more QEMU options
# (profile.sh's QMP socket).
# GFN_FILTER=A,B runs only the suite's tests whose names contain A or B;
# GFN_TIMEOUT (seconds) bounds the whole boot: a last resort, since each test
# has its own limit inside the guest; by default 900 s on a fast kernel and
# 1500 s on a debug one (about three times what the suite takes on a
# machine twice as slow as the one docs/testing.md was measured on).
# The whole serial log is kept in LOG, and what the guest writes to its second
# serial port (/dev/ttyS1: files the suite hands to the host, see
# tools/suite/src/artifact.rs) in LOG.artifacts.  Exit status: the job's, or 1 when the
# guest printed a kernel splat or no exit line.
set -euo pipefail
. "$(dirname "$0")/env.sh"

kernel=$1 job=$2 log=$3
# gfn.kernel on the guest's command line (GFN_KERNEL in the suite's
# environment): test, a test-bed kernel; debian, Debian's own.
case "$kernel" in
debian-*) kind=debian series=${kernel#debian-} flavour=fast ;;
*-*) kind=test series=${kernel%-*} flavour=${kernel##*-} ;;
*) kind=test series=6.12 flavour=$kernel ;;
esac
work="$CACHE/work/$kernel"
mkdir -p "$work"

# The module: built out of tree from a copy of the sources against the
# test-bed kernel, or by distro-module.sh for the distribution's kernel.
if [ "$kind" = test ]; then
	kdir=$("$TOP/testbed/kernel.sh" "$kernel")
	"$TOP/testbed/module.sh" "$kdir" "$work/module" >&2
	ko=$work/module/gfn_to_pfn.ko
	# The same module finding every internal in /proc/kallsyms, exported or
	# not: the refusal tests load it (the test kernels have no
	# CONFIG_KALLSYMS_ALL, and it must say so).
	"$TOP/testbed/module.sh" "$kdir" "$work/module-kallsyms" GFN_SYMBOLS=kallsyms >&2
else
	out=$("$TOP/testbed/distro-module.sh" "$kernel")
	ko=${out##*$'\n'}
	# A module built for another kernel release, which this kernel must
	# refuse (refusal_other_release): the 6.12 test kernel's, whose tree
	# the inner guest's kernel comes from anyway.
	"$TOP/testbed/module.sh" "$("$TOP/testbed/kernel.sh" fast)" "$work/module-other-release" >&2
fi

# The refusals job needs only busybox and the module: no tools, no QEMU
# (a smaller initramfs is a quicker boot).
light=$([ "$job" = refusals ] && echo yes || echo no)
# Static tools for the guest.
[ "$light" = yes ] || "$TOP/testbed/tools.sh" >&2
bin="$CACHE/cargo-target/x86_64-unknown-linux-gnu/release"

root="$work/initramfs"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
	[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
if [ "$light" = no ]; then
	for t in ${GUEST_TOOLS:-guest-suite gfn-vmm gfn_test writer reader}; do
		cp "$bin/$t" "$root/bin/"
	done
fi
cp "$ko" "$root/gfn_to_pfn.ko"
if [ "$kind" = test ]; then
	cp "$work/module-kallsyms/gfn_to_pfn.ko" "$root/gfn_to_pfn-kallsyms.ko"
else
	cp "$work/module-other-release/gfn_to_pfn.ko" "$root/gfn_to_pfn-other-release.ko"
fi
# KVM is built as modules (a test unloads the vendor module and loads
# /kvm/kvm-amd.ko again); init loads the files modules.load lists, in its
# order.  The distribution's kernel has more as modules (stock-boot.sh).
if [ "$kind" = test ]; then
	mkdir -p "$root/kvm"
	cp "$kdir/virt/lib/irqbypass.ko" "$kdir/arch/x86/kvm/kvm.ko" \
		"$kdir/arch/x86/kvm/kvm-amd.ko" "$root/kvm/"
	printf '/kvm/%s.ko\n' irqbypass kvm kvm-amd >"$root/modules.load"
	image=$kdir/arch/x86/boot/bzImage
else
	out=$("$TOP/testbed/stock-boot.sh" "$kernel" "$root")
	image=${out##*$'\n'}
fi
# Real QEMU and a second-level Linux guest for the seed's workflow; the
# 6.12 fast kernel serves as the inner guest's kernel, whatever the kernel
# under test (the host's): the 7.3 test kernel, booted as that
# inner guest (KVM's nested SVM under TCG), oopses in rest_init.
if [ "$light" = no ]; then
	inner_kernel="$("$TOP/testbed/kernel.sh" fast)/arch/x86/boot/bzImage"
	"$TOP/testbed/qemu-files.sh" "$root" "$inner_kernel" "$bin/writer"
fi
cp "$TOP/testbed/init" "$root/init"
cp "$TOP/testbed/demo-guest.sh" "$root/demo.sh"
cp "$TOP/testbed/refusals-guest.sh" "$root/refusals.sh"
echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
echo "nobody:x:65534:65534:nobody:/:/bin/sh" >>"$root/etc/passwd"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.gz"

# Under TCG the guest's TSC is the host's.  On a loaded host the guest can
# fail to calibrate it against the PIT and run with tsc_khz = 0, on which
# KVM_RUN loops forever; so tell the guest the host's TSC rate up front.
tsc_khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
tsc_arg=${tsc_khz:+tsc_early_khz=$tsc_khz}
# numa=fake=2: two NUMA nodes for the node tests.  tsc=reliable: the
# clocksource watchdog would otherwise judge the TSC by jiffies, which TCG
# delays under load, and fall back to a 4 ms clock.  One 1 GiB hugetlb page,
# reserved at boot on node 1, for the 1 GiB test: with 6 GiB on q35, RAM is
# [0, 2G) and [4G, 8G), node 1 the upper 3 GiB of it, with free aligned
# GiBs (QEMU puts the initrd just below 2G, and early boot allocations take
# the top of memory).  memmap=256M!7G: an emulated pmem device
# (/dev/pmem0) for the fsdax test, out of node 1's RAM.

# The refusals job: lockdown as a secure boot would set it (integrity: no
# unsigned modules), which only a kernel with the lockdown LSM has.
extra=$([ "$job" = refusals ] && echo " lockdown=integrity" || true)

echo "guest.sh: booting the $kernel kernel ($kind, $series $flavour) for '$job' (log: $log)" >&2
artifacts="$log.artifacts"
rm -f "$artifacts"
rc=0
case "$flavour" in fast) boot_limit=900 ;; *) boot_limit=1500 ;; esac
# The distribution's kernel runs its two vCPUs in one host thread
# (thread=single), not one thread each: it patches its own text at run time
# (CONFIG_JUMP_LABEL, which the test kernels lack), and KVM flips a static
# key in __schedule() whenever the first VM comes or the last one goes
# (preempt notifiers).  Under multi-threaded TCG a vCPU then sometimes runs
# the int3 of text_poke_bp() after the patch is done, and the kernel
# oopses ("Oops: int3" at __schedule+0x3f3, on both CPUs): seen with
# nothing but `gfn-vmm --cycles 300` three times over, gfn_to_pfn not
# loaded, within 600 cycles; with thread=single, 1800 cycles ran clean.
accel=tcg
[ "$kind" = test ] || accel=tcg,thread=single
# -M q35 with ACPI in the kernel: the guest sees both CPUs (on the default
# machine without ACPI it saw only the boot CPU of SeaBIOS's MP table).
timeout "${GFN_TIMEOUT:-$boot_limit}" qemu-system-x86_64 -M q35 -accel "$accel" -cpu max -smp 2 -m 6144 \
	-kernel "$image" -initrd "$work/initramfs.gz" \
	-append "console=ttyS0 loglevel=5 panic=-1 numa=fake=2 tsc=reliable hugepagesz=1G hugepages=1:1 memmap=256M!7G $tsc_arg gfn.job=$job gfn.flavour=$flavour gfn.series=$series gfn.kernel=$kind$extra${GFN_FILTER:+ gfn.filter=$GFN_FILTER}" \
	-serial mon:stdio -serial "file:$artifacts" \
	-nographic -no-reboot -nic none -vga none ${GFN_QEMU_EXTRA:-} </dev/null >"$log" 2>&1 || rc=$?
if [ "$rc" -eq 124 ]; then
	echo "guest.sh: the boot-wide limit of ${GFN_TIMEOUT:-$boot_limit} s stopped the guest" >&2
fi

"$TOP/testbed/verdict.sh" "$log"
