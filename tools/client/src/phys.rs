// SPDX-License-Identifier: GPL-2.0
//! Reading host physical memory, as root, where the kernel allows it:
//! through /dev/mem (RAM only where CONFIG_STRICT_DEVMEM is off), or
//! through /proc/kcore, whose RAM segments name the physical addresses
//! they hold (distribution kernels have STRICT_DEVMEM on and kcore on).
//! Each refusal says what to change.  `reader` and the guest suite's
//! oracle both read here.

use crate::elf::{self, Segment};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

pub const DEVMEM: &str = "/dev/mem";
pub const KCORE: &str = "/proc/kcore";

/// Which file answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    DevMem,
    Kcore,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Source::DevMem => DEVMEM,
            Source::Kcore => KCORE,
        })
    }
}

/// Which file to read: one of them, or /dev/mem and then, where the
/// kernel refuses it, /proc/kcore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    DevMem,
    Kcore,
    Auto,
}

/// /dev/mem failing to open (`at` is `None`) or to read at `at`.
#[derive(Debug)]
pub struct DevmemError {
    pub at: Option<u64>,
    pub err: io::Error,
}

impl DevmemError {
    /// Whether the kernel refuses this (the file or the address), rather
    /// than the read breaking: another source may have it.  STRICT_DEVMEM
    /// refuses RAM with EPERM, lockdown and a missing CAP_SYS_RAWIO refuse
    /// the open with EPERM, an address past the memory /dev/mem maps is
    /// EFAULT, an offset it cannot take EINVAL; no /dev/mem at all
    /// (CONFIG_DEVMEM off) is ENOENT.
    pub fn refused(&self) -> bool {
        refused(&self.err) || self.err.kind() == io::ErrorKind::NotFound
    }
}

/// Whether `e`, from /dev/mem, is the kernel refusing the access, as
/// opposed to a broken read.
pub fn refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPERM | libc::EFAULT | libc::EINVAL)
    )
}

impl std::fmt::Display for DevmemError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let e = &self.err;
        let why = match (self.at, e.raw_os_error()) {
            (_, Some(libc::ENOENT)) => "the kernel lacks CONFIG_DEVMEM",
            (_, Some(libc::EACCES)) => "needs root",
            (None, Some(libc::EPERM)) => {
                "needs CAP_SYS_RAWIO, and kernel lockdown \
                 (/sys/kernel/security/lockdown) forbids /dev/mem: boot without lockdown"
            }
            (Some(_), Some(libc::EPERM)) => {
                "CONFIG_STRICT_DEVMEM refuses RAM (and CONFIG_IO_STRICT_DEVMEM what a driver \
                 holds, unless booted with iomem=relaxed): boot a kernel with \
                 CONFIG_STRICT_DEVMEM=n"
            }
            (Some(_), Some(libc::EFAULT)) => "past the memory /dev/mem maps",
            _ => "",
        };
        match self.at {
            None => write!(f, "open {DEVMEM}: {e}")?,
            Some(at) => write!(f, "read {at:#x} from {DEVMEM}: {e}")?,
        }
        if !why.is_empty() {
            write!(f, " ({why})")?;
        }
        Ok(())
    }
}

/// Reads physical memory at `phys` into `buf` through /dev/mem.
pub fn devmem_read(phys: u64, buf: &mut [u8]) -> Result<(), DevmemError> {
    let f = File::open(DEVMEM).map_err(|err| DevmemError { at: None, err })?;
    f.read_exact_at(buf, phys).map_err(|err| DevmemError {
        at: Some(phys),
        err,
    })
}

/// Why /proc/kcore did not give the bytes.
#[derive(Debug)]
pub enum KcoreError {
    Open(io::Error),
    /// Its ELF headers could not be read, or are not ELF64.
    Headers(String),
    /// No RAM segment holds all `len` bytes at `phys`.
    NotRam {
        phys: u64,
        len: usize,
    },
    Read {
        phys: u64,
        err: io::Error,
    },
}

impl std::fmt::Display for KcoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            KcoreError::Open(e) => {
                let why = match e.raw_os_error() {
                    Some(libc::ENOENT) => "the kernel lacks CONFIG_PROC_KCORE",
                    Some(libc::EACCES) => "needs root",
                    Some(libc::EPERM) => {
                        "needs CAP_SYS_RAWIO, and kernel lockdown=confidentiality \
                         (/sys/kernel/security/lockdown) forbids /proc/kcore: boot without it"
                    }
                    _ => "",
                };
                write!(f, "open {KCORE}: {e}")?;
                if !why.is_empty() {
                    write!(f, " ({why})")?;
                }
                Ok(())
            }
            KcoreError::Headers(e) => write!(f, "{KCORE}'s headers: {e}"),
            KcoreError::NotRam { phys, len } => write!(
                f,
                "no RAM segment of {KCORE} holds {len} bytes at {phys:#x} (it has only RAM, \
                 not device memory such as pmem or MMIO)"
            ),
            KcoreError::Read { phys, err } => write!(f, "read {phys:#x} from {KCORE}: {err}"),
        }
    }
}

