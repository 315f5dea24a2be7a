#!/usr/bin/env bash
# Builds the tools/ workspace as static binaries for the test guest.
set -euo pipefail
. "$(dirname "$0")/env.sh"
export CARGO_TARGET_DIR="$CACHE/cargo-target"
# Packages whose binaries go into the test guest.
GUEST_TOOLS=${GUEST_TOOLS:-guest-suite gfn-vmm gfn_test writer reader}
cd "$TOP/tools"
RUSTFLAGS="-C target-feature=+crt-static" \
	cargo build --quiet --release --locked --target x86_64-unknown-linux-gnu \
	$(printf -- '-p %s ' $GUEST_TOOLS)
