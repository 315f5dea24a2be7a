// SPDX-License-Identifier: GPL-2.0
//! One request to `/proc/gfn_to_pfn` and its parsed reply.
//!
//! A map's reply may hold frame lists (`list` lines, or list records:
//! `gfn_proto::list`); every function here hands a list on as one 1-page
//! `Reply::Ok` per listed page, so callers only ever see replies.

use gfn_proto::list::{decode_item, list_bytes, parse_item, Item, MAX_LIST};
use gfn_proto::record::{RecordError, RECORD};
use gfn_proto::reply::{ParseError, Reply};
use gfn_proto::request::MAX_WRITE;
use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Read, Write};

/// The module's proc file.
pub const PROC_PATH: &str = "/proc/gfn_to_pfn";

/// Why a query failed as a whole.
#[derive(Debug)]
pub enum ClientError {
    /// The proc file does not exist.
    NotLoaded,
    /// Opening it was refused.
    Permission,
    /// The request is larger than the module accepts.
    TooBig(usize),
    /// Any other I/O error.
    Io(&'static str, io::Error),
    /// The module answered a line this client cannot read.
    BadReply(String, ParseError),
    /// The module answered a binary record this client cannot read (its
    /// bytes: a record, or a frame list's head), or a reply that ends
    /// inside a record or a frame list (the bytes left, with `None`).
    BadRecord(Vec<u8>, Option<RecordError>),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::NotLoaded => write!(
                f,
                "{PROC_PATH} is missing: is the gfn_to_pfn module loaded? (insmod gfn_to_pfn.ko)"
            ),
            ClientError::Permission => {
                write!(
                    f,
                    "{PROC_PATH}: permission denied: needs root (CAP_SYS_ADMIN)"
                )
            }
            ClientError::TooBig(n) => {
                write!(
                    f,
                    "request of {n} bytes is larger than the module's limit of {MAX_WRITE}"
                )
            }
            ClientError::Io(what, e) => write!(f, "{what} {PROC_PATH}: {e}"),
            ClientError::BadReply(line, e) => write!(f, "unreadable reply line {line:?}: {e:?}"),
            ClientError::BadRecord(bytes, Some(e)) => {
                write!(f, "unreadable reply record {bytes:02x?}: {e:?}")
            }
            ClientError::BadRecord(bytes, None) => {
                write!(
                    f,
                    "reply ends inside a line, record or frame list ({} bytes)",
                    bytes.len()
                )
            }
        }
    }
}

impl std::error::Error for ClientError {}

fn io_error(what: &'static str, e: io::Error) -> ClientError {
    match e.raw_os_error() {
        Some(libc::ENOENT) => ClientError::NotLoaded,
        Some(libc::EACCES | libc::EPERM) => ClientError::Permission,
        _ => ClientError::Io(what, e),
    }
}

/// Sends `request` in one write on a fresh open file and parses the reply.
pub fn query(request: &str) -> Result<Vec<Reply>, ClientError> {
    let mut replies = Vec::new();
    query_each(request, |r| {
        replies.push(r);
        Ok(())
    })?;
    Ok(replies)
}

/// Opens the proc file and writes `request` in one write.
fn send(request: &str) -> Result<std::fs::File, ClientError> {
    if request.len() > MAX_WRITE {
        return Err(ClientError::TooBig(request.len()));
    }
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(PROC_PATH)
        .map_err(|e| io_error("open", e))?;
    f.write_all(request.as_bytes())
        .map_err(|e| io_error("write", e))?;
    Ok(f)
}

/// Sends `request` and hands each reply line to `each` as it is read, so a
/// reply of any size (a whole-VM map) is never held in memory at once; a
/// `list` line's pages are handed on one at a time.
pub fn query_each(
    request: &str,
    each: impl FnMut(Reply) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    let f = send(request)?;
    each_line(BufReader::with_capacity(1 << 16, f), each)
}

/// Hands the replies `item` stands for to `each`, a frame list's pages
/// one at a time, stopping at the first error.
fn each_of(
    item: &Item<'_>,
    each: &mut impl FnMut(Reply) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    match item {
        Item::Reply(r) => each(*r),
        Item::List(l) => l.pages().try_for_each(|t| each(Reply::Ok(t))),
    }
}

