// SPDX-License-Identifier: GPL-2.0

//! The kernel's symbol table as `/proc/kallsyms` prints it, read a chunk at
//! a time: where it lists the few kernel internals the module needs and the
//! kernel does not export to it, and, when it cannot load, the one line
//! that says why and what to do.
//!
//! The module reads the table in its init, as the loading task would read
//! it (module/symbols.rs), so the same rules that hide addresses from that
//! task (`kernel.kptr_restrict`, `CAP_SYSLOG`) hide them from the module.
//! Nothing here guesses: a symbol must be listed exactly once, under its
//! name, in its object (`vmlinux` or a module such as `kvm`), and the
//! kernel must then name that address exactly `name+0x0/…`
//! (`names_exactly`, checked against `sprint_symbol()`).  The type letter is
//! not checked: Debian's 7.3.4 lists the kernel image's data as `T`
//! (`huge_zero_pfn`, `jiffies`, `init_mm`), so it tells nothing there.

use core::fmt;

/// At most this many symbols can be looked for in one scan.
pub const MAX_WANTED: usize = 8;
const _: () = assert!(MAX_WANTED <= u8::BITS as usize);

/// The longest line kept whole across two chunks: an address, a type
/// letter, a name of up to `KSYM_NAME_LEN` (512) bytes and a module tag.
/// A longer line cannot be one of ours and is passed over.
const CARRY: usize = 600;

/// What a symbol is: code, or data (which `/proc/kallsyms` lists only with
/// `CONFIG_KALLSYMS_ALL`, so a table that lacks only data tells that).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Data,
}

/// A symbol looked for: its name, the object that defines it (`vmlinux`,
/// or a module's name as `/proc/kallsyms` tags it), and its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wanted<'a> {
    pub name: &'a [u8],
    pub object: &'a [u8],
    pub kind: Kind,
}

/// The object of the kernel image itself, whose lines have no module tag.
pub const VMLINUX: &[u8] = b"vmlinux";

impl fmt::Display for Wanted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bytes(f, self.name)?;
        if self.object != VMLINUX {
            f.write_str(" [")?;
            write_bytes(f, self.object)?;
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// What a scan has seen of one wanted symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Not listed (in its object).
    Not,
    /// Listed once, at this address (0: hidden).
    At(u64),
    /// Listed more than once in its object: which one is meant is a guess.
    Twice,
}

/// A scan of `/proc/kallsyms` for some wanted symbols, fed the file a chunk
/// at a time.
pub struct Scan<'a> {
    wanted: &'a [Wanted<'a>],
    seen: [Seen; MAX_WANTED],
    carry: [u8; CARRY],
    carry_len: usize,
    /// The line being carried is longer than `CARRY`: pass it over.
    overlong: bool,
    /// Whether any line showed an address other than 0.
    shown: bool,
    lines: u64,
}

impl<'a> Scan<'a> {
    /// A scan for `wanted`, or `None` when they are more than `MAX_WANTED`.
    pub fn new(wanted: &'a [Wanted<'a>]) -> Option<Self> {
        if wanted.len() > MAX_WANTED {
            return None;
        }
        Some(Scan {
            wanted,
            seen: [Seen::Not; MAX_WANTED],
            carry: [0; CARRY],
            carry_len: 0,
            overlong: false,
            shown: false,
            lines: 0,
        })
    }

    /// Takes the next bytes of the file, in order; a line may straddle two
    /// chunks.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            let (line, rest) = (&chunk[..end], &chunk[end + 1..]);
            chunk = rest;
            if self.carry_len == 0 && !self.overlong {
                self.line(line);
                continue;
            }
            if !self.overlong && self.carry_len + line.len() <= CARRY {
                let mut whole = [0u8; CARRY];
                let n = self.carry_len;
                whole[..n].copy_from_slice(&self.carry[..n]);
                whole[n..n + line.len()].copy_from_slice(line);
                self.line(&whole[..n + line.len()]);
            } else {
                self.lines += 1;
            }
            self.carry_len = 0;
            self.overlong = false;
        }
        if self.overlong || self.carry_len + chunk.len() > CARRY {
            self.overlong = true;
            self.carry_len = 0;
        } else {
            self.carry[self.carry_len..self.carry_len + chunk.len()].copy_from_slice(chunk);
            self.carry_len += chunk.len();
        }
    }

    /// One whole line: `ADDRESS TYPE NAME` or `ADDRESS TYPE NAME\t[MODULE]`.
    fn line(&mut self, line: &[u8]) {
        self.lines += 1;
        let Some(parsed) = parse_line(line) else {
            return;
        };
        if parsed.address != 0 {
            self.shown = true;
        }
        for (w, seen) in self.wanted.iter().zip(self.seen.iter_mut()) {
            if w.name != parsed.name || w.object != parsed.object {
                continue;
            }
            *seen = match *seen {
                Seen::Not => Seen::At(parsed.address),
                _ => Seen::Twice,
            };
        }
    }

    /// What was seen of the `i`th wanted symbol.
    pub fn seen(&self, i: usize) -> Seen {
        self.seen.get(i).copied().unwrap_or(Seen::Not)
    }

    /// The addresses of the wanted symbols, in their order, once the whole
    /// file was fed; or why they cannot be had.
    pub fn finish(&self) -> Result<[u64; MAX_WANTED], Refusal<'a>> {
        let mut out = [0u64; MAX_WANTED];
        let n = self.wanted.len();
        if n == 0 {
            return Ok(out);
        }
        // Addresses shown as 0 everywhere: kallsyms_show_value() said no.
        let hidden = self.seen[..n].contains(&Seen::At(0));
        if (self.lines > 0 && !self.shown) || hidden {
            return Err(Refusal::Hidden(self.wanted));
        }
        for (i, w) in self.wanted.iter().enumerate() {
            if self.seen[i] == Seen::Twice {
                return Err(Refusal::Ambiguous(*w));
            }
        }
        let mut mask = 0u8;
        for (i, s) in self.seen[..n].iter().enumerate() {
            if *s == Seen::Not {
                mask |= 1 << i;
            }
        }
        let missing = Missing {
            wanted: self.wanted,
            mask,
        };
        if missing.count() > 0 {
            return Err(Refusal::Missing(missing));
        }
        for (i, s) in self.seen[..n].iter().enumerate() {
            if let Seen::At(address) = s {
                out[i] = *address;
            }
        }
        Ok(out)
    }
}

