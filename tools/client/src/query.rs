// SPDX-License-Identifier: GPL-2.0
//! One request to `/proc/gfn_to_pfn` and its parsed reply.

use gfn_proto::record::{RecordError, RECORD};
use gfn_proto::reply::{parse_line, ParseError, Reply};
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
    /// bytes), or a reply that ends inside a record (fewer bytes).
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
                write!(f, "reply ends inside a record ({} bytes)", bytes.len())
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
/// reply of any size (a whole-VM map) is never held in memory at once.
pub fn query_each(
    request: &str,
    mut each: impl FnMut(Reply) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    let f = send(request)?;
    let mut lines = BufReader::with_capacity(1 << 16, f);
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
        let reply =
            parse_line(&line).map_err(|e| ClientError::BadReply(line.trim_end().to_string(), e))?;
        each(reply)?;
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

/// As [`query_each`], with the reply as binary records (`format=bin` added
/// to every line of `request`): what programs that map whole VMs should
/// use, since the module neither formats nor this side parses text.
pub fn query_bin_each(
    request: &str,
    mut each: impl FnMut(Reply) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    let request = binary_request(request);
    let mut f = send(&request)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut have = 0;
    loop {
        let n = f.read(&mut buf[have..]).map_err(|e| io_error("read", e))?;
        if n == 0 {
            if have > 0 {
                return Err(ClientError::BadRecord(buf[..have].to_vec(), None));
            }
            return Ok(());
        }
        have += n;
        let whole = have - have % RECORD;
        for rec in buf[..whole].chunks_exact(RECORD) {
            let rec: &[u8; RECORD] = rec.try_into().expect("chunks are RECORD bytes");
            let reply = Reply::from_record(rec)
                .map_err(|e| ClientError::BadRecord(rec.to_vec(), Some(e)))?;
            each(reply)?;
        }
        buf.copy_within(whole..have, 0);
        have -= whole;
    }
}

/// Parses a whole reply, line by line.
pub fn parse_reply(text: &str) -> Result<Vec<Reply>, ClientError> {
    text.lines()
        .map(|l| parse_line(l).map_err(|e| ClientError::BadReply(l.to_string(), e)))
        .collect()
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
    use gfn_proto::request::{lines, Token};

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
}