/// Reads reply lines from `lines` until its end, handing each reply to
/// `each` (what [`query_each`] does with the proc file).
fn each_line(
    mut lines: impl BufRead,
    mut each: impl FnMut(Reply) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    let mut line = String::new();
    loop {
        line.clear();
        if lines
            .read_line(&mut line)
            .map_err(|e| io_error("read", e))?
            == 0
        {
            return Ok(());
        }
        // The module ends every line: a line cut short (a list missing its
        // last frames, say) must not pass for a shorter reply.
        if !line.ends_with('\n') {
            return Err(ClientError::BadRecord(line.into_bytes(), None));
        }
        let item =
            parse_item(&line).map_err(|e| ClientError::BadReply(line.trim_end().to_string(), e))?;
        each_of(&item, &mut each)?;
    }
}

/// `request` with `format=bin` on each of its lines that has none.
pub fn binary_request(request: &str) -> String {
    request
        .split('\n')
        .map(|l| {
            if l.trim().is_empty() || l.contains("format=") {
                l.to_string()
            } else {
                format!("{l} format=bin")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Bytes [`query_bin_each`] reads at once: 64 KiB, and never fewer than
/// the largest item (a frame list of `MAX_LIST` frames).
const BIN_BUFFER: usize = {
    let largest = list_bytes(MAX_LIST) as usize;
    if largest > 1 << 16 {
        largest
    } else {
        1 << 16
    }
};

/// As [`query_each`], with the reply as binary records (`format=bin` added
/// to every line of `request`): what programs that map whole VMs should
/// use, since the module neither formats nor this side parses text.  A
/// frame list's pages are handed on one at a time.
pub fn query_bin_each(
    request: &str,
    each: impl FnMut(Reply) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    let request = binary_request(request);
    let f = send(&request)?;
    each_item(f, BIN_BUFFER, each)
}

/// Reads records and frame lists from `reader` until its end, through a
/// buffer of `size` bytes (at least the largest item's), handing each
/// reply to `each` (what [`query_bin_each`] does with the proc file).  An
/// item may straddle reads; a reply that ends inside one is refused.
fn each_item(
    mut reader: impl Read,
    size: usize,
    mut each: impl FnMut(Reply) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    let mut buf = vec![0u8; size.max(list_bytes(MAX_LIST) as usize)];
    let mut have = 0;
    loop {
        let n = reader
            .read(&mut buf[have..])
            .map_err(|e| io_error("read", e))?;
        if n == 0 {
            if have > 0 {
                return Err(ClientError::BadRecord(buf[..have].to_vec(), None));
            }
            return Ok(());
        }
        have += n;
        // Every whole item read; what is left is the start of the next
        // one, which fits in `buf` with the rest of it.
        let mut at = 0;
        loop {
            let bytes = &buf[at..have];
            let item = decode_item(bytes).map_err(|e| {
                ClientError::BadRecord(bytes[..bytes.len().min(RECORD)].to_vec(), Some(e))
            })?;
            let Some((item, len)) = item else {
                break;
            };
            each_of(&item, &mut each)?;
            at += len;
        }
        buf.copy_within(at..have, 0);
        have -= at;
    }
}

/// Parses a whole reply, line by line, a `list` line's pages one reply
/// each.
pub fn parse_reply(text: &str) -> Result<Vec<Reply>, ClientError> {
    let mut replies = Vec::new();
    for l in text.lines() {
        let item = parse_item(l).map_err(|e| ClientError::BadReply(l.to_string(), e))?;
        item.for_each(|r| replies.push(r));
    }
    Ok(replies)
}

/// Requests translating `addrs` (in the VM of `pid`, or the first VM),
/// split so that none exceeds the module's write limit.
pub fn requests(addrs: &[u64], pid: Option<u32>) -> Vec<String> {
    let tail = pid.map(|p| format!(" pid={p}")).unwrap_or_default();
    let mut out = Vec::new();
    let mut cur = String::new();
    for a in addrs {
        let tok = format!("{a:#x}");
        if !cur.is_empty() && cur.len() + 1 + tok.len() + tail.len() > MAX_WRITE {
            out.push(std::mem::take(&mut cur) + &tail);
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&tok);
    }
    if !cur.is_empty() {
        out.push(cur + &tail);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gfn_proto::reply::{parse_line, Step, Translation};
    use gfn_proto::request::{lines, Token};
    use gfn_proto::window::{Store, Window};

    #[test]
    fn requests_carry_the_pid_and_respect_the_limit() {
        assert_eq!(
            requests(&[0x1000, 0x2000], Some(42)),
            ["0x1000 0x2000 pid=42"]
        );
        assert_eq!(requests(&[0x1000], None), ["0x1000"]);
        assert!(requests(&[], Some(1)).is_empty());
        let many: Vec<u64> = (0..10_000u64).map(|i| u64::MAX - i).collect();
        let reqs = requests(&many, Some(4_194_304));
        assert!(reqs.len() > 1);
        let mut seen = Vec::new();
        for r in &reqs {
            assert!(r.len() <= MAX_WRITE);
            let line = lines(r.as_bytes()).next().unwrap();
            assert_eq!(line.pid(), Ok(Some(4_194_304)));
            seen.extend(line.tokens().filter_map(|(_, t)| match t {
                Token::Addr(a) => Some(a),
                _ => None,
            }));
        }
        assert_eq!(seen, many);
    }

    #[test]
    fn parses_every_reply_form() {
        let text = "ok phys=0x1a5c01111 kind=base gpa=0x1111 hva=0x7f0000001111 pid=42 size=4096 \
                    order=0 node=0 slot=0 as=0 share=none map=pte\n\
                    err:no-memslot gpa=0x7ff00000000 pid=42\n\
                    err:no-vms gpa=0x1000\n\
                    err:invalid-token offset=3 len=2\n";
        let r = parse_reply(text).unwrap();
        assert_eq!(r.len(), 4);
        assert!(matches!(r[0], Reply::Ok(t) if t.phys == 0x1a5c01111 && t.pid == 42));
        assert!(parse_reply("bogus\n").is_err());
    }

    #[test]
    fn binary_requests_ask_for_records_on_every_line() {
        assert_eq!(binary_request("all pid=3"), "all pid=3 format=bin");
        assert_eq!(
            binary_request("0x1\n\nvms format=text"),
            "0x1 format=bin\n\nvms format=text"
        );
        for l in lines(binary_request("all\n0x1-0x3000 pid=2").as_bytes()) {
            assert!(l.binary());
        }
    }

    #[test]
    fn errors_explain_themselves() {
        let e = io_error("open", io::Error::from_raw_os_error(libc::ENOENT));
        assert!(e.to_string().contains("insmod gfn_to_pfn.ko"));
        let e = io_error("open", io::Error::from_raw_os_error(libc::EACCES));
        assert!(e.to_string().contains("CAP_SYS_ADMIN"));
    }

    /// A module's list line: three scattered frames from gpa 0x100000 on.
    const LIST: &str = "list kind=base gpa=0x100000 hva=0x7f5e00100000 pid=42 size=4096 \
                        order=0 node=1 slot=1 as=0 share=none map=pte frames=1a2b3,1a2b0,19f07\n";

    /// The pages of [`LIST`], as the module would tell them one by one.
    fn list_pages() -> Vec<Reply> {
        [0x1a2b3u64, 0x1a2b0, 0x19f07]
            .iter()
            .enumerate()
            .map(|(i, frame)| {
                let d = i as u64 * 4096;
                parse_line(&format!(
                    "ok phys={:#x} kind=base gpa={:#x} hva={:#x} pid=42 size=4096 order=0 \
                     node=1 slot=1 as=0 share=none map=pte",
                    frame << 12,
                    0x100000 + d,
                    0x7f5e00100000 + d
                ))
                .unwrap()
            })
            .collect()
    }

    /// Every reply `each_line` hands on from `text`.
    fn read_lines(text: &str) -> Result<Vec<Reply>, ClientError> {
        let mut out = Vec::new();
        each_line(text.as_bytes(), |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn text_lists_are_expanded_into_pages() {
        let down = "ok phys=0x9000 kind=base gpa=0x0 hva=0x7f5e00000000 pid=42 size=4096 \
                    order=0 node=1 slot=1 as=0 share=none map=pte step=-1 pages=3\n";
        let text = format!("{down}{LIST}vm pid=42 slots=2 memory=8192\n");
        let mut want = vec![parse_line(down).unwrap()];
        want.extend(list_pages());
        want.push(parse_line("vm pid=42 slots=2 memory=8192").unwrap());
        assert_eq!(read_lines(&text).unwrap(), want);
        assert_eq!(parse_reply(&text).unwrap(), want);
        let Reply::Ok(t) = want[0] else {
            panic!("not ok")
        };
        assert_eq!((t.step, t.phys_of(2)), (Step::Down, 0x7000));
        // A bad frame spoils the line, with the line in the error.
        let bad = LIST.replace("19f07", "19g07");
        match read_lines(&bad) {
            Err(ClientError::BadReply(line, _)) => assert!(line.starts_with("list ")),
            other => panic!("{other:?}"),
        }
        // `each` failing stops the list where it failed.
        let mut seen = 0;
        let e = each_line(LIST.as_bytes(), |_| {
            seen += 1;
            match seen {
                2 => Err(ClientError::TooBig(0)),
                _ => Ok(()),
            }
        });
        assert!(matches!(e, Err(ClientError::TooBig(0))) && seen == 2);
        // A last line cut short is refused, not read as a shorter list.
        let cut = &LIST[..LIST.len() - 3];
        assert!(
            matches!(read_lines(cut), Err(ClientError::BadRecord(b, None)) if b == cut.as_bytes())
        );
    }

    /// Window storage for building replies as the module does.
    #[derive(Default)]
    struct Room(Vec<u8>);

    impl Store for Room {
        type Error = ();
        fn len(&self) -> usize {
            self.0.len()
        }
        fn grow_to(&mut self, len: usize) -> Result<(), ()> {
            self.0.resize(len, 0);
            Ok(())
        }
        fn bytes(&self) -> &[u8] {
            &self.0
        }
        fn bytes_mut(&mut self) -> &mut [u8] {
            &mut self.0
        }
    }

    /// A reader that hands out `bytes` in reads of `sizes` bytes in turn.
    struct Chunks<'a> {
        bytes: &'a [u8],
        sizes: std::iter::Cycle<std::slice::Iter<'a, usize>>,
    }

    impl Read for Chunks<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.sizes.next().copied().unwrap_or(1);
            let n = n.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// Every reply `each_item` hands on from `bytes`, read in reads of
    /// `sizes` through a buffer of `size` bytes.
    fn read_items(bytes: &[u8], size: usize, sizes: &[usize]) -> Result<Vec<Reply>, ClientError> {
        let mut out = Vec::new();
        let reader = Chunks {
            bytes,
            sizes: sizes.iter().cycle(),
        };
        each_item(reader, size, |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    /// The binary frame list of `frames`, one page each from `t`'s on,
    /// with `t`'s facts, built by hand from the layout `record.rs` tells:
    /// the head the module writes for a one-page run of `t`, its count
    /// (bytes 8..16) set to the number of frames, then the frames.
    fn list_record(t: &Translation, frames: &[u64]) -> Vec<u8> {
        let mut w = Window::new(Room::default());
        w.emit_run(&Reply::Ok(t.with_pages(1)), true).unwrap();
        let mut out = w.bytes()[..RECORD].to_vec();
        out[8..16].copy_from_slice(&(frames.len() as u64).to_le_bytes());
        for f in frames {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out
    }

    /// A binary map as the module writes it: a `vm` record, a list of
    /// `MAX_LIST` scattered base pages, a descending run of 8 pages, and a
    /// short list; and the replies it stands for, a page each for lists.
    fn binary_map() -> (Vec<u8>, Vec<Reply>) {
        let Reply::Ok(base) = list_pages()[0] else {
            unreachable!()
        };
        let page = |i: u64, frame: u64| Translation {
            phys: frame << 12,
            gpa: base.gpa + i * 4096,
            hva: base.hva + i * 4096,
            ..base
        };
        let mut want = Vec::new();
        let vm = parse_line("vm pid=42 slots=2 memory=8192").unwrap();
        let mut bytes = vm.to_record().to_vec();
        want.push(vm);
        // Frames in no order.
        let frames: Vec<u64> = (0..MAX_LIST).map(|i| 0x50000 + (i * 7919) % 4099).collect();
        let list = list_record(&page(0, frames[0]), &frames);
        // The module lists a run of one page after another the same way.
        let mut w = Window::new(Room::default());
        for (i, f) in frames.iter().enumerate() {
            w.emit_run(&Reply::Ok(page(i as u64, *f)), true).unwrap();
        }
        assert!(w.bytes() == list, "the module's list differs");
        bytes.extend(list);
        want.extend((0..MAX_LIST).map(|i| Reply::Ok(page(i, frames[i as usize]))));
        let mut w = Window::new(Room::default());
        let down = Translation {
            pages: 8,
            step: Step::Down,
            ..page(MAX_LIST, 0x90000)
        };
        w.emit_run(&Reply::Ok(down), true).unwrap();
        want.push(Reply::Ok(down));
        // A short run, which the module lists.
        let last = Translation {
            pages: 2,
            ..page(MAX_LIST + 8, 0x123)
        };
        w.emit_run(&Reply::Ok(last), true).unwrap();
        want.extend([Reply::Ok(last.page(0)), Reply::Ok(last.page(1))]);
        bytes.extend_from_slice(w.bytes());
        // The record, the full list's head and frames, the run, the
        // short list's head and 2 frames.
        let full = list_bytes(MAX_LIST) as usize;
        assert_eq!(bytes.len(), RECORD + full + RECORD + RECORD + 16);
        (bytes, want)
    }

    #[test]
    fn binary_lists_straddling_reads_and_the_buffer_are_expanded() {
        let (bytes, want) = binary_map();
        let full = list_bytes(MAX_LIST) as usize;
        for (size, sizes) in [
            // The smallest buffer: the first read stops 48 bytes short of
            // the full list's end, which the next read brings.
            (0, &[usize::MAX][..]),
            (full, &[usize::MAX]),
            (full + 1, &[1000, 7]),
            (BIN_BUFFER, &[1]),
            (BIN_BUFFER, &[47, 4144, 49]),
        ] {
            let got = read_items(&bytes, size, sizes).unwrap();
            assert_eq!(got.len(), want.len(), "{size} {sizes:?}");
            assert!(got == want, "{size} {sizes:?}");
        }
        // A descending run keeps its way; a listed page is on its frame.
        let Reply::Ok(down) = want[1 + MAX_LIST as usize] else {
            panic!("not the run")
        };
        assert_eq!(down.phys_of(7), (0x90000 - 7) << 12);
        let Reply::Ok(p) = want[3] else {
            panic!("not a page")
        };
        assert_eq!(
            (p.phys, p.gpa, p.pages),
            ((0x50000 + 2 * 7919 % 4099) << 12, 0x102000, 1)
        );
    }

    #[test]
    fn binary_replies_ending_inside_an_item_are_refused() {
        let (bytes, _) = binary_map();
        // Inside the full list's frames, and inside the last list's.
        for cut in [RECORD + 100, bytes.len() - 8, bytes.len() - 1] {
            match read_items(&bytes[..cut], 0, &[1000]) {
                Err(ClientError::BadRecord(left, None)) => assert!(!left.is_empty()),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        // A list head claiming too many frames is refused as a record.
        let mut bad = bytes.clone();
        bad[RECORD + 8..RECORD + 16].copy_from_slice(&(MAX_LIST + 1).to_le_bytes());
        match read_items(&bad, 0, &[usize::MAX]) {
            Err(ClientError::BadRecord(rec, Some(_))) => assert_eq!(rec.len(), RECORD),
            other => panic!("{other:?}"),
        }
        let e = ClientError::BadRecord(vec![0; 5], None);
        assert!(e
            .to_string()
            .contains("inside a line, record or frame list (5 bytes)"));
    }
}
