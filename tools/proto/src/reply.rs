// SPDX-License-Identifier: GPL-2.0

//! The reply format of `/proc/gfn_to_pfn`: one line per address, run of
//! pages, listed VM or memslot, or bad token.  The kernel module formats
//! lines with `Display`; the tools parse them with [`parse_line`].  Shared
//! source, so both always agree.
//!
//! ```text
//! ok phys=0x<hex> kind=<base|thp|hugetlb|pfnmap|gmem> gpa=0x<hex> hva=0x<hex> pid=<dec> size=<dec>
//!    order=<dec> node=<dec> slot=<dec> as=<dec> share=<none|zero|ksm>
//!    map=<pte|pmd|pud|none> [step=-1] [pages=<dec>]
//! list kind=<...> gpa=0x<hex> hva=0x<hex> pid=<dec> size=<dec> order=<dec> node=<dec>
//!    slot=<dec> as=<dec> share=<...> map=<...> frames=<hex>(,<hex>)*
//! err:<reason> gpa=0x<hex> [pid=<dec>] [pages=<dec>]
//! err:<reason> offset=<dec> len=<dec>
//! vm pid=<dec> slots=<dec> memory=<dec>
//! slot pid=<dec> as=<dec> id=<dec> gpa=0x<hex> size=<dec> hva=0x<hex> flags=0x<hex>
//! ```
//!
//! (The `ok` and `list` lines are one line each.)  A line with `pages=N`
//! stands for `N` consecutive guest pages from `gpa` on whose host pages
//! are as consecutive, with the same facts; without it, `N` is 1.  With
//! `step=-1` (only when `N` is at least 2) the run's host frames descend
//! by one a guest page: page `i` of it is frame `phys / 4096 - i`, as base
//! pages a guest faults in in address order usually come from the host's
//! allocator.  A `list` line (`list.rs`) stands for consecutive guest pages
//! from `gpa` on with the same facts and no order in their frames: one
//! frame number a page, in hex without `0x`.  For a single
//! address `gpa`, `hva` and `phys` keep its offset in the page; for ranges
//! they are page aligned.  Parsers ignore `key=value` fields they do not
//! know, so fields can be added without breaking older tools.

use super::request::{Reason, Span, PAGE_SHIFT};
use core::fmt;

/// Declares a fieldless enum whose values each have a name in reply lines
/// and a code in binary records (`record.rs`), with lookups both ways.
macro_rules! named {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$vmeta:meta])* $value:ident = ($text:literal, $code:literal),)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $value,)+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$value,)+];

            /// The value's name in replies.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$value => $text,)+
                }
            }

            /// The value named `name`, if any.
            pub fn from_name(name: &[u8]) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str().as_bytes() == name)
            }

            /// The value's code in binary records.
            pub fn code(self) -> u8 {
                match self {
                    $($name::$value => $code,)+
                }
            }

            /// The value with code `code`, if any.
            pub fn from_code(code: u8) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.code() == code)
            }
        }
    };
}

named! {
    /// What backs a guest page on the host.
    Kind {
        /// An ordinary base page.
        Base = ("base", 1),
        /// A transparent huge page (PMD-sized or multi-size).
        Thp = ("thp", 2),
        /// A hugetlbfs page.
        Hugetlb = ("hugetlb", 3),
        /// A frame of `VM_PFNMAP` memory (device memory, a `/dev/mem`
        /// mapping): no folio; `order` and `size` are the mapping's, and
        /// `node` is `u32::MAX` (not known).
        Pfnmap = ("pfnmap", 4),
        /// A private page of a guest_memfd memslot (confidential VMs and
        /// `KVM_X86_SW_PROTECTED_VM`): the guest_memfd's folio, which no
        /// page table of the VMM maps (`map=none`).
        Gmem = ("gmem", 5),
        /// Device memory with struct pages mapped by a devmap entry: fsdax
        /// (a DAX file system's file) or device-dax.  No folio of the page
        /// allocator; `order` and `size` are the mapping's, `node` the
        /// device's.
        Dax = ("dax", 6),
    }
}

named! {
    /// Whether the host page is shared in a way that matters to its users.
    Share {
        /// An ordinary page.
        None = ("none", 0),
        /// The shared zero page (or huge zero page): never written.
        Zero = ("zero", 1),
        /// A page merged by KSM with identical pages elsewhere.
        Ksm = ("ksm", 2),
    }
}

