// SPDX-License-Identifier: GPL-2.0

//! Reply lines written without `core::fmt` (which costs the kernel more
//! than the page walk when a map has a line per page): the encoder the
//! module uses for every line, `ok` and `list` heads and frame numbers.

use super::reply::{Reply, Step, Translation};
use core::fmt;

/// Longest formatted line, newline included.
pub const MAX_LINE: usize = 256;

/// One reply line, formatted without `core::fmt` (which costs the kernel
/// more than the page walk when a map has a line per page).
pub struct Encoded {
    buf: [u8; MAX_LINE],
    len: usize,
}

impl Encoded {
    /// The line's bytes, without a newline.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Writes a line into a caller's buffer, digits in place: no buffer is
/// zeroed and no byte is copied twice (under emulation, as in the test
/// bed, every byte a map moves costs).
pub(crate) struct Writer<'a> {
    pub(crate) buf: &'a mut [u8; MAX_LINE],
    pub(crate) len: usize,
}

impl Writer<'_> {
    /// Appends `bytes`, cut at `MAX_LINE` (which no line reaches).
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let end = (self.len + bytes.len()).min(MAX_LINE);
        let n = end - self.len;
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..end), bytes.get(..n)) {
            dst.copy_from_slice(src);
            self.len = end;
        }
    }

    /// Appends a literal: its length is known when compiled, so the copy
    /// is a few stores, not a call to `memcpy`.
    pub(crate) fn lit<const N: usize>(&mut self, bytes: &[u8; N]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + N) {
            dst.copy_from_slice(bytes);
            self.len += N;
        }
    }

    /// Appends the `n` lowest digits of `v` in base `1 << shift` (hex) or
    /// 10 (`shift` 0), most significant first: two digits a step (under
    /// emulation every step of a loop costs, and a reply line has dozens).
    pub(crate) fn digits(&mut self, mut v: u64, n: usize, shift: u32) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let end = self.len + n;
        let Some(out) = self.buf.get_mut(self.len..end) else {
            return;
        };
        let (first, pairs) = out.split_at_mut(n % 2);
        for pair in pairs.chunks_exact_mut(2).rev() {
            let (hi, lo) = if shift == 0 {
                let d = v % 100;
                v /= 100;
                (d / 10, d % 10)
            } else {
                let d = v & 0xff;
                v >>= 8;
                (d >> 4, d & 0xf)
            };
            pair[0] = DIGITS[(hi & 0xf) as usize];
            pair[1] = DIGITS[(lo & 0xf) as usize];
        }
        if let Some(b) = first.first_mut() {
            let d = if shift == 0 { v % 10 } else { v & 0xf };
            *b = DIGITS[(d & 0xf) as usize];
        }
        self.len = end;
    }

    fn dec(&mut self, v: u64) {
        let mut n = 1;
        let mut rest = v / 10;
        while rest != 0 {
            n += 1;
            rest /= 10;
        }
        self.digits(v, n, 0);
    }

    fn hex(&mut self, v: u64) {
        let n = (64 - (v | 1).leading_zeros() as usize).div_ceil(4);
        self.lit(b"0x");
        self.digits(v, n, 4);
    }

    /// ` key=<decimal>`.
    pub(crate) fn kdec<const N: usize>(&mut self, key: &[u8; N], v: u64) {
        self.lit(key);
        self.dec(v);
    }

    /// ` key=0x<hex>`.
    pub(crate) fn khex<const N: usize>(&mut self, key: &[u8; N], v: u64) {
        self.lit(key);
        self.hex(v);
    }

    /// The fields of a translation an `ok` and a `list` line share, from
    /// ` kind=` to `map=`.
    fn facts(&mut self, t: &Translation) {
        self.lit(b" kind=");
        self.put(t.kind.as_str().as_bytes());
        self.khex(b" gpa=", t.gpa);
        self.khex(b" hva=", t.hva);
        self.kdec(b" pid=", t.pid.into());
        self.kdec(b" size=", t.size);
        self.kdec(b" order=", t.order.into());
        self.kdec(b" node=", t.node.into());
        self.kdec(b" slot=", t.slot.into());
        self.kdec(b" as=", t.as_id.into());
        self.lit(b" share=");
        self.put(t.share.as_str().as_bytes());
        self.lit(b" map=");
        self.put(t.map.as_str().as_bytes());
    }

    /// ` pages=N` unless `N` is 1.
    fn pages(&mut self, n: u64) {
        if n != 1 {
            self.kdec(b" pages=", n);
        }
    }
}

