// SPDX-License-Identifier: GPL-2.0

//! The reply format of `/proc/gfn_to_pfn`: one line per address, run of
//! pages, listed VM or memslot, or bad token.  The kernel module formats
//! lines with `Display`; the tools parse them with [`parse_line`].  Shared
//! source, so both always agree.
//!
//! ```text
//! ok phys=0x<hex> kind=<base|thp|hugetlb> gpa=0x<hex> hva=0x<hex> pid=<dec> size=<dec>
//!    order=<dec> node=<dec> slot=<dec> as=<dec> share=<none|zero|ksm>
//!    map=<pte|pmd|pud> [pages=<dec>]
//! err:<reason> gpa=0x<hex> [pid=<dec>] [pages=<dec>]
//! err:<reason> offset=<dec> len=<dec>
//! vm pid=<dec> slots=<dec> memory=<dec>
//! slot pid=<dec> as=<dec> id=<dec> gpa=0x<hex> size=<dec> hva=0x<hex> flags=0x<hex>
//! ```
//!
//! (The `ok` line is one line.)  A line with `pages=N` stands for `N`
//! consecutive guest pages from `gpa` on whose host pages are as
//! consecutive, with the same facts; without it, `N` is 1.  For a single
//! address `gpa`, `hva` and `phys` keep its offset in the page; for ranges
//! they are page aligned.  Parsers ignore `key=value` fields they do not
//! know, so fields can be added without breaking older tools.

use super::request::{Reason, Span};
use core::fmt;

/// What backs a guest page on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An ordinary base page.
    Base,
    /// A transparent huge page (PMD-sized or multi-size).
    Thp,
    /// A hugetlbfs page.
    Hugetlb,
}

impl Kind {
    /// The kind's name in replies.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Base => "base",
            Kind::Thp => "thp",
            Kind::Hugetlb => "hugetlb",
        }
    }

    /// The kind named `name`, if any.
    pub fn from_name(name: &[u8]) -> Option<Kind> {
        [Kind::Base, Kind::Thp, Kind::Hugetlb]
            .into_iter()
            .find(|k| k.as_str().as_bytes() == name)
    }
}

/// Whether the host page is shared in a way that matters to its users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Share {
    /// An ordinary page.
    None,
    /// The shared zero page (or huge zero page): never written.
    Zero,
    /// A page merged by KSM with identical pages elsewhere.
    Ksm,
}

impl Share {
    /// The value's name in replies.
    pub fn as_str(self) -> &'static str {
        match self {
            Share::None => "none",
            Share::Zero => "zero",
            Share::Ksm => "ksm",
        }
    }

    /// The value named `name`, if any.
    pub fn from_name(name: &[u8]) -> Option<Share> {
        [Share::None, Share::Zero, Share::Ksm]
            .into_iter()
            .find(|k| k.as_str().as_bytes() == name)
    }
}

/// The VMM page-table level that maps a page: what decides whether KVM
/// can map it huge in the guest (a THP split into PTEs is still an order-9
/// folio, but `pte`-mapped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapLevel {
    /// A page-table entry: one 4 KiB page.
    Pte,
    /// A PMD leaf: a 2 MiB THP or hugetlb page mapped whole.
    Pmd,
    /// A PUD leaf: a 1 GiB hugetlb page mapped whole.
    Pud,
}

impl MapLevel {
    /// The level's name in replies.
    pub fn as_str(self) -> &'static str {
        match self {
            MapLevel::Pte => "pte",
            MapLevel::Pmd => "pmd",
            MapLevel::Pud => "pud",
        }
    }

    /// The level named `name`, if any.
    pub fn from_name(name: &[u8]) -> Option<MapLevel> {
        [MapLevel::Pte, MapLevel::Pmd, MapLevel::Pud]
            .into_iter()
            .find(|k| k.as_str().as_bytes() == name)
    }
}

