// SPDX-License-Identifier: GPL-2.0

//! The request grammar of `/proc/gfn_to_pfn`, shared by the kernel module
//! (which compiles this file directly) and the userspace tools.
//!
//! ```text
//! write   := line ( '\n' line )*
//! line    := sep* ( token ( sep+ token )* )? sep*
//! sep     := ' ' | '\t' | '\r' | '\v' | '\f' | ','
//! token   := address | range | 'all' | 'vms' | 'slots' | hpa | option
//! address := hex                             a guest physical address (u64)
//! range   := hex '-' hex                     every page with a byte in [start, end)
//!          | hex '+' count                   count pages from start's page
//! count   := digit+ | hex                    at least 1
//! hpa     := 'hpa=' ( address | range )      who maps these host physical pages
//! hex     := ('0x' | '0X') hexdigit+
//! option  := pid | 'pid=' digit+ | 'mode=' ('fault' | 'nofault') | 'as=' ('0' | '1')
//!          | 'format=' ('text' | 'bin') | 'runs=' ('dense' | 'plain')
//! pid     := digit+                          decimal, 1 ..= PID_MAX
//! ```
//!
//! A token is a maximal run of non-separator bytes.  Options apply to every
//! other token of their line, wherever they stand (the seed's `0x1234
//! 4242`), and each may appear once per line.  A line without a pid uses
//! the first VM; without `mode=` pages are not faulted in (`nofault`);
//! without `as=` memslots of address space 0 are used; without `format=`
//! replies are text lines (`reply.rs`), with `format=bin` fixed-size
//! records (`record.rs`): a line with a valid `format=bin` anywhere on it
//! gets records even when another of its options is bad.  A map's runs are
//! dense unless `runs=plain` asks otherwise: their frames may step down as
//! well as up, and short runs are told as frame lists (`list.rs`);
//! `runs=plain` gives one ascending run per reply, as before lists existed.  `all` stands for
//! every memslot of the VM, `vms` lists the VMs, `slots` the VM's memslots;
//! `hpa=` asks which guest pages, of every VM (or the line's pid's), are
//! those host pages.
//! Nothing here allocates or panics.

/// Largest request, in bytes, one write may carry; larger writes fail with
/// `E2BIG` and change nothing.
pub const MAX_WRITE: usize = 16384;

/// Largest pid the kernel can hand out (`PID_MAX_LIMIT` on 64-bit).
pub const PID_MAX: u32 = 4_194_304;

/// Page size of guest and host base pages.
pub const PAGE_SHIFT: u32 = 12;

/// Largest guest frame number plus one: a range may not reach past it.
pub const GFN_LIMIT: u64 = 1 << (64 - PAGE_SHIFT);

/// Why a token, or the translation of an address, failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Not an address, a range, a request word or an option.
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
    /// A known key with a value it does not take.
    InvalidValue,
    /// An option other than the pid given twice on a line.
    DuplicateKey,
    /// A range of no pages.
    EmptyRange,
    /// Nothing is mapped there, and the request did not fault pages in.
    NotPresent,
    /// The memslot's host address has no mapping in the VMM at all (the
    /// VMM unmapped the memory behind the memslot).
    NoVma,
    /// The memory is `VM_IO | VM_PFNMAP` (device memory, a `/dev/mem`
    /// mapping): it has no page the module can describe.
    Pfnmap,
    /// `mode=fault` ran out of memory faulting the page in.
    NoMem,
    /// No VM maps any of the host pages asked for (`hpa=`).
    NotGuestMemory,
}

