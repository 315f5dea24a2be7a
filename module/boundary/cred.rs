// SPDX-License-Identifier: GPL-2.0

//! The calling task's credentials.

use kernel::bindings;
use kernel::ffi::c_int;

/// Whether the calling task may administer the system (`CAP_SYS_ADMIN`):
/// host physical addresses are as sensitive as pagemap's frames, which the
/// kernel hides from everyone else.
pub(crate) fn may_admin() -> bool {
    // SAFETY: `capable` only inspects the current task's credentials.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as c_int) }
}
