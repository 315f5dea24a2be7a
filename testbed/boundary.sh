#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fails, naming the lines, when kernel Rust outside module/boundary/ (or the
# proto sources the module compiles) has `unsafe`, `bindings::`, `extern
# "C"` or `#[no_mangle]`: the boundary is where soundness is argued.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='unsafe|bindings::|extern "C"|no_mangle'
found=$(grep -rnE "$pattern" module/ tools/proto/src/ --include='*.rs' |
	grep -v '^module/boundary/' | grep -v '^tools/proto/src/tests.rs:' |
	grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true)
if [ -n "$found" ]; then
	echo "boundary: outside module/boundary/:" >&2
	echo "$found" >&2
	exit 1
fi
echo "boundary: unsafe code and bindings only in module/boundary/"
