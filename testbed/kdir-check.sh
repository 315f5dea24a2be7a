#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Checks that KDIR is a kernel tree gfn_to_pfn.ko can be built against, so
# that a wrong one fails with one line saying what is wrong and what to do,
# instead of pages of compiler and linker errors:
#
#   RUSTC=rustc [CC=cc] [LLVM=...] [GFN_SYMBOLS=kallsyms] testbed/kdir-check.sh KDIR
#
# Run by the top-level Makefile's modules target before the kernel's build.
# RUSTC is the rustc that build will use (the Makefile passes the RUSTC given
# on make's command line, else rustc, as the kernel's own Makefile does);
# unset, it is rustc on PATH.  The C compiler is the one the kernel's make
# will run: CC given on make's command line (make puts it in the
# environment and in MAKEFLAGS; a CC only in the environment the kernel's
# Makefile overrides, so from make it counts only when MAKEFLAGS names it;
# run by hand, CC from the environment), else clang for LLVM= (clang-NN
# for LLVM=-NN, DIR/clang for LLVM=DIR/), else CROSS_COMPILE's gcc (or
# what a Debian headers package's .kernelvariables names).  GFN_SYMBOLS is
# make's variable (on make's command line it reaches the environment too).
#
# The checks, in this order, each reading only what it needs:
#   1. KDIR is a configured kernel build tree (.config, or for a
#      distribution's headers package include/config/auto.conf, and Makefile);
#   2. its series (include/config/kernel.release, include/generated/
#      utsrelease.h, or VERSION/PATCHLEVEL of its Makefile, followed through
#      a make O= directory's include of the sources' one) is 6.12 or 7.3;
#   3. CONFIG_RUST=y;
#   4. the Rust build products an external module links against are there
#      (rust/libcore.rmeta, rust/libkernel.rmeta, rust/libmacros.so);
#   5. RUSTC prints the CONFIG_RUSTC_VERSION_TEXT the kernel was built with
#      (rustc refuses crates another rustc compiled), and the C compiler
#      the CONFIG_CC_VERSION_TEXT (the first line of its --version: the C
#      shim's objects must fit the kernel's, e.g. its stack protector and
#      CFI options, which depend on the compiler);
#   6. Module.symvers lists what patches/SERIES/*.patch export (vm_list,
#      kvm_lock, walk_page_range...), to gfn_to_pfn where the export is
#      limited to named modules (EXPORT_SYMBOL_FOR_MODULES, 7.3); or, on
#      7.3, the kernel has CONFIG_KALLSYMS_ALL=y, and the module finds what
#      is not exported to it in /proc/kallsyms when it loads (a distribution
#      kernel without the patches: Debian's 7.3).  6.12 needs the exports
#      (the module's /proc/kallsyms path is written for 7.3's symbols).
#      GFN_SYMBOLS=kallsyms (which finds every symbol in /proc/kallsyms,
#      exported or not: the tests of that path) needs no exports, on either
#      series.
# The first failure prints "gfn_to_pfn: <cause>; <fix>" to stderr and exits
# 1; success is silent.  Only bash, grep, sed and awk: it runs on every make.
set -uo pipefail

fail() {
	printf 'gfn_to_pfn: %s\n' "$*" >&2
	exit 1
}

kdir=${1:-}
patches=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/patches
default_kdir="/lib/modules/\$(uname -r)/build"

# 1. A configured kernel build tree.
[ -n "$kdir" ] || fail "KDIR is empty; point KDIR at a configured kernel build tree (default $default_kdir)"
[ -d "$kdir" ] || fail "KDIR=$kdir does not exist; point KDIR at a configured kernel build tree (default $default_kdir: install the kernel's headers, e.g. linux-headers-\$(uname -r))"
[ -f "$kdir/Makefile" ] || fail "KDIR=$kdir is not a kernel tree (no Makefile); point KDIR at a configured kernel build tree (default $default_kdir)"
# What the build reads is include/config/auto.conf (a headers package may
# have no .config); .config alone means a tree not prepared since.
if [ -f "$kdir/include/config/auto.conf" ]; then
	config=$kdir/include/config/auto.conf
elif [ -f "$kdir/.config" ]; then
	config=$kdir/.config
