#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs what building and testing gfn_to_pfn needs, when it is missing.
# Debian packages plus bindgen from crates.io; idempotent and quiet when all is there.
# The host-side checks of the guest's outputs (testbed/artifacts.py) need
# rsvg-convert, the Prometheus Python client (for Debian's /usr/bin/python3)
# and promtool, which is taken out of Debian's prometheus package into the
# cache rather than installed: installing it would start a Prometheus server.
set -euo pipefail
. "$(dirname "$0")/env.sh"

pkgs=(rustc-web rust-web-src clang-19 lld-19 llvm-19 libclang-19-dev
      linux-source-6.12 qemu-system-x86 busybox-static bc flex bison
      libelf-dev libssl-dev cpio kmod make perl python3 xz-utils
      librsvg2-bin python3-prometheus-client)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: need root to install packages" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x "$PROMTOOL" ]; then
	echo "deps: promtool from Debian's prometheus package, into $CACHE" >&2
	tmp=$(mktemp -d)
	get() { apt-get download -qq -o APT::Sandbox::User=root prometheus; }
	# Package lists may be missing on a fresh machine.
	(cd "$tmp" && { get || { apt-get update -qq && get; }; } &&
		dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool)
	mkdir -p "$(dirname "$PROMTOOL")"
	mv "$tmp/usr/bin/promtool" "$PROMTOOL"
	rm -rf "$tmp"
fi

# Debian's 7.3 kernel source, downloaded (not installed) from
# trixie-backports without touching the machine's apt sources.
if ! out=$("$TOP/testbed/source.sh" 7.3 2>&1 >/dev/null); then
	echo "$out" >&2
	exit 1
fi

if ! command -v cargo >/dev/null; then
	echo "deps: cargo (rustup) is required for bindgen and the tools" >&2
	exit 1
fi
if ! command -v bindgen >/dev/null; then
	echo "deps: cargo install --locked bindgen-cli" >&2
	cargo install --locked --quiet bindgen-cli
fi
if ! rustup target list --installed 2>/dev/null | grep -q x86_64-unknown-linux-gnu; then
	rustup target add x86_64-unknown-linux-gnu >/dev/null 2>&1 || true
fi
