# SPDX-License-Identifier: GPL-2.0
# Sourced by testbed/distro-module.sh and testbed/distro-kernel.sh: the
# distribution's configuration (testbed/distro/NAME.conf), the machine's
# Debian mirror and a private apt state for fetching from it.
#
#   distro_load NAME     sources NAME.conf; sets DISTRO, DISTRO_DIR (its
#                        cache directory, $CACHE/distro/NAME) and DISTRO_CONF
#   distro_mirror        sets MIRROR: $GFN_DEBIAN_MIRROR, else the first
#                        source of the main archive in the machine's apt
#                        configuration (as testbed/source.sh finds it)
#   distro_apt DIR SUITE...
#                        a private apt state in DIR for SUITE...: sets
#                        APT_OPTS, writes DIR/sources.list; the system's
#                        sources, lists and dpkg database stay untouched
#   distro_fail WHAT     prints "gfn_to_pfn: WHAT" on stderr and exits 1
#   distro_key ARG...    16 hex digits of the strings and files' contents
#   distro_chroot ROOT CMD...
#                        runs CMD in ROOT with /proc and /dev, in a mount
#                        namespace of its own
# Needs env.sh sourced (CACHE) and set -euo pipefail.

distro_fail() {
	printf 'gfn_to_pfn: %s\n' "$*" >&2
	exit 1
}

distro_load() {
	local name=${1:-}
	local dir
	dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	if [ -z "$name" ] || [ ! -f "$dir/$name.conf" ]; then
		local known
		known=$(cd "$dir" && ls -1 *.conf 2>/dev/null | sed 's/\.conf$//' | tr '\n' ' ')
		distro_fail "no distribution '${name}'; give DISTRO=NAME, one of: ${known% }"
	fi
	DISTRO=$name
	DISTRO_CONF=$dir/$name.conf
	# shellcheck source=/dev/null
	. "$DISTRO_CONF"
	DISTRO_DIR=$CACHE/distro/$name
	mkdir -p "$DISTRO_DIR"
}

distro_mirror() {
	MIRROR=${GFN_DEBIAN_MIRROR:-}
	if [ -z "$MIRROR" ]; then
		MIRROR=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
			awk '$1 ~ /\/debian\/?$/ && $2 !~ /-security$/ { print $1; exit }')
	fi
	[ -n "$MIRROR" ] ||
		distro_fail "no Debian mirror in the machine's apt sources; set GFN_DEBIAN_MIRROR=http://…/debian"
	MIRROR=${MIRROR%/}
}

# The "[signed-by=…]" or "[trusted=yes]" of a sources line.
distro_source_opt() {
	if [ -r "$DISTRO_KEYRING" ]; then
		echo "signed-by=$DISTRO_KEYRING"
	else
		echo "trusted=yes"
	fi
}

distro_apt() {
	local dir=$1 suite opt
	shift
	distro_mirror
	opt=$(distro_source_opt)
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	for suite in "$@"; do
		echo "deb [$opt] $MIRROR $suite $DISTRO_COMPONENTS"
	done >"$dir/sources.list"
	APT_OPTS=(-o "Dir::Etc::SourceList=$dir/sources.list"
		-o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$dir/lists"
		-o "Dir::Cache=$dir/cache"
		-o APT::Sandbox::User=root
		-o Acquire::Languages=none)
}

# A key of the given strings and files' contents: 16 hex digits.
distro_key() {
	local a
	for a in "$@"; do
		if [ -f "$a" ]; then
			printf 'file %s\n' "${a##*/}"
			cat "$a"
		else
			printf 'str %s\n' "$a"
		fi
	done | sha256sum | cut -c1-16
}

# distro_chroot ROOT CMD...: runs CMD in ROOT as root, with /proc and /dev
# mounted (objtool reads /proc/self, apt and dkms want /dev/null), in a
# mount namespace of its own: the mounts go away with it, whatever way it
# ends, and the machine's mount table never sees them.  A clean
# environment: the root's PATH, no host rustup or cargo.
distro_chroot() {
	local root=$1
	shift
	unshare --mount --propagation private -- /bin/sh -euc '
		root=$1; shift
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		exec chroot "$root" /usr/bin/env -i HOME=/root LC_ALL=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			DEBIAN_FRONTEND=noninteractive "$@"' gfn-chroot "$root" "$@"
}