impl Reason {
    /// Every reason, for lookups by name.
    pub const ALL: [Reason; 18] = [
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
        Reason::InvalidValue,
        Reason::DuplicateKey,
        Reason::EmptyRange,
        Reason::NotPresent,
        Reason::NoVma,
        Reason::Pfnmap,
        Reason::NoMem,
        Reason::NotGuestMemory,
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
            Reason::InvalidValue => "invalid-value",
            Reason::DuplicateKey => "duplicate-key",
            Reason::EmptyRange => "empty-range",
            Reason::NotPresent => "not-present",
            Reason::NoVma => "no-vma",
            Reason::Pfnmap => "pfnmap",
            Reason::NoMem => "no-mem",
            Reason::NotGuestMemory => "not-guest-memory",
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
    /// `pages` guest pages from guest frame `gfn` on; `pages >= 1` and
    /// `gfn + pages <= GFN_LIMIT`.
    Range {
        /// First guest frame number.
        gfn: u64,
        /// Number of pages.
        pages: u64,
    },
    /// Every memslot of the VM.
    All,
    /// List every VM.
    Vms,
    /// List the VM's memslots.
    Slots,
    /// Which guest pages are the `pages` host frames from `pfn` on (`hpa=`);
    /// `offset` is the byte offset of a single address in its page (0 for
    /// a range).
    Hpa {
        /// First host frame number.
        pfn: u64,
        /// Number of frames, at least 1.
        pages: u64,
        /// Offset of a single address in its page.
        offset: u64,
    },
    /// The pid of a VMM (an option).
    Pid(u32),
    /// Whether pages may be faulted in (an option).
    Fault(bool),
    /// Memslot address space (an option).
    As(u8),
    /// Binary records rather than text lines (an option).
    Bin(bool),
    /// One ascending run per reply, no frame lists (an option).
    Plain(bool),
    /// A token that is not valid, and why.
    Bad(Reason),
}

/// Which option a token sets, valid or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OptionKey {
    Pid,
    Mode,
    As,
    Format,
    Runs,
}

/// The options of one line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The VMM's pid; `None` for the first VM.
    pub pid: Option<u32>,
    /// Fault pages in (`mode=fault`) rather than report them not present.
    pub fault: bool,
    /// Memslot address space.
    pub as_id: u8,
    /// Replies as binary records (`format=bin`) rather than text.
    pub bin: bool,
    /// A map's runs as one ascending run per reply (`runs=plain`), not
    /// stepping either way and packed into frame lists.
    pub plain: bool,
}

impl Options {
    /// Sets the option `token` is, or says why it cannot.
    fn set(&mut self, token: Token) -> Result<(), Reason> {
        match token {
            Token::Pid(p) => self.pid = Some(p),
            Token::Fault(f) => self.fault = f,
            Token::As(a) => self.as_id = a,
            Token::Bin(b) => self.bin = b,
            Token::Plain(p) => self.plain = p,
            Token::Bad(r) => return Err(r),
            _ => return Err(Reason::InvalidToken),
        }
        Ok(())
    }
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
        // Shifting a nibble out of the top is the only overflow: `v * 16`
        // ends in four zero bits, which the digit fills.
        if v >> 60 != 0 {
            return Err(Reason::Overflow);
        }
        v = v << 4 | u64::from(n);
    }
    Ok(v)
}

/// Parses decimal digits into a u64; `bad` is the reason for non-digits.
fn parse_dec(digits: &[u8], bad: Reason) -> Result<u64, Reason> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(Reason::Overflow)?;
    }
    Ok(v)
}

/// Parses a decimal pid; `bad` is the reason for a token that is not one.
fn parse_pid(digits: &[u8], bad: Reason) -> Result<u32, Reason> {
    let v = parse_dec(digits, bad)?;
    if v > u64::from(u32::MAX) {
        return Err(Reason::Overflow);
    }
    if v == 0 || v > u64::from(PID_MAX) {
        return Err(Reason::InvalidPid);
    }
    Ok(v as u32)
}

/// Parses `0x...`, the only form of an address.
fn parse_addr(tok: &[u8]) -> Result<u64, Reason> {
    match tok {
        [b'0', b'x' | b'X', digits @ ..] => parse_hex(digits),
        _ => Err(Reason::InvalidToken),
    }
}

