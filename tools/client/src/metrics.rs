// SPDX-License-Identifier: GPL-2.0
//! Per-VM summaries as Prometheus metrics, in the text exposition format
//! that node_exporter's textfile collector reads: one set of series per VM,
//! labelled with the VMM's pid and, where one is found, the VM's name.
//!
//! Every series is a gauge of the last map.  Sums are meaningful: summed
//! over its labels, `gfn_vm_memory_bytes` plus `gfn_vm_unbacked_bytes` is
//! `gfn_vm_memslot_bytes`.

use crate::stats::VmStats;
use gfn_proto::reply::KvmMaps;
use std::fmt::Write;

// Bytes in a guest page, as the protocol says.
use gfn_proto::facts::PAGE_SIZE as PAGE;

/// One VM's figures: its map's summary and its memslot count (from `vms`).
pub struct VmMetrics<'a> {
    pub stats: &'a VmStats,
    pub memslots: u32,
}

/// A label value, escaped as the exposition format asks (backslash,
/// double quote, line feed).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The labels every series of a VM carries: `pid="N",name="..."`.
fn vm_labels(s: &VmStats) -> String {
    match &s.name {
        Some(name) => format!("pid=\"{}\",name=\"{}\"", s.pid, escape(name)),
        None => format!("pid=\"{}\"", s.pid),
    }
}

/// A NUMA node as a label value ("unknown" for memory without one).
fn node(n: u32) -> String {
    if n == u32::MAX {
        "unknown".into()
    } else {
        n.to_string()
    }
}

/// The exposition of every VM's metrics: each metric's HELP and TYPE once,
/// then its series, VM by VM.
pub fn render(vms: &[VmMetrics<'_>]) -> String {
    let mut out = String::new();
    // A metric's header, then `series(vm)` for each VM: (extra labels,
    // value) pairs.
    let mut metric =
        |name: &str, help: &str, series: &dyn Fn(&VmMetrics) -> Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for vm in vms {
                let labels = vm_labels(vm.stats);
                for (extra, value) in series(vm) {
                    let _ = writeln!(out, "{name}{{{labels}{extra}}} {value}");
                }
            }
        };
    let bytes = |pages: u64| (pages * PAGE).to_string();
    metric(
        "gfn_vm_memslots",
        "Memslots of the VM, over all address spaces.",
        &|vm| vec![(String::new(), vm.memslots.to_string())],
    );
    metric(
        "gfn_vm_memslot_bytes",
        "Guest memory in the VM's memslots (address space 0, as mapped).",
        &|vm| vec![(String::new(), bytes(vm.stats.pages))],
    );
    metric(
        "gfn_vm_memory_bytes",
        "Present guest memory by backing kind, folio order, NUMA node, sharing and the VMM's mapping level.",
        &|vm| {
            vm.stats
                .by_class
                .iter()
                .map(|(c, &pages)| {
                    let labels = format!(
                        ",kind=\"{}\",order=\"{}\",node=\"{}\",share=\"{}\",map=\"{}\"",
                        c.kind,
                        c.order,
                        node(c.node),
                        c.share,
                        c.map
                    );
                    (labels, bytes(pages))
                })
                .collect()
        },
    );
    metric(
        "gfn_vm_unbacked_bytes",
        "Guest memory with no host page, by reason (not-present: never touched, swapped out or reclaimed).",
        &|vm| {
            std::iter::once(("not-present", vm.stats.not_present))
                .chain(vm.stats.errors.iter().map(|(r, n)| (*r, *n)))
                .map(|(reason, pages)| (format!(",reason=\"{reason}\""), bytes(pages)))
                .collect()
        },
    );
    metric(
        "gfn_vm_kvm_mapped_bytes",
        "Guest memory KVM itself maps (its stage-2 leaf entries, over all its roots: SMM's too), by level: 4k, 2m, 1g. Only where KVM counts them (x86).",
        &|vm| {
            vm.stats.kvm.as_ref().map_or(Vec::new(), |k| {
                [k.leaves_4k, k.leaves_2m, k.leaves_1g]
                    .into_iter()
                    .zip(KvmMaps::LEVELS.iter().zip(KvmMaps::SIZES))
                    .map(|(n, (level, size))| (format!(",level=\"{level}\""), n.saturating_mul(size).to_string()))
                    .collect()
            })
        },
    );
    metric(
        "gfn_vm_kvm_nx_splits",
        "Huge pages KVM split for the NX-huge-page mitigation.",
        &|vm| {
            vm.stats.kvm.as_ref().map_or(Vec::new(), |k| {
                vec![(String::new(), k.nx_splits.to_string())]
            })
        },
    );
    metric(
        "gfn_vm_map_duration_seconds",
        "How long mapping the VM's memory took.",
        &|vm| vec![(String::new(), (vm.stats.map_ms as f64 / 1000.0).to_string())],
    );
    format!(
        "# HELP gfn_vms KVM VMs whose memory was mapped.\n# TYPE gfn_vms gauge\ngfn_vms {}\n{out}",
        vms.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_per_vm() {
        let mut s = crate::stats::tests::sample(1500);
        s.name = Some("web \"1\"\\a\nb".into());
        s.kvm = Some(
            KvmMaps {
                leaves: [5, 2, 1],
                nx_splits: 3,
            }
            .into(),
        );
        let mut t = VmStats::new(8);
        t.finish(2);
        let text = render(&[
            VmMetrics {
                stats: &s,
                memslots: 2,
            },
            VmMetrics {
                stats: &t,
                memslots: 0,
            },
        ]);
        let labels = r#"pid="7",name="web \"1\"\\a\nb""#;
        for want in [
            "gfn_vms 2\n".to_string(),
            format!("gfn_vm_memslots{{{labels}}} 2\n"),
            "gfn_vm_memslots{pid=\"8\"} 0\n".into(),
            format!("gfn_vm_memslot_bytes{{{labels}}} {}\n", 520 * 4096),
            format!("gfn_vm_memory_bytes{{{labels},kind=\"thp\",order=\"9\",node=\"1\",share=\"none\",map=\"pmd\"}} 2097152\n"),
            format!("gfn_vm_memory_bytes{{{labels},kind=\"base\",order=\"0\",node=\"0\",share=\"zero\",map=\"pte\"}} 4096\n"),
            format!("gfn_vm_unbacked_bytes{{{labels},reason=\"not-present\"}} 12288\n"),
            format!("gfn_vm_unbacked_bytes{{{labels},reason=\"no-vma\"}} 16384\n"),
            format!("gfn_vm_map_duration_seconds{{{labels}}} 1.5\n"),
            format!("gfn_vm_kvm_mapped_bytes{{{labels},level=\"4k\"}} 20480\n"),
            format!("gfn_vm_kvm_mapped_bytes{{{labels},level=\"2m\"}} 4194304\n"),
            format!("gfn_vm_kvm_mapped_bytes{{{labels},level=\"1g\"}} 1073741824\n"),
            format!("gfn_vm_kvm_nx_splits{{{labels}}} 3\n"),
        ] {
            assert!(text.contains(&want), "{want:?} not in\n{text}");
        }
        assert_eq!(text.matches("# TYPE").count(), 8, "{text}");
        // A VM whose counts KVM does not keep has none of these series.
        assert!(!text.contains("gfn_vm_kvm_nx_splits{pid=\"8\"}"), "{text}");
    }
}
