// SPDX-License-Identifier: GPL-2.0

//! The reply of an open file: a window of reply bytes produced ahead of
//! reads, and how a read takes them.
//!
//! A write answers a request up to a chunk of reply at once; a read returns
//! the reply from the file position to the end of what is produced, and
//! only a read that finds nothing left produces the next chunk, dropping
//! what was read.  So a reply of any size costs bounded memory, a read does
//! at most one chunk's work once it has something to return, and a read
//! that fails took no bytes with it that the file's next reader would
//! miss.  Reading again from 0 works as long as the reply fits in one
//! chunk; further back than the current chunk fails.
//!
//! Replies are written in place, never formatted into one buffer and copied
//! into another: where memory copies go a byte at a time (`rep movsb` under
//! emulation), every byte a map moves counts.

use crate::list::{listed, OpenList, MAX_LIST};
use crate::record::{write_list_head, LIST_COUNT, RECORD};
use crate::reply::{Reply, Translation};
use crate::reply_encode::{encode_frame, encode_list_head, MAX_LINE};

/// Growable, zero-filled byte storage: a `KVVec<u8>` in the module, a
/// `Vec<u8>` in the host tests.
pub trait Store {
    /// Why the storage could not grow.
    type Error;

    /// Bytes of storage.
    fn len(&self) -> usize;

    /// Whether there is no storage yet.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Grows the storage to `len` bytes, the new ones zero.
    fn grow_to(&mut self, len: usize) -> Result<(), Self::Error>;

    /// Every byte of the storage.
    fn bytes(&self) -> &[u8];

    /// Every byte of the storage, to write.
    fn bytes_mut(&mut self) -> &mut [u8];
}

/// Reply bytes produced and not yet dropped.  The storage only grows and is
/// zero-filled as it grows, so writing a reply is storing its bytes.
pub struct Window<S> {
    room: S,
    /// Bytes produced, from the start of `room`.
    len: usize,
    /// The frame list last appended to, while the next run may join it
    /// (when `open`).
    list: OpenList,
    open: bool,
}

/// Most bytes a run added to a list can take: its head, and up to 15
/// frames of 13 hex digits and a separator (text), or 8 bytes (binary).
pub const LIST_ROOM: usize = MAX_LINE + 15 * 15;

/// Bytes a map's stretch of `pages` base pages with the same facts
/// usually takes, reserved before it is told: a frame in a list each
/// (scattered pages: 15 bytes of text, 8 of records) and a list's head.
/// Runs of frames that go up or down take less; the rare stretch that
/// takes more (short runs between lists) grows the window as it goes.
pub fn stretch_bytes(pages: usize, bin: bool) -> usize {
    pages.saturating_mul(if bin { 8 } else { 15 }) + LIST_ROOM
}

impl<S: Store> Window<S> {
    /// An empty window in `room`.
    pub fn new(room: S) -> Window<S> {
        Window {
            room,
            len: 0,
            list: OpenList::default(),
            open: false,
        }
    }

    /// Bytes produced.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is produced.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes produced.
    pub fn bytes(&self) -> &[u8] {
        self.room.bytes().get(..self.len).unwrap_or(&[])
    }

    /// Drops every byte produced, keeping the storage.
    pub fn clear(&mut self) {
        self.len = 0;
        self.open = false;
    }

    /// Grows the storage, when it must, to hold `more` bytes after those
    /// produced: one growth (and one zero-fill) for many replies.  When
    /// the storage cannot grow nothing changes.
    pub fn reserve(&mut self, more: usize) -> Result<(), S::Error> {
        let want = self.len.saturating_add(more);
        if self.room.len() < want {
            self.room.grow_to(want)?;
        }
        Ok(())
    }

    /// Room for `N` more bytes, after those produced.
    fn room<const N: usize>(&mut self) -> Result<&mut [u8; N], S::Error> {
        let want = self.len + N;
        if self.room.len() < want {
            self.room.grow_to(want)?;
        }
        let room = &mut self.room.bytes_mut()[self.len..want];
        // `room` is `N` bytes long: the conversion cannot fail.
        Ok(room.try_into().unwrap_or_else(|_| unreachable!()))
    }

