// SPDX-License-Identifier: GPL-2.0
//! Bad input: every failure is a clear per-address or per-token error and
//! never keeps the other addresses from translating.

use crate::check::{self, ensure};
use crate::module::{self, ask_on};
use crate::oracle;
use crate::vmm::Vmm;
use gfn_proto::reply::{parse_line, Kind, Reply, Share};
use gfn_proto::request::{Reason, MAX_WRITE};

/// What one reply line must be.
enum Want<'a> {
    /// This line, whole: an error, every field of which follows from the
    /// request (README, *Replies*).
    Line(String),
    /// A translation of the base page at guest address `.1` in the VM of
    /// `.0`, every field as the VMM and the oracles say (`base_page`).
    Base(&'a Vmm, u64),
}

/// Writes `req` on a fresh open file and checks the reply line by line:
/// as many lines as `want`, each whole as `want` says (not a prefix of it).
fn expect(req: impl AsRef<[u8]>, want: &[Want]) -> Result<(), String> {
    let req = req.as_ref();
    let shown = String::from_utf8_lossy(req);
    let mut f = module::open().map_err(|e| format!("open {}: {e}", module::PROC))?;
    let text = ask_on(&mut f, req).map_err(|e| format!("{shown:?}: {e}"))?;
    let got: Vec<&str> = text.lines().collect();
    ensure(got.len() == want.len(), || {
        format!("{shown:?}: got {got:?}, want {} lines", want.len())
    })?;
    for (line, w) in got.iter().zip(want) {
        match w {
            Want::Line(whole) => ensure(line == whole, || {
                format!("{shown:?}: got {line:?}, want {whole:?} (whole reply: {got:?})")
            })?,
            Want::Base(vmm, gpa) => {
                base_page(vmm, *gpa, line).map_err(|e| format!("{shown:?}: {e}"))?
            }
        }
    }
    Ok(())
}

/// Checks that reply `line` translates `gpa`, a base page the VMM faulted
/// in, in `vmm`'s VM: gpa, pid, hva, phys, kind, size and map against the
/// VMM's slots, pagemap, kpageflags and smaps (`check::translation`), the
/// memslot and address space as the VMM reported them, node as
/// move_pages(2) reports it, sharing by kpageflags, one page.
fn base_page(vmm: &Vmm, gpa: u64, line: &str) -> Result<(), String> {
    let t = match parse_line(line) {
        Ok(Reply::Ok(t)) => t,
        other => {
            return Err(format!(
                "{line:?}: want a translation of {gpa:#x}, got {other:?}"
            ))
        }
    };
    check::translation(vmm, gpa, &t, Kind::Base, 4096)?;
    let slot = vmm
        .slots
        .iter()
        .find(|s| (s.gpa..s.gpa + s.size).contains(&gpa))
        .ok_or_else(|| format!("{gpa:#x} is in no memslot the VMM reported"))?;
    let node = oracle::nodes(vmm.task(), &[t.hva & !0xfff])?[0];
    let zero = oracle::has(oracle::kpageflags(t.phys >> 12)?, oracle::KPF_ZERO_PAGE);
    let share = if zero { Share::Zero } else { Share::None };
    ensure(
        t.slot == slot.id
            && t.as_id == slot.as_id
            && t.order == 0
            && i64::from(t.node) == i64::from(node)
            && t.share == share
            && t.pages == 1,
        || {
            format!(
                "{line:?}: want slot={} as={} order=0 node={node} share={} and one page",
                slot.id,
                slot.as_id,
                share.as_str()
            )
        },
    )
}

/// `offset=N len=M` of each token of `req`, in order: the request's own
/// text is the oracle of every token error's place.  Tokens are what lies
/// between separators (README, *Requests*: `sep` is a space, tab, CR, VT,
/// FF or comma, and a newline ends a line); offsets count from the start
/// of the write.
fn spans(req: &[u8]) -> Vec<String> {
    let sep = |b: &u8| b" \t\r\n\x0b\x0c,".contains(b);
    let mut out = Vec::new();
    let mut at = 0;
    while at < req.len() {
        let len = req[at..].iter().take_while(|b| !sep(b)).count();
        if len > 0 {
            out.push(format!("offset={at} len={len}"));
        }
        at += len.max(1);
    }
    out
}

pub fn no_vms() -> Result<(), String> {
    expect("0x1000", &[Want::Line("err:no-vms gpa=0x1000".into())])
}

pub fn outside_memslot_and_unknown_pid() -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "anon:2M@0x100000"])?;
    let pid = vmm.pid;
    expect(
        format!("0x7ff00000000 {pid}"),
        &[Want::Line(format!(
            "err:no-memslot gpa=0x7ff00000000 pid={pid}"
        ))],
    )?;
    // Pid 1 (init) exists but runs no VM; 4194304 is a valid, unused pid.
    expect(
        "0x100000 1",
        &[Want::Line("err:no-vm gpa=0x100000 pid=1".into())],
    )?;
    expect(
        "0x100000 pid=4194304",
        &[Want::Line("err:no-vm gpa=0x100000 pid=4194304".into())],
    )?;
    vmm.stop()
}

