#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Checks that a built module's every undefined symbol is exported to it by
# a kernel, from that kernel's Module.symvers (the distribution's own, from
# its headers package): what the kernel's loader will resolve, the Rust
# crates' symbols included (their names carry the crate hashes, which must
# be the kernel's):
#
#   testbed/distro/symvers-check.sh MODULE.ko MODULE.SYMVERS [NAME]
#
# NAME is the module's name (default: MODULE's file name without .ko),
# which EXPORT_SYMBOL_FOR_MODULES lists must name.  Independent of modpost:
# nm -u of the .ko against the file.  Silent on success; otherwise one line
# "gfn_to_pfn: ..." naming the first few missing, exit 1.
set -euo pipefail

ko=$1 symvers=$2
name=${3:-$(basename "$ko" .ko)}
fail() {
	printf 'gfn_to_pfn: %s\n' "$*" >&2
	exit 1
}
[ -f "$ko" ] || fail "no $ko to check"
[ -f "$symvers" ] || fail "no $symvers to check $ko against"
undefined=$(nm -u "$ko" | awk '{ print $NF }' | sort -u) || fail "nm -u $ko failed"
# Missing: not in the file, or exported only to other modules.
read -r count missing < <(awk -F'\t' -v name="$name" '
	FNR == NR { if ($0 != "") need[$0] = 1; next }
	$2 in need {
		ok = ($5 == "" || $5 !~ /^module:/)
		if (!ok) {
			m = split(substr($5, 8), mods, ",")
			for (i = 1; i <= m; i++)
				if (mods[i] == name || (mods[i] ~ /\*$/ && index(name, substr(mods[i], 1, length(mods[i]) - 1)) == 1))
					ok = 1
		}
		if (ok) have[$2] = 1
	}
	END {
		n = 0; list = ""
		for (s in need) if (!(s in have)) { n++; miss[n] = s }
		# Sorted, for a stable line.
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (miss[j] < miss[i]) { t = miss[i]; miss[i] = miss[j]; miss[j] = t }
		for (i = 1; i <= n && i <= 5; i++) list = list (i > 1 ? ", " : "") miss[i]
		if (n > 5) list = list ", ..."
		print n, list
	}' <(printf '%s\n' "$undefined") "$symvers")
[ "$count" -eq 0 ] ||
	fail "$count undefined symbol(s) of ${ko##*/} are not exported to $name by the kernel ($symvers): $missing; build against that kernel's own tree and toolchain (rustc crates of another build have other hashes), or load it into a kernel that exports them"
