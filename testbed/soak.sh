#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make soak: the long version of the hardening tests.  10^6 parser cases on
# the host, then the guest suite on each debug kernel (6.12's, then 7.3's,
# which make check does not run; GFN_KERNELS chooses) with the soak counts of
# tools/suite/src/plan.rs (10^6 interface operations, 2000 VM cycles under
# 8 clients, 10^6 translations, 1000 maps under memslot churn) and time
# limits scaled to them.  Takes 45 to 70 minutes a kernel on 2 cores.
set -euo pipefail
. "$(dirname "$0")/env.sh"
"$TOP/testbed/deps.sh"
export CARGO_TARGET_DIR="$CACHE/cargo-target"
(cd "$TOP/tools" && GFN_FUZZ_CASES=1000000 cargo test --locked --release -p gfn-proto --test fuzz)
mkdir -p "$CACHE/logs"
rc=0
for kernel in ${GFN_KERNELS:-debug 7.3-debug}; do
	log="$CACHE/logs/guest-$kernel-soak.log"
	GFN_TIMEOUT=14400 "$TOP/testbed/guest.sh" "$kernel" soak "$log" || rc=$?
	echo "== soak on the $kernel kernel"
	grep -aE '^(PASS|FAIL|[0-9]+ passed)' "$log" || rc=1
done
exit $rc
