# SPDX-License-Identifier: GPL-2.0
# awk -f exported.awk shim/symbols.c KDIR/Module.symvers
# Prints each symbol of symbols.c's list (its "GFN_SYMBOL(name," lines) that
# Module.symvers exports to gfn_to_pfn: to every module (no namespace, GPL or
# not), or to a list of modules naming it (module:A,B: 7.3's
# EXPORT_SYMBOL_FOR_MODULES).  Read by Kbuild, so that the module links what
# it can and finds the rest at load time.
FNR == NR {
	if (match($0, /^[[:space:]]*GFN_SYMBOL\([A-Za-z0-9_]+,/)) {
		sym = substr($0, RSTART, RLENGTH)
		sub(/^[[:space:]]*GFN_SYMBOL\(/, "", sym)
		sub(/,$/, "", sym)
		need[sym] = 1
	}
	next
}
{
	split($0, f, "\t")
	if (!(f[2] in need))
		next
	if (f[5] == "") {
		print f[2]
		next
	}
	if (f[5] ~ /^module:/) {
		m = split(substr(f[5], 8), mods, ",")
		for (i = 1; i <= m; i++)
			if (mods[i] == "gfn_to_pfn")
				print f[2]
	}
}