/// /proc/kcore (or a file like it) open, its RAM segments read.
pub struct Kcore {
    file: File,
    segments: Vec<Segment>,
}

impl Kcore {
    pub fn open() -> Result<Kcore, KcoreError> {
        Kcore::open_path(KCORE)
    }

    pub fn open_path(path: &str) -> Result<Kcore, KcoreError> {
        let file = File::open(path).map_err(KcoreError::Open)?;
        let segments =
            elf::phys_segments(&elf::file_reader(&file, path)).map_err(KcoreError::Headers)?;
        Ok(Kcore { file, segments })
    }

    /// The segments that name physical addresses: RAM and the kernel's
    /// text.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Reads physical memory at `phys` into `buf`, which one segment must
    /// hold whole.
    pub fn read(&self, phys: u64, buf: &mut [u8]) -> Result<(), KcoreError> {
        let len = buf.len();
        let at = elf::offset_of(&self.segments, phys, len as u64)
            .ok_or(KcoreError::NotRam { phys, len })?;
        self.file
            .read_exact_at(buf, at)
            .map_err(|err| KcoreError::Read { phys, err })
    }
}

/// Reads physical memory at `phys` into `buf` through /proc/kcore.
pub fn kcore_read(phys: u64, buf: &mut [u8]) -> Result<(), KcoreError> {
    Kcore::open()?.read(phys, buf)
}

/// Why no source gave the bytes: each one tried, with its refusal.
#[derive(Debug)]
pub struct Refusals {
    pub devmem: Option<DevmemError>,
    pub kcore: Option<KcoreError>,
}

impl Refusals {
    /// Whether /dev/mem was tried and the kernel refused it.
    pub fn devmem_refused(&self) -> bool {
        self.devmem.as_ref().is_some_and(DevmemError::refused)
    }
}

impl std::fmt::Display for Refusals {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match (&self.devmem, &self.kcore) {
            (Some(d), Some(k)) => write!(f, "{d}; and {k}"),
            (Some(d), None) => write!(f, "{d}"),
            (None, Some(k)) => write!(f, "{k}"),
            (None, None) => f.write_str("no source tried"),
        }
    }
}

/// What answered, and why /dev/mem did not where /proc/kcore did in its
/// place.
#[derive(Debug)]
pub struct Answer {
    pub source: Source,
    pub passed_over: Option<String>,
}

/// Below this /dev/mem shows RAM that CONFIG_STRICT_DEVMEM restricts as
/// zeros instead of refusing it (x86's `devmem_is_allowed`).
const ZERO_FILLED_BELOW: u64 = 1 << 20;

/// Reads physical memory at `phys` into `buf` from the source `choice`
/// names.  `Auto` reads /dev/mem, and /proc/kcore where the kernel refuses
/// /dev/mem (never after a read that broke otherwise, such as EACCES, whose
/// cause kcore shares).  Zeros from /dev/mem below 1 MiB may be
/// STRICT_DEVMEM's stand-in for RAM, so there `Auto` takes kcore's bytes
/// when kcore holds them.
pub fn read(phys: u64, buf: &mut [u8], choice: Choice) -> Result<Answer, Refusals> {
    read_with(phys, buf, choice, &devmem_read, &kcore_read)
}

/// Reads from source files that are the functions `devmem` and `kcore`.
type ReadWith<'a, E> = &'a dyn Fn(u64, &mut [u8]) -> Result<(), E>;

