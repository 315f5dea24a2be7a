# SPDX-License-Identifier: GPL-2.0
# Sourced by the test-bed scripts: paths and the kernel toolchain.
# Build caches live outside the repo, keyed by what they depend on.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${GFN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gfn_to_pfn}
# The kernel side must use Debian's rustc (it ships rust-src); rustup's is for tools/.
KMAKE=(make LLVM=-19 RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc BINDGEN=bindgen)
export PATH="$HOME/.cargo/bin:$PATH"
# The guest's tools are static binaries; the host tests are built the same
# way (same target, profile and flags), so the two share every dependency.
TOOLS_TARGET=x86_64-unknown-linux-gnu
TOOLS_RUSTFLAGS="-C target-feature=+crt-static"
# Prometheus' promtool, for the host-side check of `gfn_test metrics`.
PROMTOOL=$CACHE/promtool/promtool