/// One line of `/proc/kallsyms`, parsed.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'l> {
    pub address: u64,
    pub letter: u8,
    pub name: &'l [u8],
    /// `vmlinux` for a line without a module tag.
    pub object: &'l [u8],
}

/// Parses `ADDRESS TYPE NAME[\t[MODULE]]`, or `None` for anything else.
pub fn parse_line(line: &[u8]) -> Option<Line<'_>> {
    let space = line.iter().position(|&b| b == b' ')?;
    let address = parse_hex(&line[..space])?;
    let rest = &line[space + 1..];
    let (&letter, rest) = rest.split_first()?;
    let rest = rest.strip_prefix(b" ")?;
    let (name, object) = match rest.iter().position(|&b| b == b'\t') {
        Some(tab) => {
            let tag = rest[tab + 1..].strip_prefix(b"[")?;
            let end = tag.iter().position(|&b| b == b']')?;
            (&rest[..tab], &tag[..end])
        }
        None => (rest, VMLINUX),
    };
    if name.is_empty() || object.is_empty() {
        return None;
    }
    Some(Line {
        address,
        letter,
        name,
        object,
    })
}

fn parse_hex(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut v = 0u64;
    for &d in digits {
        let x = (d as char).to_digit(16)?;
        v = (v << 4) | u64::from(x);
    }
    Some(v)
}

/// Whether `described`, what `sprint_symbol()` says of an address, names
/// exactly the start of `w`: `NAME+0x0/0xSIZE` for `vmlinux`, with
/// ` [MODULE]` after it for a module's symbol.
pub fn names_exactly(described: &[u8], w: &Wanted<'_>) -> bool {
    let Some(rest) = described.strip_prefix(w.name) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(b"+0x0/0x") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return false;
    }
    let tail = &rest[digits..];
    if w.object == VMLINUX {
        return tail.is_empty();
    }
    let Some(tag) = tail.strip_prefix(b" [") else {
        return false;
    };
    tag.strip_suffix(b"]") == Some(w.object)
}

/// The wanted symbols a scan did not find.
#[derive(Clone, Copy, Debug)]
pub struct Missing<'a> {
    wanted: &'a [Wanted<'a>],
    /// Bit `i`: the `i`th is missing (`MAX_WANTED` fits in a byte).
    mask: u8,
}

impl<'a> Missing<'a> {
    fn each(&self) -> impl Iterator<Item = &'a Wanted<'a>> + '_ {
        let mask = self.mask;
        self.wanted
            .iter()
            .enumerate()
            .filter(move |(i, _)| mask & (1 << i) != 0)
            .map(|(_, w)| w)
    }

    pub fn count(&self) -> usize {
        self.each().count()
    }

    /// Only data symbols are missing: what a kernel without
    /// `CONFIG_KALLSYMS_ALL` leaves out (and kvm.ko's data with it).
    pub fn only_data(&self) -> bool {
        self.each().all(|w| w.kind == Kind::Data)
    }
}

