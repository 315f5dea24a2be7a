#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Proves that dkms.conf works with Debian's dkms against a real configured
# and built kernel tree, without installing anything into the system's
# module directories or DKMS trees:
#
#   bash testbed/dkms-test.sh [KERNEL_TREE]
#   bash testbed/dkms-test.sh --distro NAME
#
# KERNEL_TREE is a configured and built tree (a make O= directory does) with
# CONFIG_RUST=y and the patches of patches/SERIES/; by default the newest
# $HOME/.cache/gfn_to_pfn/kernel/fast-* (testbed/kernel.sh's 6.12 build).
# Its release is its include/config/kernel.release.
#
# --distro NAME (e.g. debian-7.3): the same cases inside the root of that
# distribution (testbed/distro/NAME.conf), as its user runs dkms there:
# its own dkms, its rustc (GFN_RUSTC=/usr/bin/rustc), the defaults of
# dkms.conf for its GCC-built kernel (no LLVM=, CC= what the kernel's
# CONFIG_CC_VERSION_TEXT names), against the tree testbed/distro/prepare.sh
# prepares from its kernel's source and headers packages.  The root has
# only the kernel's rustc; wrong-rustc uses a stand-in that prints another
# version (kdir-check.sh refuses it before anything is compiled).
#
# It installs the dkms package when missing (the only change to the system),
# then works in a private source tree, DKMS tree and install tree under a
# temporary directory (dkms --sourcetree, --dkmstree, --installtree), removed
# at the end.  The cases:
#   version      dkms.conf's PACKAGE_VERSION is tools/Cargo.toml's workspace
#                version;
#   add          dkms add of a copy of what the build needs;
#   build        dkms build -k RELEASE --kernelsourcedir KERNEL_TREE with
#                GFN_LLVM and GFN_RUSTC (default -19 and /usr/bin/rustc, the
#                test kernel's; GFN_LLVM set and empty: a GCC-built kernel)
#                succeeds and leaves gfn_to_pfn.ko in the DKMS tree;
#   make.log     the make command in its make.log is the Makefile's modules
#                target with that KDIR, LLVM= (or, for a GCC-built kernel,
#                CC= GFN_CC or the command its CONFIG_CC_VERSION_TEXT names)
#                and RUSTC=, without the CC=clang LD=ld.lld or LLVM=1 dkms
#                appends for a clang-built kernel;
#   vermagic     modinfo shows the module's vermagic starting with RELEASE;
#   parm         modinfo shows the log parameter's description (built in
#                Rust, module/boundary/params.rs) with each word
#                docs/protocol.md documents: log:all: ...; summary: ...;
#                none: ...;
#   install      dkms install --no-depmod into the private install tree puts
#                it in RELEASE/updates/dkms/;
#   wrong-rustc  dkms build against the same tree with GFN_RUSTC another
#                rustc (GFN_TEST_OTHER_RUSTC, default rustup's
#                ~/.cargo/bin/rustc) fails, and its make.log holds
#                testbed/kdir-check.sh's one line "gfn_to_pfn: the kernel
#                was built with ...".
# Prints "PASS dkms CASE" or "FAIL dkms CASE: WHY" per case, then
# "N passed, M failed"; exits 1 if any failed, 2 if it could not start.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
	printf 'dkms-test: %s\n' "$*" >&2
	exit 2
}

# --distro NAME: this script again, inside the distribution's root.
if [ "${1:-}" = --distro ]; then
	set -e
	. "$repo/testbed/env.sh"
	. "$repo/testbed/distro/lib.sh"
	distro_load "${2:-}"
	{ read -r root && read -r out; } < <(bash "$repo/testbed/distro/prepare.sh" "$DISTRO") ||
		die "the $DISTRO root or its kernel tree could not be prepared"
	copy=/build/dkms-test
	rm -rf "${root:?}$copy" && mkdir -p "$root$copy/other-rustc"
	(cd "$repo" && tar -cf - --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude=modules.order --exclude=Module.symvers \
		Kbuild Makefile dkms.conf module shim tools/proto/src tools/Cargo.toml \
		testbed/kdir-check.sh testbed/dkms-test.sh patches) | tar -C "$root$copy" -xf -
	printf '#!/bin/sh\necho "rustc 1.84.1 (e71f9a9a9 2025-01-27) (a stand-in)"\n' >"$root$copy/other-rustc/rustc"
	chmod +x "$root$copy/other-rustc/rustc"
	set +e
	distro_chroot "$root" env GFN_LLVM= GFN_RUSTC=/usr/bin/rustc \
		GFN_TEST_OTHER_RUSTC="$copy/other-rustc/rustc" TMPDIR=/tmp \
		bash "$copy/testbed/dkms-test.sh" "$out"
	exit $?
fi

