#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The host side of make check: cargo test over tools/ (a static release
# build, as the guest's tools, so the two share their dependencies), then
# cargo fmt --check and clippy.  Leaves in $CACHE/logs: host-tests.log, and
# lint-cargo-fmt and lint-clippy as .log and .rc (the exit status); check.sh
# counts them.
set -uo pipefail
. "$(dirname "$0")/env.sh"
export CARGO_TARGET_DIR="$CACHE/cargo-target"
logs="$CACHE/logs"
cd "$TOP/tools" || exit 1
RUSTFLAGS="$TOOLS_RUSTFLAGS" cargo test --locked --release --target "$TOOLS_TARGET" \
	--workspace >"$logs/host-tests.log" 2>&1
cargo fmt --check >"$logs/lint-cargo-fmt.log" 2>&1
echo $? >"$logs/lint-cargo-fmt.rc"
cargo clippy --locked --workspace --all-targets -- -D warnings >"$logs/lint-clippy.log" 2>&1
echo $? >"$logs/lint-clippy.rc"
