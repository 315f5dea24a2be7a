// SPDX-License-Identifier: GPL-2.0
//! Command line of `gfn-vmm`, and the guest memory layout it implies.

use clap::Parser;
use std::fmt;

/// How a memslot's memory is backed on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// Anonymous private memory with MADV_NOHUGEPAGE: base pages.
    Anon,
    /// Anonymous, 2 MiB aligned, MADV_HUGEPAGE: transparent huge pages.
    Thp,
    /// As `Thp`, but the slot's host address lies 4 KiB past a 2 MiB
    /// boundary while its guest address is 2 MiB aligned: the host maps
    /// THPs by PMDs, and KVM cannot map any 2 MiB of the guest huge.
    ThpOffset,
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

impl Touch {
    /// `MODE` of `--touch GPA=MODE`.
    fn parse(s: &str) -> Result<Touch, String> {
        match s {
            "none" => Ok(Touch::None),
            "order" => Ok(Touch::InOrder),
            "scatter" => Ok(Touch::Scattered),
            _ => Err(format!("unknown touch '{s}' (none|order|scatter)")),
        }
    }
}

impl Backing {
    fn parse(s: &str) -> Result<Backing, String> {
        Ok(match s {
            "anon" => Backing::Anon,
            "thp" => Backing::Thp,
            "thp-offset" => Backing::ThpOffset,
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
                    "unknown backing '{s}' (anon|thp|thp-offset|hugetlb|hugetlb1g|ksm|devmem|memfd|memfd-thp|memfd-hugetlb|gmem|dax)"
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
            Backing::Thp
            | Backing::ThpOffset
            | Backing::Hugetlb
            | Backing::MemfdThp
            | Backing::MemfdHugetlb => 2 << 20,
            Backing::Hugetlb1g => 1 << 30,
        }
    }
}

impl fmt::Display for Backing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backing::Anon => "anon",
            Backing::Thp => "thp",
            Backing::ThpOffset => "thp-offset",
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

impl SlotSpec {
    /// Whether guest address `gpa` lies in the slot.
    pub fn holds(&self, gpa: u64) -> bool {
        gpa >= self.gpa && gpa - self.gpa < self.size
    }
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
    /// `--touch`: guest addresses whose slot is faulted in as given
    /// rather than as `touch` says.
    pub touch_at: Vec<(u64, Touch)>,
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
    /// After its stores, the guest reads a dword of every page of every
    /// slot below 4 GiB, so that KVM maps all of them.
    pub guest_reads: bool,
    /// Guest addresses whose slot logs dirty pages (KVM_MEM_LOG_DIRTY_PAGES).
    pub dirty_log: Vec<u64>,
}

/// The commands a holding VMM reads on stdin, for `--help`.
const COMMANDS: &str =
    "Prints VMM, SLOT, WROTE and READY lines; holds the VM until stdin has a line or ends.
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

/// gfn-vmm: a minimal VMM for testing gfn_to_pfn.  It creates a VM with
/// memslots of chosen backing, runs one vCPU whose code stores known values
/// at known guest physical addresses, reports everything in
/// machine-readable lines and holds the VM.
#[derive(Parser, Debug)]
#[command(name = "gfn-vmm", after_help = COMMANDS)]
struct Cli {
    /// A memslot: BACKING is anon, thp, hugetlb, hugetlb1g, ksm, devmem (a
    /// /dev/mem mapping of a 2 MiB hugetlb page the VMM holds, at most 2M),
    /// memfd, memfd-thp, memfd-hugetlb, gmem (a guest_memfd memslot of a
    /// KVM_X86_SW_PROTECTED_VM, first half private) or dax (a file on the
    /// DAX file system mounted at $GFN_DAX_DIR, default /mnt/dax); SIZE in
    /// bytes with a K/M/G suffix; as1: puts it into address space 1 (SMM).
    /// Without @GPA it follows the previous one, aligned.
    #[arg(long = "slot", value_name = "[as1:]BACKING:SIZE[@GPA]")]
    slots: Vec<String>,
    /// The guest stores VALUE (32 bits) at GPA.
    #[arg(long = "write", value_name = "GPA=VALUE", value_parser = parse_write)]
    writes: Vec<(u64, u64)>,
    /// Hold the VM until stdin has a line or ends (the default).
    #[arg(long, overrides_with_all = ["hold", "hold_secs", "exit"])]
    hold: bool,
    /// Hold the VM for N seconds.
    #[arg(long, value_name = "N", value_parser = parse_num,
          overrides_with_all = ["hold", "hold_secs", "exit"])]
    hold_secs: Option<u64>,
    /// Exit once the guest has run.
    #[arg(long, overrides_with_all = ["hold", "hold_secs", "exit"])]
    exit: bool,
    /// Create, run and destroy the VM N times (quietly), then exit.
    #[arg(long, value_name = "N", value_parser = parse_num)]
    cycles: Option<u64>,
    /// Touch no memory before the guest runs: its writes fault in what
    /// they touch.
    #[arg(long, overrides_with_all = ["no_touch", "scatter"])]
    no_touch: bool,
    /// Fault memory in by touching its pages in a random order (each
    /// page's host frame then unrelated to its neighbours'), not in order.
    #[arg(long, overrides_with_all = ["no_touch", "scatter"])]
    scatter: bool,
    /// Fault the memory of the slot holding GPA in as MODE, whatever
    /// --no-touch and --scatter say for the others: none, order (in
    /// address order) or scatter (in a random order).
    #[arg(long = "touch", value_name = "GPA=MODE", value_parser = parse_touch)]
    touch_at: Vec<(u64, Touch)>,
    /// Bind every slot's memory to NUMA node N.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..64))]
    node: Option<u32>,
    /// While holding, delete and re-add the first slot in a loop.
    #[arg(long)]
    churn: bool,
    /// Once the guest ran, munmap the host memory of the slot holding GPA.
    #[arg(long, value_name = "GPA", value_parser = parse_num)]
    unmap: Vec<u64>,
    /// Create and hold N VMs of this layout (the last one reports its slots).
    #[arg(long, value_name = "N", value_parser = parse_num, default_value = "1")]
    vms: u64,
    /// Once the guest ran, register the missing pages of the slot holding
    /// GPA with a userfaultfd that never resolves a fault.
    #[arg(long, value_name = "GPA", value_parser = parse_num)]
    uffd: Vec<u64>,
    /// Once the guest ran, make the host page of GPA read-only (a THP
    /// around it is then mapped by PTEs).
    #[arg(long, value_name = "GPA", value_parser = parse_num)]
    mprotect: Vec<u64>,
    /// While holding, in a loop over the first slot's 2 MiB chunks:
    /// MADV_DONTNEED and touch, MADV_COLLAPSE, split by mprotect, mremap
    /// away and back, munmap and mmap anew (prints THRASHED at the end).
    #[arg(long)]
    thrash: bool,
    /// Create the VM in a thread that exits at once (prints CREATOR tid=).
    #[arg(long)]
    create_in_thread: bool,
    /// Run in a second thread; the main thread exits (SYS_exit: the
    /// process lives on) before READY (prints HOLDER tid=).
    #[arg(long)]
    main_exits: bool,
    /// Run every thread on CPU N (race tests put the VMM beside its racer).
    #[arg(long, value_name = "N", value_parser = parse_num)]
    cpu: Option<u64>,
    /// After its stores, the guest reads a dword of every page of every
    /// slot below 4 GiB (so that KVM maps all of them).
    #[arg(long)]
    guest_reads: bool,
    /// Create the slot holding GPA (in either address space) with dirty
    /// logging on (KVM_MEM_LOG_DIRTY_PAGES); not a gmem slot.  --churn
    /// re-creates the first slot without it.
    #[arg(long, value_name = "GPA", value_parser = parse_num)]
    dirty_log: Vec<u64>,
}