/// [`read`] with /dev/mem and /proc/kcore as given.
fn read_with(
    phys: u64,
    buf: &mut [u8],
    choice: Choice,
    devmem: ReadWith<DevmemError>,
    kcore: ReadWith<KcoreError>,
) -> Result<Answer, Refusals> {
    let answer = |source, passed_over| Answer {
        source,
        passed_over,
    };
    let refusals = |devmem, kcore| Refusals { devmem, kcore };
    match choice {
        Choice::Kcore => kcore(phys, buf)
            .map(|()| answer(Source::Kcore, None))
            .map_err(|k| refusals(None, Some(k))),
        Choice::DevMem => devmem(phys, buf)
            .map(|()| answer(Source::DevMem, None))
            .map_err(|d| refusals(Some(d), None)),
        Choice::Auto => match devmem(phys, buf) {
            Ok(()) if phys < ZERO_FILLED_BELOW && buf.iter().all(|&b| b == 0) => {
                let mut other = vec![0u8; buf.len()];
                if kcore(phys, &mut other).is_err() {
                    return Ok(answer(Source::DevMem, None));
                }
                buf.copy_from_slice(&other);
                let why = format!(
                    "{DEVMEM} read zeros below 1 MiB, which CONFIG_STRICT_DEVMEM shows for RAM"
                );
                Ok(answer(Source::Kcore, Some(why)))
            }
            Ok(()) => Ok(answer(Source::DevMem, None)),
            Err(d) if d.refused() => match kcore(phys, buf) {
                Ok(()) => Ok(answer(Source::Kcore, Some(d.to_string()))),
                Err(k) => Err(refusals(Some(d), Some(k))),
            },
            Err(d) => Err(refusals(Some(d), None)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::synthetic::kcore_with;
    use crate::elf::PT_LOAD;

    /// A kcore-like file on disk: RAM at 0x1000 (a page) and 0x10_0000
    /// (two pages), each byte of the data its physical address's low byte
    /// plus a segment mark, and a vmalloc segment.
    fn kcore_file(dir: &std::path::Path) -> String {
        let (data, ram_lo, ram_hi) = (0x1000u64, 0x2000u64, 0x4000u64);
        let mut b = kcore_with(
            false,
            &[
                (PT_LOAD, data, 0x1000, 0x1000),
                (PT_LOAD, data + 0x1000, u64::MAX, 0x1000),
                (PT_LOAD, ram_lo, 0x10_0000, 0x2000),
            ],
        );
        b.resize(ram_hi as usize, 0);
        for (i, byte) in b[data as usize..0x2000].iter_mut().enumerate() {
            *byte = (0x1000 + i) as u8 ^ 0x11;
        }
        for (i, byte) in b[ram_lo as usize..ram_hi as usize].iter_mut().enumerate() {
            *byte = (0x10_0000 + i) as u8 ^ 0x22;
        }
        let path = dir.join(format!("kcore-{}", std::process::id()));
        std::fs::write(&path, b).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn kcore_reads_physical_addresses_at_their_segments() {
        let path = kcore_file(&std::env::temp_dir());
        let k = Kcore::open_path(&path).unwrap();
        assert_eq!(k.segments().len(), 2);
        let mut buf = [0u8; 4];
        k.read(0x1234, &mut buf).unwrap();
        assert_eq!(buf, [0x34 ^ 0x11, 0x35 ^ 0x11, 0x36 ^ 0x11, 0x37 ^ 0x11]);
        k.read(0x10_1ffe, &mut buf[..2]).unwrap();
        assert_eq!(buf[..2], [0xfe ^ 0x22, 0xff ^ 0x22]);
        // Past the end of a segment, a hole, and a read across an end.
        for (phys, len) in [(0x10_2000, 1), (0x8000, 4), (0x1ffe, 4)] {
            let e = k.read(phys, &mut buf[..len]).unwrap_err();
            assert!(matches!(e, KcoreError::NotRam { .. }), "{e}");
            assert!(e.to_string().contains("only RAM"), "{e}");
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn kcore_refusals_name_what_to_change() {
        let e = Kcore::open_path("/nonexistent/kcore").err().unwrap();
        assert!(e.to_string().contains("CONFIG_PROC_KCORE"), "{e}");
        let e = KcoreError::Open(io::Error::from_raw_os_error(libc::EPERM));
        assert!(e.to_string().contains("lockdown=confidentiality"), "{e}");
        let not_elf = std::env::temp_dir().join(format!("not-elf-{}", std::process::id()));
        std::fs::write(&not_elf, [0u8; 128]).unwrap();
        let e = Kcore::open_path(not_elf.to_str().unwrap()).err().unwrap();
        assert!(matches!(e, KcoreError::Headers(_)), "{e}");
        std::fs::remove_file(&not_elf).unwrap();
    }

    #[test]
    fn devmem_refusals_name_what_to_change() {
        let at = |at, errno| DevmemError {
            at,
            err: io::Error::from_raw_os_error(errno),
        };
        let e = at(Some(0x1000), libc::EPERM);
        assert!(
            e.refused() && e.to_string().contains("CONFIG_STRICT_DEVMEM"),
            "{e}"
        );
        let e = at(None, libc::EPERM);
        assert!(e.refused() && e.to_string().contains("lockdown"), "{e}");
        let e = at(None, libc::ENOENT);
        assert!(
            e.refused() && e.to_string().contains("CONFIG_DEVMEM"),
            "{e}"
        );
        assert!(at(Some(0), libc::EFAULT).refused() && at(Some(0), libc::EINVAL).refused());
        // Not root: /proc/kcore would refuse as well.
        assert!(!at(None, libc::EACCES).refused());
        assert!(!at(Some(0), libc::EIO).refused());
        // Both refusals in one line.
        let both = Refusals {
            devmem: Some(at(Some(0x1000), libc::EPERM)),
            kcore: Some(KcoreError::Open(io::Error::from_raw_os_error(libc::ENOENT))),
        };
        let line = both.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("CONFIG_STRICT_DEVMEM") && line.contains("CONFIG_PROC_KCORE"));
    }

    /// A source that answers with `byte`, or refuses with errno `refuse`.
    fn devmem_of(
        byte: u8,
        refuse: Option<i32>,
    ) -> impl Fn(u64, &mut [u8]) -> Result<(), DevmemError> {
        move |at, buf| match refuse {
            Some(errno) => Err(DevmemError {
                at: Some(at),
                err: io::Error::from_raw_os_error(errno),
            }),
            None => {
                buf.fill(byte);
                Ok(())
            }
        }
    }

    fn kcore_of(byte: Option<u8>) -> impl Fn(u64, &mut [u8]) -> Result<(), KcoreError> {
        move |phys, buf| match byte {
            Some(b) => {
                buf.fill(b);
                Ok(())
            }
            None => Err(KcoreError::NotRam {
                phys,
                len: buf.len(),
            }),
        }
    }

    #[test]
    fn auto_reads_kcore_only_where_devmem_is_refused() {
        let mut buf = [0u8; 4];
        let at = 0x1_0000_0000;
        // /dev/mem reads: kcore is not asked.
        let a = read_with(
            at,
            &mut buf,
            Choice::Auto,
            &devmem_of(7, None),
            &kcore_of(Some(9)),
        )
        .unwrap();
        assert_eq!(
            (a.source, buf, a.passed_over),
            (Source::DevMem, [7; 4], None)
        );
        // STRICT_DEVMEM: kcore answers, and /dev/mem's refusal is kept.
        let a = read_with(
            at,
            &mut buf,
            Choice::Auto,
            &devmem_of(7, Some(libc::EPERM)),
            &kcore_of(Some(9)),
        )
        .unwrap();
        assert_eq!((a.source, buf), (Source::Kcore, [9; 4]));
        assert!(a.passed_over.unwrap().contains("CONFIG_STRICT_DEVMEM"));
        // Both refuse: both reasons.
        let e = read_with(
            at,
            &mut buf,
            Choice::Auto,
            &devmem_of(7, Some(libc::EPERM)),
            &kcore_of(None),
        )
        .unwrap_err();
        assert!(e.devmem_refused() && e.kcore.is_some(), "{e}");
        // A read that broke otherwise is not passed over.
        let e = read_with(
            at,
            &mut buf,
            Choice::Auto,
            &devmem_of(7, Some(libc::EIO)),
            &kcore_of(Some(9)),
        )
        .unwrap_err();
        assert!(!e.devmem_refused() && e.kcore.is_none(), "{e}");
        // Asked for one source, only that one.
        let e = read_with(
            at,
            &mut buf,
            Choice::DevMem,
            &devmem_of(7, Some(libc::EPERM)),
            &kcore_of(Some(9)),
        )
        .unwrap_err();
        assert!(e.kcore.is_none(), "{e}");
        let a = read_with(
            at,
            &mut buf,
            Choice::Kcore,
            &devmem_of(7, None),
            &kcore_of(Some(9)),
        )
        .unwrap();
        assert_eq!((a.source, buf), (Source::Kcore, [9; 4]));
    }

    #[test]
    fn zeros_below_1_mib_are_checked_in_kcore() {
        let mut buf = [1u8; 4];
        // STRICT_DEVMEM's zeros for RAM in the first MiB: kcore's bytes.
        let a = read_with(
            0x9_f000,
            &mut buf,
            Choice::Auto,
            &devmem_of(0, None),
            &kcore_of(Some(5)),
        )
        .unwrap();
        assert_eq!((a.source, buf), (Source::Kcore, [5; 4]));
        assert!(a.passed_over.is_some());
        // Not RAM (no kcore segment): /dev/mem's zeros stand.
        let a = read_with(
            0x9_f000,
            &mut buf,
            Choice::Auto,
            &devmem_of(0, None),
            &kcore_of(None),
        )
        .unwrap();
        assert_eq!((a.source, buf), (Source::DevMem, [0; 4]));
        // Zeros above 1 MiB are memory's own.
        let a = read_with(
            1 << 20,
            &mut buf,
            Choice::Auto,
            &devmem_of(0, None),
            &kcore_of(Some(5)),
        )
        .unwrap();
        assert_eq!((a.source, buf), (Source::DevMem, [0; 4]));
    }
}