/// Parses `start-end` or `start+count` (`op` says which) into a range.
fn parse_range(start: &[u8], op: u8, rest: &[u8]) -> Result<Token, Reason> {
    let start = parse_addr(start)?;
    let gfn = start >> PAGE_SHIFT;
    let pages = if op == b'-' {
        let end = parse_addr(rest)?;
        if end <= start {
            return Err(Reason::EmptyRange);
        }
        ((end - 1) >> PAGE_SHIFT) - gfn + 1
    } else {
        let count = match rest {
            [b'0', b'x' | b'X', ..] => parse_addr(rest)?,
            _ => parse_dec(rest, Reason::InvalidToken)?,
        };
        if count == 0 {
            return Err(Reason::EmptyRange);
        }
        if count > GFN_LIMIT - gfn {
            return Err(Reason::Overflow);
        }
        count
    };
    Ok(Token::Range { gfn, pages })
}

/// Parses the value of `key=value`.
fn parse_option(key: &[u8], value: &[u8]) -> (Result<Token, Reason>, Option<OptionKey>) {
    match key {
        b"pid" => (
            parse_pid(value, Reason::InvalidPid).map(Token::Pid),
            Some(OptionKey::Pid),
        ),
        b"mode" => (
            match value {
                b"fault" => Ok(Token::Fault(true)),
                b"nofault" => Ok(Token::Fault(false)),
                _ => Err(Reason::InvalidValue),
            },
            Some(OptionKey::Mode),
        ),
        b"as" => (
            match value {
                b"0" => Ok(Token::As(0)),
                b"1" => Ok(Token::As(1)),
                _ => Err(Reason::InvalidValue),
            },
            Some(OptionKey::As),
        ),
        b"hpa" => (
            match value.iter().position(|&b| b == b'-' || b == b'+') {
                Some(at) => match parse_range(&value[..at], value[at], &value[at + 1..]) {
                    Ok(Token::Range { gfn, pages }) => Ok(Token::Hpa {
                        pfn: gfn,
                        pages,
                        offset: 0,
                    }),
                    Ok(_) => Err(Reason::InvalidValue),
                    Err(e) => Err(e),
                },
                None => parse_addr(value).map(|a| Token::Hpa {
                    pfn: a >> PAGE_SHIFT,
                    pages: 1,
                    offset: a & ((1 << PAGE_SHIFT) - 1),
                }),
            },
            None,
        ),
        b"format" => (
            match value {
                b"text" => Ok(Token::Bin(false)),
                b"bin" => Ok(Token::Bin(true)),
                _ => Err(Reason::InvalidValue),
            },
            Some(OptionKey::Format),
        ),
        b"runs" => (
            match value {
                b"dense" => Ok(Token::Plain(false)),
                b"plain" => Ok(Token::Plain(true)),
                _ => Err(Reason::InvalidValue),
            },
            Some(OptionKey::Runs),
        ),
        _ => (Err(Reason::UnknownKey), None),
    }
}

/// Classifies one token, and says which option it sets, if any: that
/// decides the options of its line even when its value is bad.
fn classify(tok: &[u8]) -> (Token, Option<OptionKey>) {
    let (token, key) = match tok {
        [b'0', b'x' | b'X', ..] => match tok.iter().position(|&b| b == b'-' || b == b'+') {
            Some(at) => (parse_range(&tok[..at], tok[at], &tok[at + 1..]), None),
            None => (parse_addr(tok).map(Token::Addr), None),
        },
        [b'0'..=b'9', ..] => (
            parse_pid(tok, Reason::InvalidToken).map(Token::Pid),
            Some(OptionKey::Pid),
        ),
        b"all" => (Ok(Token::All), None),
        b"vms" => (Ok(Token::Vms), None),
        b"slots" => (Ok(Token::Slots), None),
        _ => match tok.iter().position(|&b| b == b'=') {
            Some(0) | None => (Err(Reason::InvalidToken), None),
            Some(eq) => parse_option(&tok[..eq], &tok[eq + 1..]),
        },
    };
    (token.unwrap_or_else(Token::Bad), key)
}

/// What a line says of all its tokens: its options, and whether its replies
/// are binary records ([`Line::header`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The line's options, or why they cannot be determined.
    pub options: Result<Options, Reason>,
    /// Replies as binary records: a valid `format=bin` stands on the line.
    pub binary: bool,
}

/// Whether a write holds no token at all: separators and newlines only.
pub fn is_blank(buf: &[u8]) -> bool {
    buf.iter().all(|&b| b == b'\n' || is_sep(b))
}

