// SPDX-License-Identifier: GPL-2.0

//! The binary reply format (`format=bin` on a request line): one
//! fixed-size little-endian record per reply, for programs that map whole
//! VMs and do not want to format and parse text.  The module encodes with
//! [`Reply::to_record`], the tools decode with [`Reply::from_record`];
//! both are this file, so they always agree.
//!
//! ```text
//! offset size field   meaning
//!  0     8    gpa     run: first guest physical address (a single
//!                     address keeps its offset in the page); slot: its
//!                     first address; token error: byte offset in the write
//!  8     8    pages   run: pages in it; slot: its size in pages; vm: its
//!                     memory in pages; token error: the token's length
//! 16     8    frame   translated run: host frame number of `gpa`; slot:
//!                     KVM_MEM_* flags; vm: number of memslots; else 0
//! 24     8    hva     translated run, slot: host virtual address of `gpa`
//! 32     4    pid     the VMM's pid; 0 when an error came before one was
//!                     known
//! 36     2    node    translated run: NUMA node of the host pages
//!                     (65535: not known, as for pfnmap frames)
//! 38     1    reason  0, or why the run or token failed (REASON_CODES)
//! 39     1    tag     1 run (translated when reason is 0), 2 token error,
//!                     3 vm, 4 slot, 5 frame list (below)
//! 40     2    slot    translated run: memslot id; slot: its id
//! 42     1    as      memslot address space (translated run, slot)
//! 43     1    kind    translated run: 1 base, 2 thp, 3 hugetlb, 4 pfnmap,
//!                     5 gmem, 6 dax
//! 44     1    order   translated run: order of the host folio
//! 45     1    map     translated run: 1 pte, 2 pmd, 3 pud, 0 none
//! 46     1    share   translated run: 0 none, 1 zero, 2 ksm
//! 47     1    step    translated run: 0 frames ascend, 1 descend (only
//!                     when pages >= 2); else 0
//! ```
//!
//! A vm record (tag 3) keeps what KVM maps (`kvm_4k=` and the rest of a
//! text `vm` line) in fields a VM has no other use for:
//!
//! ```text
//!  0     8    gpa     KVM's 4 KiB leaf entries
//! 24     8    hva     KVM's 2 MiB leaf entries
//! 36     2    node    1 when the architecture counts them (x86), else 0
//!                     and so are the four counts
//! 40     4    (slot..) KVM's 1 GiB leaf entries
//! 44     4    (order..) huge pages split by the NX mitigation
//! ```
//!
//! 32 bits are enough for the last two: a guest physical address has at
//! most 52 bits, so a VM has fewer than 2^31 2 MiB pages.
//!
//! A frame list (tag 5, `list.rs`) is a record laid out as a translated
//! run, with `pages` the number of frames listed (1 to `MAX_LIST`), and
//! `frame` and `step` 0, followed by that many 8-byte little-endian host
//! frame numbers, one per guest page from `gpa` on.
//!
//! A translated run's host physical address is `frame << 12 | gpa & 0xfff`
//! and its folio size `4096 << order`, as in the text format.  Fields a
//! record's tag does not use are zero; a decoder rejects a record that
//! breaks this, or holds a tag, code or reason it does not know, so any
//! record it accepts encodes back to the same bytes.

use super::reply::{Kind, KvmMaps, MapLevel, Reply, Share, Step, Translation};
use super::request::{Reason, Span, PAGE_SHIFT};

/// Size of one record in bytes.
pub const RECORD: usize = 48;

/// The node of a record whose node is not known: nodes are below
/// `MAX_NUMNODES` (at most 1024), so no node has this number.
const NODE_UNKNOWN: u16 = u16::MAX;

/// `tag` values.
const TAG_RUN: u8 = 1;
const TAG_TOKEN: u8 = 2;
const TAG_VM: u8 = 3;
const TAG_SLOT: u8 = 4;
const TAG_LIST: u8 = 5;

/// Why a record could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// A `tag` this decoder does not know.
    UnknownTag(u8),
    /// A field holds a code or value its record cannot have.
    BadValue(&'static str),
    /// The head of a frame list: `list.rs` decodes it with its frames.
    ListHead,
}

