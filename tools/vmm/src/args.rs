//! Command line of `gfn-vmm`, and the guest memory layout it implies.

use std::fmt;

/// How a memslot's memory is backed on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// Anonymous private memory with MADV_NOHUGEPAGE: base pages.
    Anon,
    /// Anonymous, 2 MiB aligned, MADV_HUGEPAGE: transparent huge pages.
    Thp,
    /// MAP_HUGETLB with 2 MiB pages.
    Hugetlb,
    /// MAP_HUGETLB with 1 GiB pages.
    Hugetlb1g,
    /// Like `Anon`, plus MADV_MERGEABLE: KSM may merge its pages.
    Ksm,
    /// A `/dev/mem` mapping (VM_IO | VM_PFNMAP) of a 2 MiB hugetlb page
    /// the VMM holds: memory without struct pages as KVM sees it, at a
    /// physical address the VMM knows.  At most 2 MiB.
    Devmem,
    /// A shared memfd (shmem), MADV_NOHUGEPAGE: base pages, as QEMU's
    /// memory-backend-memfd,share=on.
    Memfd,
    /// A shared memfd, 2 MiB aligned, MADV_HUGEPAGE: shmem THPs where
    /// `/sys/kernel/mm/transparent_hugepage/shmem_enabled` allows them.
    MemfdThp,
    /// A shared memfd of 2 MiB hugetlb pages (MFD_HUGETLB).
    MemfdHugetlb,
    /// A guest_memfd memslot (the VM becomes a KVM_X86_SW_PROTECTED_VM):
    /// its first half private (the guest_memfd's pages), its second half
    /// shared (anonymous base pages at its userspace address).
    Gmem,
    /// A file on a DAX file system (`$GFN_DAX_DIR`, by default
    /// `/mnt/dax`), mapped shared: fsdax device memory with struct pages,
    /// mapped by devmap entries.
    Dax,
}

impl Backing {
    fn parse(s: &str) -> Result<Backing, String> {
        Ok(match s {
            "anon" => Backing::Anon,
            "thp" => Backing::Thp,
            "hugetlb" => Backing::Hugetlb,
            "hugetlb1g" => Backing::Hugetlb1g,
            "ksm" => Backing::Ksm,
            "devmem" => Backing::Devmem,
            "memfd" => Backing::Memfd,
            "memfd-thp" => Backing::MemfdThp,
            "memfd-hugetlb" => Backing::MemfdHugetlb,
            "gmem" => Backing::Gmem,
            "dax" => Backing::Dax,
            _ => {
                return Err(format!(
                    "unknown backing '{s}' (anon|thp|hugetlb|hugetlb1g|ksm|devmem|memfd|memfd-thp|memfd-hugetlb|gmem|dax)"
                ))
            }
        })
    }

    /// Alignment of the slot's guest and host addresses.
    pub fn align(self) -> u64 {
        match self {
            Backing::Anon | Backing::Ksm | Backing::Devmem | Backing::Memfd | Backing::Dax => 4096,
            // Two halves of whole pages.
            Backing::Gmem => 8192,
            Backing::Thp | Backing::Hugetlb | Backing::MemfdThp | Backing::MemfdHugetlb => 2 << 20,
            Backing::Hugetlb1g => 1 << 30,
        }
    }
}

impl fmt::Display for Backing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backing::Anon => "anon",
            Backing::Thp => "thp",
            Backing::Hugetlb => "hugetlb",
            Backing::Hugetlb1g => "hugetlb1g",
            Backing::Ksm => "ksm",
            Backing::Devmem => "devmem",
            Backing::Memfd => "memfd",
            Backing::MemfdThp => "memfd-thp",
            Backing::MemfdHugetlb => "memfd-hugetlb",
            Backing::Gmem => "gmem",
            Backing::Dax => "dax",
        })
    }
}

/// Whether and how a slot's memory is faulted in before the guest runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    /// Not at all: the guest's writes fault in what they touch.
    None,
    /// Every page, in address order.
    InOrder,
    /// Every page, in a random order.
    Scattered,
}