/// A successful translation of one page or of a run of pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Host physical address: host PFN << 12 | (gpa & 0xfff).
    pub phys: u64,
    /// What backs the page.
    pub kind: Kind,
    /// The guest physical address asked for (first of a run).
    pub gpa: u64,
    /// Host virtual address of `gpa` in the VMM.
    pub hva: u64,
    /// The VMM's pid.
    pub pid: u32,
    /// Size in bytes of the host page (folio) holding it.
    pub size: u64,
    /// Order of that folio: `size == 4096 << order`.
    pub order: u8,
    /// NUMA node of the host page.
    pub node: u32,
    /// Id of the memslot holding `gpa`.
    pub slot: u16,
    /// Address space of that memslot (1 is SMM on x86).
    pub as_id: u8,
    /// Whether the page is the zero page or a KSM page.
    pub share: Share,
    /// How the VMM's page tables map it.
    pub map: MapLevel,
    /// Number of pages in the run (1 for a single address).
    pub pages: u64,
}

/// One reply line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// An address or a run of pages translated.
    Ok(Translation),
    /// An address, or a run of pages, that could not be translated.
    AddrErr {
        /// Why.
        reason: Reason,
        /// The address (first of a run).
        gpa: u64,
        /// The pid it was looked up with, if any.
        pid: Option<u32>,
        /// Number of pages in the run (1 for a single address).
        pages: u64,
    },
    /// A token that is not valid, or a request word that failed.
    TokenErr {
        /// Why.
        reason: Reason,
        /// Where it stands in the write.
        span: Span,
    },
    /// A VM, in answer to `vms`.
    Vm {
        /// Pid of the thread that created the VM.
        pid: u32,
        /// Number of memslots, over all address spaces.
        slots: u32,
        /// Guest memory in those memslots, in bytes.
        memory: u64,
    },
    /// A memslot, in answer to `slots`.
    Slot {
        /// The VMM's pid.
        pid: u32,
        /// Address space.
        as_id: u8,
        /// Memslot id.
        id: u16,
        /// First guest physical address.
        gpa: u64,
        /// Size in bytes.
        size: u64,
        /// Host virtual address of `gpa`.
        hva: u64,
        /// `KVM_MEM_*` flags.
        flags: u32,
    },
}

/// Longest formatted line, newline included.
pub const MAX_LINE: usize = 256;

/// One reply line, formatted without `core::fmt` (which costs the kernel
/// more than the page walk when a map has a line per page).
pub struct Encoded {
    buf: [u8; MAX_LINE],
    len: usize,
}

impl Encoded {
    /// The line's bytes, without a newline.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Appends `bytes`, cut at `MAX_LINE` (which no line reaches).
    fn put(&mut self, bytes: &[u8]) {
        let end = (self.len + bytes.len()).min(MAX_LINE);
        let n = end - self.len;
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..end), bytes.get(..n)) {
            dst.copy_from_slice(src);
            self.len = end;
        }
    }

    fn dec(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.put(&digits[i..]);
    }

    fn hex(&mut self, mut v: u64) {
        let mut digits = [0u8; 16];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[(v & 0xf) as usize];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        self.put(b"0x");
        self.put(&digits[i..]);
    }

    /// ` key=<decimal>`.
    fn kdec(&mut self, key: &[u8], v: u64) {
        self.put(key);
        self.dec(v);
    }

    /// ` key=0x<hex>`.
    fn khex(&mut self, key: &[u8], v: u64) {
        self.put(key);
        self.hex(v);
    }

    /// ` pages=N` unless `N` is 1.
    fn pages(&mut self, n: u64) {
        if n != 1 {
            self.kdec(b" pages=", n);
        }
    }
}

