#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest side of guest.sh's refusals job: the refusals that need a boot
# of their own, here one booted with lockdown=integrity (what a secure boot
# sets on Debian's kernel).  Under lockdown the kernel refuses an unsigned
# module before the module's init runs, so the module cannot say why: the
# kernel's own line is what tells the user.  Prints "PASS name (N ms)" or
# "FAIL name: why (N ms)" per test and "N passed, M failed" at the end,
# which testbed/check.sh counts.
passed=0 failed=0
ko=/gfn_to_pfn.ko

ms() { # the uptime in ms
	awk '{ printf "%d", $1 * 1000 }' /proc/uptime
}
result() { # name start why (empty: passed)
	if [ -z "$3" ]; then
		echo "PASS $1 ($(($(ms) - $2)) ms)"
		passed=$((passed + 1))
	else
		echo "FAIL $1: $3 ($(($(ms) - $2)) ms)"
		failed=$((failed + 1))
	fi
}

# refusal_lockdown: insmod fails; the kernel log has lockdown's refusal of
# an unsigned module (security/lockdown/lockdown.c: "Lockdown: insmod:
# unsigned module loading is restricted; see man kernel_lockdown.7"), and
# no line of or about the module ("gfn_to_pfn: ...": the loader's taint
# lines, the module's own "not loaded" or "ready"), since the loading
# stopped before them;
# /proc/modules has no gfn_to_pfn and /proc/gfn_to_pfn is not there.
start=$(ms)
why=
state=$(cat /sys/kernel/security/lockdown 2>&1)
case "$state" in
*"[integrity]"*) ;;
*) why="the kernel is not locked down (integrity): /sys/kernel/security/lockdown: $state" ;;
esac
if [ -z "$why" ]; then
	mark="refusals: insmod under lockdown at $start ms"
	echo "$mark" >/dev/kmsg
	if said=$(insmod "$ko" 2>&1); then
		why="insmod loaded the module under lockdown"
		rmmod gfn_to_pfn
	else
		# The kernel's lines since the mark.
		log=$(dmesg | awk -v m="$mark" 'index($0, m) { on = 1 } on')
		if ! echo "$log" | grep -q 'Lockdown: insmod: unsigned module loading is restricted'; then
			why="insmod failed ($said), but the kernel log has no lockdown refusal: $(echo "$log" | tail -n +2 | tail -3)"
		elif echo "$log" | grep -q 'gfn_to_pfn: '; then
			why="the loading went on past the refusal: $(echo "$log" | grep 'gfn_to_pfn: ' | head -1)"
		elif grep -q '^gfn_to_pfn ' /proc/modules; then
			why="/proc/modules lists gfn_to_pfn after the refusal"
		elif [ -e /proc/gfn_to_pfn ]; then
			why="/proc/gfn_to_pfn exists after the refusal"
		else
			echo "     insmod: $said"
			echo "     kernel: $(echo "$log" | grep -m1 'Lockdown: insmod')"
		fi
	fi
fi
result refusal_lockdown "$start" "$why"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
