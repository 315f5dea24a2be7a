// SPDX-License-Identifier: GPL-2.0

//! `/proc/gfn_to_pfn`: its callbacks and the state of each open file.
//!
//! Each open file holds the reply to the last request written through it.
//! A write answers the request up to `CHUNK` bytes of reply at once and
//! rewinds the file position to 0; a read returns the reply from the file
//! position to the end of what is produced, and only a read that finds
//! nothing left produces the next chunk, dropping what was read: so a
//! reply of any size costs bounded memory, a call does at most one chunk's
//! work (`answer::STEPS_PER_CALL`) once it has something to return, and a
//! call that fails took no bytes with it.  Reading again from 0 (`pread`,
//! `lseek`) works as long as the reply fits in one chunk; further back
//! than the current chunk fails with `ESPIPE`.

use crate::answer::{Answer, STEPS_PER_CALL};
use crate::killable::KillableMutex;
use crate::out::Window;
use crate::request::{self, MAX_WRITE};
use crate::shim;
use kernel::bindings;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::uaccess::UserSlice;

/// Name of the file under `/proc`.
pub(crate) const NAME: &CStr = kernel::c_str!("gfn_to_pfn");
/// The same name, for log messages.
pub(crate) const NAME_STR: &str = "gfn_to_pfn";
/// Owner read/write only: host physical addresses are as sensitive as
/// pagemap PFNs, which the kernel hides from unprivileged readers.
const MODE: u16 = 0o600;

// From <uapi/linux/eventpoll.h>: the reply is always ready to be read and
// a new request can always be written, since writes are answered at once.
const EPOLLIN: c_uint = 0x0001;
const EPOLLOUT: c_uint = 0x0004;
const EPOLLRDNORM: c_uint = 0x0040;
const EPOLLWRNORM: c_uint = 0x0100;

/// Bytes of reply produced ahead of reads.  A step may add up to
/// `shim::BATCH` lines more, so an open file holds at most
/// `CHUNK + BATCH * MAX_LINE` bytes of reply.
const CHUNK: usize = 64 << 10;

/// The reply to the last request written through an open file.
struct Reply {
    /// Produced and not yet read past.
    window: Window,
    /// Offset of `window` in the whole reply.
    base: u64,
    /// What is still to be produced, if anything.
    rest: Option<Answer>,
}

impl Reply {
    /// Moves the window on to the next chunk, running at most `steps` job
    /// steps (counted down); false at the reply's end.
    fn advance(&mut self, steps: &mut u32) -> Result<bool> {
        let Some(rest) = self.rest.as_mut() else {
            return Ok(false);
        };
        self.base += self.window.len() as u64;
        self.window.clear();
        if rest.fill(&mut self.window, CHUNK, steps)? {
            self.rest = None;
        }
        Ok(true)
    }
}

/// State of one open file.  Every wait for it can be killed.
type OpenFile = KillableMutex<Reply>;

/// Creates `/proc/gfn_to_pfn`.
pub(crate) fn create() -> Result {
    shim::proc_create(NAME, MODE)
}

/// Removes `/proc/gfn_to_pfn`; procfs waits for callbacks in flight and
/// releases the files still open, so the module can go away after this.
pub(crate) fn remove() {
    shim::proc_remove(NAME)
}

/// Converts a byte count or an error into a `read`/`write` return value.
fn ssize(r: Result<usize>) -> isize {
    match r {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// Borrows the state stored by `gfn_rs_open`.
///
/// # Safety
///
/// `private` must be a pointer returned through `gfn_rs_open` whose file has
/// not been released.
unsafe fn open_file<'a>(private: *mut c_void) -> &'a OpenFile {
    // SAFETY: by the function's contract `private` points to a live, pinned
    // `OpenFile` that is only freed by `gfn_rs_release`, after the last call.
    unsafe { &*private.cast::<OpenFile>() }
}

/// `proc_open`: refuses callers without CAP_SYS_ADMIN, then allocates the
/// file's state.
#[no_mangle]
unsafe extern "C" fn gfn_rs_open(private: *mut *mut c_void) -> c_int {
    // SAFETY: `capable` only inspects the current task's credentials.
    if !unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as c_int) } {
        return EPERM.to_errno();
    }
    let state: Pin<KBox<OpenFile>> = match KBox::pin_init(
        KillableMutex::new(Reply {
            window: Window::new(),
            base: 0,
            rest: None,
        }),
        GFP_KERNEL,
    ) {
        Ok(state) => state,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: the box is turned into a raw pointer and only ever used in
    // place until `gfn_rs_release` rebuilds the pinned box, so it never moves.
    let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(state) });
    // SAFETY: `private` is `&file->private_data` of the file being opened.
    unsafe { *private = raw.cast() };
    0
}

