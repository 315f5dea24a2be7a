#!/usr/bin/env bash
# Installs what building and testing gfn_to_pfn needs, when it is missing.
# Debian packages plus bindgen from crates.io; idempotent and quiet when all is there.
set -euo pipefail

export PATH="$HOME/.cargo/bin:$PATH"

pkgs=(rustc-web rust-web-src clang-19 lld-19 llvm-19 libclang-19-dev
      linux-source-6.12 qemu-system-x86 busybox-static bc flex bison
      libelf-dev libssl-dev cpio kmod make perl python3 xz-utils)

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