    /// Appends a run of a map: in a frame list when [`listed`] says so
    /// (joining the list before it when [`OpenList::joins`] allows), else as
    /// [`Window::emit`] does.  When the storage cannot grow nothing is
    /// appended.
    pub fn emit_run(&mut self, reply: &Reply, bin: bool) -> Result<(), S::Error> {
        match reply {
            // `listed` runs have fewer than 16 pages: `LIST_ROOM` holds them.
            Reply::Ok(t) if listed(t, bin) && t.pages < 16 => self.list_run(t, bin),
            _ => self.emit(reply, bin),
        }
    }

    /// Whether `emit_run` of the one-page run `t` would add its frame to
    /// the open list.
    pub fn joins_open(&self, t: &Translation, bin: bool) -> bool {
        self.open && self.list.bin == bin && t.pages == 1 && listed(t, bin) && self.list.joins(t)
    }

    /// Whether the open list, known to have the facts of the pages that
    /// follow, takes one more page at `gpa`: it is one of `bin`'s, ends
    /// just before `gpa` and has room.
    pub fn extends_open(&self, gpa: u64, bin: bool) -> bool {
        self.open && self.list.bin == bin && self.list.gpa == gpa && self.list.pages < MAX_LIST
    }

    /// Adds frame `pfn` to the open list, as `emit_run` of a one-page run
    /// that joins it does, but for a binary list's count, which
    /// [`Window::count_frames`] writes once after many: the same bytes with
    /// less work (a map of scattered base pages adds a frame a page).  Only
    /// after [`Window::joins_open`] or [`Window::extends_open`].  When the
    /// storage cannot grow nothing is appended.
    pub fn push_frame(&mut self, pfn: u64, bin: bool) -> Result<(), S::Error> {
        if bin {
            *self.room::<8>()? = pfn.to_le_bytes();
            self.len += 8;
        } else {
            // Over the newline: `,<hex>\n`.
            self.len -= 1;
            let room = match self.room::<15>() {
                Ok(room) => room,
                Err(e) => {
                    self.len += 1;
                    return Err(e);
                }
            };
            room[0] = b',';
            let n = 1 + encode_frame(pfn, &mut room[1..14]);
            room[n] = b'\n';
            self.len += n + 1;
        }
        self.list.add(1);
        Ok(())
    }

    /// Frames the open list can still take.
    pub fn list_room(&self) -> u64 {
        MAX_LIST.saturating_sub(self.list.pages)
    }

    /// Adds to the open list the frame `last`, then each frame of `rest`
    /// that the frame after it in `rest` does not go on from by one, up
    /// or down (a page that ends its run of one), as far as the list has
    /// room: what [`Window::push_frame`] of each does, in one loop
    /// (scattered base pages: a frame a page).  Only after
    /// [`Window::joins_open`] or [`Window::extends_open`].  Returns the
    /// frames added, at least one; when the storage cannot grow nothing is
    /// appended.
    pub fn list_unrun(&mut self, last: u64, rest: &[u64], bin: bool) -> Result<usize, S::Error> {
        let most = usize::try_from(self.list_room())
            .unwrap_or(usize::MAX)
            .min(rest.len())
            .max(1);
        let ends = |w: &[u64]| w[1] != w[0].wrapping_add(1) && w[1] != w[0].wrapping_sub(1);
        let mut n = 1;
        if bin {
            let at = self.len;
            self.reserve(most * 8)?;
            let room = self
                .room
                .bytes_mut()
                .get_mut(at..at + most * 8)
                .unwrap_or(&mut []);
            let mut put = |at: usize, f: u64| {
                if let Some(b) = room.get_mut(at..at + 8) {
                    b.copy_from_slice(&f.to_le_bytes());
                }
            };
            put(0, last);
            for w in rest.windows(2).take(most - 1) {
                if !ends(w) {
                    break;
                }
                put(n * 8, w[0]);
                n += 1;
            }
            self.len += n * 8;
        } else {
            // Over the newline: `,<hex>` a frame, then the newline again.
            let at = self.len - 1;
            self.reserve(most * 14)?;
            let room = self
                .room
                .bytes_mut()
                .get_mut(at..at + most * 14 + 1)
                .unwrap_or(&mut []);
            let mut put = |at: usize, f: u64| {
                if let Some(b) = room.get_mut(at) {
                    *b = b',';
                }
                at + 1
                    + room
                        .get_mut(at + 1..at + 14)
                        .map_or(0, |b| encode_frame(f, b))
            };
            let mut end = put(0, last);
            for w in rest.windows(2).take(most - 1) {
                if !ends(w) {
                    break;
                }
                end = put(end, w[0]);
                n += 1;
            }
            if let Some(b) = room.get_mut(end) {
                *b = b'\n';
            }
            self.len = at + end + 1;
        }
        self.list.add(n as u64);
        Ok(n)
    }