named! {
    /// The VMM page-table level that maps a page: what decides whether KVM
    /// can map it huge in the guest (a THP split into PTEs is still an
    /// order-9 folio, but `pte`-mapped).
    MapLevel {
        /// A page-table entry: one 4 KiB page.
        Pte = ("pte", 1),
        /// A PMD leaf: a 2 MiB THP or hugetlb page mapped whole.
        Pmd = ("pmd", 2),
        /// A PUD leaf: a 1 GiB hugetlb page mapped whole.
        Pud = ("pud", 3),
        /// Not mapped by the VMM at all: a private guest_memfd page.
        None = ("none", 0),
    }
}

named! {
    /// Which way the host frames of a run go, a guest page at a time.
    Step {
        /// Up by one: page `i` is frame `phys / 4096 + i`.
        Up = ("1", 0),
        /// Down by one: page `i` is frame `phys / 4096 - i`.
        Down = ("-1", 1),
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
    /// Which way the run's host frames go (`Up` when `pages` is 1).
    pub step: Step,
}

impl Translation {
    /// Host physical address of page `i` of the run (offset kept).
    pub fn phys_of(&self, i: u64) -> u64 {
        let d = i.wrapping_mul(1 << PAGE_SHIFT);
        match self.step {
            Step::Up => self.phys.wrapping_add(d),
            Step::Down => self.phys.wrapping_sub(d),
        }
    }

    /// Page `i` of the run, as a translation of its own (`pages` 1).
    pub fn page(&self, i: u64) -> Translation {
        let d = i.wrapping_mul(1 << PAGE_SHIFT);
        Translation {
            phys: self.phys_of(i),
            gpa: self.gpa.wrapping_add(d),
            hva: self.hva.wrapping_add(d),
            pages: 1,
            step: Step::Up,
            ..*self
        }
    }

    /// The run of `pages` pages from this one's first, going its way.
    pub fn with_pages(&self, pages: u64) -> Translation {
        Translation {
            pages,
            step: if pages > 1 { self.step } else { Step::Up },
            ..*self
        }
    }
}

/// What KVM itself maps of a VM's memory: its stage-2 leaf entries (x86:
/// the TDP MMU's, or the shadow MMU's) per level, over all of KVM's roots
/// (SMM's too, so memory both address spaces map counts twice), and the
/// huge pages the NX-huge-page mitigation has split, as KVM counts them
/// (`kvm->stat`, the same counters as its debugfs files `pages_4k`,
/// `pages_2m`, `pages_1g` and `nx_lpage_splits`).  A guest gets huge pages
/// only where its memory is mapped huge here as well as on the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvmMaps {
    /// Leaf entries mapping 4 KiB, 2 MiB and 1 GiB, in that order.
    pub leaves: [u64; 3],
    /// Huge pages split by the NX-huge-page mitigation.
    pub nx_splits: u64,
}

impl KvmMaps {
    /// The levels' names, as in text replies (`kvm_4k=`) and metrics.
    pub const LEVELS: [&'static str; 3] = ["4k", "2m", "1g"];
    /// The levels' sizes in bytes.
    pub const SIZES: [u64; 3] = [1 << 12, 1 << 21, 1 << 30];

    /// Bytes KVM's leaves map, over every level and root.
    pub fn mapped(&self) -> u64 {
        self.leaves
            .iter()
            .zip(Self::SIZES)
            .fold(0u64, |a, (n, size)| {
                a.saturating_add(n.saturating_mul(size))
            })
    }
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
        /// What KVM itself maps, where the architecture counts it (x86).
        kvm: Option<KvmMaps>,
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
}

/// Writes a line into a caller's buffer, digits in place: no buffer is
/// zeroed and no byte is copied twice (under emulation, as in the test
/// bed, every byte a map moves costs).
pub(crate) struct Writer<'a> {
    pub(crate) buf: &'a mut [u8; MAX_LINE],
    pub(crate) len: usize,
}

