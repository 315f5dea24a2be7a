// SPDX-License-Identifier: GPL-2.0
//! Per-VM summaries of a whole-VM map: how much of a VM's memory is told,
//! by backing, folio order, mapping level, NUMA node and sharing, and how
//! much of it huge pages back.  Built from the replies of one `all`, as
//! they stream by, in bounded memory.

use gfn_proto::reply::{Kind, KvmMaps, Reply, Share};
use gfn_proto::request::Reason;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

// Bytes in a guest page, as the protocol says.
use gfn_proto::facts::PAGE_SIZE as PAGE;

/// What a present page is, every way the summary splits it: kind, folio
/// order, NUMA node, sharing and mapping level (names as the module's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Class {
    pub kind: &'static str,
    pub order: u8,
    pub node: u32,
    pub share: &'static str,
    pub map: &'static str,
}

/// The summary of one VM's map.  Counts are guest pages (4 KiB).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VmStats {
    /// The VMM's pid.
    pub pid: u32,
    /// The VM's name, where one is found (see `names`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Pages in the VM's memslots (both address spaces), as told.
    pub pages: u64,
    /// Pages translated (present).
    pub present: u64,
    /// Pages not present (never touched, swapped out, reclaimed).
    pub not_present: u64,
    /// Pages told with another error, by reason.
    pub errors: BTreeMap<&'static str, u64>,
    /// Present pages by kind and folio order ("thp/9"); this and the next
    /// two are summed from `by_class` by `finish`.
    pub by_kind: BTreeMap<String, u64>,
    /// Present pages by the VMM's page-table level.
    pub by_map: BTreeMap<&'static str, u64>,
    /// Present pages by NUMA node (`u32::MAX`: not known).
    pub by_node: BTreeMap<u32, u64>,
    /// Present pages by kind, folio order, NUMA node, sharing and mapping
    /// level together: the series of `metrics`.
    #[serde(skip)]
    pub by_class: BTreeMap<Class, u64>,
    /// Present pages that are the zero page or the huge zero page.
    pub zero: u64,
    /// Present pages merged by KSM.
    pub ksm: u64,
    /// Percent of present pages in transparent huge pages of order 9 or
    /// more.
    pub thp_percent: f64,
    /// Percent of present pages in hugetlb pages.
    pub hugetlb_percent: f64,
    /// How long the map took, in milliseconds.
    pub map_ms: u64,
    /// What KVM itself maps of the VM's memory, from its `vms` line, where
    /// the architecture counts it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kvm: Option<KvmStats>,
}

/// What KVM maps of a VM (its stage-2 leaves per level), with each level's
/// share of the memory KVM maps: next to `by_map`, the host's levels, it
/// tells whether huge host pages reach the guest.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KvmStats {
    /// Leaf entries mapping 4 KiB, 2 MiB and 1 GiB.
    pub leaves_4k: u64,
    pub leaves_2m: u64,
    pub leaves_1g: u64,
    /// Huge pages the NX-huge-page mitigation split.
    pub nx_splits: u64,
    /// Guest memory KVM maps, in bytes.
    pub mapped: u64,
    /// Percent of `mapped` at each level.
    pub percent_4k: f64,
    pub percent_2m: f64,
    pub percent_1g: f64,
}

impl From<KvmMaps> for KvmStats {
    fn from(k: KvmMaps) -> KvmStats {
        let mapped = k.mapped();
        let of = |level: usize| {
            percent(
                k.leaves[level].saturating_mul(KvmMaps::SIZES[level]),
                mapped,
            )
        };
        KvmStats {
            leaves_4k: k.leaves[0],
            leaves_2m: k.leaves[1],
            leaves_1g: k.leaves[2],
            nx_splits: k.nx_splits,
            mapped,
            percent_4k: of(0),
            percent_2m: of(1),
            percent_1g: of(2),
        }
    }
}

/// `n` as a percentage of `of`, to a tenth (0 when `of` is).
fn percent(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        (n as f64 * 1000.0 / of as f64).round() / 10.0
    }
}

impl VmStats {
    /// An empty summary for the VM of `pid`.
    pub fn new(pid: u32) -> VmStats {
        VmStats {
            pid,
            ..VmStats::default()
        }
    }

