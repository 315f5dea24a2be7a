// SPDX-License-Identifier: GPL-2.0

//! Where an answer puts its reply: the open file's window
//! (`tools/proto/src/window.rs`), in kernel memory, as text lines or binary
//! records, whichever the request line asked for (`format=`).

use crate::boundary::gfp_request;
use crate::boundary::spare::Spare;
use crate::facts::SlotFacts;
use crate::reply::{Reply, Translation};
use crate::runs::Runs;
use crate::window::{Store, Window};
use kernel::prelude::*;

/// Reply bytes, in kernel memory that grows as a vector does (by doubling).
/// A file's bytes outlive it as the module's spare, for the next file
/// opened (`boundary/spare.rs`): at most what one reply's window grew to
/// (`answer::CHUNK` and a step's replies more).
pub(crate) struct Bytes(Option<KBox<KVVec<u8>>>);

/// The bytes of the last file closed, for the next one opened.
static SPARE: Spare<KVVec<u8>> = Spare::new();

impl Bytes {
    /// The spare bytes of a closed file, or none yet: the first reply
    /// allocates.
    pub(crate) fn new() -> Bytes {
        Bytes(SPARE.take())
    }

    /// Frees the spare: when the module goes.
    pub(crate) fn free_spare() {
        SPARE.free();
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        SPARE.give_back(&mut self.0);
    }
}

impl Store for Bytes {
    type Error = Error;

    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |v| v.len())
    }

    fn grow_to(&mut self, len: usize) -> Result {
        let bytes = match &mut self.0 {
            Some(bytes) => bytes,
            None => self.0.insert(KBox::new(KVVec::new(), gfp_request())?),
        };
        let more = len.saturating_sub(bytes.len());
        bytes.extend_with(more, 0, gfp_request())?;
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_deref().map_or(&[], |v| v)
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Some(v) => v,
            None => &mut [],
        }
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
