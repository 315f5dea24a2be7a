// SPDX-License-Identifier: GPL-2.0

//! Frame lists: consecutive guest pages with the same facts whose host
//! frames have no order, told as one head and a frame per page.
//!
//! A map of base pages a guest touched in no particular order has runs of
//! one or two pages.  Told as runs, each costs a 48-byte record or a line
//! of about 126 bytes, where `/proc/PID/pagemap` costs 8 bytes a page.
//! Told as a list, a page costs its frame: 8 bytes in a record stream,
//! its hex digits and a comma in text.  [`crate::window::Window::emit_run`]
//! decides, run by run, which form a map's run takes ([`listed`]); this
//! file reads lists back ([`parse_item`], [`decode_item`]).
//!
//! ```text
//! text:   list kind=base gpa=0x100000 hva=0x7f5e00100000 pid=42 size=4096 order=0
//!              node=0 slot=1 as=0 share=none map=pte frames=1a2b3,1a2b0,19f07
//! binary: a 48-byte head (record.rs, tag 5, pages = frames listed), then
//!         one 8-byte little-endian frame number per page
//! ```
//!
//! Page `i` of a list is guest page `gpa / 4096 + i`, at `hva + i * 4096`,
//! on host frame `frames[i]`, with the head's other facts.  A list has 1
//! to [`MAX_LIST`] frames, so a reader needs at most
//! `48 + 8 * MAX_LIST` bytes to hold one.

use crate::record::{read_list_head, RecordError, RECORD};
use crate::reply::{Reply, Step, Translation};
use crate::reply_parse::{parse_line, parse_list_head, ParseError};
use crate::request::PAGE_SHIFT;

/// Most frames one list holds.
pub const MAX_LIST: u64 = 512;

/// Bytes a list of `frames` frames takes as binary records.
pub const fn list_bytes(frames: u64) -> u64 {
    RECORD as u64 + 8 * frames
}

/// Whether a map's run `t` is told in a frame list rather than as a run of
/// its own: a run of page-aligned pages (at least one: a list of none
/// could not be read back) whose frames cost fewer bytes in a
/// list than its own record (48 bytes, 6 frames) or line (about 126
/// bytes, 16 frames of up to 7 hex digits and a comma).
pub fn listed(t: &Translation, bin: bool) -> bool {
    let below = if bin { 6 } else { 16 };
    (1..below).contains(&t.pages) && (t.gpa | t.hva | t.phys) & ((1 << PAGE_SHIFT) - 1) == 0
}

/// A frame list open at the end of a reply, which the next run may join:
/// where its head is, the guest page after its last, and the facts its
/// pages share.  Small and updated field by field: a map may add a run
/// to it for every page, and moving a `Translation` is a `memcpy`, which
/// costs by the byte where copies go a byte at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenList {
    /// Where its head starts in the reply window.
    pub at: usize,
    /// Frames listed.
    pub pages: u64,
    /// Guest and host virtual address just past its last page.
    pub gpa: u64,
    pub hva: u64,
    /// The facts of its pages, as codes.
    pub size: u64,
    pub node: u32,
    pub pid: u32,
    pub slot: u16,
    pub kind: u8,
    pub order: u8,
    pub as_id: u8,
    pub share: u8,
    pub map: u8,
    /// Whether it is a binary one.
    pub bin: bool,
}

impl OpenList {
    /// Whether the pages of run `t` go on the list: the same facts, from
    /// the guest page after the list's last, and room for them.
    pub fn joins(&self, t: &Translation) -> bool {
        self.pages + t.pages <= MAX_LIST
            && t.gpa == self.gpa
            && t.hva == self.hva
            && t.size == self.size
            && t.node == self.node
            && t.pid == self.pid
            && t.slot == self.slot
            && t.kind.code() == self.kind
            && t.order == self.order
            && t.as_id == self.as_id
            && t.share.code() == self.share
            && t.map.code() == self.map
    }

    /// Opens a list at `at` for the pages of `t` (none added yet).
    pub fn open(&mut self, at: usize, t: &Translation, bin: bool) {
        self.at = at;
        self.pages = 0;
        self.gpa = t.gpa;
        self.hva = t.hva;
        self.size = t.size;
        self.node = t.node;
        self.pid = t.pid;
        self.slot = t.slot;
        self.kind = t.kind.code();
        self.order = t.order;
        self.as_id = t.as_id;
        self.share = t.share.code();
        self.map = t.map.code();
        self.bin = bin;
    }

    /// Counts `pages` more pages listed.
    pub fn add(&mut self, pages: u64) {
        self.pages += pages;
        self.gpa = self.gpa.wrapping_add(pages << PAGE_SHIFT);
        self.hva = self.hva.wrapping_add(pages << PAGE_SHIFT);
    }
}

