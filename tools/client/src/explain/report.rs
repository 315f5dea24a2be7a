// SPDX-License-Identifier: GPL-2.0
//! A VM's explanation as a whole: KVM's counts, the host's settings, each
//! memslot's; its text and JSON forms.

use super::{Host, Reason, SlotReport};
use crate::json::JsonKvm;
use crate::units::size;
use gfn_proto::reply::KvmMaps;
use serde::Serialize;
use std::fmt;

/// What `explain` tells of a VM: KVM's counts and its slots.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VmReport {
    pub pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// KVM's leaf entries at each level, where it counts them.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "kvm_json")]
    pub kvm: Option<KvmMaps>,
    pub host: Host,
    pub slots: Vec<SlotReport>,
}

/// KVM's counts as `vms --json` gives them (`leaves_4k` ... `nx_splits`).
fn kvm_json<S: serde::Serializer>(k: &Option<KvmMaps>, s: S) -> Result<S::Ok, S::Error> {
    k.map(JsonKvm::from).serialize(s)
}

impl VmReport {
    /// Bytes the memslots of address space `as_id` allow KVM to map at
    /// each explained level.
    pub fn allowed(&self, as_id: u8) -> [u64; 2] {
        std::array::from_fn(|i| {
            self.slots
                .iter()
                .filter(|s| s.as_id == as_id)
                .filter_map(|s| s.levels.get(i))
                .map(|l| l.huge)
                .sum()
        })
    }
}

impl fmt::Display for VmReport {
    /// The text `gfn_test explain` prints for a VM.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .name
            .as_ref()
            .map_or(String::new(), |n| format!(" name={n}"));
        writeln!(f, "vm pid={}{name}", self.pid)?;
        let allowed = self.allowed(0);
        match &self.kvm {
            Some(k) => {
                let by: Vec<String> = KvmMaps::LEVELS
                    .iter()
                    .zip(k.leaves.iter().zip(KvmMaps::SIZES))
                    .map(|(l, (n, bytes))| format!("{} by {l}", size(n.saturating_mul(bytes))))
                    .collect();
                writeln!(f, "  KVM maps   {}", by.join(", "))?;
            }
            None => writeln!(f, "  KVM maps   (not counted on this architecture)")?,
        }
        // SMM's address space (x86) usually aliases RAM: told apart.
        let smm = if self.slots.iter().any(|s| s.as_id == 1) {
            let a = self.allowed(1);
            format!(
                "; in SMM's address space (as=1) {} by 2m, {} by 1g",
                size(a[0]),
                size(a[1])
            )
        } else {
            String::new()
        };
        writeln!(
            f,
            "  could map  {} by 2m, {} by 1g{smm}: the huge pages nothing below keeps \
             small, once the guest has touched them",
            size(allowed[0]),
            size(allowed[1])
        )?;
        let setting = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
        let splits = self.kvm.map_or(String::new(), |k| {
            format!(", {} huge pages split for it now", k.nx_splits)
        });
        writeln!(
            f,
            "  host       THP enabled={} defrag={} shmem={}; KVM nx_huge_pages={}{splits}",
            setting(&self.host.thp_enabled),
            setting(&self.host.thp_defrag),
            setting(&self.host.shmem_enabled),
            setting(&self.host.nx_huge_pages),
        )?;
        for s in &self.slots {
            let backing: Vec<String> = s
                .backing
                .iter()
                .map(|(b, n)| format!("{b} {}", size(*n)))
                .collect();
            writeln!(
                f,
                "slot as={} id={} gpa={:#x} size={} hva={:#x} flags={:#x}",
                s.as_id,
                s.id,
                s.gpa,
                size(s.size),
                s.hva,
                s.flags
            )?;
            writeln!(
                f,
                "  backing    {}",
                if backing.is_empty() {
                    "nothing present".to_string()
                } else {
                    backing.join(", ")
                }
            )?;
            for l in &s.levels {
                // A slot too small for the level: one line says it.
                if let [b] = l.reasons.as_slice() {
                    if b.reason == Reason::Edge && b.bytes == s.size {
                        writeln!(f, "  {}         none: {}", l.level, b.detail)?;
                        continue;
                    }
                }
                writeln!(
                    f,
                    "  {}         {} of {} can be mapped huge",
                    l.level,
                    size(l.huge),
                    size(s.size)
                )?;
                for b in &l.reasons {
                    writeln!(f, "    {:<9} {b}", size(b.bytes))?;
                }
                // Under a reason of the slot's own: what fixing it gives.
                if l.reasons.iter().any(|b| b.reason.of_the_slot()) {
                    if l.behind.is_empty() {
                        writeln!(
                            f,
                            "    (the host maps all of that huge: only the slot keeps it small)"
                        )?;
                    }
                    for b in &l.behind {
                        writeln!(f, "    (and behind it, {} {b})", size(b.bytes))?;
                    }
                }
            }
            for n in &s.notes {
                writeln!(f, "  note       {n}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{explain, host, run, slot, MIB};
    use super::*;
    use gfn_proto::reply::{Kind, MapLevel};

    #[test]
    fn the_text_names_each_level_and_reason() {
        let s = slot(0x20_0000, 4 * MIB, 0x7f00_0020_1000, 0);
        let report = VmReport {
            pid: 7,
            name: None,
            kvm: Some(KvmMaps {
                leaves: [1024, 0, 0],
                nx_splits: 0,
            }),
            host: host(),
            slots: vec![explain(
                s,
                &[run(0x20_0000, 1024, Kind::Thp, 9, MapLevel::Pmd)],
                &[],
            )],
        };
        let text = report.to_string();
        for want in [
            "vm pid=7\n",
            "  KVM maps   4 MiB by 4k, 0 B by 2m, 0 B by 1g\n",
            "  could map  0 B by 2m, 0 B by 1g",
            "KVM nx_huge_pages=N, 0 huge pages split for it now\n",
            "slot as=0 id=0 gpa=0x200000 size=4 MiB hva=0x7f0000201000 flags=0x0\n",
            "  backing    thp order 9 pmd 4 MiB\n",
            "  2m         0 B of 4 MiB can be mapped huge\n",
            "    4 MiB     incongruent: host address",
            "    (the host maps all of that huge: only the slot keeps it small)\n",
            "  1g         none: the slot holds no whole 1 GiB",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["slots"][0]["levels"][0]["reasons"][0]["reason"],
            "incongruent"
        );
        assert_eq!(json["kvm"]["leaves_4k"], 1024);
    }

    #[test]
    fn smm_memslots_are_counted_apart() {
        let fully = |as_id| {
            let mut s = slot(0x20_0000, 4 * MIB, 0x7f00_0020_0000, 0);
            s.as_id = as_id;
            explain(s, &[run(0x20_0000, 1024, Kind::Thp, 9, MapLevel::Pmd)], &[])
        };
        let report = VmReport {
            pid: 7,
            name: None,
            kvm: None,
            host: host(),
            slots: vec![fully(0), fully(1)],
        };
        assert_eq!(
            (report.allowed(0), report.allowed(1)),
            ([4 * MIB, 0], [4 * MIB, 0])
        );
        let text = report.to_string();
        assert!(
            text.contains(
                "  could map  4 MiB by 2m, 0 B by 1g; in SMM's address space (as=1) 4 MiB by 2m, 0 B by 1g:"
            ),
            "{text}"
        );
        assert!(
            text.contains("  KVM maps   (not counted on this architecture)\n"),
            "{text}"
        );
    }
}