/// One requested memslot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotSpec {
    pub backing: Backing,
    pub size: u64,
    pub gpa: u64,
    /// KVM address space: 1 is SMM on x86.
    pub as_id: u16,
}

/// What to do once the guest has run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Hold the VM until a line or EOF on stdin.
    Hold,
    /// Hold the VM for this many seconds.
    HoldSecs(u64),
    /// Exit at once.
    Exit,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    pub slots: Vec<SlotSpec>,
    pub writes: Vec<(u64, u64)>,
    pub after: After,
    pub touch: Touch,
    /// Create, run and destroy the VM this many times (quietly), then exit.
    pub cycles: Option<u64>,
    /// NUMA node every slot's memory is bound to.
    pub node: Option<u32>,
    /// While holding, delete and re-add the first slot over and over.
    pub churn: bool,
    /// Guest addresses whose slot's host memory is unmapped once the guest
    /// has run (the memslot stays).
    pub unmap: Vec<u64>,
    /// How many VMs of this layout to create and hold.
    pub vms: u64,
    /// Guest addresses whose slot's missing pages are registered with a
    /// userfaultfd that never resolves a fault.
    pub uffd: Vec<u64>,
    /// Guest addresses whose host page is made read-only once the guest
    /// has run: an mprotect inside a THP splits its PMD into PTEs.
    pub mprotect: Vec<u64>,
    /// While holding, drop, collapse, split, move and remap the first
    /// slot's memory, 2 MiB at a time, over and over.
    pub thrash: bool,
    /// Create the VM in a thread that exits at once (its creator, as KVM
    /// records it, is then a dead thread).
    pub create_in_thread: bool,
    /// The main thread exits once the VM is set up; another thread holds
    /// it (the process's leader is then a zombie without files or mm).
    pub main_exits: bool,
    /// The CPU every thread of the VMM runs on.
    pub cpu: Option<usize>,
}

pub const USAGE: &str = "usage: gfn-vmm [--slot [as1:]BACKING:SIZE[@GPA]]... [--write GPA=VALUE]...
               [--hold | --hold-secs N | --exit | --cycles N] [--no-touch | --scatter]
               [--node N] [--churn] [--unmap GPA]... [--vms N] [--uffd GPA]...
               [--mprotect GPA]... [--thrash] [--create-in-thread] [--main-exits] [--cpu N]
  BACKING: anon | thp | hugetlb | hugetlb1g | ksm | devmem | memfd | memfd-thp | memfd-hugetlb | gmem | dax
  SIZE: bytes with K/M/G suffix
  devmem: a /dev/mem mapping of a 2 MiB hugetlb page the VMM holds (at most 2M)
  gmem: a guest_memfd memslot of a KVM_X86_SW_PROTECTED_VM, first half private
  dax: a file on the DAX file system mounted at $GFN_DAX_DIR (default /mnt/dax), shared
  --unmap: once the guest ran, munmap the host memory of the slot holding GPA
  --vms: create and hold N VMs of this layout (the last one reports its slots)
  --uffd: once the guest ran, register the missing pages of the slot holding GPA
          with a userfaultfd that never resolves a fault
  --mprotect: once the guest ran, make the host page of GPA read-only (a THP
          around it is then mapped by PTEs)
  as1: the slot goes into address space 1 (SMM);  --node: bind memory to a NUMA node
  --scatter: fault memory in by touching its pages in a random order (each
          page's host frame then unrelated to its neighbours'), not in order
  --churn: while holding, delete and re-add the first slot in a loop
  --thrash: while holding, in a loop over the first slot's 2 MiB chunks:
          MADV_DONTNEED and touch, MADV_COLLAPSE, split by mprotect, mremap
          away and back, munmap and mmap anew (prints THRASHED at the end)
  --create-in-thread: create the VM in a thread that exits at once (prints CREATOR tid=)
  --cpu N: run every thread on CPU N (race tests put the VMM beside its racer)
  --main-exits: run in a second thread; the main thread exits (SYS_exit, the
          process lives on) before READY
  Prints VMM, SLOT, WROTE and READY lines; holds the VM until stdin has a line or ends.
  While holding, stdin lines are commands:
    mmap                 map, touch and unmap 1 MiB; prints MMAPPED
    slot ID GPA SIZE     set memslot ID anew at GPA, SIZE bytes of its memory; prints SLOT-SET
    protect GPA          make the page at GPA read-only (splits a THP's PMD); PROTECTED
    collapse GPA         make its 2 MiB writable again and MADV_COLLAPSE it; COLLAPSED
    mremap ID            move memslot ID's memory elsewhere (the memslot keeps the old
                         address); prints MREMAPPED with the new one
    drop GPA SIZE        MADV_DONTNEED SIZE bytes at GPA (not present until touched); DROPPED
    resolve GPA          close the userfaultfd of the slot holding GPA (--uffd): faults
                         waiting there go on as ordinary faults; prints RESOLVED
  and anything else (an empty line) ends the hold.";