impl Reason {
    /// The reason's code in records: its place in [`Reason::ALL`] plus 1.
    /// New reasons are only ever appended, so codes never change.
    pub fn code(self) -> u8 {
        Reason::ALL
            .iter()
            .position(|r| *r == self)
            .map_or(0, |i| i as u8 + 1)
    }

    /// The reason with code `code`, if any.
    pub fn from_code(code: u8) -> Option<Reason> {
        Reason::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }
}

/// The fields of a record, before they are laid out.
#[derive(Default)]
struct Fields {
    gpa: u64,
    pages: u64,
    frame: u64,
    hva: u64,
    pid: u32,
    node: u16,
    reason: u8,
    tag: u8,
    slot: u16,
    as_id: u8,
    kind: u8,
    order: u8,
    map: u8,
    share: u8,
    step: u8,
}

impl Fields {
    /// Lays the fields out in `r`, every byte written (constant-size
    /// stores: no copy loop).
    fn write(&self, r: &mut [u8; RECORD]) {
        r[0..8].copy_from_slice(&self.gpa.to_le_bytes());
        r[8..16].copy_from_slice(&self.pages.to_le_bytes());
        r[16..24].copy_from_slice(&self.frame.to_le_bytes());
        r[24..32].copy_from_slice(&self.hva.to_le_bytes());
        r[32..36].copy_from_slice(&self.pid.to_le_bytes());
        r[36..38].copy_from_slice(&self.node.to_le_bytes());
        r[38] = self.reason;
        r[39] = self.tag;
        r[40..42].copy_from_slice(&self.slot.to_le_bytes());
        r[42] = self.as_id;
        r[43] = self.kind;
        r[44] = self.order;
        r[45] = self.map;
        r[46] = self.share;
        r[47] = self.step;
    }

    fn parse(r: &[u8; RECORD]) -> Fields {
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&r[at..at + 8]);
            u64::from_le_bytes(b)
        };
        Fields {
            gpa: u64_at(0),
            pages: u64_at(8),
            frame: u64_at(16),
            hva: u64_at(24),
            pid: u32::from_le_bytes([r[32], r[33], r[34], r[35]]),
            node: u16::from_le_bytes([r[36], r[37]]),
            reason: r[38],
            tag: r[39],
            slot: u16::from_le_bytes([r[40], r[41]]),
            as_id: r[42],
            kind: r[43],
            order: r[44],
            map: r[45],
            share: r[46],
            step: r[47],
        }
    }
}

impl Fields {
    /// A translated run's fields, under `tag`.
    fn translated(t: &Translation, tag: u8) -> Fields {
        Fields {
            gpa: t.gpa,
            pages: t.pages,
            frame: t.phys >> PAGE_SHIFT,
            hva: t.hva,
            pid: t.pid,
            node: t.node.min(NODE_UNKNOWN.into()) as u16,
            tag,
            slot: t.slot,
            as_id: t.as_id,
            kind: t.kind.code(),
            order: t.order,
            map: t.map.code(),
            share: t.share.code(),
            step: t.step.code(),
            ..Fields::default()
        }
    }

    /// The translation a translated run's fields tell.
    fn translation(&self) -> Result<Translation, RecordError> {
        let offset = self.gpa & ((1 << PAGE_SHIFT) - 1);
        if self.order >= 52 || self.frame >> (64 - PAGE_SHIFT) != 0 || self.hva & 0xfff != offset {
            return Err(RecordError::BadValue("frame, order or hva"));
        }
        let step = Step::from_code(self.step).ok_or(RecordError::BadValue("step"))?;
        if step == Step::Down && self.pages < 2 {
            return Err(RecordError::BadValue("step"));
        }
        Ok(Translation {
            phys: self.frame << PAGE_SHIFT | offset,
            kind: Kind::from_code(self.kind).ok_or(RecordError::BadValue("kind"))?,
            gpa: self.gpa,
            hva: self.hva,
            pid: self.pid,
            size: (1u64 << PAGE_SHIFT) << self.order,
            order: self.order,
            node: if self.node == NODE_UNKNOWN {
                u32::MAX
            } else {
                self.node.into()
            },
            slot: self.slot,
            as_id: self.as_id,
            share: Share::from_code(self.share).ok_or(RecordError::BadValue("share"))?,
            map: MapLevel::from_code(self.map).ok_or(RecordError::BadValue("map"))?,
            pages: self.pages,
            step,
        })
    }
}

