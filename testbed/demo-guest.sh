#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo, inside the test guest (kernel with the vm_list patch, KVM).
# Act 1, what users do: QEMU (memfd-backed guest RAM, as vhost-user and live
# update use) boots a Linux guest that runs writer; the host side translates
# writer's address with QEMU's pid, reads the value back, and asks whose
# guest memory that host page is; then the same guest on THP-backed RAM,
# and why each is huge or not.
# Act 2: the test VMM with base, THP and hugetlb memory, several addresses,
# its picture, and watch telling a THP split and collapsed.
set -e
say() { printf '\n$ %s\n' "$*"; }
hand_over() { # FILE: to the host, on the second serial port (demo.sh saves it)
	stty -F /dev/ttyS1 raw
	printf 'GFN-ARTIFACT test=demo file=%s bytes=%s\n' "${1##*/}" "$(wc -c <"$1")" >/dev/ttyS1
	cat "$1" >/dev/ttyS1
	printf '\n' >/dev/ttyS1
}
tsc=$(awk -F: '/^cpu MHz/ { printf "tsc_early_khz=%d", $2 * 1000; exit }' /proc/cpuinfo)

# Only the demo's own output on the console; the kernel log is shown by dmesg.
dmesg -n 1

say insmod gfn_to_pfn.ko
insmod /gfn_to_pfn.ko
ls -l /proc/gfn_to_pfn

say "qemu-system-x86_64 -name guest=demo -accel kvm -m 256 -object memory-backend-memfd,...,share=on,prealloc=on ...  (guest runs: writer 77)"
qemu-system-x86_64 -name guest=demo -M pc -accel kvm -cpu host -m 256 \
	-object memory-backend-memfd,id=m0,size=256M,share=on,prealloc=on -machine memory-backend=m0 \
	-nic none -vga none -nographic -no-reboot -L /qemu-fw \
	-kernel /inner/bzImage -initrd /inner/initramfs.gz \
	-append "console=ttyS0 loglevel=3 $tsc writer.value=77" </dev/null >/tmp/qemu.out 2>&1 &
qemu=$!
while ! grep -qs '^WRITER' /tmp/qemu.out; do sleep 0.2; done
echo "(the Linux guest's console:)"
tr -d '\r' </tmp/qemu.out | grep -aoE '(value|virtual address|guest frame number|guest physical address|on the host, run):.*|WRITER .*' 
gpa=$(tr -d '\r' </tmp/qemu.out | sed -n 's/^WRITER gpa=\(0x[0-9a-f]*\).*/\1/p')

say "echo \"$gpa $qemu\" > /proc/gfn_to_pfn; dmesg | tail -2"
echo "$gpa $qemu" >/proc/gfn_to_pfn
dmesg | tail -2

say "gfn_test $gpa $qemu"
reply=$(gfn_test "$gpa" "$qemu")
echo "$reply"
phys=$(echo "$reply" | sed -n 's/.*phys=\(0x[0-9a-f]*\).*/\1/p')

say "reader $phys"
reader "$phys"

say "gfn_test hpa $phys   (and back: whose guest memory is that host page? SMM's address space aliases RAM)"
gfn_test hpa "$phys"

say "gfn_test vms; gfn_test slots --pid $qemu"
gfn_test vms
gfn_test slots --pid "$qemu"

say "gfn_test map --pid $qemu | head -8; ... | wc -l   (every page of the VM, runs merged, nothing faulted in)"
gfn_test map --pid "$qemu" >/tmp/map.txt
head -8 /tmp/map.txt
wc -l </tmp/map.txt

say "gfn_test stats --domain demo   (the same map, summed up; the VM found by its name)"
gfn_test stats --domain demo

say "gfn_test explain --domain demo   (why the guest's memory is not huge: KVM's own mappings, then memslot by memslot)"
gfn_test explain --domain demo

say "gfn_test metrics --domain demo   (the same figures as Prometheus text, for node_exporter)"
gfn_test metrics --domain demo >/tmp/metrics.prom
cat /tmp/metrics.prom
hand_over /tmp/metrics.prom

