// SPDX-License-Identifier: GPL-2.0
//! The few ELF64 (little-endian) structures the tools read: the ELF
//! header, and the program headers of /proc/kcore, where each RAM segment
//! says which physical addresses it holds ([`crate::phys`]).  The byte
//! readers are public for other small parsers of the same files (the
//! suite's reading of a module's symbol table).

/// Program header type of a loadable segment.
pub const PT_LOAD: u32 = 1;
/// `e_phnum` when the count is in section header 0's `sh_info`.
pub const PN_XNUM: u16 = 0xffff;
pub const EHDR_SIZE: usize = 64;
pub const PHDR_SIZE: usize = 56;
pub const SHDR_SIZE: usize = 64;

/// Reads `buf.len()` bytes at an offset of the file being parsed.
pub type ReadAt<'a> = &'a dyn Fn(u64, &mut [u8]) -> Result<(), String>;

pub fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The ELF header, checked to be one of ELF64 little-endian.
pub fn header(read_at: ReadAt) -> Result<[u8; EHDR_SIZE], String> {
    let mut eh = [0u8; EHDR_SIZE];
    read_at(0, &mut eh)?;
    if &eh[..4] != b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return Err(format!(
            "not an ELF64 little-endian file: {:02x?}",
            &eh[..6]
        ));
    }
    Ok(eh)
}

/// A PT_LOAD segment with a physical address: `size` bytes of physical
/// memory from `phys` are at file offset `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub phys: u64,
    pub size: u64,
    pub offset: u64,
}

/// The PT_LOAD segments that name a physical address.  /proc/kcore sets
/// `p_paddr` to the physical address for RAM (and the kernel's text) and
/// to all ones for what has none (vmalloc, modules, vmemmap).
pub fn phys_segments(read_at: ReadAt) -> Result<Vec<Segment>, String> {
    let eh = header(read_at)?;
    let phoff = u64_at(&eh, 32);
    let phentsize = usize::from(u16_at(&eh, 54));
    let mut phnum = usize::from(u16_at(&eh, 56));
    if phnum == usize::from(PN_XNUM) {
        let mut sh = [0u8; SHDR_SIZE];
        read_at(u64_at(&eh, 40), &mut sh)?;
        phnum = u32_at(&sh, 44) as usize;
    }
    if phentsize < PHDR_SIZE {
        return Err(format!("program headers of {phentsize} bytes"));
    }
    let mut table = vec![0u8; phnum * phentsize];
    read_at(phoff, &mut table)?;
    Ok(table
        .chunks_exact(phentsize)
        .filter(|ph| u32_at(ph, 0) == PT_LOAD && u64_at(ph, 24) != u64::MAX)
        .map(|ph| Segment {
            phys: u64_at(ph, 24),
            // What the file holds of the segment.
            size: u64_at(ph, 32),
            offset: u64_at(ph, 8),
        })
        .collect())
}

/// The file offset of the `len` bytes of physical memory at `phys`, if a
/// segment holds them all.
pub fn offset_of(segments: &[Segment], phys: u64, len: u64) -> Option<u64> {
    segments
        .iter()
        .find(|s| phys >= s.phys && phys - s.phys < s.size && len <= s.size - (phys - s.phys))
        .map(|s| s.offset + (phys - s.phys))
}

/// A `ReadAt` over a file, reading exactly.
pub fn file_reader(f: &std::fs::File, what: &str) -> impl Fn(u64, &mut [u8]) -> Result<(), String> {
    use std::os::unix::fs::FileExt;
    let what = what.to_string();
    let f = f.try_clone();
    move |at, buf| {
        let f = f.as_ref().map_err(|e| format!("{what}: {e}"))?;
        f.read_exact_at(buf, at)
            .map_err(|e| format!("read {what} at {at:#x}: {e}"))
    }
}

/// Builders of synthetic ELF files, for this crate's tests.
#[cfg(test)]
pub(crate) mod synthetic {
    use super::*;

    /// Writes `v` into `b` at `at`.
    pub fn put(b: &mut [u8], at: usize, v: &[u8]) {
        b[at..at + v.len()].copy_from_slice(v);
    }

