// SPDX-License-Identifier: GPL-2.0

//! What a job is given at each step ([`Cx`]): every request word, and a
//! single address, is a job that `answer.rs` runs a step at a time, and
//! each step sees the line's VM as this call holds it, the VMM its replies
//! name, the line's options, the open file's room for walks and where its
//! replies go.  Jobs depend on this file, never on `answer.rs`.

use crate::boundary::vm::Vm;
use crate::out::Out;
use crate::request::Options;
use crate::walk::Room;

/// One step's context.
pub(crate) struct Cx<'c, 'w> {
    /// The line's VM, held from the first step of this call that needed it
    /// to the call's end; `None` when it is gone, and on lines that have
    /// not looked it up (only `vms` and `hpa=`, which do not read it, run
    /// there).
    pub(crate) vm: Option<&'c Vm>,
    /// The VMM replies name: the line's `pid=`, else its VM's VMM (0 on
    /// lines that have not looked their VM up).
    pub(crate) pid: u32,
    /// The line's options.
    pub(crate) opts: Options,
    /// A VM other than the line's, for a job that walks others (`hpa=`):
    /// held to the end of the call, or until the job lets it go.
    pub(crate) other: &'c mut Option<Vm>,
    /// Room for batched walks, allocated on first use and kept for the
    /// open file (`walk::Room`).
    pub(crate) scratch: &'c mut Room,
    /// Where the replies go.
    pub(crate) out: Out<'w>,
}