impl Reply {
    /// The reply's line, as documented at the top of this file.
    pub fn encode(&self) -> Encoded {
        let mut e = Encoded {
            buf: [0; MAX_LINE],
            len: 0,
        };
        match self {
            Reply::Ok(t) => {
                e.khex(b"ok phys=", t.phys);
                e.put(b" kind=");
                e.put(t.kind.as_str().as_bytes());
                e.khex(b" gpa=", t.gpa);
                e.khex(b" hva=", t.hva);
                e.kdec(b" pid=", t.pid.into());
                e.kdec(b" size=", t.size);
                e.kdec(b" order=", t.order.into());
                e.kdec(b" node=", t.node.into());
                e.kdec(b" slot=", t.slot.into());
                e.kdec(b" as=", t.as_id.into());
                e.put(b" share=");
                e.put(t.share.as_str().as_bytes());
                e.put(b" map=");
                e.put(t.map.as_str().as_bytes());
                e.pages(t.pages);
            }
            Reply::AddrErr {
                reason,
                gpa,
                pid,
                pages,
            } => {
                e.put(b"err:");
                e.put(reason.as_str().as_bytes());
                e.khex(b" gpa=", *gpa);
                if let Some(pid) = pid {
                    e.kdec(b" pid=", (*pid).into());
                }
                e.pages(*pages);
            }
            Reply::TokenErr { reason, span } => {
                e.put(b"err:");
                e.put(reason.as_str().as_bytes());
                e.kdec(b" offset=", span.offset as u64);
                e.kdec(b" len=", span.len as u64);
            }
            Reply::Vm { pid, slots, memory } => {
                e.kdec(b"vm pid=", (*pid).into());
                e.kdec(b" slots=", (*slots).into());
                e.kdec(b" memory=", *memory);
            }
            Reply::Slot {
                pid,
                as_id,
                id,
                gpa,
                size,
                hva,
                flags,
            } => {
                e.kdec(b"slot pid=", (*pid).into());
                e.kdec(b" as=", (*as_id).into());
                e.kdec(b" id=", (*id).into());
                e.khex(b" gpa=", *gpa);
                e.kdec(b" size=", *size);
                e.khex(b" hva=", *hva);
                e.khex(b" flags=", (*flags).into());
            }
        }
        e
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only ASCII is ever put into a line.
        f.write_str(core::str::from_utf8(self.encode().as_bytes()).map_err(|_| fmt::Error)?)
    }
}

/// Why a reply line could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Neither `ok ` nor `err:<reason> `.
    UnknownStatus,
    /// A field the line's form requires is missing.
    MissingField(&'static str),
    /// A field's value is malformed.
    BadValue(&'static str),
    /// A word that is not `key=value`.
    BadField,
}

/// The fields of a line that the parser knows; others are ignored.
#[derive(Default)]
struct Fields<'a> {
    phys: Option<&'a str>,
    kind: Option<&'a str>,
    gpa: Option<&'a str>,
    hva: Option<&'a str>,
    pid: Option<&'a str>,
    size: Option<&'a str>,
    order: Option<&'a str>,
    node: Option<&'a str>,
    slot: Option<&'a str>,
    as_id: Option<&'a str>,
    share: Option<&'a str>,
    map: Option<&'a str>,
    pages: Option<&'a str>,
    offset: Option<&'a str>,
    len: Option<&'a str>,
    slots: Option<&'a str>,
    memory: Option<&'a str>,
    id: Option<&'a str>,
    flags: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn collect(words: core::str::SplitAsciiWhitespace<'a>) -> Result<Self, ParseError> {
        let mut f = Fields::default();
        for word in words {
            let (key, value) = word.split_once('=').ok_or(ParseError::BadField)?;
            let slot = match key {
                "phys" => &mut f.phys,
                "kind" => &mut f.kind,
                "gpa" => &mut f.gpa,
                "hva" => &mut f.hva,
                "pid" => &mut f.pid,
                "size" => &mut f.size,
                "order" => &mut f.order,
                "node" => &mut f.node,
                "slot" => &mut f.slot,
                "as" => &mut f.as_id,
                "share" => &mut f.share,
                "map" => &mut f.map,
                "pages" => &mut f.pages,
                "offset" => &mut f.offset,
                "len" => &mut f.len,
                "slots" => &mut f.slots,
                "memory" => &mut f.memory,
                "id" => &mut f.id,
                "flags" => &mut f.flags,
                _ => continue,
            };
            *slot = Some(value);
        }
        Ok(f)
    }

    /// `pages=`, 1 when absent.
    fn pages(&self) -> Result<u64, ParseError> {
        match self.pages {
            Some(_) => dec(self.pages, "pages"),
            None => Ok(1),
        }
    }
}

