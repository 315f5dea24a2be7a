// SPDX-License-Identifier: GPL-2.0

//! `vms` and `slots`: lists, one reply per VM or memslot.

use crate::boundary::vm::VmFacts;
use crate::job::Cx;
use crate::reply::Reply;
use crate::request::{Reason, Span, PAGE_SHIFT};
use kernel::prelude::*;

/// `vms`: one snapshot of the VMs, taken at the first step, and the next
/// of them to list.
pub(crate) struct Vms {
    span: Span,
    vms: Option<KVVec<VmFacts>>,
    next: usize,
}

impl Vms {
    /// Lists the VMs, for the token at `span`.
    pub(crate) fn new(span: Span) -> Vms {
        Vms {
            span,
            vms: None,
            next: 0,
        }
    }

    /// Lists one VM; returns whether the list is done.
    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Result<bool> {
        let out = &mut cx.out;
        let vms = match &mut self.vms {
            Some(vms) => vms,
            None => self.vms.insert(crate::vms::visible()?),
        };
        let Some(vm) = vms.get(self.next) else {
            if self.next == 0 {
                out.emit(&Reply::TokenErr {
                    reason: Reason::NoVms,
                    span: self.span,
                })?;
            }
            return Ok(true);
        };
        out.emit(&Reply::Vm {
            pid: vm.vmm().unwrap_or(0),
            slots: vm.slots,
            memory: vm.pages << PAGE_SHIFT,
            kvm: vm.kvm,
        })?;
        self.next += 1;
        Ok(false)
    }
}

/// `slots`: the next memslot at or above `gfn` in `as_id` (0, then 1).
pub(crate) struct Slots {
    span: Span,
    as_id: u8,
    gfn: u64,
    found: bool,
}

impl Slots {
    /// Lists the line's VM's memslots, for the token at `span`.
    pub(crate) fn new(span: Span) -> Slots {
        Slots {
            span,
            as_id: 0,
            gfn: 0,
            found: false,
        }
    }

    /// Lists one memslot of the line's VM; returns whether the list is
    /// done.
    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Result<bool> {
        let out = &mut cx.out;
        let Some(vm) = cx.vm else {
            out.emit(&Reply::TokenErr {
                reason: Reason::NoVm,
                span: self.span,
            })?;
            return Ok(true);
        };
        match vm.slot_from(self.as_id, self.gfn) {
            Some(slot) => {
                out.emit(&Reply::Slot {
                    pid: cx.pid,
                    as_id: slot.as_id as u8,
                    id: slot.id,
                    gpa: slot.base_gfn << PAGE_SHIFT,
                    size: slot.npages << PAGE_SHIFT,
                    hva: slot.hva,
                    flags: slot.flags,
                })?;
                self.found = true;
                self.gfn = slot.end();
                Ok(false)
            }
            None if self.as_id == 0 => {
                self.as_id = 1;
                self.gfn = 0;
                Ok(false)
            }
            None => {
                if !self.found {
                    out.emit(&Reply::TokenErr {
                        reason: Reason::NoMemslot,
                        span: self.span,
                    })?;
                }
                Ok(true)
            }
        }
    }
}