/// Writes in `r` the head of a frame list of `count` frames whose pages
/// have `t`'s facts from `t.gpa` on (`t`'s `phys`, `pages` and `step` are
/// not written).
pub(crate) fn write_list_head(t: &Translation, count: u64, r: &mut [u8; RECORD]) {
    let mut f = Fields::translated(t, TAG_LIST);
    f.pages = count;
    f.frame = 0;
    f.step = 0;
    f.write(r);
}

/// Where a list head keeps its number of frames, to count them as they
/// are added.
pub(crate) const LIST_COUNT: core::ops::Range<usize> = 8..16;

/// The head of a frame list, as a translation with `phys` 0 and `pages` the
/// number of frames; `None` when `r` is a record of another tag.
pub(crate) fn read_list_head(r: &[u8; RECORD]) -> Result<Option<Translation>, RecordError> {
    let f = Fields::parse(r);
    if f.tag != TAG_LIST {
        return Ok(None);
    }
    if f.reason != 0 || f.frame != 0 || f.step != 0 {
        return Err(RecordError::BadValue("reason, frame or step"));
    }
    f.translation().map(Some)
}

/// A count in 32 bits: the record's layout says why it always fits; if
/// one did not, the record would say as much as it can hold.
fn narrow(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The little-endian `u32` at `at` in `r`.
fn u32_at(r: &[u8; RECORD], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&r[at..at + 4]);
    u32::from_le_bytes(b)
}

fn reason_of(code: u8) -> Result<Reason, RecordError> {
    Reason::from_code(code).ok_or(RecordError::BadValue("reason"))
}

impl Reply {
    /// The reply's record, as documented at the top of this file.
    pub fn to_record(&self) -> [u8; RECORD] {
        let mut r = [0u8; RECORD];
        self.write_record(&mut r);
        r
    }

    /// Writes the reply's record into `r`.  What a record has no room for
    /// is cut: the low 12 bits of `phys` and `hva` other than `gpa`'s,
    /// `size` other than `4096 << order`, memory or slot sizes that are
    /// not whole pages (the module never produces these).  A node not
    /// known (`u32::MAX`) is written as 65535, which no node is.
    pub fn write_record(&self, r: &mut [u8; RECORD]) {
        // By reference: moving a reply out is a `memcpy`, which costs by the
        // byte where copies go a byte at a time (a record per page).
        let f = match *self {
            Reply::Ok(ref t) => Fields::translated(t, TAG_RUN),
            Reply::AddrErr {
                reason,
                gpa,
                pid,
                pages,
            } => Fields {
                gpa,
                pages,
                pid: pid.unwrap_or(0),
                reason: reason.code(),
                tag: TAG_RUN,
                ..Fields::default()
            },
            Reply::TokenErr { reason, span } => Fields {
                gpa: span.offset as u64,
                pages: span.len as u64,
                reason: reason.code(),
                tag: TAG_TOKEN,
                ..Fields::default()
            },
            Reply::Vm {
                pid,
                slots,
                memory,
                kvm,
            } => {
                let k = kvm.unwrap_or_default();
                Fields {
                    gpa: k.leaves[0],
                    pages: memory >> PAGE_SHIFT,
                    frame: slots.into(),
                    hva: k.leaves[1],
                    pid,
                    node: kvm.is_some().into(),
                    tag: TAG_VM,
                    ..Fields::default()
                }
            }
            Reply::Slot {
                pid,
                as_id,
                id,
                gpa,
                size,
                hva,
                flags,
            } => Fields {
                gpa,
                pages: size >> PAGE_SHIFT,
                frame: flags.into(),
                hva,
                pid,
                tag: TAG_SLOT,
                slot: id,
                as_id,
                ..Fields::default()
            },
        };
        f.write(r);
        if let Reply::Vm { kvm: Some(k), .. } = self {
            r[40..44].copy_from_slice(&narrow(k.leaves[2]).to_le_bytes());
            r[44..48].copy_from_slice(&narrow(k.nx_splits).to_le_bytes());
        }
    }

