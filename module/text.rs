// SPDX-License-Identifier: GPL-2.0

//! A request's text, read from user space into the storage a request
//! answered before it left: a request on an open file, or on a new one
//! after another was closed, allocates nothing for its text (at most
//! `MAX_WRITE` bytes are kept, one request's worth, freed at unload).

use crate::boundary::compat::vec_clear;
use crate::boundary::gfp_request;
use crate::boundary::spare::Spare;
use core::ops::Deref;
use kernel::prelude::*;
use kernel::uaccess::UserSliceReader;

/// The bytes of one request.
pub(crate) struct Text(Option<KBox<KVec<u8>>>);

/// The storage of the last request whose text was dropped.
static SPARE: Spare<KVec<u8>> = Spare::new();

impl Text {
    /// The `input` written, all of it: `EFAULT` when it cannot be read,
    /// `ENOMEM` when there is no room for it.
    pub(crate) fn read(input: UserSliceReader) -> Result<Text> {
        let mut text = Text(SPARE.take());
        let bytes = match &mut text.0 {
            Some(bytes) => {
                vec_clear(bytes);
                bytes
            }
            None => text.0.insert(KBox::new(KVec::new(), gfp_request())?),
        };
        input.read_all(bytes, gfp_request())?;
        Ok(text)
    }

    /// Frees the spare: when the module goes.
    pub(crate) fn free_spare() {
        SPARE.free();
    }
}

impl Deref for Text {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.0.as_deref().map_or(&[], |v| v)
    }
}

impl Drop for Text {
    fn drop(&mut self) {
        SPARE.give_back(&mut self.0);
    }
}
