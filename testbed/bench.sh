#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: the speed tables of docs/performance.md, measured inside a
# test guest (where KVM works), each table in one run, so ratios hold on a
# noisy host.  Not a test.  On the fast test kernel (built -O2, as distributions build theirs:
# config/optimize.config) and on Debian's own 7.3 kernel, unmodified
# (guest.sh debian-7.3); GFN_BENCH_KERNELS chooses, and GFN_FILTER the rows
# (tools/suite/src/bench.rs: backings, requests, singles, big).
set -euo pipefail
. "$(dirname "$0")/env.sh"
"$TOP/testbed/deps.sh"
mkdir -p "$CACHE/logs"
rc=0
for kernel in ${GFN_BENCH_KERNELS-fast debian-7.3}; do
	log="$CACHE/logs/guest-$kernel-bench.log"
	"$TOP/testbed/guest.sh" "$kernel" bench "$log" || rc=$?
	echo "== bench on the $kernel kernel ($(grep -a -m1 'Linux version' "$log" | sed 's/.*Linux version \([^ ]*\).*/\1/'))"
	grep -a '^BENCH' "$log" | sed 's/^BENCH //' || true
done
exit $rc
