#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The host side of make check: cargo test over tools/ (a static release
# build, as the guest's tools, so the two share their dependencies) and
# testbed/kdir-check-test.sh and testbed/check-patches.sh, then cargo fmt
# --check and clippy.  Leaves in $CACHE/logs: host-tests.log (with
# kdir-check-test.log and a result line of check-patches.log appended), and
# lint-cargo-fmt and lint-clippy as .log and .rc (the exit status); check.sh
# counts them.
set -uo pipefail
. "$(dirname "$0")/env.sh"
export CARGO_TARGET_DIR="$CACHE/cargo-target"
logs="$CACHE/logs"
cd "$TOP/tools" || exit 1
RUSTFLAGS="$TOOLS_RUSTFLAGS" cargo test --locked --release --target "$TOOLS_TARGET" \
	--workspace >"$logs/host-tests.log" 2>&1
# kdir-check.sh's tests on fake trees: their cargo-like "test result:" line,
# appended to host-tests.log, is counted with cargo's; only when cargo's own
# are there, so that a cargo test that did not run still reads as such.
"$TOP/testbed/kdir-check-test.sh" >"$logs/kdir-check-test.log" 2>&1 ||
	grep -aq 'test result:' "$logs/kdir-check-test.log" ||
	echo "test result: FAILED. 0 passed; 1 failed (kdir-check-test.sh gave no result)" >>"$logs/kdir-check-test.log"
grep -aq 'test result:' "$logs/host-tests.log" && cat "$logs/kdir-check-test.log" >>"$logs/host-tests.log"
# Each series' patches apply to Debian's source with patch -p1 and git am:
# its PASS/FAIL lines, counted as one more cargo-like result line.
"$TOP/testbed/check-patches.sh" >"$logs/check-patches.log" 2>&1
p=$(grep -ac '^PASS ' "$logs/check-patches.log") f=$(grep -ac '^FAIL ' "$logs/check-patches.log")
[ "$p" -gt 0 ] || f=$((f + 1))
grep -aq 'test result:' "$logs/host-tests.log" &&
	echo "test result: $([ "$f" -eq 0 ] && echo ok || echo FAILED). $p passed; $f failed (check-patches)" >>"$logs/host-tests.log"
cargo fmt --check >"$logs/lint-cargo-fmt.log" 2>&1
echo $? >"$logs/lint-cargo-fmt.rc"
cargo clippy --locked --workspace --all-targets -- -D warnings >"$logs/lint-clippy.log" 2>&1
echo $? >"$logs/lint-clippy.rc"
