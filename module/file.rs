// SPDX-License-Identifier: GPL-2.0

//! `/proc/gfn_to_pfn`'s open files: each holds the reply to the last
//! request written through it, produced and read a chunk at a time
//! (`tools/proto/src/window.rs` says how, and why nothing is lost).
//!
//! A write answers the request up to `answer::CHUNK` bytes of reply at
//! once and rewinds the file position to 0; a read returns the reply from
//! the file position on, producing more only when nothing is left.  Every wait for
//! the file's state can be killed.

use crate::answer::Answer;
use crate::boundary::cred;
use crate::boundary::proc_file::{ProcFile, UserOut};
use crate::boundary::sync::KillableMutex;
use crate::out::{Bytes, ReplyWindow};
use crate::request::{self, MAX_WRITE};
use crate::text::Text;
use crate::window::{Misread, Paged, Sink};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::uaccess::UserSliceReader;

/// Name of the file under `/proc`.
pub(crate) const NAME: &CStr = kernel::c_str!("gfn_to_pfn");
/// The same name, for log messages.
pub(crate) const NAME_STR: &str = "gfn_to_pfn";
/// Owner read/write only: host physical addresses are as sensitive as
/// pagemap PFNs, which the kernel hides from unprivileged readers.
pub(crate) const MODE: u16 = 0o600;

// From <uapi/linux/eventpoll.h>.
const EPOLLIN: u32 = 0x0001;
const EPOLLOUT: u32 = 0x0004;
const EPOLLRDNORM: u32 = 0x0040;
const EPOLLWRNORM: u32 = 0x0100;

/// The reply to the last request written through an open file.
type Reply = Paged<Bytes, Answer>;

/// One open file of `/proc/gfn_to_pfn`.
#[pin_data]
pub(crate) struct OpenFile {
    #[pin]
    reply: KillableMutex<Reply>,
}

impl From<Misread> for Error {
    fn from(m: Misread) -> Error {
        match m {
            Misread::BadPosition => EINVAL,
            // Further back than the chunk kept: as on a pipe.
            Misread::Dropped => ESPIPE,
        }
    }
}

impl Sink for UserOut {
    type Error = Error;

    fn room(&self) -> usize {
        self.to_page_end()
    }

    fn write(&mut self, bytes: &[u8]) -> Result {
        UserOut::write(self, bytes)
    }
}

#[vtable]
impl ProcFile for OpenFile {
    /// Refuses callers without `CAP_SYS_ADMIN`.
    fn open() -> Result<Pin<KBox<Self>>> {
        if !cred::may_admin() {
            return Err(EPERM);
        }
        KBox::pin_init(
            pin_init!(OpenFile {
                reply <- KillableMutex::new(Paged::empty(ReplyWindow::new(Bytes::new()))),
            }),
            GFP_KERNEL,
        )
    }

    /// The reply from `*pos` to the end of what is produced, producing
    /// more when nothing is left.
    fn read(&self, out: &mut UserOut, pos: &mut i64) -> Result<usize> {
        let len = out.len();
        self.reply.lock()?.read(pos, len, out)
    }

    /// Starts answering the request, which becomes this file's reply.
    fn write(&self, input: UserSliceReader, len: usize, pos: &mut i64) -> Result<usize> {
        if len > MAX_WRITE {
            return Err(E2BIG);
        }
        if len == 0 {
            // As for regular files: nothing written, nothing changed.
            return Ok(0);
        }
        let text = Text::read(input)?;
        if request::is_blank(&text) {
            return Err(EINVAL);
        }
        // The new reply takes the old one's place and storage, and its
        // room for walks: allocated once per open file, not per request.
        // When its first chunk fails (`ENOMEM`, `EINTR`), it stands with
        // what was produced, and a read resumes it.
        self.reply
            .lock()?
            .restart(|before| Answer::new(text, before))?;
        // The next read(2) on this file starts at the new reply's start.
        *pos = 0;
        Ok(len)
    }

    /// Length of the reply produced so far, for `lseek(SEEK_END)`.
    fn size(&self) -> Result<i64> {
        Ok(self.reply.lock()?.produced() as i64)
    }

    /// A reply is always ready and a request can always be sent: writes
    /// are answered at once.
    fn poll(&self) -> u32 {
        EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM
    }
}