    /// Counts one reply of the VM's map.
    pub fn add(&mut self, reply: &Reply) {
        match reply {
            Reply::Ok(t) => {
                self.pages += t.pages;
                self.present += t.pages;
                // Only the finest split per reply (no string built per
                // run of a long map); `finish` sums it up the other ways.
                let class = Class {
                    kind: t.kind.as_str(),
                    order: t.order,
                    node: t.node,
                    share: t.share.as_str(),
                    map: t.map.as_str(),
                };
                *self.by_class.entry(class).or_default() += t.pages;
                match t.share {
                    Share::Zero => self.zero += t.pages,
                    Share::Ksm => self.ksm += t.pages,
                    Share::None => {}
                }
            }
            Reply::AddrErr {
                reason: Reason::NotPresent,
                pages,
                ..
            } => {
                self.pages += pages;
                self.not_present += pages;
            }
            Reply::AddrErr { reason, pages, .. } => {
                self.pages += pages;
                *self.errors.entry(reason.as_str()).or_default() += pages;
            }
            _ => {}
        }
    }

    /// Sums `by_class` up by kind and order, level and node, and computes
    /// the percentages, once every reply is counted.
    pub fn finish(&mut self, map_ms: u64) {
        for (c, &pages) in &self.by_class {
            *self
                .by_kind
                .entry(format!("{}/{}", c.kind, c.order))
                .or_default() += pages;
            *self.by_map.entry(c.map).or_default() += pages;
            *self.by_node.entry(c.node).or_default() += pages;
        }
        let of = |n: u64| percent(n, self.present);
        let huge = |kind: Kind| -> u64 {
            self.by_kind
                .iter()
                .filter(|(k, _)| {
                    let (name, order) = k.split_once('/').unwrap_or(("", "0"));
                    name == kind.as_str() && order.parse::<u8>().unwrap_or(0) >= 9
                })
                .map(|(_, n)| n)
                .sum()
        };
        self.thp_percent = of(huge(Kind::Thp));
        self.hugetlb_percent = of(huge(Kind::Hugetlb));
        self.map_ms = map_ms;
    }
}

/// `n` pages as bytes, in the largest unit of which there is at least
/// one, to a tenth.
fn size(n: u64) -> String {
    crate::units::size(n * PAGE)
}