say "gfn_test map --domain demo --svg /tmp/qemu.svg"
gfn_test map --domain demo --svg /tmp/qemu.svg
hand_over /tmp/qemu.svg
kill $qemu
wait $qemu 2>/dev/null || true

say "qemu-system-x86_64 -name guest=demo-thp ... -object memory-backend-ram,id=m0,size=256M,prealloc=on ...   (the same guest on anonymous RAM, which QEMU aligns to 2 MiB and advises MADV_HUGEPAGE)"
qemu-system-x86_64 -name guest=demo-thp -M pc -accel kvm -cpu host -m 256 \
	-object memory-backend-ram,id=m0,size=256M,prealloc=on -machine memory-backend=m0 \
	-nic none -vga none -nographic -no-reboot -L /qemu-fw \
	-kernel /inner/bzImage -initrd /inner/initramfs.gz \
	-append "console=ttyS0 loglevel=3 $tsc writer.value=78" </dev/null >/tmp/qemu-thp.out 2>&1 &
qemu=$!
while ! grep -qs '^WRITER' /tmp/qemu-thp.out; do sleep 0.2; done

say "gfn_test vms; gfn_test stats --domain demo-thp | tail -3"
gfn_test vms
gfn_test stats --domain demo-thp | tail -3

say "gfn_test explain --domain demo-thp"
gfn_test explain --domain demo-thp
kill $qemu
wait $qemu 2>/dev/null || true

mkfifo /tmp/vmm.in
gfn-vmm --slot anon:1M@0x0 --slot anon:2M@0x100000 --slot thp:4M@0x400000 --slot hugetlb:2M@0x800000 \
	--write 0x100080=0x11111111 --write 0x5ff0c8=0x22222222 --write 0x9a5678=0x33333333 \
	--hold </tmp/vmm.in >/tmp/vmm.out &
exec 4>/tmp/vmm.in
while ! grep -qs READY /tmp/vmm.out; do sleep 0.1; done
say "gfn-vmm ...   (the test VMM: base, THP and hugetlb memslots; its vCPU wrote three values)"
cat /tmp/vmm.out
pid=$(sed -n 's/^VMM pid=\([0-9]*\).*/\1/p' /tmp/vmm.out)

say "exec 3<>/proc/gfn_to_pfn; echo \"0x100080 0x5ff0c8 0x9a5678 0x7ff00000000 zz $pid\" >&3; cat <&3"
exec 3<>/proc/gfn_to_pfn
echo "0x100080 0x5ff0c8 0x9a5678 0x7ff00000000 zz $pid" >&3
cat <&3
exec 3>&-

say "dmesg | tail -8"
dmesg | tail -8

say "echo \"0x1111 0x2222 0x3333 0x4444\" > /proc/gfn_to_pfn   (the seed's example: first VM)"
exec 3<>/proc/gfn_to_pfn
echo "0x1111 0x2222 0x3333 0x4444" >&3
cat <&3
exec 3>&-

say "gfn_test map --pid $pid 0x400000-0x800000   (the THP memslot: one line per 2 MiB page)"
gfn_test map --pid "$pid" 0x400000-0x800000

say "gfn_test map --pid $pid --svg /tmp/vmm.svg   (the picture in docs/tools.md)"
gfn_test map --pid "$pid" --svg /tmp/vmm.svg
hand_over /tmp/vmm.svg

say "gfn_test --json --pid $pid 0x9a5678"
gfn_test --json --pid "$pid" 0x9a5678

say "reader --width 4 --hex <phys of 0x9a5678>"
reader --width 4 --hex "$(gfn_test 0x9a5678 "$pid" | sed -n 's/.*phys=\(0x[0-9a-f]*\).*/\1/p')"

say "gfn_test watch --pid $pid --interval 0.5 &   (what moves: the VMM splits its first THP by mprotect of one page, then collapses it)"
gfn_test watch --pid "$pid" --interval 0.5 >/tmp/watch.out &
watch=$!
sleep 1.5
echo "protect 0x400000" >&4
sleep 1.5
echo "collapse 0x400000" >&4
sleep 1.5
kill $watch
cat /tmp/watch.out

exec 4>&-
wait
