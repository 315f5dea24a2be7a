// SPDX-License-Identifier: GPL-2.0
//! `/proc/<pid>/pagemap`: which physical frame backs a virtual address.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// One pagemap entry, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Bit 63: the page is present.
    pub present: bool,
    /// Bit 62: the page is swapped out (bits 0-54 are then its swap entry).
    pub swapped: bool,
    /// Bits 0-54: the frame number; reads as 0 without CAP_SYS_ADMIN.
    pub pfn: u64,
}

impl Entry {
    pub fn decode(raw: u64) -> Entry {
        Entry {
            present: raw >> 63 == 1,
            swapped: raw >> 62 & 1 == 1,
            pfn: raw & ((1 << 55) - 1),
        }
    }
}

/// The pagemap entry of `vaddr` in process `pid` (`None`: this process).
pub fn entry(pid: Option<u32>, vaddr: u64) -> io::Result<Entry> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/pagemap"),
        None => "/proc/self/pagemap".to_string(),
    };
    let mut buf = [0u8; 8];
    File::open(&path)?.read_exact_at(&mut buf, (vaddr >> 12) * 8)?;
    Ok(Entry::decode(u64::from_le_bytes(buf)))
}

/// The pagemap entries of `n` pages from `vaddr` on in process `pid`, in
/// one read: the kernel's own page walk, at its own speed.
pub fn entries(pid: u32, vaddr: u64, n: usize) -> io::Result<Vec<Entry>> {
    let mut buf = vec![0u8; n * 8];
    File::open(format!("/proc/{pid}/pagemap"))?.read_exact_at(&mut buf, (vaddr >> 12) * 8)?;
    Ok(buf
        .chunks_exact(8)
        .map(|c| Entry::decode(u64::from_le_bytes(c.try_into().unwrap_or_default())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_bits() {
        assert_eq!(
            Entry::decode(0),
            Entry {
                present: false,
                swapped: false,
                pfn: 0
            }
        );
        assert_eq!(
            Entry::decode(1 << 63 | 1 << 55 | 0x1234),
            Entry {
                present: true,
                swapped: false,
                pfn: 0x1234
            }
        );
        assert!(Entry::decode(1 << 62 | 0x20).swapped);
    }

    #[test]
    fn own_stack_page_is_present() {
        let x = 5u64;
        let e = entry(None, &x as *const u64 as u64).unwrap();
        assert!(e.present);
    }
}