impl Writer<'_> {
    /// Appends `bytes`, cut at `MAX_LINE` (which no line reaches).
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let end = (self.len + bytes.len()).min(MAX_LINE);
        let n = end - self.len;
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..end), bytes.get(..n)) {
            dst.copy_from_slice(src);
            self.len = end;
        }
    }

    /// Appends a literal: its length is known when compiled, so the copy
    /// is a few stores, not a call to `memcpy`.
    pub(crate) fn lit<const N: usize>(&mut self, bytes: &[u8; N]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + N) {
            dst.copy_from_slice(bytes);
            self.len += N;
        }
    }

    /// Appends the `n` lowest digits of `v` in base `1 << shift` (hex) or
    /// 10 (`shift` 0), most significant first.
    pub(crate) fn digits(&mut self, mut v: u64, n: usize, shift: u32) {
        let end = self.len + n;
        if end > MAX_LINE {
            return;
        }
        for i in (self.len..end).rev() {
            let d = if shift == 0 {
                let d = v % 10;
                v /= 10;
                d
            } else {
                let d = v & 0xf;
                v >>= 4;
                d
            };
            if let Some(b) = self.buf.get_mut(i) {
                *b = b"0123456789abcdef"[d as usize];
            }
        }
        self.len = end;
    }

    fn dec(&mut self, v: u64) {
        let mut n = 1;
        let mut rest = v / 10;
        while rest != 0 {
            n += 1;
            rest /= 10;
        }
        self.digits(v, n, 0);
    }

    fn hex(&mut self, v: u64) {
        let n = (64 - (v | 1).leading_zeros() as usize).div_ceil(4);
        self.lit(b"0x");
        self.digits(v, n, 4);
    }

    /// ` key=<decimal>`.
    pub(crate) fn kdec<const N: usize>(&mut self, key: &[u8; N], v: u64) {
        self.lit(key);
        self.dec(v);
    }

    /// ` key=0x<hex>`.
    pub(crate) fn khex<const N: usize>(&mut self, key: &[u8; N], v: u64) {
        self.lit(key);
        self.hex(v);
    }

    /// The fields of a translation an `ok` and a `list` line share, from
    /// ` kind=` to `map=`.
    fn facts(&mut self, t: &Translation) {
        self.lit(b" kind=");
        self.put(t.kind.as_str().as_bytes());
        self.khex(b" gpa=", t.gpa);
        self.khex(b" hva=", t.hva);
        self.kdec(b" pid=", t.pid.into());
        self.kdec(b" size=", t.size);
        self.kdec(b" order=", t.order.into());
        self.kdec(b" node=", t.node.into());
        self.kdec(b" slot=", t.slot.into());
        self.kdec(b" as=", t.as_id.into());
        self.lit(b" share=");
        self.put(t.share.as_str().as_bytes());
        self.lit(b" map=");
        self.put(t.map.as_str().as_bytes());
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
        let mut buf = [0; MAX_LINE];
        let len = self.encode_into(&mut buf, false);
        Encoded { buf, len }
    }

    /// Writes the reply's line, with a newline when `newline`, at the start
    /// of `buf`; returns its length.
    pub fn encode_into(&self, buf: &mut [u8; MAX_LINE], newline: bool) -> usize {
        let mut e = Writer { buf, len: 0 };
        match self {
            Reply::Ok(t) => {
                e.khex(b"ok phys=", t.phys);
                e.facts(t);
                if t.step == Step::Down {
                    e.lit(b" step=-1");
                }
                e.pages(t.pages);
            }
            Reply::AddrErr {
                reason,
                gpa,
                pid,
                pages,
            } => {
                e.lit(b"err:");
                e.put(reason.as_str().as_bytes());
                e.khex(b" gpa=", *gpa);
                if let Some(pid) = pid {
                    e.kdec(b" pid=", (*pid).into());
                }
                e.pages(*pages);
            }
            Reply::TokenErr { reason, span } => {
                e.lit(b"err:");
                e.put(reason.as_str().as_bytes());
                e.kdec(b" offset=", span.offset as u64);
                e.kdec(b" len=", span.len as u64);
            }
            Reply::Vm {
                pid,
                slots,
                memory,
                kvm,
            } => {
                e.kdec(b"vm pid=", (*pid).into());
                e.kdec(b" slots=", (*slots).into());
                e.kdec(b" memory=", *memory);
                if let Some(k) = kvm {
                    e.kdec(b" kvm_4k=", k.leaves[0]);
                    e.kdec(b" kvm_2m=", k.leaves[1]);
                    e.kdec(b" kvm_1g=", k.leaves[2]);
                    e.kdec(b" nx_splits=", k.nx_splits);
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
        if newline {
            e.lit(b"\n");
        }
        e.len
    }
}

/// Writes the head of a `list` line of `t`'s facts, up to and including
/// `frames=`, at the start of `buf`; returns its length.
pub(crate) fn encode_list_head(t: &Translation, buf: &mut [u8; MAX_LINE]) -> usize {
    let mut e = Writer { buf, len: 0 };
    e.lit(b"list");
    e.facts(t);
    e.lit(b" frames=");
    e.len
}

/// Writes `v` in hex without `0x` at the start of `buf` (at least 13
/// bytes, which any frame below 2^52 fits); returns its length.
pub(crate) fn encode_frame(v: u64, buf: &mut [u8]) -> usize {
    let n = (64 - (v | 1).leading_zeros() as usize)
        .div_ceil(4)
        .min(buf.len());
    let mut v = v;
    for b in buf[..n].iter_mut().rev() {
        *b = b"0123456789abcdef"[(v & 0xf) as usize];
        v >>= 4;
    }
    n
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
    step: Option<&'a str>,
    frames: Option<&'a str>,
    offset: Option<&'a str>,
    len: Option<&'a str>,
    slots: Option<&'a str>,
    memory: Option<&'a str>,
    id: Option<&'a str>,
    flags: Option<&'a str>,
    kvm_4k: Option<&'a str>,
    kvm_2m: Option<&'a str>,
    kvm_1g: Option<&'a str>,
    nx_splits: Option<&'a str>,
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
                "step" => &mut f.step,
                "frames" => &mut f.frames,
                "offset" => &mut f.offset,
                "len" => &mut f.len,
                "slots" => &mut f.slots,
                "memory" => &mut f.memory,
                "id" => &mut f.id,
                "flags" => &mut f.flags,
                "kvm_4k" => &mut f.kvm_4k,
                "kvm_2m" => &mut f.kvm_2m,
                "kvm_1g" => &mut f.kvm_1g,
                "nx_splits" => &mut f.nx_splits,
                _ => continue,
            };
            *slot = Some(value);
        }
        Ok(f)
    }

    /// What a `vm` line says KVM maps: all four fields or none.
    fn kvm_maps(&self) -> Result<Option<KvmMaps>, ParseError> {
        let given = [self.kvm_4k, self.kvm_2m, self.kvm_1g, self.nx_splits];
        if given.iter().all(Option::is_none) {
            return Ok(None);
        }
        Ok(Some(KvmMaps {
            leaves: [
                dec(self.kvm_4k, "kvm_4k")?,
                dec(self.kvm_2m, "kvm_2m")?,
                dec(self.kvm_1g, "kvm_1g")?,
            ],
            nx_splits: dec(self.nx_splits, "nx_splits")?,
        }))
    }

    /// The translation an `ok` or `list` line tells, with `phys` and
    /// `pages` given.
    fn translation(&self, phys: u64, pages: u64) -> Result<Translation, ParseError> {
        let kind = self.kind.ok_or(ParseError::MissingField("kind"))?;
        let share = self.share.ok_or(ParseError::MissingField("share"))?;
        let map = self.map.ok_or(ParseError::MissingField("map"))?;
        let step = match self.step {
            None => Step::Up,
            // Only a run of two pages or more goes down.
            Some("-1") if pages >= 2 => Step::Down,
            Some(_) => return Err(ParseError::BadValue("step")),
        };
        Ok(Translation {
            phys,
            kind: Kind::from_name(kind.as_bytes()).ok_or(ParseError::BadValue("kind"))?,
            gpa: hex(self.gpa, "gpa")?,
            hva: hex(self.hva, "hva")?,
            pid: dec(self.pid, "pid")?,
            size: dec(self.size, "size")?,
            order: dec(self.order, "order")?,
            node: dec(self.node, "node")?,
            slot: dec(self.slot, "slot")?,
            as_id: dec(self.as_id, "as")?,
            share: Share::from_name(share.as_bytes()).ok_or(ParseError::BadValue("share"))?,
            map: MapLevel::from_name(map.as_bytes()).ok_or(ParseError::BadValue("map"))?,
            pages,
            step,
        })
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

/// The head of a `list` line and its `frames=` value, or `None` for a line
/// of another form; `list.rs` reads the frames.  The head's `phys` is 0
/// and its `pages` the number of frames listed.
pub(crate) fn parse_list_head(line: &str) -> Result<Option<(Translation, &str)>, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let mut words = line.split_ascii_whitespace();
    if words.next() != Some("list") {
        return Ok(None);
    }
    let fields = Fields::collect(words)?;
    let frames = fields.frames.ok_or(ParseError::MissingField("frames"))?;
    if fields.phys.is_some() || fields.pages.is_some() || fields.step.is_some() {
        return Err(ParseError::BadField);
    }
    let count = frames.split(',').count() as u64;
    Ok(Some((fields.translation(0, count)?, frames)))
}

/// Parses one reply line, with or without its newline.
pub fn parse_line(line: &str) -> Result<Reply, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let mut words = line.split_ascii_whitespace();
    let status = words.next().ok_or(ParseError::UnknownStatus)?;
    let fields = Fields::collect(words)?;
    match status {
        "ok" => {
            let t = fields.translation(hex(fields.phys, "phys")?, fields.pages()?)?;
            return Ok(Reply::Ok(t));
        }
        "vm" => {
            return Ok(Reply::Vm {
                pid: dec(fields.pid, "pid")?,
                slots: dec(fields.slots, "slots")?,
                memory: dec(fields.memory, "memory")?,
                kvm: fields.kvm_maps()?,
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