fn hex(v: Option<&str>, name: &'static str) -> Result<u64, ParseError> {
    let v = v.ok_or(ParseError::MissingField(name))?;
    let digits = v.strip_prefix("0x").ok_or(ParseError::BadValue(name))?;
    if digits.is_empty() || digits.starts_with('+') {
        return Err(ParseError::BadValue(name));
    }
    u64::from_str_radix(digits, 16).map_err(|_| ParseError::BadValue(name))
}

fn dec<T: core::str::FromStr>(v: Option<&str>, name: &'static str) -> Result<T, ParseError> {
    let v = v.ok_or(ParseError::MissingField(name))?;
    if v.starts_with('+') {
        return Err(ParseError::BadValue(name));
    }
    v.parse().map_err(|_| ParseError::BadValue(name))
}

/// Parses one reply line, with or without its newline.
pub fn parse_line(line: &str) -> Result<Reply, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let mut words = line.split_ascii_whitespace();
    let status = words.next().ok_or(ParseError::UnknownStatus)?;
    let fields = Fields::collect(words)?;
    match status {
        "ok" => {
            let kind = fields.kind.ok_or(ParseError::MissingField("kind"))?;
            let share = fields.share.ok_or(ParseError::MissingField("share"))?;
            let map = fields.map.ok_or(ParseError::MissingField("map"))?;
            return Ok(Reply::Ok(Translation {
                phys: hex(fields.phys, "phys")?,
                kind: Kind::from_name(kind.as_bytes()).ok_or(ParseError::BadValue("kind"))?,
                gpa: hex(fields.gpa, "gpa")?,
                hva: hex(fields.hva, "hva")?,
                pid: dec(fields.pid, "pid")?,
                size: dec(fields.size, "size")?,
                order: dec(fields.order, "order")?,
                node: dec(fields.node, "node")?,
                slot: dec(fields.slot, "slot")?,
                as_id: dec(fields.as_id, "as")?,
                share: Share::from_name(share.as_bytes()).ok_or(ParseError::BadValue("share"))?,
                map: MapLevel::from_name(map.as_bytes()).ok_or(ParseError::BadValue("map"))?,
                pages: fields.pages()?,
            }));
        }
        "vm" => {
            return Ok(Reply::Vm {
                pid: dec(fields.pid, "pid")?,
                slots: dec(fields.slots, "slots")?,
                memory: dec(fields.memory, "memory")?,
            })
        }
        "slot" => {
            return Ok(Reply::Slot {
                pid: dec(fields.pid, "pid")?,
                as_id: dec(fields.as_id, "as")?,
                id: dec(fields.id, "id")?,
                gpa: hex(fields.gpa, "gpa")?,
                size: dec(fields.size, "size")?,
                hva: hex(fields.hva, "hva")?,
                flags: u32::try_from(hex(fields.flags, "flags")?)
                    .map_err(|_| ParseError::BadValue("flags"))?,
            })
        }
        _ => {}
    }
    let name = status
        .strip_prefix("err:")
        .ok_or(ParseError::UnknownStatus)?;
    let reason = Reason::from_name(name.as_bytes()).ok_or(ParseError::UnknownStatus)?;
    if fields.gpa.is_some() {
        let pid = match fields.pid {
            Some(_) => Some(dec(fields.pid, "pid")?),
            None => None,
        };
        return Ok(Reply::AddrErr {
            reason,
            gpa: hex(fields.gpa, "gpa")?,
            pid,
            pages: fields.pages()?,
        });
    }
    Ok(Reply::TokenErr {
        reason,
        span: Span {
            offset: dec(fields.offset, "offset")?,
            len: dec(fields.len, "len")?,
        },
    })
}
