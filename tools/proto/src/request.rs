// SPDX-License-Identifier: GPL-2.0

//! The request grammar of `/proc/gfn_to_pfn`, shared by the kernel module
//! (which compiles this file directly) and the userspace tools.
//!
//! ```text
//! write   := line ( '\n' line )*
//! line    := sep* ( token ( sep+ token )* )? sep*
//! sep     := ' ' | '\t' | '\r' | '\v' | '\f' | ','
//! token   := address | pid | key '=' value
//! address := ('0x' | '0X') hexdigit+        a guest physical address (u64)
//! pid     := digit+ | 'pid=' digit+         decimal, 1 ..= PID_MAX
//! ```
//!
//! A token is a maximal run of non-separator bytes.  A pid applies to every
//! address on its line, wherever it stands (the seed's `0x1234 4242`); a line
//! without one queries the first VM.  Nothing here allocates or panics.

/// Largest request, in bytes, one write may carry; larger writes fail with
/// `E2BIG` and change nothing.
pub const MAX_WRITE: usize = 16384;

/// Largest pid the kernel can hand out (`PID_MAX_LIMIT` on 64-bit).
pub const PID_MAX: u32 = 4_194_304;

/// Why a token, or the translation of an address, failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Not an address, a pid or a `key=value`.
    InvalidToken,
    /// A number too large for its field.
    Overflow,
    /// A pid of 0, above `PID_MAX`, empty or not decimal.
    InvalidPid,
    /// More than one pid on a line.
    DuplicatePid,
    /// A `key=value` whose key is not known.
    UnknownKey,
    /// No VM whose VMM is that process.
    NoVm,
    /// No VM at all.
    NoVms,
    /// The address is in no memslot of the VM.
    NoMemslot,
    /// The host page could not be obtained.
    NoPage,
    /// The VMM's address space is gone.
    NoMm,
}

impl Reason {
    /// Every reason, for lookups by name.
    pub const ALL: [Reason; 10] = [
        Reason::InvalidToken,
        Reason::Overflow,
        Reason::InvalidPid,
        Reason::DuplicatePid,
        Reason::UnknownKey,
        Reason::NoVm,
        Reason::NoVms,
        Reason::NoMemslot,
        Reason::NoPage,
        Reason::NoMm,
    ];

    /// The reason's name in replies (`err:<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidToken => "invalid-token",
            Reason::Overflow => "overflow",
            Reason::InvalidPid => "invalid-pid",
            Reason::DuplicatePid => "duplicate-pid",
            Reason::UnknownKey => "unknown-key",
            Reason::NoVm => "no-vm",
            Reason::NoVms => "no-vms",
            Reason::NoMemslot => "no-memslot",
            Reason::NoPage => "no-page",
            Reason::NoMm => "no-mm",
        }
    }

    /// The reason named `name`, if any.
    pub fn from_name(name: &[u8]) -> Option<Reason> {
        Reason::ALL
            .iter()
            .copied()
            .find(|r| r.as_str().as_bytes() == name)
    }
}

/// Where a token stands in the whole write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Byte offset from the start of the write.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

/// One token, classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// A guest physical address.
    Addr(u64),
    /// The pid of a VMM.
    Pid(u32),
    /// A token that is not valid, and why.
    Bad(Reason),
}

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c | b',')
}

/// Parses hex digits into a u64.
fn parse_hex(digits: &[u8]) -> Result<u64, Reason> {
    if digits.is_empty() {
        return Err(Reason::InvalidToken);
    }
    let mut v: u64 = 0;
    for &d in digits {
        let n = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(Reason::InvalidToken),
        };
        v = v
            .checked_mul(16)
            .and_then(|v| v.checked_add(u64::from(n)))
            .ok_or(Reason::Overflow)?;
    }
    Ok(v)
}

/// Parses a decimal pid; `bad` is the reason for a token that is not one.
fn parse_pid(digits: &[u8], bad: Reason) -> Result<u32, Reason> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let mut v: u32 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(d - b'0')))
            .ok_or(Reason::Overflow)?;
    }
    if v == 0 || v > PID_MAX {
        return Err(Reason::InvalidPid);
    }
    Ok(v)
}

