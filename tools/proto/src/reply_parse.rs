// SPDX-License-Identifier: GPL-2.0

//! Reply lines read back: the parser the tools use, which ignores
//! `key=value` fields it does not know, so fields can be added without
//! breaking older tools.

use super::reply::{Kind, KvmMaps, MapLevel, Reply, Share, Step, Translation};
use super::request::{Reason, Span};

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
    order: Option<&'a str>,
    node: Option<&'a str>,
    slot: Option<&'a str>,
    as_id: Option<&'a str>,
    share: Option<&'a str>,
    map: Option<&'a str>,
    pages: Option<&'a str>,
    step: Option<&'a str>,
    frames: Option<&'a str>,
    offset: Option<&'a str>,
    len: Option<&'a str>,
    slots: Option<&'a str>,
    memory: Option<&'a str>,
    id: Option<&'a str>,
    flags: Option<&'a str>,
    kvm_4k: Option<&'a str>,
    kvm_2m: Option<&'a str>,
    kvm_1g: Option<&'a str>,
    nx_splits: Option<&'a str>,
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
                "order" => &mut f.order,
                "node" => &mut f.node,
                "slot" => &mut f.slot,
                "as" => &mut f.as_id,
                "share" => &mut f.share,
                "map" => &mut f.map,
                "pages" => &mut f.pages,
                "step" => &mut f.step,
                "frames" => &mut f.frames,
                "offset" => &mut f.offset,
                "len" => &mut f.len,
                "slots" => &mut f.slots,
                "memory" => &mut f.memory,
                "id" => &mut f.id,
                "flags" => &mut f.flags,
                "kvm_4k" => &mut f.kvm_4k,
                "kvm_2m" => &mut f.kvm_2m,
                "kvm_1g" => &mut f.kvm_1g,
                "nx_splits" => &mut f.nx_splits,
                _ => continue,
            };
            *slot = Some(value);
        }
        Ok(f)
    }

    /// What a `vm` line says KVM maps: all four fields or none.
    fn kvm_maps(&self) -> Result<Option<KvmMaps>, ParseError> {
        let given = [self.kvm_4k, self.kvm_2m, self.kvm_1g, self.nx_splits];
        if given.iter().all(Option::is_none) {
            return Ok(None);
        }
        Ok(Some(KvmMaps {
            leaves: [
                dec(self.kvm_4k, "kvm_4k")?,
                dec(self.kvm_2m, "kvm_2m")?,
                dec(self.kvm_1g, "kvm_1g")?,
            ],
            nx_splits: dec(self.nx_splits, "nx_splits")?,
        }))
    }

    /// The translation an `ok` or `list` line tells, with `phys` and
    /// `pages` given.
    fn translation(&self, phys: u64, pages: u64) -> Result<Translation, ParseError> {
        let kind = self.kind.ok_or(ParseError::MissingField("kind"))?;
        let share = self.share.ok_or(ParseError::MissingField("share"))?;
        let map = self.map.ok_or(ParseError::MissingField("map"))?;
        let step = match self.step {
            None => Step::Up,
            // Only a run of two pages or more goes down.
            Some("-1") if pages >= 2 => Step::Down,
            Some(_) => return Err(ParseError::BadValue("step")),
        };
        Ok(Translation {
            phys,
            kind: Kind::from_name(kind.as_bytes()).ok_or(ParseError::BadValue("kind"))?,
            gpa: hex(self.gpa, "gpa")?,
            hva: hex(self.hva, "hva")?,
            pid: dec(self.pid, "pid")?,
            size: dec(self.size, "size")?,
            order: dec(self.order, "order")?,
            node: dec(self.node, "node")?,
            slot: dec(self.slot, "slot")?,
            as_id: dec(self.as_id, "as")?,
            share: Share::from_name(share.as_bytes()).ok_or(ParseError::BadValue("share"))?,
            map: MapLevel::from_name(map.as_bytes()).ok_or(ParseError::BadValue("map"))?,
            pages,
            step,
        })
    }

    /// `pages=`, 1 when absent.
    fn pages(&self) -> Result<u64, ParseError> {
        match self.pages {
            Some(_) => dec(self.pages, "pages"),
            None => Ok(1),
        }
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

/// The head of a `list` line and its `frames=` value, or `None` for a line
/// of another form; `list.rs` reads the frames.  The head's `phys` is 0
/// and its `pages` the number of frames listed.
pub(crate) fn parse_list_head(line: &str) -> Result<Option<(Translation, &str)>, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let mut words = line.split_ascii_whitespace();
    if words.next() != Some("list") {
        return Ok(None);
    }
    let fields = Fields::collect(words)?;
    let frames = fields.frames.ok_or(ParseError::MissingField("frames"))?;
    if fields.phys.is_some() || fields.pages.is_some() || fields.step.is_some() {
        return Err(ParseError::BadField);
    }
    let count = frames.split(',').count() as u64;
    Ok(Some((fields.translation(0, count)?, frames)))
}

/// Parses one reply line, with or without its newline.
pub fn parse_line(line: &str) -> Result<Reply, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let mut words = line.split_ascii_whitespace();
    let status = words.next().ok_or(ParseError::UnknownStatus)?;
    let fields = Fields::collect(words)?;
    match status {
        "ok" => {
            let t = fields.translation(hex(fields.phys, "phys")?, fields.pages()?)?;
            return Ok(Reply::Ok(t));
        }
        "vm" => {
            return Ok(Reply::Vm {
                pid: dec(fields.pid, "pid")?,
                slots: dec(fields.slots, "slots")?,
                memory: dec(fields.memory, "memory")?,
                kvm: fields.kvm_maps()?,
            })
        }
        "slot" => {
            return Ok(Reply::Slot {
                pid: dec(fields.pid, "pid")?,
                as_id: dec(fields.as_id, "as")?,
                id: dec(fields.id, "id")?,
                gpa: hex(fields.gpa, "gpa")?,
                size: dec(fields.size, "size")?,
                hva: hex(fields.hva, "hva")?,
                flags: u32::try_from(hex(fields.flags, "flags")?)
                    .map_err(|_| ParseError::BadValue("flags"))?,
            })
        }
        _ => {}
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
            pages: fields.pages()?,
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
