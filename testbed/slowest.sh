#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Prints the five slowest tests of a guest suite's serial log, slowest
# first, so that a creeping test is seen before it breaks the time budget.
#   slowest.sh LOG FLAVOUR
# A test that timed out counts with its limit.
set -euo pipefail
log=$1 flavour=$2
echo "slowest tests on the $flavour kernel:"
# The serial console ends lines with \r\n.
tr -d '\r' <"$log" |
	sed -nE -e 's/^(PASS|FAIL) ([a-z0-9_]+).* \(([0-9]+) ms\)$/\3 \2/p' \
		-e 's/^TIMEOUT ([a-z0-9_]+) after ([0-9]+) s$/\2000 \1 (timeout)/p' |
	sort -rn -k1,1 | head -5 |
	while read -r ms name rest; do
		printf '  %-34s %9d ms%s\n' "$name" "$ms" "${rest:+ $rest}"
	done