    /// Writes the open binary list's count, after [`Window::push_frame`].
    pub fn count_frames(&mut self) {
        if self.open && self.list.bin {
            let count = self.list.at + LIST_COUNT.start..self.list.at + LIST_COUNT.end;
            let pages = self.list.pages;
            if let Some(count) = self.room.bytes_mut().get_mut(count) {
                count.copy_from_slice(&pages.to_le_bytes());
            }
        }
    }

    /// Adds the pages of `t` to the open list, or to a new one.  Nothing
    /// the size of a reply is moved: see [`OpenList`].
    fn list_run(&mut self, t: &Translation, bin: bool) -> Result<(), S::Error> {
        let joining = self.open && self.list.bin == bin && self.list.joins(t);
        // The newline that ends an open text list is written over.
        let (at, end) = if joining {
            (self.list.at, self.len - usize::from(!bin))
        } else {
            (self.len, self.len)
        };
        let listed = if joining { self.list.pages } else { 0 };
        let len = self.len;
        self.len = end;
        let room = match self.room::<LIST_ROOM>() {
            Ok(room) => room,
            Err(e) => {
                self.len = len;
                return Err(e);
            }
        };
        let mut n = 0;
        if !joining {
            n = if bin {
                let (head, _) = room.split_at_mut(RECORD);
                write_list_head(
                    t,
                    t.pages,
                    head.try_into().unwrap_or_else(|_| unreachable!()),
                );
                RECORD
            } else {
                let (head, _) = room.split_at_mut(MAX_LINE);
                encode_list_head(t, head.try_into().unwrap_or_else(|_| unreachable!()))
            };
        }
        for i in 0..t.pages.min(15) {
            let frame = t.phys_of(i) >> crate::request::PAGE_SHIFT;
            if bin {
                if let Some(b) = room.get_mut(n..n + 8) {
                    b.copy_from_slice(&frame.to_le_bytes());
                }
                n += 8;
            } else {
                if listed + i > 0 {
                    if let Some(b) = room.get_mut(n) {
                        *b = b',';
                    }
                    n += 1;
                }
                n += room
                    .get_mut(n..n + 13)
                    .map_or(0, |b| encode_frame(frame, b));
            }
        }
        if !bin {
            if let Some(b) = room.get_mut(n) {
                *b = b'\n';
            }
            n += 1;
        }
        self.len = end + n;
        if !joining {
            self.list.open(at, t, bin);
            self.open = true;
        }
        self.list.add(t.pages);
        if bin {
            let count = at + LIST_COUNT.start..at + LIST_COUNT.end;
            let pages = self.list.pages;
            if let Some(count) = self.room.bytes_mut().get_mut(count) {
                count.copy_from_slice(&pages.to_le_bytes());
            }
        }
        Ok(())
    }

    /// Appends `reply`, as a binary record when `bin`, else as a text line.
    /// When the storage cannot grow nothing is appended.
    pub fn emit(&mut self, reply: &Reply, bin: bool) -> Result<(), S::Error> {
        self.open = false;
        let n = if bin {
            reply.write_record(self.room::<RECORD>()?);
            RECORD
        } else {
            reply.encode_into(self.room::<MAX_LINE>()?, true)
        };
        self.len += n;
        Ok(())
    }
}

/// Where a read's bytes go: the caller's buffer, in user memory in the
/// module.
pub trait Sink {
    /// Why bytes could not be stored (a fault, in the module).
    type Error;

    /// Bytes that can be stored before the next possible fault: to the end
    /// of the buffer's current page, so a buffer whose later part is not
    /// mapped gets what fits before the fault, as from `seq_file`.
    fn room(&self) -> usize;

    /// Stores `bytes`, all of them or none.
    fn write(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}

/// Why a read could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misread {
    /// The file position is negative.
    BadPosition,
    /// The position is before the current chunk, which is all that is kept.
    Dropped,
}

