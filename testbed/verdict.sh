#!/usr/bin/env bash
# Judges a guest's serial log: any kernel splat or a missing exit line fails.
# Prints the splat lines; exits with the guest job's status otherwise.
set -euo pipefail
log=$1
splat='(BUG:|WARNING:|Oops|KASAN|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|lockdep|suspicious RCU|Kernel panic|kernel BUG|general protection fault|panicked at|scheduling while atomic|sleeping function called from invalid context|Call Trace)'
if grep -aEn "$splat" "$log" >&2; then
	echo "verdict: kernel splat in $log" >&2
	exit 1
fi
rc=$(sed -n 's/^GUEST-EXIT rc=\([0-9]*\).*/\1/p' "$log" | tail -1)
if [ -z "$rc" ]; then
	echo "verdict: the guest printed no exit line (crash or timeout): $log" >&2
	tail -20 "$log" >&2
	exit 1
fi
exit "$rc"
