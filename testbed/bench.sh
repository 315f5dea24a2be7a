#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: the speed table of README, measured inside the fast test guest
# (where KVM works) in one run, so ratios hold on a noisy host.  Not a test.
set -euo pipefail
. "$(dirname "$0")/env.sh"
"$TOP/testbed/deps.sh"
mkdir -p "$CACHE/logs"
log="$CACHE/logs/guest-fast-bench.log"
rc=0
"$TOP/testbed/guest.sh" fast bench "$log" || rc=$?
grep -a '^BENCH' "$log" | sed 's/^BENCH //' || true
exit $rc
