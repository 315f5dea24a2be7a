#!/usr/bin/env bash
# make check: host unit tests of tools/ (which include the module's parser),
# then the in-guest end-to-end suite on the fast and the debug kernel.
# Installs what it needs.  Last line: "N passed, M failed".
set -euo pipefail
. "$(dirname "$0")/env.sh"

"$TOP/testbed/deps.sh"
logs="$CACHE/logs"
mkdir -p "$logs"
passed=0 failed=0

count() { # adds the "N passed, M failed" line of a log to the totals
	local line
	line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
	if [ -z "$line" ]; then
		echo "check: no result line in $1" >&2
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
	failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
}

echo "== host: cargo test (tools/, shared parser)"
export CARGO_TARGET_DIR="$CACHE/cargo-target"
host_log="$logs/host-tests.log"
if ! (cd "$TOP/tools" && cargo test --locked --workspace 2>&1) >"$host_log"; then
	grep -aE '^test .* FAILED|panicked|error' "$host_log" | head -20 >&2 || true
fi
h_pass=$(grep -aoE 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$host_log" |
	awk '{p += $4; f += $6} END {print p + 0, f + 0}')
if ! grep -aq 'test result:' "$host_log"; then
	echo "check: host tests did not run (see $host_log)" >&2
	tail -20 "$host_log" >&2
	failed=$((failed + 1))
fi
echo "host: ${h_pass% *} passed, ${h_pass#* } failed"
passed=$((passed + ${h_pass% *}))
failed=$((failed + ${h_pass#* }))

echo "== lint: rustfmt (kernel and tools), clippy, checkpatch"
lint() { # name command...: one more test passed or failed
	if "${@:2}" >"$logs/lint-$1.log" 2>&1; then
		passed=$((passed + 1)) && echo "PASS lint $1"
	else
		failed=$((failed + 1)) && echo "FAIL lint $1 ($logs/lint-$1.log)" && tail -5 "$logs/lint-$1.log"
	fi
}
kdir=$("$TOP/testbed/kernel.sh" fast)
lint kernel-rustfmt rustfmt --edition 2021 --config-path "$kdir/.rustfmt.toml" --check "$TOP/gfn_main.rs"
lint checkpatch "$kdir/scripts/checkpatch.pl" --no-tree --quiet -f "$TOP/kvm_shim.c" "$TOP/kvm_shim.h"
lint cargo-fmt bash -c "cd '$TOP/tools' && cargo fmt --check"
lint clippy bash -c "cd '$TOP/tools' && cargo clippy --locked --workspace --all-targets -- -D warnings"

for flavour in ${GFN_FLAVOURS:-fast debug}; do
	echo "== guest suite on the $flavour kernel"
	log="$logs/guest-$flavour-check.log"
	if "$TOP/testbed/guest.sh" "$flavour" check "$log"; then
		:
	else
		echo "check: the $flavour guest run failed (serial log: $log)" >&2
		# A splat or a missing exit line fails the run even if tests passed.
		grep -aq '^GUEST-EXIT rc=0' "$log" && failed=$((failed + 1))
	fi
	sed -n '/^GUEST-START/,/^---- guest dmesg/p' "$log" | grep -aE '^(PASS|FAIL|GUEST)' || true
	count "$log"
done

echo "logs: $logs"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