/// First GPA used for slots placed without `@GPA`.
const FIRST_GPA: u64 = 0x10_0000;

pub fn parse_num(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("bad number '{s}': {e}"))
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    parse_num(num)?
        .checked_mul(mult)
        .filter(|&n| n > 0 && n % 4096 == 0)
        .ok_or_else(|| format!("bad size '{s}': a non-zero multiple of 4 KiB"))
}

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

impl Args {
    pub fn parse(argv: &[String]) -> Result<Args, String> {
        let mut args = Args {
            slots: Vec::new(),
            writes: Vec::new(),
            after: After::Hold,
            touch: Touch::InOrder,
            cycles: None,
            node: None,
            churn: false,
            unmap: Vec::new(),
            vms: 1,
            uffd: Vec::new(),
            mprotect: Vec::new(),
            thrash: false,
            create_in_thread: false,
            main_exits: false,
            cpu: None,
        };
        let mut next_gpa = FIRST_GPA;
        let mut it = argv.iter();
        while let Some(a) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
            match a.as_str() {
                "--slot" => {
                    let v = value()?;
                    let (as_id, spec) = match v.strip_prefix("as1:") {
                        Some(spec) => (1, spec),
                        None => (0, v.as_str()),
                    };
                    let (backing, rest) = spec.split_once(':').ok_or(format!("bad slot '{v}'"))?;
                    let backing = Backing::parse(backing)?;
                    let (size, gpa) = match rest.split_once('@') {
                        Some((size, gpa)) => (parse_size(size)?, Some(parse_num(gpa)?)),
                        None => (parse_size(rest)?, None),
                    };
                    let gpa = gpa.unwrap_or_else(|| align_up(next_gpa, backing.align()));
                    if backing == Backing::Devmem && size > 2 << 20 {
                        return Err(format!("slot '{v}': devmem slots hold at most 2M"));
                    }
                    if gpa % backing.align() != 0 || size % backing.align() != 0 {
                        return Err(format!(
                            "slot '{v}': gpa and size must be {}-aligned",
                            backing.align()
                        ));
                    }
                    next_gpa = gpa + size;
                    args.slots.push(SlotSpec {
                        backing,
                        size,
                        gpa,
                        as_id,
                    });
                }
                "--write" => {
                    let v = value()?;
                    let (gpa, val) = v.split_once('=').ok_or(format!("bad write '{v}'"))?;
                    args.writes.push((parse_num(gpa)?, parse_num(val)?));
                }
                "--hold" => args.after = After::Hold,
                "--hold-secs" => args.after = After::HoldSecs(parse_num(value()?)?),
                "--exit" => args.after = After::Exit,
                "--no-touch" => args.touch = Touch::None,
                "--scatter" => args.touch = Touch::Scattered,
                "--uffd" => args.uffd.push(parse_num(value()?)?),
                "--mprotect" => args.mprotect.push(parse_num(value()?)?),
                "--cycles" => args.cycles = Some(parse_num(value()?)?),
                "--node" => {
                    let n = parse_num(value()?)?;
                    args.node = Some(
                        u32::try_from(n)
                            .ok()
                            .filter(|&n| n < 64)
                            .ok_or("bad node")?,
                    );
                }
                "--churn" => args.churn = true,
                "--thrash" => args.thrash = true,
                "--create-in-thread" => args.create_in_thread = true,
                "--main-exits" => args.main_exits = true,
                "--cpu" => args.cpu = Some(parse_num(value()?)? as usize),
                "--unmap" => args.unmap.push(parse_num(value()?)?),
                "--vms" => args.vms = parse_num(value()?)?.max(1),
                "-h" | "--help" => return Err(USAGE.into()),
                _ => return Err(format!("unknown argument '{a}'\n{USAGE}")),
            }
        }
        if args.slots.is_empty() {
            args.slots.push(SlotSpec {
                backing: Backing::Anon,
                size: 2 << 20,
                gpa: FIRST_GPA,
                as_id: 0,
            });
        }
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, String> {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        Args::parse(&v)
    }

