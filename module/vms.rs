// SPDX-License-Identifier: GPL-2.0

//! Which VMs a request sees, and which one it means.
//!
//! A caller sees the VMs whose VMM is visible in its pid namespace.  A line
//! with `pid=` means the VM of that thread's process (the newest, when the
//! process has several); a line without one means the newest VM the caller
//! sees.

use crate::boundary::gfp_request;
use crate::boundary::vm::{self, VmFacts, VmId};
use crate::request::Reason;
use kernel::prelude::*;

/// The VMs the caller sees, newest first, from one consistent pass over
/// KVM's list.  `EINTR` when a fatal signal ends the wait for it.
pub(crate) fn visible() -> Result<KVVec<VmFacts>> {
    vm::list(gfp_request(), |v| v.pid.is_some())
}

/// The VM a line means: that of thread `pid`'s process, or with no pid the
/// newest the caller sees.  `EINTR` when a fatal signal ends the wait for
/// KVM's list.
pub(crate) fn find(pid: Option<u32>) -> Result<core::result::Result<VmId, Reason>> {
    let missing = if pid.is_some() {
        Reason::NoVm
    } else {
        Reason::NoVms
    };
    let vms = vm::list(gfp_request(), |_| true)?;
    let found = match pid {
        Some(pid) => vm::process_of(pid).and_then(|p| {
            vms.iter()
                .find(|v| v.mm_id == p.mm_id)
                .map(|v| (p.tgid, v.kvm_id))
        }),
        None => vms.iter().find_map(|v| Some((v.pid?, v.kvm_id))),
    };
    Ok(found
        .and_then(|(tgid, kvm_id)| VmId::new(tgid, kvm_id))
        .ok_or(missing))
}

/// A VM of a listing of [`visible`], if it is still there.
pub(crate) fn of(vm: &VmFacts) -> Option<VmId> {
    VmId::new(vm.pid?, vm.kvm_id)
}