# The kernel tree and its release.
if [ $# -ge 1 ]; then
	kdir=$1
else
	kdir=
	for d in $(ls -1dt "$HOME"/.cache/gfn_to_pfn/kernel/fast-* 2>/dev/null); do
		case "$d" in *.tmp) continue ;; esac # a build under way
		[ -d "$d" ] && kdir=$d && break
	done
	[ -n "$kdir" ] || die "no kernel tree given and none in $HOME/.cache/gfn_to_pfn/kernel/fast-* (build one: bash testbed/kernel.sh fast)"
fi
kdir=$(cd "$kdir" 2>/dev/null && pwd) || die "kernel tree $1 does not exist"
[ -s "$kdir/include/config/kernel.release" ] ||
	die "$kdir has no include/config/kernel.release: not a configured and built kernel tree"
read -r release <"$kdir/include/config/kernel.release"
arch=$(uname -m)

# The toolchain of the positive cases, and the rustc of the negative one.
llvm=${GFN_LLVM--19}
rustc=${GFN_RUSTC:-/usr/bin/rustc}
# A GCC-built kernel (GFN_LLVM set and empty): the CC= dkms.conf must
# pass, GFN_CC or the command the kernel's version text begins with.
cc=
if [ -z "$llvm" ]; then
	cc=${GFN_CC-$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^" ]*\) .*/\1/p' "$kdir/.config" | tail -1)}
fi
toolchain=(GFN_LLVM="$llvm" GFN_RUSTC="$rustc")
[ -z "${GFN_CC+set}" ] || toolchain+=(GFN_CC="$GFN_CC")
other_rustc=${GFN_TEST_OTHER_RUSTC:-$HOME/.cargo/bin/rustc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gfn-dkms-test.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT

# Debian's dkms, quietly.
if ! dpkg-query -W -f '${Status}' dkms 2>/dev/null | grep -q 'ok installed'; then
	install_dkms() {
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dkms \
			>>"$tmp/apt.log" 2>&1
	}
	if ! install_dkms; then
		apt-get update -qq >>"$tmp/apt.log" 2>&1 && install_dkms ||
			{ tail -5 "$tmp/apt.log" >&2; die "cannot install the dkms package"; }
	fi
fi
command -v dkms >/dev/null || die "dkms is not on PATH"
dkms_version=$(dpkg-query -W -f '${Version}' dkms 2>/dev/null)
echo "dkms $dkms_version ($(dkms --version 2>/dev/null)), kernel $release in $kdir"

passed=0 failed=0
pass() {
	echo "PASS dkms $1"
	passed=$((passed + 1))
}
fail() {
	local name=$1
	shift
	echo "FAIL dkms $name: $*"
	failed=$((failed + 1))
}
# The last lines of a file, indented, for a failure's context.
show() {
	[ -f "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/    /'
}

# dkms's module signing keys, should it find a sign-file for this kernel:
# here rather than generated in /var/lib/dkms.
export mok_signing_key=$tmp/mok.key mok_certificate=$tmp/mok.pub

# The private source tree: what the build needs, without build products.
name=gfn_to_pfn
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$repo/dkms.conf")
src=$tmp/src/$name-$version
mkdir -p "$src"
(cd "$repo" && tar -cf - --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
	--exclude='*.mod' --exclude='*.mod.c' --exclude=modules.order --exclude=Module.symvers \
	Kbuild Makefile dkms.conf module shim tools/proto/src testbed/kdir-check.sh patches) |
	tar -C "$src" -xf - || die "cannot copy the sources to $src"

# dkms with the private trees of case directory $1 (the rest: its arguments).
dkms_in() {
	local dir=$tmp/$1
	shift
	mkdir -p "$dir/dkms" "$dir/modules"
	dkms "$@" --dkmstree "$dir/dkms" --sourcetree "$tmp/src" --installtree "$dir/modules"
}

# version: the one of tools/Cargo.toml's [workspace.package].
cargo_version=$(awk '/^\[/ { ws = ($0 == "[workspace.package]") }
	ws && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' "$repo/tools/Cargo.toml")
if [ -z "$version" ]; then
	fail version "dkms.conf has no PACKAGE_VERSION=\"...\" line"
	version=0
elif [ "$version" != "$cargo_version" ]; then
	fail version "dkms.conf's PACKAGE_VERSION is $version, tools/Cargo.toml's workspace version ${cargo_version:-(none)}"
else
	pass version
fi

# add, build, make.log, vermagic, install: the kernel's own toolchain.
built=$tmp/ok/dkms/$name/$version/$release/$arch/module/$name.ko
if dkms_in ok add "$name/$version" >"$tmp/add.out" 2>&1 &&
	dkms_in ok status "$name/$version" 2>&1 | grep -q ': added$'; then
	pass add
	if (export "${toolchain[@]}" && dkms_in ok build "$name/$version" -k "$release/$arch" \
		--kernelsourcedir "$kdir") >"$tmp/build.out" 2>&1; then
		if [ -f "$built" ]; then
			pass build
		else
			fail build "dkms build succeeded but left no $built"
		fi
	else
		fail build "dkms build failed (${toolchain[*]}); its output and make.log end:"
		show "$tmp/build.out" 8
		show "$tmp/ok/dkms/$name/$version/build/make.log" 20
	fi
	log=$tmp/ok/dkms/$name/$version/$release/$arch/log/make.log
	make_line=$(grep -m1 '^+ exec make ' "$log" 2>/dev/null)
	want="KDIR=$kdir${llvm:+ LLVM=$llvm}${cc:+ CC=$cc} RUSTC=$rustc modules"
	if [ ! -f "$log" ]; then
		fail make.log "no $log"
	elif [[ " $make_line " != *" $want "* ]]; then
		fail make.log "its make command is '${make_line:-(none)}', not one with '$want'"
	elif rest=${make_line/" $want"/} && [[ "$rest" == *CC=* || "$rest" == *LD=* || "$rest" == *LLVM=* ]]; then
		fail make.log "dkms's CC=/LD=/LLVM= reached make: '$make_line'"
	else
		pass make.log
	fi
	if [ -f "$built" ]; then
		vermagic=$(modinfo -F vermagic "$built" 2>&1)
		if [[ "$vermagic" == "$release "* ]]; then
			pass vermagic
		else
			fail vermagic "modinfo -F vermagic $built says '$vermagic', not '$release ...'"
		fi
	else
		fail vermagic "no module to read"
	fi
	parm=$(modinfo -F parm "$built" 2>&1)
	if [[ "$parm" == "log:all: "*"; summary: "*"; none: "* ]]; then
		pass parm
	else
		fail parm "modinfo -F parm $built says '$parm', not 'log:all: ...; summary: ...; none: ...'"
	fi
	# install: into the private install tree only (no depmod, and nothing
	# when the system's dkms framework.conf would modprobe on install).
	installed=$tmp/ok/modules/$release/updates/dkms/$name.ko
	if grep -qs '^[[:space:]]*modprobe_on_install=..*' /etc/dkms/framework.conf /etc/dkms/framework.conf.d/*.conf; then
		fail install "not run: /etc/dkms/framework.conf sets modprobe_on_install, which would load modules into this system"
	elif [ ! -f "$built" ]; then
		fail install "no module built"
	elif mkdir -p "$tmp/ok/modules/$release" &&
		! dkms_in ok install "$name/$version" -k "$release/$arch" --kernelsourcedir "$kdir" \
			--no-depmod >"$tmp/install.out" 2>&1; then
		fail install "dkms install --installtree failed:"
		show "$tmp/install.out" 10
	elif ! cmp -s "$built" "$installed"; then
		fail install "no copy of the built module at $installed:"
		(cd "$tmp/ok/modules" && find . -name "$name.ko*" | sed 's/^/    /')
	else
		pass install
	fi
else
	fail add "dkms add failed:"
	show "$tmp/add.out" 10
	for c in build make.log vermagic install; do fail "$c" "not run: add failed"; done
fi

# wrong-rustc: another rustc than the kernel's, the same tree.
built_with=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$kdir/.config" | tail -1)
other_version=$("$other_rustc" --version 2>/dev/null | sed 's/#//g')
log=$tmp/bad/dkms/$name/$version/build/make.log
if [ -z "$other_version" ]; then
	fail wrong-rustc "$other_rustc cannot be run (set GFN_TEST_OTHER_RUSTC to a rustc other than the kernel's)"
elif [ "$other_version" = "$built_with" ]; then
	fail wrong-rustc "$other_rustc is the kernel's own $built_with (set GFN_TEST_OTHER_RUSTC to another)"
elif ! dkms_in bad add "$name/$version" >"$tmp/bad-add.out" 2>&1; then
	fail wrong-rustc "dkms add failed:"
	show "$tmp/bad-add.out" 10
elif (export "${toolchain[@]}" GFN_RUSTC="$other_rustc" && dkms_in bad build "$name/$version" \
	-k "$release/$arch" --kernelsourcedir "$kdir") >"$tmp/bad-build.out" 2>&1; then
	fail wrong-rustc "dkms build with GFN_RUSTC=$other_rustc ($other_version) succeeded"
elif [ -e "$tmp/bad/dkms/$name/$version/$release" ]; then
	fail wrong-rustc "dkms build failed but recorded a build for $release"
elif ! grep -q '^gfn_to_pfn: the kernel was built with ' "$log" 2>/dev/null; then
	fail wrong-rustc "dkms build failed without kdir-check.sh's line in $log; it ends:"
	show "$log" 15
	show "$tmp/bad-build.out" 5
else
	pass wrong-rustc
	grep -m1 '^gfn_to_pfn: the kernel was built with ' "$log" | sed 's/^/    make.log: /'
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
