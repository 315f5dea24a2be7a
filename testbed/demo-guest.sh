#!/bin/sh
# The demo, inside the test guest: a KVM guest with base, THP and hugetlb
# memory whose vCPU wrote known values, translated by gfn_to_pfn.
set -e
say() { printf '\n$ %s\n' "$*"; }

say insmod gfn_to_pfn.ko
insmod /gfn_to_pfn.ko
ls -l /proc/gfn_to_pfn

mkfifo /tmp/vmm.in
gfn-vmm --slot anon:2M@0x100000 --slot thp:4M@0x400000 --slot hugetlb:2M@0x800000 \
	--write 0x100080=0x11111111 --write 0x5ff0c8=0x22222222 --write 0x9a5678=0x33333333 \
	--hold </tmp/vmm.in >/tmp/vmm.out &
exec 4>/tmp/vmm.in
while ! grep -q READY /tmp/vmm.out; do sleep 0.1; done
say "gfn-vmm (the test VMM) says"
cat /tmp/vmm.out
pid=$(sed -n 's/^VMM pid=\([0-9]*\).*/\1/p' /tmp/vmm.out)

say "echo \"0x100080 0x5ff0c8 0x9a5678 $pid\" > /proc/gfn_to_pfn; cat (same open file)"
exec 3<>/proc/gfn_to_pfn
echo "0x100080 0x5ff0c8 0x9a5678 $pid" >&3
cat <&3
exec 3>&-

say "dmesg | tail"
dmesg | grep gfn_to_pfn | tail -7

say "echo \"0x1111 0x2222 0x3333 0x4444\" > /proc/gfn_to_pfn   (the seed's example: first VM)"
exec 3<>/proc/gfn_to_pfn
echo "0x1111 0x2222 0x3333 0x4444" >&3
cat <&3
exec 3>&-

say "gfn_test 0x5ff0c8 $pid; reader --width 4 --hex <phys>   (the seed's client and reader)"
reply=$(gfn_test 0x5ff0c8 "$pid")
echo "$reply"
phys=$(echo "$reply" | sed -n 's/.*phys=\(0x[0-9a-f]*\).*/\1/p')
reader --width 4 --hex "$phys"

say "gfn_test --json --pid $pid 0x100080 0x7ff00000000"
gfn_test --json --pid "$pid" 0x100080 0x7ff00000000 || echo "(exit status $?: one address failed)"

exec 4>&-
wait
