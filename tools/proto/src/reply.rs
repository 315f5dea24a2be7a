// SPDX-License-Identifier: GPL-2.0

//! The reply format of `/proc/gfn_to_pfn`: one line per address or bad
//! token.  The kernel module formats lines with `Display`; the tools parse
//! them with [`parse_line`].  Shared source, so both always agree.
//!
//! ```text
//! ok phys=0x<hex> kind=<base|thp|hugetlb> gpa=0x<hex> hva=0x<hex> pid=<dec> size=<dec>
//! err:<reason> gpa=0x<hex> [pid=<dec>]
//! err:<reason> offset=<dec> len=<dec>
//! ```
//!
//! Parsers ignore `key=value` fields they do not know, so fields can be
//! added without breaking older tools.

use super::request::{Reason, Span};
use core::fmt;

/// What backs a guest page on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An ordinary base page.
    Base,
    /// A transparent huge page (PMD-sized or multi-size).
    Thp,
    /// A hugetlbfs page.
    Hugetlb,
}

impl Kind {
    /// The kind's name in replies.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Base => "base",
            Kind::Thp => "thp",
            Kind::Hugetlb => "hugetlb",
        }
    }

    /// The kind named `name`, if any.
    pub fn from_name(name: &[u8]) -> Option<Kind> {
        [Kind::Base, Kind::Thp, Kind::Hugetlb]
            .into_iter()
            .find(|k| k.as_str().as_bytes() == name)
    }
}

/// A successful translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Host physical address: host PFN << 12 | (gpa & 0xfff).
    pub phys: u64,
    /// What backs the page.
    pub kind: Kind,
    /// The guest physical address asked for.
    pub gpa: u64,
    /// Host virtual address of `gpa` in the VMM.
    pub hva: u64,
    /// The VMM's pid.
    pub pid: u32,
    /// Size in bytes of the host page (folio) holding it.
    pub size: u64,
}

/// One reply line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// An address translated.
    Ok(Translation),
    /// An address that could not be translated.
    AddrErr {
        /// Why.
        reason: Reason,
        /// The address.
        gpa: u64,
        /// The pid it was looked up with, if any.
        pid: Option<u32>,
    },
    /// A token that is not valid.
    TokenErr {
        /// Why.
        reason: Reason,
        /// Where it stands in the write.
        span: Span,
    },
}

/// Longest formatted line, newline included.
pub const MAX_LINE: usize = 160;

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Ok(t) => write!(
                f,
                "ok phys={:#x} kind={} gpa={:#x} hva={:#x} pid={} size={}",
                t.phys,
                t.kind.as_str(),
                t.gpa,
                t.hva,
                t.pid,
                t.size
            ),
            Reply::AddrErr { reason, gpa, pid } => {
                write!(f, "err:{} gpa={:#x}", reason.as_str(), gpa)?;
                match pid {
                    Some(pid) => write!(f, " pid={}", pid),
                    None => Ok(()),
                }
            }
            Reply::TokenErr { reason, span } => write!(
                f,
                "err:{} offset={} len={}",
                reason.as_str(),
                span.offset,
                span.len
            ),
        }
    }
}

/// Why a reply line could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Neither `ok ` nor `err:<reason> `.
    UnknownStatus,
    /// A field the line's form requires is missing.
    MissingField(&'static str),
    /// A field's value is malformed.
    BadValue(&'static str),
    /// A word that is not `key=value`.
    BadField,
}

/// The fields of a line that the parser knows; others are ignored.
#[derive(Default)]
struct Fields<'a> {
    phys: Option<&'a str>,
    kind: Option<&'a str>,
    gpa: Option<&'a str>,
    hva: Option<&'a str>,
    pid: Option<&'a str>,
    size: Option<&'a str>,
    offset: Option<&'a str>,
    len: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn collect(words: core::str::SplitAsciiWhitespace<'a>) -> Result<Self, ParseError> {
        let mut f = Fields::default();
        for word in words {
            let (key, value) = word.split_once('=').ok_or(ParseError::BadField)?;
            let slot = match key {
                "phys" => &mut f.phys,
                "kind" => &mut f.kind,
                "gpa" => &mut f.gpa,
                "hva" => &mut f.hva,
                "pid" => &mut f.pid,
                "size" => &mut f.size,
                "offset" => &mut f.offset,
                "len" => &mut f.len,
                _ => continue,
            };
            *slot = Some(value);
        }
        Ok(f)
    }
}

fn hex(v: Option<&str>, name: &'static str) -> Result<u64, ParseError> {
    let v = v.ok_or(ParseError::MissingField(name))?;
    let digits = v.strip_prefix("0x").ok_or(ParseError::BadValue(name))?;
    if digits.is_empty() || digits.starts_with('+') {
        return Err(ParseError::BadValue(name));
    }
    u64::from_str_radix(digits, 16).map_err(|_| ParseError::BadValue(name))
}

fn dec<T: core::str::FromStr>(v: Option<&str>, name: &'static str) -> Result<T, ParseError> {
    let v = v.ok_or(ParseError::MissingField(name))?;
    if v.starts_with('+') {
        return Err(ParseError::BadValue(name));
    }
    v.parse().map_err(|_| ParseError::BadValue(name))
}

/// Parses one reply line, with or without its newline.
pub fn parse_line(line: &str) -> Result<Reply, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let mut words = line.split_ascii_whitespace();
    let status = words.next().ok_or(ParseError::UnknownStatus)?;
    let fields = Fields::collect(words)?;
    if status == "ok" {
        let kind = fields.kind.ok_or(ParseError::MissingField("kind"))?;
        return Ok(Reply::Ok(Translation {
            phys: hex(fields.phys, "phys")?,
            kind: Kind::from_name(kind.as_bytes()).ok_or(ParseError::BadValue("kind"))?,
            gpa: hex(fields.gpa, "gpa")?,
            hva: hex(fields.hva, "hva")?,
            pid: dec(fields.pid, "pid")?,
            size: dec(fields.size, "size")?,
        }));
    }
    let name = status
        .strip_prefix("err:")
        .ok_or(ParseError::UnknownStatus)?;
    let reason = Reason::from_name(name.as_bytes()).ok_or(ParseError::UnknownStatus)?;
    if fields.gpa.is_some() {
        let pid = match fields.pid {
            Some(_) => Some(dec(fields.pid, "pid")?),
            None => None,
        };
        return Ok(Reply::AddrErr {
            reason,
            gpa: hex(fields.gpa, "gpa")?,
            pid,
        });
    }
    Ok(Reply::TokenErr {
        reason,
        span: Span {
            offset: dec(fields.offset, "offset")?,
            len: dec(fields.len, "len")?,
        },
    })
}
