#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Prints the path of Debian's linux-source-SERIES tarball (.tar.xz) for a
# kernel series gfn_to_pfn has patches for (patches/SERIES/), fetching it
# when it is missing:
#
#   testbed/source.sh 6.12|7.3
#
# 6.12 is the host's own series: the installed package's tarball under
# /usr/src (installed with apt-get when missing, as deps.sh does).
# 7.3 is not in the host's release (bookworm), only in trixie-backports, and
# installing a package from there would change the machine.  So the .deb is
# only downloaded, with a private sources list naming the host's own Debian
# mirror (read from its apt configuration at run time) and private package
# lists and cache under $CACHE/apt-7.3/, and the tarball alone is taken out
# of it into $CACHE/sources/.  The system's apt sources, lists and dpkg
# database are never touched.
#
# Idempotent: once the tarball is there it is printed at once (delete it to
# fetch a newer upload).  Only the path goes to stdout; progress and the
# package's version go to stderr.
set -euo pipefail
. "$(dirname "$0")/env.sh"

die() { echo "source.sh: $*" >&2; exit 1; }

series=${1:-}
case "$series" in
6.12|7.3) ;;
*) echo "usage: source.sh 6.12|7.3" >&2; exit 2 ;;
esac
pkg=linux-source-$series

if [ "$series" = 6.12 ]; then
	tarball=/usr/src/$pkg.tar.xz
	if [ ! -e "$tarball" ]; then
		[ "$(id -u)" -eq 0 ] || die "$tarball is missing and installing $pkg needs root"
		echo "source.sh: installing $pkg" >&2
		apt-get update -qq >&2 || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null ||
			die "apt-get install $pkg failed"
		[ -e "$tarball" ] || die "$pkg is installed but $tarball is not there"
	fi
	echo "source.sh: $pkg $(dpkg-query -W -f '${Version}' "$pkg")" >&2
	echo "$tarball"
	exit 0
fi

# 7.3: Debian's trixie-backports.
suite=trixie-backports
out=$CACHE/sources
tarball=$out/$pkg.tar.xz
if [ -e "$tarball" ] && [ -e "$tarball.version" ]; then
	echo "source.sh: $pkg $(cat "$tarball.version")" >&2
	echo "$tarball"
	exit 0
fi

# The host's Debian mirror: the first source of the main archive (not the
# security one) in the machine's apt configuration, or $GFN_DEBIAN_MIRROR.
mirror=${GFN_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
		awk '$1 ~ /\/debian\/?$/ && $2 !~ /-security$/ { print $1; exit }')
fi
[ -n "$mirror" ] || die "no Debian mirror in the machine's apt sources (set GFN_DEBIAN_MIRROR=http://…/debian)"
mirror=${mirror%/}

apt_dir=$CACHE/apt-$series
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" \
	"$apt_dir/download" "$out"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ -r "$keyring" ]; then
	opt="signed-by=$keyring"
else
	opt="trusted=yes"	# no archive keyring on this machine
fi
echo "deb [$opt] $mirror $suite main" >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
	-o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::Cache=$apt_dir/cache"
	-o APT::Sandbox::User=root
	-o Acquire::Languages=none)

# One fetch at a time.
exec 9>"$apt_dir/.lock"
flock 9
if [ -e "$tarball" ] && [ -e "$tarball.version" ]; then
	echo "source.sh: $pkg $(cat "$tarball.version")" >&2
	echo "$tarball"
	exit 0
fi

echo "source.sh: fetching $pkg from $suite ($mirror)" >&2
log=$apt_dir/apt.log
apt-get "${apt_opts[@]}" update >"$log" 2>&1 ||
	die "apt-get update of $suite failed (see $log)"
rm -f "$apt_dir/download"/*.deb
(cd "$apt_dir/download" && apt-get "${apt_opts[@]}" download "$pkg") >>"$log" 2>&1 ||
	die "apt-get download $pkg from $suite failed (see $log)"
debs=("$apt_dir/download/${pkg}_"*.deb)
[ -e "${debs[0]}" ] || die "apt-get download left no ${pkg}_*.deb"
version=$(dpkg-deb -f "${debs[0]}" Version)

echo "source.sh: extracting $pkg.tar.xz from $pkg $version" >&2
tmp=$(mktemp -d "$out/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "${debs[0]}" |
	tar -x -C "$tmp" "./usr/src/$pkg.tar.xz" ||
	die "no usr/src/$pkg.tar.xz in ${debs[0]##*/}"
xz -t "$tmp/usr/src/$pkg.tar.xz" || die "$pkg.tar.xz from ${debs[0]##*/} is corrupt"
echo "$version" >"$tarball.version.tmp"
mv "$tmp/usr/src/$pkg.tar.xz" "$tarball"
mv "$tarball.version.tmp" "$tarball.version"
rm -f "${debs[@]}"
echo "source.sh: $pkg $version" >&2
echo "$tarball"