    /// A `ReadAt` over bytes in memory.
    pub fn reader(b: &[u8]) -> impl Fn(u64, &mut [u8]) -> Result<(), String> + '_ {
        move |at, buf| {
            let at = at as usize;
            let src = b.get(at..at + buf.len()).ok_or("read past the end")?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    /// An ELF64 little-endian header and nothing else.
    pub fn ehdr() -> Vec<u8> {
        let mut b = vec![0u8; EHDR_SIZE];
        put(&mut b, 0, b"\x7fELF\x02\x01\x01");
        put(&mut b, 52, &(EHDR_SIZE as u16).to_le_bytes());
        b
    }

    /// A /proc/kcore-like file: a note, a vmalloc segment (no physical
    /// address), two RAM segments and the kernel text, whose physical
    /// address lies in the first RAM segment; with the program header
    /// count in section header 0 if `xnum`.  File offsets are those of
    /// the segments' tables, not of data (nothing follows the headers).
    pub fn kcore(xnum: bool) -> Vec<u8> {
        kcore_with(
            xnum,
            &[
                (4, 0x1000, 0, 0),                         // PT_NOTE
                (PT_LOAD, 0x10_0000, u64::MAX, 0x4000),    // vmalloc
                (PT_LOAD, 0x20_0000, 0x1000, 0x9_f000),    // RAM below 640 KiB
                (PT_LOAD, 0x40_0000, 0x10_0000, 0x8_0000), // RAM from 1 MiB
                (PT_LOAD, 0x80_0000, 0x20_0000, 0x1000),   // text
            ],
        )
    }

    /// A /proc/kcore-like file with program headers `(type, offset,
    /// phys, size)`.
    pub fn kcore_with(xnum: bool, phdrs: &[(u32, u64, u64, u64)]) -> Vec<u8> {
        let mut b = ehdr();
        let phoff = b.len();
        put(&mut b, 32, &(phoff as u64).to_le_bytes());
        put(&mut b, 54, &(PHDR_SIZE as u16).to_le_bytes());
        let n = phdrs.len() as u16;
        put(&mut b, 56, &(if xnum { PN_XNUM } else { n }).to_le_bytes());
        for &(kind, offset, phys, size) in phdrs {
            let mut ph = vec![0u8; PHDR_SIZE];
            put(&mut ph, 0, &kind.to_le_bytes());
            put(&mut ph, 8, &offset.to_le_bytes());
            put(
                &mut ph,
                16,
                &(0xffff_8880_0000_0000u64.wrapping_add(phys)).to_le_bytes(),
            );
            put(&mut ph, 24, &phys.to_le_bytes());
            put(&mut ph, 32, &size.to_le_bytes());
            put(&mut ph, 40, &size.to_le_bytes());
            b.extend(ph);
        }
        if xnum {
            let shoff = b.len() as u64;
            put(&mut b, 40, &shoff.to_le_bytes());
            let mut sh = vec![0u8; SHDR_SIZE];
            put(&mut sh, 44, &u32::from(n).to_le_bytes());
            b.extend(sh);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::synthetic::{kcore, reader};
    use super::*;

    #[test]
    fn kcore_ram_segments_give_file_offsets() {
        for xnum in [false, true] {
            let file = kcore(xnum);
            let segs = phys_segments(&reader(&file)).unwrap();
            // The vmalloc segment and the note are left out.
            assert_eq!(segs.len(), 3, "{segs:?}");
            assert_eq!(offset_of(&segs, 0x1000, 4), Some(0x20_0000));
            assert_eq!(offset_of(&segs, 0x1234, 4), Some(0x20_0234));
            assert_eq!(offset_of(&segs, 0x12_3456, 4), Some(0x42_3456));
            // The last bytes of a segment, and a read running past it.
            assert_eq!(offset_of(&segs, 0x17_fffc, 4), Some(0x47_fffc));
            assert_eq!(offset_of(&segs, 0x17_fffe, 4), None);
            // The hole between the segments, and below the first.
            assert_eq!(offset_of(&segs, 0xa_0000, 4), None);
            assert_eq!(offset_of(&segs, 0x0, 4), None);
            assert_eq!(offset_of(&segs, 0x1_0000_0000, 4), None);
        }
    }

    #[test]
    fn not_an_elf_file_is_an_error() {
        let mut file = kcore(false);
        file[4] = 1; // ELFCLASS32
        assert!(phys_segments(&reader(&file)).is_err());
        assert!(phys_segments(&reader(b"short")).is_err());
    }
}