pub fn garbage_tokens() -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "anon:2M@0x100000"])?;
    let pid = vmm.pid;
    let line = format!("zz 0x100080 -5 0x {pid} 0x1ffffffffffffffff foo=1 0xg");
    let at = spans(line.as_bytes());
    let err = |reason: &str, token: usize| Want::Line(format!("err:{reason} {}", at[token]));
    // The pid (token 4) answers nothing; it names the VM of the others.
    expect(
        &line,
        &[
            err("invalid-token", 0),
            Want::Base(&vmm, 0x100080),
            err("invalid-token", 2),
            err("invalid-token", 3),
            err("overflow", 5),
            err("unknown-key", 6),
            err("invalid-token", 7),
        ],
    )?;
    // A bad pid must not send the line's addresses to another VM: they
    // fail for the line's options, with no pid.
    let line = "pid=0 0x100080";
    expect(
        line,
        &[
            Want::Line(format!("err:invalid-pid {}", spans(line.as_bytes())[0])),
            Want::Line("err:invalid-pid gpa=0x100080".into()),
        ],
    )?;
    expect(
        format!("0x100080 {pid} {pid}"),
        &[Want::Line("err:duplicate-pid gpa=0x100080".into())],
    )?;
    // NUL bytes make a token invalid; the next line still translates.
    let req = format!("0x10\u{0}80 \u{0}\n0x100080 {pid}");
    let at = spans(req.as_bytes());
    expect(
        &req,
        &[
            Want::Line(format!("err:invalid-token {}", at[0])),
            Want::Line(format!("err:invalid-token {}", at[1])),
            Want::Base(&vmm, 0x100080),
        ],
    )?;
    vmm.stop()
}

pub fn oversize_and_empty_writes() -> Result<(), String> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = module::open().map_err(|e| e.to_string())?;
    let first = ask_on(&mut f, b"0x1000").map_err(|e| e.to_string())?;
    let big = vec![b' '; MAX_WRITE + 1];
    let err = f.write(&big).err().and_then(|e| e.raw_os_error());
    ensure(err == Some(libc::E2BIG), || {
        format!("oversize write: {err:?}, want E2BIG")
    })?;
    let exact = vec![b','; MAX_WRITE - 6]
        .into_iter()
        .chain(*b"0x2000")
        .collect::<Vec<u8>>();
    let last = ask_on(&mut f, &exact).map_err(|e| format!("a write of exactly MAX_WRITE: {e}"))?;
    ensure(last != first, || {
        "the reply did not change with a new request".into()
    })?;
    let err = f.write(b" \n,\t").err().and_then(|e| e.raw_os_error());
    ensure(err == Some(libc::EINVAL), || {
        format!("empty request: {err:?}, want EINVAL")
    })?;
    let err = f.write(b"").map_err(|e| e.to_string())?;
    ensure(err == 0, || "a zero-length write did not return 0".into())?;
    // Failed writes keep the last reply.
    f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut again = String::new();
    f.read_to_string(&mut again).map_err(|e| e.to_string())?;
    ensure(again == last, || {
        format!("reply changed: {last:?} -> {again:?}")
    })?;
    ensure(
        first.trim_end() == format!("err:{} gpa=0x1000", Reason::NoVms.as_str()),
        || format!("unexpected reply {first:?}"),
    )
}

/// The largest reply one open file can hold: a full-size write of the
/// shortest addresses, every one translated.  Its size is bounded by
/// MAX_LINE per token.
pub fn largest_reply() -> Result<(), String> {
    use gfn_proto::reply::MAX_LINE;
    use std::io::{Read, Seek, SeekFrom, Write};
    const CHUNK: u64 = 64 << 10;
    let vmm = Vmm::start(&["--slot", "anon:1M@0x0"])?;
    let mut req = format!("pid={}", vmm.pid).into_bytes();
    while req.len() + 4 <= MAX_WRITE {
        req.extend_from_slice(b" 0x0");
    }
    let tokens = (req.len() - format!("pid={}", vmm.pid).len()) / 4;
    let mut f = module::open().map_err(|e| e.to_string())?;
    f.write(&req).map_err(|e| e.to_string())?;
    // What the file holds after the write: one chunk, not the whole reply.
    let held = f.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
    f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut text = String::new();
    f.read_to_string(&mut text).map_err(|e| e.to_string())?;
    println!(
        "     largest request: {tokens} translations, {} bytes of reply, {held} held at once",
        text.len()
    );
    ensure(
        (CHUNK..=CHUNK + MAX_LINE as u64).contains(&held) && text.lines().count() == tokens,
        || format!("held {held}, reply of {} lines", text.lines().count()),
    )?;
    // Every token asked the same address: every line is the first, whole,
    // and the first is the oracles' translation of 0x0.
    let first = text.lines().next().unwrap_or_default();
    base_page(&vmm, 0, first)?;
    if let Some((i, other)) = text.lines().enumerate().find(|(_, l)| *l != first) {
        return Err(format!("line {i} is {other:?}, line 0 {first:?}"));
    }
    vmm.stop()
}

#[cfg(test)]
mod tests {
    use super::spans;

    /// The README's example reply places `zz` at offset 41, length 2.
    #[test]
    fn spans_place_tokens_as_the_readme_does() {
        let at = spans(b"0x100080 0x5ff0c8 0x9a5678 0x7ff00000000 zz 210");
        assert_eq!(at.len(), 6);
        assert_eq!(at[4], "offset=41 len=2");
    }

    /// Separators of every kind, runs of them, and offsets that go on
    /// counting across lines.
    #[test]
    fn spans_count_from_the_start_of_the_write() {
        let at = spans(b" a,,bc\t\x0b\x0cd\r\nefg\n\x00 ");
        assert_eq!(
            at,
            [
                "offset=1 len=1",
                "offset=4 len=2",
                "offset=9 len=1",
                "offset=12 len=3",
                "offset=16 len=1"
            ]
        );
    }
}
