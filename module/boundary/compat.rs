// SPDX-License-Identifier: GPL-2.0

//! What differs between the kernel series the module builds for (6.12 and
//! 7.3) in the kernel crate, in one place: `Kbuild` sets `--cfg
//! gfn_kernel_7_3` for a 7.3 tree, and each difference is one function here
//! (the C side's are in `shim/compat.h`).

use kernel::prelude::*;
use kernel::uaccess::UserSlice;

/// The user memory of `len` bytes at user address `addr`.  7.3's
/// `UserSlice::new` takes a `UserPtr`, 6.12's the address.
pub(super) fn user_slice(addr: usize, len: usize) -> UserSlice {
    #[cfg(gfn_kernel_7_3)]
    let addr = kernel::uaccess::UserPtr::from_addr(addr);
    UserSlice::new(addr, len)
}

/// Makes the first `n` elements of the empty vector `v` its contents.  6.12
/// has `set_len`; 7.3 has `inc_len` instead.
///
/// # Safety
///
/// `v` must be empty, with its first `n` elements (`n <= capacity`)
/// initialised.
pub(super) unsafe fn vec_init_len<T>(v: &mut KVVec<T>, n: usize) {
    // SAFETY: by the function's contract.
    #[cfg(not(gfn_kernel_7_3))]
    unsafe {
        v.set_len(n)
    };
    // SAFETY: by the function's contract (`v` is empty, so its length
    // becomes `n`).
    #[cfg(gfn_kernel_7_3)]
    unsafe {
        v.inc_len(n)
    };
}

/// Empties the byte vector `v`, keeping its storage.  7.3 has `clear`;
/// 6.12 only `set_len`.
pub(crate) fn vec_clear(v: &mut KVec<u8>) {
    // SAFETY: 0 is at most the length, and bytes need no drop.
    #[cfg(not(gfn_kernel_7_3))]
    unsafe {
        v.set_len(0)
    };
    #[cfg(gfn_kernel_7_3)]
    v.clear();
}
