// SPDX-License-Identifier: GPL-2.0
//! The JSON form of a reply line: one object per line, every field typed
//! (numbers as numbers, addresses also as hex strings).

use gfn_proto::reply::{Reply, Step};
use serde::Serialize;

/// One reply line as JSON.
///
/// A translated run (`"status": "ok"`) of `pages` guest pages from `gpa`
/// on has the host frame of its first page (`phys`, `pfn`); the frames of
/// the others go up by one a page, or down when the object has
/// `"step": -1`.  `step` is left out when the frames go up (as `step=-1`
/// is the only step a module line writes), so objects of ascending runs
/// are as they were before runs could go down; a reader takes a missing
/// `step` as 1.  (A frame list is never one object: its pages come one
/// reply each, see `query`.)
/// What KVM maps of a VM, in a `vm` object.
#[derive(Debug, PartialEq, Serialize)]
pub struct JsonKvm {
    pub leaves_4k: u64,
    pub leaves_2m: u64,
    pub leaves_1g: u64,
    pub nx_splits: u64,
}

impl From<gfn_proto::reply::KvmMaps> for JsonKvm {
    fn from(k: gfn_proto::reply::KvmMaps) -> JsonKvm {
        JsonKvm {
            leaves_4k: k.leaves[0],
            leaves_2m: k.leaves[1],
            leaves_1g: k.leaves[2],
            nx_splits: k.nx_splits,
        }
    }
}

#[derive(Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum JsonReply {
    Ok {
        gpa: u64,
        gpa_hex: String,
        phys: u64,
        phys_hex: String,
        pfn: u64,
        hva: u64,
        hva_hex: String,
        kind: &'static str,
        size: u64,
        order: u8,
        node: u32,
        slot: u16,
        #[serde(rename = "as")]
        as_id: u8,
        share: &'static str,
        map: &'static str,
        pages: u64,
        /// -1 when the run's frames go down; left out (1) when they go up.
        #[serde(skip_serializing_if = "ascending")]
        step: i8,
        pid: u32,
    },
    Err {
        reason: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        gpa: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gpa_hex: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pages: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        offset: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        len: Option<usize>,
    },
    Vm {
        pid: u32,
        slots: u32,
        memory: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        kvm: Option<JsonKvm>,
    },
    Slot {
        pid: u32,
        #[serde(rename = "as")]
        as_id: u8,
        id: u16,
        gpa: u64,
        gpa_hex: String,
        size: u64,
        hva: u64,
        hva_hex: String,
        flags: u32,
    },
}

/// Whether a run's `step` is 1, which JSON leaves out.
fn ascending(step: &i8) -> bool {
    *step == 1
}

