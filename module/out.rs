// SPDX-License-Identifier: GPL-2.0

//! Where an answer puts its reply: the open file's window
//! (`tools/proto/src/window.rs`), in kernel memory, as text lines or binary
//! records, whichever the request line asked for (`format=`).

use crate::boundary::gfp_request;
use crate::reply::Reply;
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
}
