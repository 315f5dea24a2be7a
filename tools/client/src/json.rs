//! The JSON form of a reply line: one object per address or bad token,
//! every field typed (numbers as numbers, addresses also as hex strings).

use gfn_proto::reply::Reply;
use serde::Serialize;

/// One reply line as JSON.
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
        pid: u32,
    },
    Err {
        reason: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        gpa: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gpa_hex: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        offset: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        len: Option<usize>,
    },
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
                pid: t.pid,
            },
            Reply::AddrErr { reason, gpa, pid } => JsonReply::Err {
                reason: reason.as_str(),
                gpa: Some(gpa),
                gpa_hex: Some(format!("{gpa:#x}")),
                pid,
                offset: None,
                len: None,
            },
            Reply::TokenErr { reason, span } => JsonReply::Err {
                reason: reason.as_str(),
                gpa: None,
                gpa_hex: None,
                pid: None,
                offset: Some(span.offset),
                len: Some(span.len),
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
        let v =
            json("ok phys=0x1a5c01111 kind=thp gpa=0x1111 hva=0x7f0000001111 pid=42 size=2097152");
        assert_eq!(
            v,
            serde_json::json!({
                "status": "ok", "gpa": 0x1111, "gpa_hex": "0x1111",
                "phys": 0x1a5c01111u64, "phys_hex": "0x1a5c01111", "pfn": 0x1a5c01,
                "hva": 0x7f0000001111u64, "hva_hex": "0x7f0000001111",
                "kind": "thp", "size": 2097152, "pid": 42
            })
        );
    }

    #[test]
    fn err_shapes() {
        assert_eq!(
            json("err:no-vm gpa=0x10 pid=7"),
            serde_json::json!({"status": "err", "reason": "no-vm", "gpa": 16, "gpa_hex": "0x10", "pid": 7})
        );
        assert_eq!(
            json("err:no-vms gpa=0x10"),
            serde_json::json!({"status": "err", "reason": "no-vms", "gpa": 16, "gpa_hex": "0x10"})
        );
        assert_eq!(
            json("err:invalid-token offset=3 len=2"),
            serde_json::json!({"status": "err", "reason": "invalid-token", "offset": 3, "len": 2})
        );
    }
}
