// SPDX-License-Identifier: GPL-2.0
//! What the host says beside the module: the VMM's mappings (smaps) and
//! the settings that decide huge pages (sysfs), as `explain` reads them.

use serde::Serialize;

/// A mapping of the VMM, as its smaps tells it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    /// `THPeligible`: whether the host's THP policy allows THPs here.
    pub thp_eligible: Option<bool>,
    /// `VmFlags`: `hg` MADV_HUGEPAGE, `nh` MADV_NOHUGEPAGE, `ht` hugetlb.
    pub flags: Vec<String>,
}

impl Vma {
    pub(super) fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// The mappings of a `/proc/PID/smaps` text.
pub fn parse_smaps(text: &str) -> Vec<Vma> {
    let mut vmas: Vec<Vma> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                vmas.push(Vma {
                    start,
                    end,
                    ..Vma::default()
                });
                continue;
            }
        }
        let Some(vma) = vmas.last_mut() else { continue };
        match first {
            "THPeligible:" => vma.thp_eligible = words.next().map(|v| v == "1"),
            "VmFlags:" => vma.flags = words.map(str::to_string).collect(),
            _ => {}
        }
    }
    vmas
}

/// A hugetlb pool of the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Pool {
    /// Page size in bytes.
    pub size: u64,
    pub total: u64,
    pub free: u64,
}

/// The host's settings that decide huge pages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Host {
    /// `/sys/kernel/mm/transparent_hugepage/enabled`'s choice.
    pub thp_enabled: Option<String>,
    /// `.../transparent_hugepage/defrag`'s choice.
    pub thp_defrag: Option<String>,
    /// `.../transparent_hugepage/shmem_enabled`'s choice.
    pub shmem_enabled: Option<String>,
    /// `/sys/kernel/mm/hugepages/*`.
    pub pools: Vec<Pool>,
    /// `/sys/module/kvm/parameters/nx_huge_pages`.
    pub nx_huge_pages: Option<String>,
}

/// The choice of a sysfs setting that lists them all, `[the] others`.
pub fn chosen(text: &str) -> Option<String> {
    let text = text.trim();
    let choice = match text.split_once('[') {
        Some((_, rest)) => rest.split_once(']')?.0,
        None => text,
    };
    (!choice.is_empty()).then(|| choice.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaps_and_settings_are_read() {
        let text = "7f0000200000-7f0000600000 rw-p 00000000 00:00 0 \n\
                    Size:               4096 kB\n\
                    THPeligible:    1\n\
                    VmFlags: rd wr mr mw me ac hg\n\
                    7f0000600000-7f0000601000 rw-p 00000000 00:00 0 [stack]\n\
                    THPeligible:    0\n\
                    VmFlags: rd wr nh\n";
        let v = parse_smaps(text);
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].start, v[0].end, v[0].thp_eligible),
            (0x7f00_0020_0000, 0x7f00_0060_0000, Some(true))
        );
        assert!(v[0].has("hg") && v[1].has("nh") && v[1].thp_eligible == Some(false));
        assert_eq!(
            chosen("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(chosen("N\n").as_deref(), Some("N"));
    }
}