    #[test]
    fn default_is_one_anon_slot() {
        let a = parse("").unwrap();
        assert_eq!(
            a.slots,
            [SlotSpec {
                backing: Backing::Anon,
                size: 2 << 20,
                gpa: 0x100000,
                as_id: 0
            }]
        );
        assert_eq!(a.after, After::Hold);
    }

    #[test]
    fn slots_are_placed_and_aligned() {
        let a = parse("--slot anon:4K --slot thp:4M --slot hugetlb:2M@0x40000000 --slot anon:8K")
            .unwrap();
        let gpas: Vec<u64> = a.slots.iter().map(|s| s.gpa).collect();
        assert_eq!(gpas, [0x100000, 0x200000, 0x40000000, 0x40200000]);
        assert_eq!(a.slots[1].size, 4 << 20);
        let a = parse("--slot as1:ksm:64K@0x30000 --node 1 --churn").unwrap();
        assert_eq!(a.slots[0].as_id, 1);
        assert_eq!(a.slots[0].backing, Backing::Ksm);
        assert_eq!((a.node, a.churn), (Some(1), true));
        let a = parse("--slot devmem:8K@0x30000 --unmap 0x30000").unwrap();
        assert_eq!(a.slots[0].backing, Backing::Devmem);
        assert_eq!(a.unmap, [0x30000]);
        assert_eq!(parse("--vms 64").unwrap().vms, 64);
        assert!(parse("--slot devmem:4M").is_err());
    }

    #[test]
    fn writes_and_modes() {
        let a = parse("--write 0x1000=0x5a --write 4096=7 --exit --no-touch").unwrap();
        assert_eq!(a.writes, [(0x1000, 0x5a), (4096, 7)]);
        assert_eq!(a.after, After::Exit);
        assert_eq!(a.touch, Touch::None);
        assert_eq!(parse("--hold-secs 3").unwrap().after, After::HoldSecs(3));
        assert_eq!(parse("--cycles 1000").unwrap().cycles, Some(1000));
        let u = parse("--uffd 0x100000 --uffd 4096").unwrap();
        assert_eq!(u.uffd, [0x10_0000, 4096]);
        assert_eq!(parse("--mprotect 0x101000").unwrap().mprotect, [0x10_1000]);
    }

    #[test]
    fn bad_arguments() {
        assert!(parse("--slot big:2M").is_err());
        assert!(parse("--slot thp:1M").is_err());
        assert!(parse("--slot thp:2M@0x1000").is_err());
        assert!(parse("--slot anon:0").is_err());
        assert!(parse("--write 0x1000").is_err());
        assert!(parse("--bogus").is_err());
        assert!(parse("--slot").is_err());
        assert!(parse("--uffd").is_err());
        assert!(parse("--uffd zz").is_err());
    }
}