/// Where a list's frames are, as it was read.
#[derive(Clone, Copy, Debug)]
enum Frames<'a> {
    /// Hex numbers without `0x`, separated by commas (checked).
    Text(&'a str),
    /// 8-byte little-endian numbers (checked).
    Bin(&'a [u8]),
}

/// A frame list as read: its head and its frames.
#[derive(Clone, Copy, Debug)]
pub struct List<'a> {
    /// The facts of every page, `gpa` and `hva` those of the first;
    /// `pages` is the number of frames, `phys` 0.
    pub head: Translation,
    frames: Frames<'a>,
}

impl<'a> List<'a> {
    /// Number of pages listed.
    pub fn len(&self) -> u64 {
        self.head.pages
    }

    /// Whether no page is listed (never, for a list that was read).
    pub fn is_empty(&self) -> bool {
        self.head.pages == 0
    }

    /// The host frames, in guest page order.
    pub fn frames(&self) -> impl Iterator<Item = u64> + 'a {
        let (text, bin) = match self.frames {
            Frames::Text(t) => (Some(t), None),
            Frames::Bin(b) => (None, Some(b)),
        };
        let text = text
            .into_iter()
            .flat_map(|t| t.split(','))
            .map(|f| u64::from_str_radix(f, 16).unwrap_or(0));
        let bin = bin
            .into_iter()
            .flat_map(|b| b.chunks_exact(8))
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        text.chain(bin)
    }

    /// Each listed page as a translation of its own (`pages` 1).
    pub fn pages(&self) -> impl Iterator<Item = Translation> + 'a {
        let head = self.head;
        self.frames().enumerate().map(move |(i, frame)| {
            let d = (i as u64) << PAGE_SHIFT;
            Translation {
                phys: frame << PAGE_SHIFT,
                gpa: head.gpa.wrapping_add(d),
                hva: head.hva.wrapping_add(d),
                pages: 1,
                step: Step::Up,
                ..head
            }
        })
    }
}

/// One item of a reply: a reply of its own, or a frame list.
#[derive(Clone, Copy, Debug)]
pub enum Item<'a> {
    /// Any reply but a list.
    Reply(Reply),
    /// A frame list.
    List(List<'a>),
}

impl Item<'_> {
    /// Hands each reply the item stands for to `each`: a list's pages one
    /// at a time.
    pub fn for_each(&self, mut each: impl FnMut(Reply)) {
        match self {
            Item::Reply(r) => each(*r),
            Item::List(l) => l.pages().for_each(|t| each(Reply::Ok(t))),
        }
    }
}

/// Whether `f` is a frame as a list line writes it: hex without `0x` or
/// leading zeros, below 2^52.
fn frame_word(f: &str) -> bool {
    (1..=13).contains(&f.len())
        && f.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && (f == "0" || !f.starts_with('0'))
}

/// Parses one reply line, with or without its newline: a `list` line or
/// any line [`parse_line`] reads.
pub fn parse_item(line: &str) -> Result<Item<'_>, ParseError> {
    let Some((head, frames)) = parse_list_head(line)? else {
        return parse_line(line).map(Item::Reply);
    };
    if head.pages > MAX_LIST || !frames.split(',').all(frame_word) {
        return Err(ParseError::BadValue("frames"));
    }
    if (head.gpa | head.hva) & ((1 << PAGE_SHIFT) - 1) != 0 {
        return Err(ParseError::BadValue("gpa or hva"));
    }
    Ok(Item::List(List {
        head,
        frames: Frames::Text(frames),
    }))
}

/// Decodes the item at the start of `bytes`: a record, or a list head and
/// its frames.  Returns the item and the bytes it took, or `None` when
/// `bytes` ends before the item does (a reader then reads more; no item
/// takes more than `list_bytes(MAX_LIST)`).
pub fn decode_item(bytes: &[u8]) -> Result<Option<(Item<'_>, usize)>, RecordError> {
    let Some(rec) = bytes.get(..RECORD) else {
        return Ok(None);
    };
    let rec: &[u8; RECORD] = rec
        .try_into()
        .map_err(|_| RecordError::BadValue("length"))?;
    let Some(head) = read_list_head(rec)? else {
        return Ok(Some((Item::Reply(Reply::from_record(rec)?), RECORD)));
    };
    if head.pages == 0 || head.pages > MAX_LIST || head.gpa & ((1 << PAGE_SHIFT) - 1) != 0 {
        return Err(RecordError::BadValue("pages or gpa"));
    }
    let end = list_bytes(head.pages) as usize;
    let Some(frames) = bytes.get(RECORD..end) else {
        return Ok(None);
    };
    if frames
        .chunks_exact(8)
        .any(|c| c[6] >> (64 - PAGE_SHIFT - 48) != 0 || c[7] != 0)
    {
        return Err(RecordError::BadValue("frame"));
    }
    Ok(Some((
        Item::List(List {
            head,
            frames: Frames::Bin(frames),
        }),
        end,
    )))
}
