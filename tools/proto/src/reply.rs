// SPDX-License-Identifier: GPL-2.0

//! The replies of `/proc/gfn_to_pfn`: one line per address, run of pages,
//! listed VM or memslot, or bad token, as the types here hold them.  The
//! kernel module writes the lines with `reply_encode.rs`, the tools read
//! them with `reply_parse.rs` (binary records are `record.rs`'s, `list`
//! lines `list.rs`'s): shared source, so both always agree.  The format,
//! line by line and field by field, is documented in `docs/protocol.md`.

use super::request::{Reason, Span, PAGE_SHIFT};

// Where the tools have always found the encoder's and the parser's public
// items; the kernel module uses none of them through this path.
#[allow(unused_imports)]
pub use super::reply_encode::MAX_LINE;
#[allow(unused_imports)]
pub use super::reply_parse::{parse_line, ParseError};

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