/// Splits a write into its lines.
pub fn lines(buf: &[u8]) -> Lines<'_> {
    Lines { buf, next: Some(0) }
}

/// The line that starts at byte `start` of `buf`, and where the next line
/// starts, if there is one.  Lets a caller resume where it stopped.
pub fn line_at(buf: &[u8], start: usize) -> Option<(Line<'_>, Option<usize>)> {
    let rest = buf.get(start..)?;
    Some(match rest.iter().position(|&b| b == b'\n') {
        Some(n) => (
            Line {
                bytes: &rest[..n],
                start,
            },
            Some(start + n + 1),
        ),
        None => (Line { bytes: rest, start }, None),
    })
}

/// The line of `len` bytes at byte `start` of `buf`, as [`line_at`] found
/// it before: lets a caller resume a line without looking for its end
/// again.  `None` when `buf` is not that long.
pub fn line_within(buf: &[u8], start: usize, len: usize) -> Option<Line<'_>> {
    let bytes = buf.get(start..start.checked_add(len)?)?;
    Some(Line { bytes, start })
}

/// Iterator over the lines of a write.
pub struct Lines<'a> {
    buf: &'a [u8],
    next: Option<usize>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        let (line, next) = line_at(self.buf, self.next?)?;
        self.next = next;
        Some(line)
    }
}

/// One line of a write: one VM selection and its requests.
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    bytes: &'a [u8],
    start: usize,
}

impl<'a> Line<'a> {
    /// The pid every address of this line is looked up in: `None` for the
    /// first VM, or why the line's pid cannot be determined.
    pub fn pid(&self) -> Result<Option<u32>, Reason> {
        self.options().map(|o| o.pid)
    }

    /// The line's options, or why they cannot be determined: a bad or
    /// repeated option spoils every request of its line.
    pub fn options(&self) -> Result<Options, Reason> {
        self.header().options
    }

    /// Whether the line's replies are binary records: it has a valid
    /// `format=bin`, whatever its other options are (so that a program
    /// reading records gets its errors as records too).
    pub fn binary(&self) -> bool {
        self.header().binary
    }

    /// The line's options and whether its replies are binary, read in one
    /// pass over its tokens (a request is one line, most of the time, and
    /// its fixed cost is what a single address costs).  Addresses and
    /// ranges (`0x...`) are never options: they are passed over unparsed.
    pub fn header(&self) -> Header {
        let mut header = Header {
            options: Ok(Options::default()),
            binary: false,
        };
        let mut seen = [false; 5];
        let mut pos = 0;
        while let Some((_, tok)) = self.next_token(&mut pos) {
            if let [b'0', b'x' | b'X', ..] = tok {
                continue;
            }
            let (token, key) = classify(tok);
            header.binary |= token == Token::Bin(true);
            let (Some(key), Ok(opts)) = (key, header.options.as_mut()) else {
                continue;
            };
            let seen = &mut seen[key as usize];
            let set = if *seen {
                Err(match key {
                    OptionKey::Pid => Reason::DuplicatePid,
                    _ => Reason::DuplicateKey,
                })
            } else {
                opts.set(token)
            };
            *seen = true;
            if let Err(reason) = set {
                header.options = Err(reason);
            }
        }
        header
    }

    /// The line's tokens in order, with where they stand in the write.
    pub fn tokens(&self) -> Tokens<'a> {
        Tokens {
            line: *self,
            pos: 0,
        }
    }

    /// Byte offset of the line in the write.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Length of the line in bytes, without its newline.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the line has no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The token at or after byte `*pos` of the line, advancing `*pos`
    /// past it.  Lets a caller resume where it stopped.
    pub fn token_at(&self, pos: &mut usize) -> Option<(Span, Token)> {
        let (span, tok) = self.next_token(pos)?;
        Some((span, classify(tok).0))
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
        self.line.token_at(&mut self.pos)
    }
}

impl Token {
    /// Whether the token is a line option rather than a request.
    pub fn is_option(&self) -> bool {
        matches!(
            self,
            Token::Pid(_) | Token::Fault(_) | Token::As(_) | Token::Bin(_) | Token::Plain(_)
        )
    }
}