    /// Decodes one record; rejects any record [`Reply::to_record`] would
    /// not have written.
    pub fn from_record(r: &[u8; RECORD]) -> Result<Reply, RecordError> {
        let f = Fields::parse(r);
        // Each tag's unused fields, which must be zero.
        let unused: &[(&'static str, u64)] = match (f.tag, f.reason) {
            (TAG_RUN, 0) => &[],
            (TAG_LIST, _) => return Err(RecordError::ListHead),
            (TAG_RUN, _) => &[
                ("frame", f.frame),
                ("hva", f.hva),
                ("node", f.node.into()),
                ("slot", f.slot.into()),
                ("as", f.as_id.into()),
                ("kind", f.kind.into()),
                ("order", f.order.into()),
                ("map", f.map.into()),
                ("share", f.share.into()),
            ],
            (TAG_TOKEN, _) => &[
                ("frame", f.frame),
                ("hva", f.hva),
                ("pid", f.pid.into()),
                ("node", f.node.into()),
                ("slot", f.slot.into()),
                ("as", f.as_id.into()),
                ("kind", f.kind.into()),
                ("order", f.order.into()),
                ("map", f.map.into()),
                ("share", f.share.into()),
            ],
            (TAG_VM, _) if f.node > 1 => &[("node", f.node.into())],
            // Without KVM's counts, the fields that hold them are unused.
            (TAG_VM, _) if f.node == 0 => &[
                ("gpa", f.gpa),
                ("hva", f.hva),
                ("reason", f.reason.into()),
                ("kvm_1g and nx_splits", u32_at(r, 40).into()),
                ("kvm_1g and nx_splits", u32_at(r, 44).into()),
            ],
            (TAG_VM, _) => &[("reason", f.reason.into())],
            (TAG_SLOT, _) => &[
                ("node", f.node.into()),
                ("reason", f.reason.into()),
                ("kind", f.kind.into()),
                ("order", f.order.into()),
                ("map", f.map.into()),
                ("share", f.share.into()),
            ],
            (tag, _) => return Err(RecordError::UnknownTag(tag)),
        };
        if let Some((name, _)) = unused.iter().find(|(_, v)| *v != 0) {
            return Err(RecordError::BadValue(name));
        }
        if f.step != 0 && (f.tag, f.reason) != (TAG_RUN, 0) && f.tag != TAG_VM {
            return Err(RecordError::BadValue("step"));
        }
        Ok(match f.tag {
            TAG_RUN if f.reason == 0 => Reply::Ok(f.translation()?),
            TAG_RUN => Reply::AddrErr {
                reason: reason_of(f.reason)?,
                gpa: f.gpa,
                pid: (f.pid != 0).then_some(f.pid),
                pages: f.pages,
            },
            TAG_TOKEN => Reply::TokenErr {
                reason: reason_of(f.reason)?,
                span: Span {
                    offset: usize::try_from(f.gpa).map_err(|_| RecordError::BadValue("gpa"))?,
                    len: usize::try_from(f.pages).map_err(|_| RecordError::BadValue("pages"))?,
                },
            },
            TAG_VM => Reply::Vm {
                pid: f.pid,
                slots: u32::try_from(f.frame).map_err(|_| RecordError::BadValue("frame"))?,
                memory: f
                    .pages
                    .checked_mul(1 << PAGE_SHIFT)
                    .ok_or(RecordError::BadValue("pages"))?,
                kvm: (f.node == 1).then(|| KvmMaps {
                    leaves: [f.gpa, f.hva, u32_at(r, 40).into()],
                    nx_splits: u32_at(r, 44).into(),
                }),
            },
            _ => Reply::Slot {
                pid: f.pid,
                as_id: f.as_id,
                id: f.slot,
                gpa: f.gpa,
                size: f
                    .pages
                    .checked_mul(1 << PAGE_SHIFT)
                    .ok_or(RecordError::BadValue("pages"))?,
                hva: f.hva,
                flags: u32::try_from(f.frame).map_err(|_| RecordError::BadValue("frame"))?,
            },
        })
    }
}