/// `proc_release`: frees the file's state.
#[no_mangle]
unsafe extern "C" fn gfn_rs_release(private: *mut c_void) {
    // SAFETY: `private` came from `KBox::into_raw` in `gfn_rs_open` and
    // procfs calls release once, after every other callback of this file.
    drop(unsafe { KBox::from_raw(private.cast::<OpenFile>()) });
}

/// `proc_read`: copies the reply from `*pos` on, to the end of what is
/// produced, producing more when nothing is left.
#[no_mangle]
unsafe extern "C" fn gfn_rs_read(
    private: *mut c_void,
    buf: *mut u8,
    len: usize,
    pos: *mut i64,
) -> isize {
    // SAFETY: procfs passes the `private_data` set at open, not yet released.
    let file = unsafe { open_file(private) };
    // SAFETY: `pos` is the file position procfs hands to every read.
    let pos = unsafe { &mut *pos };
    ssize((|| {
        let mut reply = file.lock()?;
        let mut user = UserSlice::new(buf as usize, len).writer();
        let mut copied = 0;
        while copied < len {
            let at = u64::try_from(*pos).map_err(|_| EINVAL)?;
            let Some(off) = at.checked_sub(reply.base) else {
                return Err(ESPIPE);
            };
            let off = usize::try_from(off).unwrap_or(usize::MAX);
            if off >= reply.window.len() {
                // More is produced only by a read that has copied nothing
                // yet: so a read does at most one chunk's work once it has
                // something to return, and a read that fails (ENOMEM, or
                // EINTR in a task being killed) has taken no bytes with it
                // that the file's next reader would miss.  A chunk's work
                // is bounded by its budget of steps; one that produced
                // nothing is followed by another (a read cannot return 0
                // before the reply's end), rescheduling at every walk.
                if copied > 0 {
                    break;
                }
                let mut steps = STEPS_PER_CALL;
                if !reply.advance(&mut steps)? {
                    break;
                }
                continue;
            }
            // At most to the end of the user's page: a buffer whose later
            // part is not mapped then gets what fits before the fault, as
            // from seq_file, and the position stays with the window.
            let to_page_end = PAGE_SIZE - (buf as usize + copied) % PAGE_SIZE;
            let n = (reply.window.len() - off)
                .min(len - copied)
                .min(to_page_end);
            if let Err(e) = user.write_slice(&reply.window.bytes()[off..off + n]) {
                if copied > 0 {
                    break;
                }
                return Err(e);
            }
            *pos += n as i64;
            copied += n;
        }
        Ok(copied)
    })())
}

/// `proc_write`: starts answering the request; it becomes this file's reply.
#[no_mangle]
unsafe extern "C" fn gfn_rs_write(
    private: *mut c_void,
    buf: *const u8,
    len: usize,
    pos: *mut i64,
) -> isize {
    // SAFETY: procfs passes the `private_data` set at open, not yet released.
    let file = unsafe { open_file(private) };
    // SAFETY: `pos` is the file position procfs hands to every write.
    let pos = unsafe { &mut *pos };
    ssize((|| {
        if len > MAX_WRITE {
            return Err(E2BIG);
        }
        if len == 0 {
            // As for regular files: nothing written, nothing changed.
            return Ok(0);
        }
        let mut input = KVec::new();
        UserSlice::new(buf as usize, len).read_all(&mut input, shim::gfp_request())?;
        if request::lines(&input).all(|line| line.tokens().next().is_none()) {
            return Err(EINVAL);
        }
        let mut answer = Answer::new(input);
        let mut window = Window::new();
        let mut steps = STEPS_PER_CALL;
        let done = answer.fill(&mut window, CHUNK, &mut steps)?;
        *file.lock()? = Reply {
            window,
            base: 0,
            rest: (!done).then_some(answer),
        };
        // The next read(2) on this file starts at the new reply's start.
        *pos = 0;
        Ok(len)
    })())
}

/// Length of the reply produced so far, for `lseek(SEEK_END)`.
#[no_mangle]
unsafe extern "C" fn gfn_rs_reply_len(private: *mut c_void) -> i64 {
    // SAFETY: procfs passes the `private_data` set at open, not yet released.
    let file = unsafe { open_file(private) };
    match file.lock() {
        Ok(reply) => (reply.base + reply.window.len() as u64) as i64,
        Err(e) => e.to_errno().into(),
    }
}

/// `proc_poll`: a reply is always ready and a request can always be sent.
#[no_mangle]
unsafe extern "C" fn gfn_rs_poll(_private: *mut c_void) -> c_uint {
    EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM
}