/// Classifies one token.  The bool says whether it is a pid token (valid
/// or not), which decides the pid of its line.
fn classify(tok: &[u8]) -> (Token, bool) {
    let (token, is_pid) = match tok {
        [b'0', b'x' | b'X', digits @ ..] => (parse_hex(digits).map(Token::Addr), false),
        [b'0'..=b'9', ..] => (parse_pid(tok, Reason::InvalidToken).map(Token::Pid), true),
        _ => match tok.iter().position(|&b| b == b'=') {
            Some(0) | None => (Err(Reason::InvalidToken), false),
            Some(eq) => match tok.split_at(eq) {
                (b"pid", value) => (
                    parse_pid(value.get(1..).unwrap_or(&[]), Reason::InvalidPid).map(Token::Pid),
                    true,
                ),
                _ => (Err(Reason::UnknownKey), false),
            },
        },
    };
    (token.unwrap_or_else(Token::Bad), is_pid)
}

/// Splits a write into its lines.
pub fn lines(buf: &[u8]) -> Lines<'_> {
    Lines {
        buf,
        pos: 0,
        done: false,
    }
}

/// Iterator over the lines of a write.
pub struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        if self.done {
            return None;
        }
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        let start = self.pos;
        let bytes = match rest.iter().position(|&b| b == b'\n') {
            Some(n) => {
                self.pos = start + n + 1;
                &rest[..n]
            }
            None => {
                self.done = true;
                rest
            }
        };
        Some(Line { bytes, start })
    }
}

/// One line of a write: one VM selection and its addresses.
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    bytes: &'a [u8],
    start: usize,
}

impl<'a> Line<'a> {
    /// The pid every address of this line is looked up in: `None` for the
    /// first VM, or why the line's pid cannot be determined.
    pub fn pid(&self) -> Result<Option<u32>, Reason> {
        let mut pid = Ok(None);
        let mut seen = false;
        for (_, is_pid, token) in self.classified() {
            if !is_pid {
                continue;
            }
            if seen {
                return Err(Reason::DuplicatePid);
            }
            seen = true;
            pid = match token {
                Token::Pid(p) => Ok(Some(p)),
                Token::Bad(r) => Err(r),
                Token::Addr(_) => Err(Reason::InvalidPid),
            };
        }
        pid
    }

    /// The line's tokens in order, with where they stand in the write.
    pub fn tokens(&self) -> Tokens<'a> {
        Tokens {
            line: *self,
            pos: 0,
        }
    }

    fn classified(&self) -> impl Iterator<Item = (Span, bool, Token)> + 'a {
        let line = *self;
        let mut pos = 0;
        core::iter::from_fn(move || {
            let (span, tok) = line.next_token(&mut pos)?;
            let (token, is_pid) = classify(tok);
            Some((span, is_pid, token))
        })
    }

    /// The next raw token at or after `*pos`, advancing `*pos` past it.
    fn next_token(&self, pos: &mut usize) -> Option<(Span, &'a [u8])> {
        let bytes = self.bytes;
        let rest = bytes.get(*pos..)?;
        let begin = *pos + rest.iter().position(|&b| !is_sep(b))?;
        let after = bytes.get(begin..)?;
        let len = after.iter().position(|&b| is_sep(b)).unwrap_or(after.len());
        *pos = begin + len;
        let span = Span {
            offset: self.start + begin,
            len,
        };
        Some((span, after.get(..len)?))
    }
}

/// Iterator over the tokens of a line.
pub struct Tokens<'a> {
    line: Line<'a>,
    pos: usize,
}

impl Iterator for Tokens<'_> {
    type Item = (Span, Token);

    fn next(&mut self) -> Option<(Span, Token)> {
        let (span, tok) = self.line.next_token(&mut self.pos)?;
        Some((span, classify(tok).0))
    }
}
