// SPDX-License-Identifier: GPL-2.0

//! Where an answer puts its reply: the open file's window
//! (`tools/proto/src/window.rs`), in kernel memory, as text lines or binary
//! records, whichever the request line asked for (`format=`).

use crate::boundary::gfp_request;
use crate::facts::SlotFacts;
use crate::reply::{Reply, Translation};
use crate::runs::Runs;
use crate::window::{Store, Window};
use kernel::prelude::*;

/// Reply bytes, in kernel memory that grows as a vector does (by doubling).
pub(crate) struct Bytes(KVVec<u8>);

impl Bytes {
    /// None yet: the first reply allocates.
    pub(crate) fn new() -> Bytes {
        Bytes(KVVec::new())
    }
}

impl Store for Bytes {
    type Error = Error;

    fn len(&self) -> usize {
        self.0.len()
    }

    fn grow_to(&mut self, len: usize) -> Result {
        let more = len.saturating_sub(self.0.len());
        self.0.extend_with(more, 0, gfp_request())?;
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

/// An open file's window of reply bytes.
pub(crate) type ReplyWindow = Window<Bytes>;

/// The window being filled, and the current line's format.
pub(crate) struct Out<'a> {
    window: &'a mut ReplyWindow,
    bin: bool,
}

impl<'a> Out<'a> {
    /// Appends to `window`, as records when `bin`, else as text lines.
    pub(crate) fn new(window: &'a mut ReplyWindow, bin: bool) -> Out<'a> {
        Out { window, bin }
    }

    /// Appends one reply; `ENOMEM` (nothing appended) when the window
    /// cannot grow.
    pub(crate) fn emit(&mut self, reply: &Reply) -> Result {
        self.window.emit(reply, self.bin)
    }

    /// Takes into `runs` a stretch of pages with `first`'s facts on
    /// `frames`, from guest frame `gfn` of `slot` on (see
    /// `Runs::take_stretch`, in dense runs and frame lists): the pages
    /// taken, and why no more were.
    pub(crate) fn take_stretch(
        &mut self,
        runs: &mut Runs,
        first: &Translation,
        slot: &SlotFacts,
        gfn: u64,
        frames: &[u64],
    ) -> (u64, Result) {
        runs.take_stretch(self.window, self.bin, first, slot, gfn, frames)
    }

    /// Appends one run of a map: in a frame list when the window says so,
    /// unless `plain`.
    pub(crate) fn emit_run(&mut self, reply: &Reply, plain: bool) -> Result {
        if plain {
            self.window.emit(reply, self.bin)
        } else {
            self.window.emit_run(reply, self.bin)
        }
    }
}