else
	fail "KDIR=$kdir is not configured (no .config or include/config/auto.conf); point KDIR at a configured build tree (default $default_kdir, from the kernel's headers package, or DIR for sources built with make O=DIR), or configure and build this one"
fi

config_value() { # NAME: the value of CONFIG_NAME, unquoted (.config quotes strings)
	local v
	v=$(sed -n "s/^CONFIG_$1=//p" "$config" | tail -1)
	if [ "${v:0:1}" = '"' ] && [ "${v: -1}" = '"' ]; then
		v=${v:1:${#v}-2}
		v=${v//\\\"/\"}
		v=${v//\\\\/\\}
	fi
	printf '%s' "$v"
}

# 2. The series.
release=
if [ -s "$kdir/include/config/kernel.release" ]; then
	read -r release <"$kdir/include/config/kernel.release"
elif [ -f "$kdir/include/generated/utsrelease.h" ]; then
	release=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$kdir/include/generated/utsrelease.h")
fi
if [ -z "$release" ]; then
	# VERSION and PATCHLEVEL of the Makefile, or of the one it includes: a
	# make O= directory's Makefile includes the sources' (also at source/).
	makefile=$kdir/Makefile
	for _ in 1 2 3; do
		release=$(awk '$1 == "VERSION" && $2 == "=" { v = $3 }
			$1 == "PATCHLEVEL" && $2 == "=" { p = $3 }
			END { if (v != "" && p != "") print v "." p }' "$makefile")
		[ -n "$release" ] && break
		next=$(sed -n 's/^include[[:space:]]\{1,\}\([^[:space:]]*Makefile\)[[:space:]]*$/\1/p' "$makefile" | head -1)
		case "$next" in
		"") next=$(dirname "$makefile")/source/Makefile ;;
		/*) ;;
		*) next=$(dirname "$makefile")/$next ;;
		esac
		[ -f "$next" ] && [ "$next" != "$makefile" ] || break
		makefile=$next
	done
fi
[[ "$release" =~ ^([0-9]+)\.([0-9]+) ]] ||
	fail "cannot tell the kernel version of KDIR=$kdir (no include/config/kernel.release, include/generated/utsrelease.h or VERSION/PATCHLEVEL in its Makefile); run make modules_prepare in it, or point KDIR at a built tree"
series=${BASH_REMATCH[1]}.${BASH_REMATCH[2]}
case "$series" in
6.12|7.3) ;;
*) fail "kernel $series ($release, KDIR=$kdir) is not supported (supported: 6.12, 7.3); point KDIR at a 6.12 or 7.3 tree with patches/6.12/ or patches/7.3/ applied" ;;
esac

# 3. Rust support.
[ "$(config_value RUST)" = y ] ||
	fail "the kernel in KDIR=$kdir is built without Rust support (CONFIG_RUST is not set); rebuild it with CONFIG_RUST=y (needs rustc, bindgen and libclang of a version it accepts: \`make rustavailable\` tells), or use a kernel built with it (Debian's 7.3, from trixie-backports, is; its 6.12 is not)"

# 4. The Rust build products (written by make modules_prepare or make).
missing=
for f in libcore.rmeta libkernel.rmeta libmacros.so; do
	[ -f "$kdir/rust/$f" ] || missing+=" rust/$f"
done
[ -z "$missing" ] ||
	fail "the kernel's Rust build products are missing from KDIR=$kdir (${missing# }); install them (Ubuntu: linux-lib-rust-\$(uname -r); Arch: they are in linux-headers; Debian's headers lack them: make distro-module DISTRO=debian-7.3 makes them from linux-source-7.3 with Debian's toolchain) or build the kernel (make modules_prepare writes them)"

# 5. The same rustc as the kernel's (the kernel's Makefile drops any '#').
# 6.12 and 7.3 both record CONFIG_RUSTC_VERSION_TEXT; without it there is
# nothing to compare.
built_with=$(config_value RUSTC_VERSION_TEXT)
if [ -n "$built_with" ]; then
	read -ra rustc <<<"${RUSTC:-rustc}"
	[ "${#rustc[@]}" -gt 0 ] || rustc=(rustc)
	# From KDIR, as the kernel's build runs it (a rustup toolchain file
	# there would choose the version).
	if ! have=$(cd "$kdir" && "${rustc[@]}" --version 2>/dev/null) || [ -z "$have" ]; then
		fail "RUSTC=${rustc[*]} cannot be run; the kernel was built with $built_with: pass that rustc (make RUSTC=/path/to/rustc)"
	fi
	have=${have//#/}
	if [ "$have" != "$built_with" ]; then
		hint=
		for c in /usr/bin/rustc /usr/local/bin/rustc; do
			[ -x "$c" ] && [ "$c" != "${rustc[*]}" ] &&
				[ "$("$c" --version 2>/dev/null | sed 's/#//g')" = "$built_with" ] &&
				hint=" ($c is that one)" && break
		done
		fail "the kernel was built with $built_with, but RUSTC (${rustc[*]}) is $have; use the same rustc: make RUSTC=/path/to/it$hint"
	fi
fi

# The C compiler the kernel's make will run (see the top), as words.
cc_words=()
cc_origin=
in_make_flags() { # VAR: whether MAKEFLAGS gives VAR= on make's command line
	[[ " ${MAKEFLAGS:-} " =~ [[:space:]]$1= ]]
}
if [ -n "${CC:-}" ] && { [ -z "${MAKELEVEL:-}" ] || in_make_flags CC; }; then
	read -ra cc_words <<<"$CC"
	cc_origin="CC (${CC})"
fi
if [ "${#cc_words[@]}" -eq 0 ] && [ -n "${LLVM:-}" ]; then
	case "$LLVM" in
	*/) cc_words=("${LLVM}clang") ;;
	-*) cc_words=("clang$LLVM") ;;
	*) cc_words=(clang) ;;
	esac
	cc_origin="the C compiler of LLVM=$LLVM (${cc_words[*]})"
fi
if [ "${#cc_words[@]}" -eq 0 ]; then
	cross=${CROSS_COMPILE:-} gcc=gcc
	# A Debian headers package's Makefile includes .kernelvariables, which
	# sets the compiler (CC = ... $(CROSS_COMPILE)gcc-NN).
	if [ -f "$kdir/.kernelvariables" ]; then
		v=$(sed -n 's/^override CROSS_COMPILE = *\([^ ]*\) *$/\1/p' "$kdir/.kernelvariables" | tail -1)
		[ -n "$v" ] && cross=$v
		v=$(sed -n 's/^CC = .*\$(CROSS_COMPILE)\([^ ]*\) *$/\1/p' "$kdir/.kernelvariables" | tail -1)
		[ -n "$v" ] && gcc=$v
	fi
	cc_words=("$cross$gcc")
	cc_origin="the kernel's default C compiler (${cc_words[*]})"
fi
cc_built_with=$(config_value CC_VERSION_TEXT)
if [ -n "$cc_built_with" ]; then
	# As the kernel's Makefile reads it: LC_ALL=C, the first line, no '#'.
	# (All of its output, then the first line: head closing the pipe early
	# would make a longer --version fail.)
	cc_have=$(cd "$kdir" && LC_ALL=C "${cc_words[@]}" --version 2>/dev/null) || cc_have=
	cc_have=${cc_have%%$'\n'*}
	cc_have=${cc_have//#/}
	if [ "$cc_have" != "$cc_built_with" ]; then
		# What to pass: the compiler the text names (GCC's first word is the
		# command it was run as), or clang's LLVM=-NN.
		first=${cc_built_with%% *}
		if [[ "$cc_built_with" =~ clang\ version\ ([0-9]+)\. ]]; then
			hint="make LLVM=-${BASH_REMATCH[1]} (or CC=clang-${BASH_REMATCH[1]})"
		elif [[ "$first" =~ ^[A-Za-z0-9_.+-]*(gcc|cc)[A-Za-z0-9_.+-]*$ ]]; then
			hint="make CC=$first"
		else
			hint="make CC=/path/to/it"
		fi
		if [ -z "$cc_have" ]; then
			fail "$cc_origin cannot be run; the kernel was built with the C compiler $cc_built_with: pass that compiler ($hint)"
		fi
		fail "the kernel was built with the C compiler $cc_built_with, but $cc_origin is $cc_have; use the same compiler: $hint"
	fi
fi

# 6. The patches' exports, from Module.symvers (written by the full build;
# kvm.ko's exports are there when KVM is a module built in the same tree).
symvers=$kdir/Module.symvers
[ -f "$symvers" ] ||
	fail "KDIR=$kdir has no Module.symvers: the kernel is not built there (make modules_prepare is not enough); run make in it"
case "$(config_value KVM)" in
y|m) ;;
*) fail "the kernel in KDIR=$kdir has no KVM (CONFIG_KVM is not set), whose VMs gfn_to_pfn reads; rebuild it with CONFIG_KVM=m or y and patches/$series/*.patch applied" ;;
esac
# The exported names, from the series' patches themselves, so that the two
# cannot disagree; without the patches beside this script, the KVM and mm
# ones every series needs.
want=$(sed -n 's/^+EXPORT_SYMBOL[A-Z_]*(\([A-Za-z0-9_]*\)[,)].*/\1/p' "$patches/$series"/*.patch 2>/dev/null | tr '\n' ' ')
[ -n "${want// /}" ] || want="vm_list kvm_lock walk_page_range"
# Missing names, names exported only to other modules (module:LIST, whose
# patterns may end in *), and whether any of kvm.ko's exports are there.
mapfile -t result < <(awk -F'\t' -v want="$want" '
	BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) need[w[i]] = 1 }
	$3 ~ /(^|\/)kvm$/ { kvm = 1 }
	!($2 in need) { next }
	{ found[$2] = 1 }
	$5 ~ /^module:/ {
		ok = 0; m = split(substr($5, 8), mods, ",")
		for (i = 1; i <= m; i++) {
			p = mods[i]
			if (p == "gfn_to_pfn" || (p ~ /\*$/ && index("gfn_to_pfn", substr(p, 1, length(p) - 1)) == 1))
				ok = 1
		}
		if (!ok) only = only " " $2 " (to " substr($5, 8) ")"
	}
	END {
		for (i = 1; i <= n; i++) if (!(w[i] in found)) missing = missing " " w[i]
		print substr(missing, 2); print substr(only, 2); print kvm + 0
	}' "$symvers")
missing=${result[0]:-} only=${result[1]:-} kvm=${result[2]:-0}
# kvm.ko's other exports (kvm_get_kvm...) are linked whatever the path.
if [ "$kvm" = 0 ] && [ "$(config_value KVM)" = m ]; then
	fail "KDIR=$kdir/Module.symvers has none of kvm.ko's exports (CONFIG_KVM=m): its modules are not built; run make (or make modules) in it"
fi
# Found at load time instead: /proc/kallsyms lists the kernel's data
# symbols (huge_zero_pfn) only with CONFIG_KALLSYMS_ALL.
kallsyms_all=$(config_value KALLSYMS_ALL)
# GFN_SYMBOLS=kallsyms links none of them: any kernel builds it (without
# CONFIG_KALLSYMS_ALL it builds and then refuses to load, saying so: the
# suite's test of that refusal).
[ "${GFN_SYMBOLS:-}" != kallsyms ] || exit 0
[ -n "$missing" ] || [ -n "$only" ] || exit 0
what=
[ -n "$missing" ] && what="KDIR=$kdir/Module.symvers has no ${missing// /, }"
[ -n "$only" ] && what+="${what:+; }it exports ${only} but not to gfn_to_pfn"
if [ "$series" = 7.3 ]; then
	[ "$kallsyms_all" = y ] && exit 0
	fail "the kernel lacks the gfn_to_pfn exports ($what) and has no CONFIG_KALLSYMS_ALL, with which the module would find them in /proc/kallsyms when it loads; apply patches/7.3/*.patch to its sources, or enable CONFIG_KALLSYMS_ALL, and rebuild it"
fi
if [ -n "$missing" ]; then
	fail "the kernel lacks the gfn_to_pfn export patches ($what); apply patches/$series/*.patch to its sources and rebuild it"
fi
fail "the kernel exports ${only# } but not to gfn_to_pfn (KDIR=$kdir/Module.symvers); apply patches/$series/*.patch, which export to gfn_to_pfn, and rebuild it"
