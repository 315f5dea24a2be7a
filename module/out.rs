// SPDX-License-Identifier: GPL-2.0

//! Where an answer puts its reply: an open file's window of reply bytes
//! produced ahead of reads, as text lines (`reply.rs`) or as fixed-size
//! binary records (`record.rs`), whichever the request line asked for
//! (`format=`).  Replies are written in place, never formatted into one
//! buffer and copied into another: where memory copies go a byte at a
//! time (`rep movsb` under emulation, as in the test bed), every byte a
//! map moves counts.

use crate::record::RECORD;
use crate::reply::{Reply, MAX_LINE};
use kernel::prelude::*;

/// Reply bytes produced and not yet dropped.  The storage only grows (as
/// a vector does, by doubling) and is zero-filled as it grows, so writing
/// a reply is storing its bytes.
pub(crate) struct Window {
    /// Every byte initialized; `room.len()` is what can be written.
    room: KVVec<u8>,
    /// Bytes produced, from the start of `room`.
    len: usize,
}

impl Window {
    /// An empty window; it allocates when it is first written.
    pub(crate) fn new() -> Window {
        Window {
            room: KVVec::new(),
            len: 0,
        }
    }

    /// Bytes produced.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bytes produced.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.room.get(..self.len).unwrap_or(&[])
    }

    /// Drops every byte produced, keeping the storage.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Room for `N` more bytes, after those produced.
    fn room<const N: usize>(&mut self) -> Result<&mut [u8; N]> {
        let want = self.len + N;
        if self.room.len() < want {
            self.room
                .extend_with(want - self.room.len(), 0, crate::shim::gfp_request())?;
        }
        self.room
            .get_mut(self.len..want)
            .and_then(|r| r.try_into().ok())
            .ok_or(ENOMEM)
    }
}

/// The window being filled, and the current line's format.
pub(crate) struct Out<'a> {
    window: &'a mut Window,
    bin: bool,
}

impl<'a> Out<'a> {
    /// Appends to `window`, as records when `bin`, else as text lines.
    pub(crate) fn new(window: &'a mut Window, bin: bool) -> Out<'a> {
        Out { window, bin }
    }

    /// Appends one reply.
    pub(crate) fn emit(&mut self, reply: &Reply) -> Result {
        let n = if self.bin {
            reply.write_record(self.window.room::<RECORD>()?);
            RECORD
        } else {
            reply.encode_into(self.window.room::<MAX_LINE>()?, true)
        };
        self.window.len += n;
        Ok(())
    }
}