impl Reply {
    /// The reply's line, as `docs/protocol.md` documents it.
    pub fn encode(&self) -> Encoded {
        let mut buf = [0; MAX_LINE];
        let len = self.encode_into(&mut buf, false);
        Encoded { buf, len }
    }

    /// Writes the reply's line, with a newline when `newline`, at the start
    /// of `buf`; returns its length.
    pub fn encode_into(&self, buf: &mut [u8; MAX_LINE], newline: bool) -> usize {
        let mut e = Writer { buf, len: 0 };
        match self {
            Reply::Ok(t) => {
                e.khex(b"ok phys=", t.phys);
                e.facts(t);
                if t.step == Step::Down {
                    e.lit(b" step=-1");
                }
                e.pages(t.pages);
            }
            Reply::AddrErr {
                reason,
                gpa,
                pid,
                pages,
            } => {
                e.lit(b"err:");
                e.put(reason.as_str().as_bytes());
                e.khex(b" gpa=", *gpa);
                if let Some(pid) = pid {
                    e.kdec(b" pid=", (*pid).into());
                }
                e.pages(*pages);
            }
            Reply::TokenErr { reason, span } => {
                e.lit(b"err:");
                e.put(reason.as_str().as_bytes());
                e.kdec(b" offset=", span.offset as u64);
                e.kdec(b" len=", span.len as u64);
            }
            Reply::Vm {
                pid,
                slots,
                memory,
                kvm,
            } => {
                e.kdec(b"vm pid=", (*pid).into());
                e.kdec(b" slots=", (*slots).into());
                e.kdec(b" memory=", *memory);
                if let Some(k) = kvm {
                    e.kdec(b" kvm_4k=", k.leaves[0]);
                    e.kdec(b" kvm_2m=", k.leaves[1]);
                    e.kdec(b" kvm_1g=", k.leaves[2]);
                    e.kdec(b" nx_splits=", k.nx_splits);
                }
            }
            Reply::Slot {
                pid,
                as_id,
                id,
                gpa,
                size,
                hva,
                flags,
            } => {
                e.kdec(b"slot pid=", (*pid).into());
                e.kdec(b" as=", (*as_id).into());
                e.kdec(b" id=", (*id).into());
                e.khex(b" gpa=", *gpa);
                e.kdec(b" size=", *size);
                e.khex(b" hva=", *hva);
                e.khex(b" flags=", (*flags).into());
            }
        }
        if newline {
            e.lit(b"\n");
        }
        e.len
    }
}

/// Writes the head of a `list` line of `t`'s facts, up to and including
/// `frames=`, at the start of `buf`; returns its length.
pub(crate) fn encode_list_head(t: &Translation, buf: &mut [u8; MAX_LINE]) -> usize {
    let mut e = Writer { buf, len: 0 };
    e.lit(b"list");
    e.facts(t);
    e.lit(b" frames=");
    e.len
}

/// Writes `v` in hex without `0x` at the start of `buf` (at least 13
/// bytes, which any frame below 2^52 fits); returns its length.
pub(crate) fn encode_frame(v: u64, buf: &mut [u8]) -> usize {
    let n = (64 - (v | 1).leading_zeros() as usize)
        .div_ceil(4)
        .min(buf.len());
    let mut v = v;
    for b in buf[..n].iter_mut().rev() {
        *b = b"0123456789abcdef"[(v & 0xf) as usize];
        v >>= 4;
    }
    n
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only ASCII is ever put into a line.
        f.write_str(core::str::from_utf8(self.encode().as_bytes()).map_err(|_| fmt::Error)?)
    }
}
