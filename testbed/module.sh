#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds gfn_to_pfn.ko against kernel tree KDIR in OUT, from a copy of the
# sources, so the work tree stays clean and flavours do not share objects.
#   module.sh KDIR OUT [MAKE-ARG...]
# MAKE-ARGs go to make: GFN_SYMBOLS=kallsyms builds the variant that
# resolves every symbol from /proc/kallsyms (the suite's refusal tests load
# it as /gfn_to_pfn-kallsyms.ko); give each variant an OUT of its own.
set -euo pipefail
. "$(dirname "$0")/env.sh"
kdir=$1 out=$2
shift 2
mkdir -p "$out/module/boundary" "$out/shim" "$out/tools/proto/src" "$out/testbed" \
	"$out/patches/6.12" "$out/patches/7.3"
# Copy only what changed, so make's timestamps stay meaningful.
cd "$TOP"
# testbed/kdir-check.sh and the patches: the Makefile checks the tree first.
for f in Kbuild Makefile module/*.rs module/boundary/*.rs shim/*.[ch] shim/*.awk tools/proto/src/*.rs \
	testbed/kdir-check.sh patches/*/*.patch; do
	cmp -s "$TOP/$f" "$out/$f" || cp "$TOP/$f" "$out/$f"
done
"${KMAKE[@]}" -s -C "$out" KDIR="$kdir" "$@" modules