/// `GPA=VALUE` of `--write`.
fn parse_write(v: &str) -> Result<(u64, u64), String> {
    let (gpa, val) = v.split_once('=').ok_or(format!("bad write '{v}'"))?;
    Ok((parse_num(gpa)?, parse_num(val)?))
}

/// `GPA=MODE` of `--touch`.
fn parse_touch(v: &str) -> Result<(u64, Touch), String> {
    let (gpa, mode) = v.split_once('=').ok_or(format!("bad touch '{v}'"))?;
    Ok((parse_num(gpa)?, Touch::parse(mode)?))
}

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
    /// How `slot`'s memory is faulted in: as the last `--touch` at an
    /// address inside it says, else as `touch`.
    pub fn touch_of(&self, slot: &SlotSpec) -> Touch {
        self.touch_at
            .iter()
            .rev()
            .find(|(gpa, _)| slot.holds(*gpa))
            .map_or(self.touch, |(_, touch)| *touch)
    }

    /// Parses `argv` (without the program's name).
    #[cfg(test)]
    pub fn parse(argv: &[String]) -> Result<Args, String> {
        Self::from_cli(Self::cli(argv).map_err(|e| e.to_string())?)
    }

    /// Parses `argv`, or exits: with the help, or saying what is wrong.
    pub fn parse_or_exit(argv: &[String]) -> Args {
        let cli = Self::cli(argv).unwrap_or_else(|e| e.exit());
        Self::from_cli(cli).unwrap_or_else(|e| {
            eprintln!("gfn-vmm: {e}");
            std::process::exit(2)
        })
    }

    fn cli(argv: &[String]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("gfn-vmm").chain(argv.iter().map(String::as_str)))
    }

    /// The memslots placed (each without `@GPA` after the one before it,
    /// aligned to its backing) and checked, and the rest as given.
    fn from_cli(cli: Cli) -> Result<Args, String> {
        let mut slots = Vec::new();
        let mut next_gpa = FIRST_GPA;
        for v in &cli.slots {
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
            slots.push(SlotSpec {
                backing,
                size,
                gpa,
                as_id,
            });
        }
        if slots.is_empty() {
            slots.push(SlotSpec {
                backing: Backing::Anon,
                size: 2 << 20,
                gpa: FIRST_GPA,
                as_id: 0,
            });
        }
        if let Some((gpa, _)) = cli
            .touch_at
            .iter()
            .find(|(gpa, _)| !slots.iter().any(|s| s.holds(*gpa)))
        {
            return Err(format!("--touch {gpa:#x}: in no slot"));
        }
        if let Some(gpa) = cli
            .dirty_log
            .iter()
            .find(|gpa| !slots.iter().any(|s| s.holds(**gpa)))
        {
            return Err(format!("--dirty-log {gpa:#x}: in no slot"));
        }
        if let Some(gpa) = cli.dirty_log.iter().find(|gpa| {
            slots
                .iter()
                .any(|s| s.holds(**gpa) && s.backing == Backing::Gmem)
        }) {
            return Err(format!(
                "--dirty-log {gpa:#x}: a guest_memfd slot (its private half logs nothing)"
            ));
        }
        let after = match (cli.exit, cli.hold_secs) {
            (true, _) => After::Exit,
            (false, Some(s)) => After::HoldSecs(s),
            (false, None) => After::Hold,
        };
        let touch = match (cli.no_touch, cli.scatter) {
            (true, _) => Touch::None,
            (false, true) => Touch::Scattered,
            (false, false) => Touch::InOrder,
        };
        Ok(Args {
            slots,
            writes: cli.writes,
            after,
            touch,
            touch_at: cli.touch_at,
            cycles: cli.cycles,
            node: cli.node,
            churn: cli.churn,
            unmap: cli.unmap,
            vms: cli.vms.max(1),
            uffd: cli.uffd,
            mprotect: cli.mprotect,
            thrash: cli.thrash,
            create_in_thread: cli.create_in_thread,
            main_exits: cli.main_exits,
            cpu: cli.cpu.map(|c| c as usize),
            guest_reads: cli.guest_reads,
            dirty_log: cli.dirty_log,
        })
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
    fn the_last_of_exclusive_options_wins() {
        assert_eq!(parse("--exit --hold").unwrap().after, After::Hold);
        assert_eq!(
            parse("--hold --hold-secs 3").unwrap().after,
            After::HoldSecs(3)
        );
        assert_eq!(parse("--hold-secs 3 --exit").unwrap().after, After::Exit);
        assert_eq!(
            parse("--no-touch --scatter").unwrap().touch,
            Touch::Scattered
        );
        assert_eq!(parse("--scatter --no-touch").unwrap().touch, Touch::None);
        let a = parse("--cpu 1 --create-in-thread --main-exits").unwrap();
        assert_eq!(
            (a.cpu, a.create_in_thread, a.main_exits),
            (Some(1), true, true)
        );
    }

    #[test]
    fn touch_per_slot() {
        let a = parse(
            "--scatter --slot anon:4K@0x1000 --slot anon:8K@0x10000 --touch 0x11000=none \
             --slot thp:2M@0x200000 --touch 0x200000=scatter --touch 0x3ff000=order",
        )
        .unwrap();
        let touch: Vec<Touch> = a.slots.iter().map(|s| a.touch_of(s)).collect();
        assert_eq!(touch, [Touch::Scattered, Touch::None, Touch::InOrder]);
        assert_eq!(a.touch, Touch::Scattered);
        let a = parse("--touch 0x100000=none").unwrap();
        assert_eq!(a.touch_of(&a.slots[0]), Touch::None);
        assert!(parse("--slot anon:4K@0x1000 --touch 0x2000=none").is_err());
        assert!(parse("--touch 0x100000=sideways").is_err());
        assert!(parse("--touch 0x100000").is_err());
    }

    #[test]
    fn guest_reads_and_dirty_logs() {
        let a = parse("--slot thp-offset:4M --slot anon:2M --dirty-log 0x600000 --guest-reads")
            .unwrap();
        assert_eq!(a.slots[0].backing, Backing::ThpOffset);
        assert_eq!(a.slots[0].gpa % (2 << 20), 0);
        assert_eq!(
            (a.dirty_log.as_slice(), a.guest_reads),
            ([0x600000].as_slice(), true)
        );
        assert!(parse("--dirty-log 0x40000000").is_err());
        assert!(parse("--slot gmem:8K@0x1000 --dirty-log 0x1000").is_err());
    }

    #[test]
    fn help_names_every_option_and_command() {
        let help = parse("--help").unwrap_err();
        for word in ["--slot", "--write", "--uffd", "--main-exits", "resolve GPA"] {
            assert!(help.contains(word), "{word} not in {help}");
        }
    }

    #[test]
    fn bad_arguments() {
        assert!(parse("--node 64").is_err());
        assert!(parse("--vms").is_err());
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
