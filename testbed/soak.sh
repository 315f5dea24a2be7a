#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make soak: the long version of the hardening tests.  10^6 parser cases on
# the host, then the guest suite on the debug kernel with the soak counts of
# tools/suite/src/plan.rs (10^6 interface operations, 2000 VM cycles under
# 8 clients, 10^6 translations, 1000 maps under memslot churn) and time
# limits scaled to them.  Takes 45 to 70 minutes on 2 cores.
set -euo pipefail
. "$(dirname "$0")/env.sh"
"$TOP/testbed/deps.sh"
export CARGO_TARGET_DIR="$CACHE/cargo-target"
(cd "$TOP/tools" && GFN_FUZZ_CASES=1000000 cargo test --locked --release -p gfn-proto --test fuzz)
mkdir -p "$CACHE/logs"
log="$CACHE/logs/guest-debug-soak.log"
rc=0
GFN_TIMEOUT=14400 "$TOP/testbed/guest.sh" debug soak "$log" || rc=$?
grep -aE '^(PASS|FAIL|[0-9]+ passed)' "$log"
exit $rc
