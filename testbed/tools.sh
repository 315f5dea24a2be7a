#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the tools/ workspace as static binaries for the test guest.
set -euo pipefail
. "$(dirname "$0")/env.sh"
export CARGO_TARGET_DIR="$CACHE/cargo-target"
# Packages whose binaries go into the test guest.
GUEST_TOOLS=${GUEST_TOOLS:-guest-suite gfn-vmm gfn_test writer reader}
cd "$TOP/tools"
RUSTFLAGS="$TOOLS_RUSTFLAGS" \
	cargo build --quiet --release --locked --target "$TOOLS_TARGET" \
	$(printf -- '-p %s ' $GUEST_TOOLS)
