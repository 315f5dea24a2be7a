#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make soak: the long version of the hardening tests.  10^6 parser cases on
# the host; then the guest suite, at its fast counts, on the patched 7.3
# test kernel (7.3-fast), which make check no longer runs (it runs Debian's
# own 7.3 instead), so that the patches' path stays built and tested
# (GFN_CHECK_KERNELS chooses, empty for none; about 15 minutes with the
# kernel's build); then the guest suite on each debug kernel (6.12's, then
# 7.3's; GFN_KERNELS chooses) with the soak counts of
# tools/suite/src/plan.rs (10^6 interface operations, 2000 VM cycles under
# 8 clients, 10^6 translations, 1000 maps under memslot churn) and time
# limits scaled to them.  Takes 45 to 70 minutes a debug kernel on 2 cores.
set -euo pipefail
. "$(dirname "$0")/env.sh"
"$TOP/testbed/deps.sh"
export CARGO_TARGET_DIR="$CACHE/cargo-target"
(cd "$TOP/tools" && GFN_FUZZ_CASES=1000000 cargo test --locked --release -p gfn-proto --test fuzz)
mkdir -p "$CACHE/logs"
rc=0
for kernel in ${GFN_CHECK_KERNELS-7.3-fast}; do
	log="$CACHE/logs/guest-$kernel-check.log"
	"$TOP/testbed/guest.sh" "$kernel" check "$log" || rc=1
	echo "== suite on the $kernel kernel"
	grep -aE '^(PASS|FAIL|SKIP|TIMEOUT|[0-9]+ passed)' "$log" || rc=1
done
for kernel in ${GFN_KERNELS:-debug 7.3-debug}; do
	log="$CACHE/logs/guest-$kernel-soak.log"
	GFN_TIMEOUT=14400 "$TOP/testbed/guest.sh" "$kernel" soak "$log" || rc=$?
	echo "== soak on the $kernel kernel"
	grep -aE '^(PASS|FAIL|SKIP|TIMEOUT|[0-9]+ passed)' "$log" || rc=1
done
exit $rc
