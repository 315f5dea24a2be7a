// SPDX-License-Identifier: GPL-2.0
//! Bad input: every failure is a clear per-address or per-token error and
//! never keeps the other addresses from translating.

use crate::check::ensure;
use crate::module::{self, ask, ask_on};
use crate::vmm::Vmm;
use gfn_proto::reply::Reply;
use gfn_proto::request::{Reason, Span, MAX_WRITE};

fn expect(req: &str, want: &[&str]) -> Result<Vec<Reply>, String> {
    let replies = ask(req)?;
    let got: Vec<String> = replies.iter().map(|r| r.to_string()).collect();
    ensure(got.len() == want.len(), || {
        format!("{req:?}: got {got:?}, want {want:?}")
    })?;
    for (g, w) in got.iter().zip(want) {
        ensure(g.starts_with(w), || {
            format!("{req:?}: got {got:?}, want {want:?}")
        })?;
    }
    Ok(replies)
}

pub fn no_vms() -> Result<(), String> {
    expect("0x1000", &["err:no-vms gpa=0x1000"])?;
    Ok(())
}

pub fn outside_memslot_and_unknown_pid() -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "anon:2M@0x100000"])?;
    let pid = vmm.pid;
    expect(
        &format!("0x7ff00000000 {pid}"),
        &[&format!("err:no-memslot gpa=0x7ff00000000 pid={pid}")],
    )?;
    // Pid 1 (init) exists but runs no VM; 4194304 is a valid, unused pid.
    expect("0x100000 1", &["err:no-vm gpa=0x100000 pid=1"])?;
    expect(
        "0x100000 pid=4194304",
        &["err:no-vm gpa=0x100000 pid=4194304"],
    )?;
    vmm.stop()
}

pub fn garbage_tokens() -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "anon:2M@0x100000"])?;
    let pid = vmm.pid;
    let line = format!("zz 0x100080 -5 0x {pid} 0x1ffffffffffffffff foo=1 0xg");
    let replies = expect(
        &line,
        &[
            "err:invalid-token offset=0 len=2",
            "ok ",
            "err:invalid-token offset=12 len=2",
            "err:invalid-token offset=15 len=2",
            "err:overflow",
            "err:unknown-key",
            "err:invalid-token",
        ],
    )?;
    if let Reply::TokenErr { span, .. } = replies[4] {
        let off = line.find("0x1ff").unwrap_or(0);
        ensure(
            span == Span {
                offset: off,
                len: 19,
            },
            || format!("overflow span {span:?}"),
        )?;
    }
    // A bad pid must not send the line's addresses to another VM.
    expect(
        "pid=0 0x100080",
        &[
            "err:invalid-pid offset=0 len=5",
            "err:invalid-pid gpa=0x100080",
        ],
    )?;
    expect(
        &format!("0x100080 {pid} {pid}"),
        &["err:duplicate-pid gpa=0x100080"],
    )?;
    // NUL bytes make a token invalid; the next line still translates.
    let mut f = module::open().map_err(|e| e.to_string())?;
    let req = format!("0x10\u{0}80 \u{0}\n0x100080 {pid}");
    let text = ask_on(&mut f, req.as_bytes()).map_err(|e| e.to_string())?;
    let lines: Vec<&str> = text.lines().collect();
    ensure(
        lines.len() == 3
            && lines[0] == "err:invalid-token offset=0 len=7"
            && lines[1] == "err:invalid-token offset=8 len=1"
            && lines[2].starts_with("ok "),
        || format!("NUL request answered {lines:?}"),
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
        (CHUNK..=CHUNK + MAX_LINE as u64).contains(&held)
            && text.lines().count() == tokens
            && text.lines().all(|l| l.starts_with("ok ")),
        || format!("held {held}, reply of {} lines", text.lines().count()),
    )?;
    vmm.stop()
}