/// Why the module does not load; `line` words it.
#[derive(Clone, Copy, Debug)]
pub enum Refusal<'a> {
    /// `/proc/kallsyms` cannot be opened or read: the error.
    Unreadable(i32),
    /// Every address is shown as 0 to the loading task.
    Hidden(&'a [Wanted<'a>]),
    /// Some symbols are not listed.
    Missing(Missing<'a>),
    /// A symbol is listed twice in its object.
    Ambiguous(Wanted<'a>),
    /// The kernel names the address the table gives otherwise.
    Disowned(Wanted<'a>, &'a [u8]),
    /// The module was built for another kernel release than the running one.
    Release { built: &'a [u8], running: &'a [u8] },
}

impl<'a> Refusal<'a> {
    /// The kernel-log line, for a module built for kernel release `built`
    /// (whose series names the patches to use).
    pub fn line(self, built: &'a [u8]) -> Said<'a> {
        Said {
            refusal: self,
            series: series_of(built),
        }
    }
}

/// The series of a kernel release: `7.3` of `7.3.4+deb13-amd64`.
pub fn series_of(release: &[u8]) -> &[u8] {
    let mut dots = 0;
    for (i, &b) in release.iter().enumerate() {
        if b == b'.' {
            dots += 1;
            if dots == 2 {
                return &release[..i];
            }
        } else if !b.is_ascii_digit() {
            return &release[..i];
        }
    }
    release
}

/// A refusal as the one kernel-log line (after the `gfn_to_pfn: ` prefix
/// the kernel's `pr_err` adds): the cause, then what to do.
pub struct Said<'a> {
    refusal: Refusal<'a>,
    series: &'a [u8],
}

impl Said<'_> {
    /// `patches/SERIES/`, with the series the module was built for.
    fn patches(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a kernel built with the exports of patches/")?;
        write_bytes(f, self.series)?;
        f.write_str("/")
    }
}

impl fmt::Display for Said<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not loaded: ")?;
        match self.refusal {
            Refusal::Unreadable(errno) => {
                write!(
                    f,
                    "cannot read /proc/kallsyms (error {errno}), where this kernel's internals the module needs are \
                     found; load it from a task that sees /proc (as root), or use "
                )?;
                self.patches(f)
            }
            Refusal::Hidden(wanted) => {
                f.write_str("/proc/kallsyms shows the loading task no addresses (kernel.kptr_restrict=2, or no CAP_SYSLOG), so ")?;
                list(f, wanted.iter())?;
                write!(
                    f,
                    " cannot be found; load it as root with kernel.kptr_restrict at 0 or 1 \
                     (sysctl kernel.kptr_restrict=1), or use "
                )?;
                self.patches(f)
            }
            Refusal::Missing(missing) => {
                f.write_str("/proc/kallsyms lists no ")?;
                list(f, missing.each())?;
                if missing.only_data() {
                    write!(
                        f,
                        " (a kernel without CONFIG_KALLSYMS_ALL lists no data symbols); use a kernel with \
                         CONFIG_KALLSYMS_ALL=y, or "
                    )?;
                } else {
                    write!(
                        f,
                        ": this kernel's internals differ from those of the series the module was built for; \
                         build the module for this kernel, or use "
                    )?;
                }
                self.patches(f)
            }
            Refusal::Ambiguous(w) => {
                write!(
                    f,
                    "/proc/kallsyms lists {w} more than once, and which is meant would be a guess; use "
                )?;
                self.patches(f)
            }
            Refusal::Disowned(w, described) => {
                write!(
                    f,
                    "the kernel names the address /proc/kallsyms gives for {w} '"
                )?;
                write_bytes(f, described)?;
                f.write_str("', so the table and the kernel disagree; use ")?;
                self.patches(f)
            }
            Refusal::Release { built, running } => {
                f.write_str("built for kernel ")?;
                write_bytes(f, built)?;
                f.write_str(", running ")?;
                write_bytes(f, running)?;
                f.write_str(
                    ": the internals the module uses may differ between releases; build it for the running kernel",
                )
            }
        }
    }
}

/// `a, b and c`.
fn list<'w>(
    f: &mut fmt::Formatter<'_>,
    items: impl Iterator<Item = &'w Wanted<'w>>,
) -> fmt::Result {
    let mut items = items.peekable();
    let mut first = true;
    while let Some(w) = items.next() {
        if !first {
            f.write_str(if items.peek().is_some() {
                ", "
            } else {
                " and "
            })?;
        }
        first = false;
        write!(f, "{w}")?;
    }
    Ok(())
}

/// Bytes of the kernel's own text, written as they are where they are
/// ASCII (symbol names are), as `?` elsewhere.
fn write_bytes(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for &b in bytes {
        let c = if b.is_ascii_graphic() || b == b' ' {
            b as char
        } else {
            '?'
        };
        fmt::Write::write_char(f, c)?;
    }
    Ok(())
}