impl From<&Reply> for JsonReply {
    fn from(r: &Reply) -> JsonReply {
        match *r {
            Reply::Ok(t) => JsonReply::Ok {
                gpa: t.gpa,
                gpa_hex: format!("{:#x}", t.gpa),
                phys: t.phys,
                phys_hex: format!("{:#x}", t.phys),
                pfn: t.phys >> 12,
                hva: t.hva,
                hva_hex: format!("{:#x}", t.hva),
                kind: t.kind.as_str(),
                size: t.size,
                order: t.order,
                node: t.node,
                slot: t.slot,
                as_id: t.as_id,
                share: t.share.as_str(),
                map: t.map.as_str(),
                pages: t.pages,
                step: match t.step {
                    Step::Up => 1,
                    Step::Down => -1,
                },
                pid: t.pid,
            },
            Reply::AddrErr {
                reason,
                gpa,
                pid,
                pages,
            } => JsonReply::Err {
                reason: reason.as_str(),
                gpa: Some(gpa),
                gpa_hex: Some(format!("{gpa:#x}")),
                pages: Some(pages),
                pid,
                offset: None,
                len: None,
            },
            Reply::TokenErr { reason, span } => JsonReply::Err {
                reason: reason.as_str(),
                gpa: None,
                gpa_hex: None,
                pages: None,
                pid: None,
                offset: Some(span.offset),
                len: Some(span.len),
            },
            Reply::Vm {
                pid,
                slots,
                memory,
                kvm,
            } => JsonReply::Vm {
                pid,
                slots,
                memory,
                kvm: kvm.map(JsonKvm::from),
            },
            Reply::Slot {
                pid,
                as_id,
                id,
                gpa,
                size,
                hva,
                flags,
            } => JsonReply::Slot {
                pid,
                as_id,
                id,
                gpa,
                gpa_hex: format!("{gpa:#x}"),
                size,
                hva,
                hva_hex: format!("{hva:#x}"),
                flags,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gfn_proto::reply::parse_line;

    fn json(line: &str) -> serde_json::Value {
        serde_json::to_value(JsonReply::from(&parse_line(line).unwrap())).unwrap()
    }

    #[test]
    fn ok_shape() {
        let v = json(
            "ok phys=0x1a5c01111 kind=thp gpa=0x1111 hva=0x7f0000001111 pid=42 size=2097152 \
             order=9 node=0 slot=1 as=0 share=none map=pmd",
        );
        assert_eq!(
            v,
            serde_json::json!({
                "status": "ok", "gpa": 0x1111, "gpa_hex": "0x1111",
                "phys": 0x1a5c01111u64, "phys_hex": "0x1a5c01111", "pfn": 0x1a5c01,
                "hva": 0x7f0000001111u64, "hva_hex": "0x7f0000001111",
                "kind": "thp", "size": 2097152, "order": 9, "node": 0, "slot": 1,
                "as": 0, "share": "none", "map": "pmd", "pages": 1, "pid": 42
            })
        );
    }

    #[test]
    fn err_shapes() {
        assert_eq!(
            json("err:no-vm gpa=0x10 pid=7"),
            serde_json::json!({"status": "err", "reason": "no-vm", "gpa": 16, "gpa_hex": "0x10", "pages": 1, "pid": 7})
        );
        assert_eq!(
            json("err:not-present gpa=0x10000 pages=3"),
            serde_json::json!({"status": "err", "reason": "not-present", "gpa": 65536, "gpa_hex": "0x10000", "pages": 3})
        );
        assert_eq!(
            json("err:invalid-token offset=3 len=2"),
            serde_json::json!({"status": "err", "reason": "invalid-token", "offset": 3, "len": 2})
        );
        assert_eq!(
            json("vm pid=60 slots=2 memory=4096"),
            serde_json::json!({"status": "vm", "pid": 60, "slots": 2, "memory": 4096})
        );
        assert_eq!(
            json("vm pid=60 slots=2 memory=4096 kvm_4k=1 kvm_2m=2 kvm_1g=3 nx_splits=4"),
            serde_json::json!({"status": "vm", "pid": 60, "slots": 2, "memory": 4096,
                "kvm": {"leaves_4k": 1, "leaves_2m": 2, "leaves_1g": 3, "nx_splits": 4}})
        );
        assert_eq!(
            json("slot pid=60 as=1 id=3 gpa=0x1000 size=4096 hva=0x2000 flags=0x2"),
            serde_json::json!({"status": "slot", "pid": 60, "as": 1, "id": 3, "gpa": 4096,
                "gpa_hex": "0x1000", "size": 4096, "hva": 8192, "hva_hex": "0x2000", "flags": 2})
        );
    }

    #[test]
    fn descending_runs_say_so() {
        let line = "ok phys=0x9000 kind=base gpa=0x200000 hva=0x7f0000200000 pid=42 size=4096 \
                    order=0 node=0 slot=1 as=0 share=none map=pte step=-1 pages=3";
        let v = json(line);
        assert_eq!(
            v,
            serde_json::json!({
                "status": "ok", "gpa": 0x200000, "gpa_hex": "0x200000",
                "phys": 0x9000, "phys_hex": "0x9000", "pfn": 9,
                "hva": 0x7f0000200000u64, "hva_hex": "0x7f0000200000",
                "kind": "base", "size": 4096, "order": 0, "node": 0, "slot": 1,
                "as": 0, "share": "none", "map": "pte", "pages": 3, "step": -1, "pid": 42
            })
        );
        // Up: no `step` (as `ok_shape` has none).
        let v = json(&line.replace(" step=-1", ""));
        assert!(v.get("step").is_none() && v["pages"] == 3, "{v}");
    }
}
