// SPDX-License-Identifier: GPL-2.0

//! Which VMs a request sees, and which one a line means.
//!
//! A caller sees the VMs whose VMM is visible in its pid namespace.  A line
//! with `pid=` means the VM of that thread's process (the newest, when the
//! process has several); a line without one means the newest VM the caller
//! sees.  A line looks its VM up once ([`LineVm`]) and names it to the
//! line's end without holding it; each call holds it once ([`Held`]).

use crate::boundary::gfp_request;
use crate::boundary::vm::{self, Vm, VmFacts, VmId, Wanted};
use crate::request::{Options, Reason};
use kernel::prelude::*;

impl VmFacts {
    /// Whether it is a VM: one being destroyed (its last reference gone)
    /// is not any more.
    fn live(&self) -> bool {
        !self.dying
    }

    /// Its VMM, in the caller's pid namespace: the process whose address
    /// space is the VM's, the creator's when its thread is alive in it;
    /// `None` when the caller cannot see it.
    pub(crate) fn vmm(&self) -> Option<u32> {
        if self.creator_uses_mm {
            self.creator
        } else {
            self.user
        }
    }
}

/// The VMs the caller sees, newest first, from one consistent pass over
/// KVM's list.  `EINTR` when a fatal signal ends the wait for it.
pub(crate) fn visible() -> Result<KVVec<VmFacts>> {
    vm::list(gfp_request(), Wanted::All, |v| {
        v.live() && v.vmm().is_some()
    })
}

/// The VM a line means: that of thread `pid`'s process, or with no pid the
/// newest the caller sees.  `EINTR` when a fatal signal ends the wait for
/// KVM's list.
fn find(pid: Option<u32>) -> Result<core::result::Result<VmId, Reason>> {
    let missing = if pid.is_some() {
        Reason::NoVm
    } else {
        Reason::NoVms
    };
    // With a pid the VM is found by its address space, and the process
    // the thread lookup referenced names it; without one, by its VMM.
    let found = match pid {
        Some(pid) => match vm::vmm_of(pid) {
            Some((p, vmm)) => vm::find(Wanted::Ids, |v| v.live() && v.mm_id == p.mm_id)?
                .map(|v| VmId::of(vmm, p.tgid, v.kvm_id)),
            None => None,
        },
        None => vm::find(Wanted::Users, |v| v.live() && v.vmm().is_some())?
            .and_then(|v| VmId::new(v.vmm()?, v.kvm_id)),
    };
    Ok(found.ok_or(missing))
}

/// A VM of a listing of [`visible`], if it is still there.
pub(crate) fn of(vm: &VmFacts) -> Option<VmId> {
    VmId::new(vm.vmm()?, vm.kvm_id)
}

/// The VM a line means: looked up once, by the first token that needs it,
/// and named (never held: see [`VmId`]) to the line's end.
pub(crate) struct LineVm(Option<core::result::Result<VmId, Reason>>);

/// The line's VM as one call holds it: not looked for yet, gone, or held.
/// Dropped at the end of the call or of the line, whichever comes first.
pub(crate) struct Held(Option<Option<Vm>>);

impl Held {
    /// Nothing held yet.
    pub(crate) const fn new() -> Held {
        Held(None)
    }
}

impl LineVm {
    /// Not looked up yet.
    pub(crate) const fn new() -> LineVm {
        LineVm(None)
    }

    /// The line's VM, or why there is none; looked up on the first call
    /// (`EINTR`: the lookup's wait was killed, and the next call looks
    /// again).
    pub(crate) fn find(&mut self, pid: Option<u32>) -> Result<core::result::Result<(), Reason>> {
        let found = match &mut self.0 {
            Some(found) => found,
            None => self.0.insert(find(pid)?),
        };
        Ok(found.as_ref().map(|_| ()).map_err(|r| *r))
    }

    /// The line's VM, found again and held in `held` for the rest of the
    /// call (looked for once per call); `None` when it is gone or the line
    /// has not looked it up.
    pub(crate) fn hold<'h>(&self, held: &'h mut Held) -> Option<&'h Vm> {
        let Some(Ok(id)) = &self.0 else {
            return None;
        };
        held.0.get_or_insert_with(|| id.open()).as_ref()
    }

    /// The VMM replies name: `opts`' pid, else the line's VM's VMM (0 when
    /// it has not been looked up).
    pub(crate) fn pid(&self, opts: &Options) -> u32 {
        match (opts.pid, &self.0) {
            (Some(pid), _) => pid,
            (None, Some(Ok(id))) => id.vmm_pid,
            (None, _) => 0,
        }
    }
}
