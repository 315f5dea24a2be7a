#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make demo: build what is missing, boot the fast test kernel, start a KVM
# guest in it, load gfn_to_pfn and show real translations, then shut down.
set -euo pipefail
. "$(dirname "$0")/env.sh"
"$TOP/testbed/deps.sh"
mkdir -p "$CACHE/logs"
log="$CACHE/logs/guest-fast-demo.log"
rc=0
"$TOP/testbed/guest.sh" fast demo "$log" || rc=$?
# The guest's side of the story, without the boot messages.
sed -n '/^GUEST-START/,/^---- guest dmesg/p' "$log" | sed '$d'
echo "(whole serial log: $log)"
# What the guest handed over on its second serial port: the metrics and
# the pictures.
/usr/bin/python3 "$TOP/testbed/artifacts.py" --extract "$log.artifacts" "$CACHE/demo"
echo "(metrics and pictures: $(ls "$CACHE"/demo/* | tr '\n' ' '))"
exit $rc
