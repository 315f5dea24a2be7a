#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Judges a guest's serial log: any kernel splat or a missing exit line fails.
# Prints the splat lines; exits with the guest job's status otherwise.  When
# the guest stopped before its exit line (a crash, or guest.sh's boot-wide
# timeout), names the test that was running and the durations so far.
set -euo pipefail
log=$1
# Lockdep's reports all carry one of these headers; the bare word "lockdep"
# also appears in a debug kernel's boot banner ("RCU lockdep checking is
# enabled"), which is no splat.
splat='(BUG:|WARNING:|Oops|KASAN|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|lockdep is turned off|DEBUG_LOCKS_WARN_ON|suspicious RCU|Kernel panic|kernel BUG|general protection fault|panicked at|scheduling while atomic|sleeping function called from invalid context|Call Trace)'
if grep -aEn "$splat" "$log" >&2; then
	echo "verdict: kernel splat in $log" >&2
	exit 1
fi
rc=$(sed -n 's/^GUEST-EXIT rc=\([0-9]*\).*/\1/p' "$log" | tail -1)
if [ -z "$rc" ]; then
	echo "verdict: the guest printed no exit line (crash or timeout): $log" >&2
	# The serial console ends lines with \r\n.
	last=$(tr -d '\r' <"$log" | sed -n 's/^RUN \([a-z0-9_]*\) .*/\1/p' | tail -1)
	if [ -n "$last" ] && ! grep -aqE "^(PASS|FAIL|TIMEOUT) $last\b" "$log"; then
		echo "verdict: last test started: $last (it had not ended)" >&2
	fi
	echo "verdict: durations so far:" >&2
	tr -d '\r' <"$log" | sed -nE -e 's/^(PASS|FAIL) ([a-z0-9_]+).* \(([0-9]+) ms\)$/  \2 \3 ms/p' \
		-e 's/^TIMEOUT ([a-z0-9_]+) after ([0-9]+) s$/  \1 timed out after \2 s/p' >&2
	tail -20 "$log" >&2
	exit 1
fi
exit "$rc"