impl fmt::Display for VmStats {
    /// The text block `gfn_test stats` prints for a VM.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |m: &mut dyn Iterator<Item = (String, u64)>| -> String {
            m.map(|(k, n)| format!("{k} {}", size(n)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = self
            .name
            .as_ref()
            .map_or(String::new(), |n| format!(" name={n}"));
        writeln!(
            f,
            "vm pid={}{name}  (mapped in {} ms)",
            self.pid, self.map_ms
        )?;
        writeln!(
            f,
            "  memory    {} in memslots: {} present, {} not present{}",
            size(self.pages),
            size(self.present),
            size(self.not_present),
            if self.errors.is_empty() {
                String::new()
            } else {
                format!(
                    ", {}",
                    list(&mut self.errors.iter().map(|(k, n)| (k.to_string(), *n)))
                )
            }
        )?;
        writeln!(
            f,
            "  backing   {}",
            list(
                &mut self
                    .by_kind
                    .iter()
                    .map(|(k, n)| (k.replace('/', " order "), *n))
            )
        )?;
        writeln!(
            f,
            "  mapped by {}",
            list(&mut self.by_map.iter().map(|(k, n)| (k.to_string(), *n)))
        )?;
        writeln!(
            f,
            "  node      {}",
            list(&mut self.by_node.iter().map(|(k, n)| {
                let node = if *k == u32::MAX {
                    "unknown".to_string()
                } else {
                    k.to_string()
                };
                (node, *n)
            }))
        )?;
        writeln!(
            f,
            "  shared    zero page {}, KSM {}",
            size(self.zero),
            size(self.ksm)
        )?;
        write!(
            f,
            "  huge      {}% THP, {}% hugetlb of present memory",
            self.thp_percent, self.hugetlb_percent
        )?;
        // The two sides of a huge guest page: the VMM's page tables and
        // KVM's own, level by level.
        let host: Vec<String> = ["pud", "pmd", "pte"]
            .iter()
            .map(|l| {
                let n = self.by_map.get(l).copied().unwrap_or(0);
                format!("{}% {l}", percent(n, self.present))
            })
            .collect();
        write!(f, "\n  host maps {} of present memory", host.join(", "))?;
        if let Some(k) = &self.kvm {
            write!(
                f,
                "\n  KVM maps  {}% 1g, {}% 2m, {}% 4k of {} it maps; {} NX splits",
                k.percent_1g,
                k.percent_2m,
                k.percent_4k,
                crate::units::size(k.mapped),
                k.nx_splits
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use gfn_proto::reply::parse_line;

    /// The summary of a small map of pid 7, mapped in `ms`: a THP on node
    /// 1, a zero page, 3 pages not present, 4 without a VMA.
    pub(crate) fn sample(ms: u64) -> VmStats {
        let mut s = VmStats::new(7);
        for line in [
            "ok phys=0x200000 kind=thp gpa=0x0 hva=0x1000000 pid=7 size=2097152 order=9 node=1 slot=0 as=0 share=none map=pmd pages=512",
            "ok phys=0x5000 kind=base gpa=0x200000 hva=0x1200000 pid=7 size=4096 order=0 node=0 slot=0 as=0 share=zero map=pte",
            "err:not-present gpa=0x201000 pid=7 pages=3",
            "err:no-vma gpa=0x204000 pid=7 pages=4",
        ] {
            s.add(&parse_line(line).unwrap());
        }
        s.finish(ms);
        s
    }

    #[test]
    fn sums_a_map() {
        let s = sample(5);
        assert_eq!(
            (s.pages, s.present, s.not_present, s.zero),
            (520, 513, 3, 1)
        );
        assert_eq!(s.errors.get("no-vma"), Some(&4));
        assert_eq!(s.by_kind.get("thp/9"), Some(&512));
        assert_eq!(s.by_map.get("pte"), Some(&1));
        assert_eq!(s.by_node.get(&1), Some(&512));
        assert_eq!(s.thp_percent, 99.8);
        assert_eq!(s.hugetlb_percent, 0.0);
        let text = s.to_string();
        assert!(
            text.contains("thp order 9 2 MiB") && text.contains("99.8% THP"),
            "{text}"
        );
        assert!(
            text.ends_with("\n  host maps 0% pud, 99.8% pmd, 0.2% pte of present memory"),
            "{text}"
        );
    }

    #[test]
    fn shows_what_kvm_maps_next_to_the_host() {
        let mut s = sample(5);
        s.kvm = Some(
            KvmMaps {
                leaves: [512, 3, 0],
                nx_splits: 2,
            }
            .into(),
        );
        let k = s.kvm.as_ref().unwrap();
        assert_eq!(k.mapped, 8 << 20);
        assert_eq!(
            (k.percent_4k, k.percent_2m, k.percent_1g),
            (25.0, 75.0, 0.0)
        );
        let text = s.to_string();
        assert!(
            text.ends_with("\n  KVM maps  0% 1g, 75% 2m, 25% 4k of 8 MiB it maps; 2 NX splits"),
            "{text}"
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["kvm"]["leaves_2m"], 3);
        assert_eq!(json["kvm"]["mapped"], 8 << 20);
        // Nothing of KVM's where it is not counted.
        assert!(serde_json::to_value(sample(5))
            .unwrap()
            .get("kvm")
            .is_none());
    }

    #[test]
    fn lists_and_descending_runs_count_their_pages() {
        let text = "list kind=base gpa=0x0 hva=0x1000000 pid=7 size=4096 order=0 node=1 slot=0 as=0 share=none map=pte frames=9,3,5\n\
                    ok phys=0x20000 kind=base gpa=0x3000 hva=0x1003000 pid=7 size=4096 order=0 node=1 slot=0 as=0 share=none map=pte step=-1 pages=4\n";
        let mut s = VmStats::new(7);
        for r in crate::query::parse_reply(text).unwrap() {
            s.add(&r);
        }
        s.finish(1);
        assert_eq!((s.pages, s.present), (7, 7));
        assert_eq!(
            (s.by_kind.get("base/0"), s.by_node.get(&1)),
            (Some(&7), Some(&7))
        );
    }
}