/// What produces a reply a chunk at a time: a request being answered.
pub trait Produce<S> {
    /// Why a chunk could not be produced (no memory, a killed wait).
    type Error;

    /// Appends the next chunk of reply to `window`; returns whether the
    /// reply is complete.  When it fails, what it appended stays, and the
    /// next call resumes after it.
    fn fill(&mut self, window: &mut Window<S>) -> Result<bool, Self::Error>;
}

/// The reply produced so far, its place in the whole reply, and what
/// produces the rest.
pub struct Paged<S, P> {
    /// Produced and not yet read past.
    window: Window<S>,
    /// Offset of `window` in the whole reply.
    base: u64,
    /// What produces the reply, if anything; kept when it is done, so that
    /// the next reply can take over what it holds ([`Paged::restart`]).
    rest: Option<P>,
    /// Whether the reply is all produced.
    done: bool,
}

impl<S: Store, P: Produce<S>> Paged<S, P> {
    /// An empty reply, in `window`.
    pub fn empty(window: Window<S>) -> Paged<S, P> {
        Paged {
            window,
            base: 0,
            rest: None,
            done: true,
        }
    }

    /// A reply whose first chunk `rest` produces into `window` now.
    pub fn answer(window: Window<S>, rest: P) -> Result<Paged<S, P>, P::Error> {
        let mut paged = Paged::empty(window);
        paged.restart(|_| rest)?;
        Ok(paged)
    }

    /// Starts a new reply in place of this one, in the same storage (an
    /// open file's next request: no storage to allocate and zero again):
    /// `make` builds what produces it from what produced this one, if
    /// anything (which may hand over room it keeps), and the first chunk
    /// is produced now.  When that fails, the new reply stands with what
    /// was produced of it, and a read resumes it.
    pub fn restart(&mut self, make: impl FnOnce(Option<P>) -> P) -> Result<(), P::Error> {
        let next = make(self.rest.take());
        let rest = self.rest.insert(next);
        self.window.clear();
        self.base = 0;
        self.done = false;
        self.done = rest.fill(&mut self.window)?;
        Ok(())
    }

    /// Length of the reply produced so far, for `lseek(SEEK_END)`.
    pub fn produced(&self) -> u64 {
        self.base + self.window.len() as u64
    }

    /// The bytes produced and not yet dropped, and their offset in the
    /// reply.
    pub fn window(&self) -> (u64, &[u8]) {
        (self.base, self.window.bytes())
    }

    /// Drops the window and produces the next chunk into it; false at the
    /// reply's end.
    fn advance(&mut self) -> Result<bool, P::Error> {
        let Some(rest) = self.rest.as_mut().filter(|_| !self.done) else {
            return Ok(false);
        };
        self.base += self.window.len() as u64;
        self.window.clear();
        if rest.fill(&mut self.window)? {
            self.done = true;
        }
        Ok(true)
    }

    /// Reads up to `len` bytes from `*pos` into `sink`, moving `*pos` on.
    /// More is produced only by a read that finds nothing left at `*pos`
    /// and has copied nothing yet: so a read does at most one chunk's work
    /// once it has something to return, and a read that fails takes no
    /// bytes with it.  Returns the bytes copied: 0 at the reply's end.
    pub fn read<K: Sink>(
        &mut self,
        pos: &mut i64,
        len: usize,
        sink: &mut K,
    ) -> Result<usize, P::Error>
    where
        P::Error: From<Misread> + From<K::Error>,
    {
        let mut copied = 0;
        while copied < len {
            let at = u64::try_from(*pos).map_err(|_| Misread::BadPosition)?;
            let off = at.checked_sub(self.base).ok_or(Misread::Dropped)?;
            let off = usize::try_from(off).unwrap_or(usize::MAX);
            if off >= self.window.len() {
                // A chunk that produced nothing is followed by another: a
                // read cannot return 0 before the reply's end.
                if copied > 0 || !self.advance()? {
                    break;
                }
                continue;
            }
            let n = (self.window.len() - off)
                .min(len - copied)
                .min(sink.room().max(1));
            if let Err(e) = sink.write(&self.window.bytes()[off..off + n]) {
                if copied > 0 {
                    break;
                }
                return Err(e.into());
            }
            *pos += n as i64;
            copied += n;
        }
        Ok(copied)
    }
}
