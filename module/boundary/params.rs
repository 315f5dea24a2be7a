// SPDX-License-Identifier: GPL-2.0

//! Module parameters whose value is one of a few words (`shim/params.c`
//! registers them; each one's `arg` is a [`Choice`] here, which parses and
//! prints it, so its words are written once, by the code that acts on it).

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::error::code::EINVAL;
use kernel::ffi::{c_char, c_int, c_void};
use kernel::page::PAGE_SIZE;

/// The value of a parameter that is one of `words`, and how many times it
/// was written.
///
/// # Invariants
///
/// `index < words.len()`.
pub(crate) struct Choice {
    words: &'static [&'static str],
    index: AtomicU32,
    writes: AtomicU32,
}

impl Choice {
    /// A parameter that is one of `words` (at least one), at first
    /// `words[0]`.
    pub(crate) const fn new(words: &'static [&'static str]) -> Choice {
        assert!(!words.is_empty());
        // INVARIANT: 0 < words.len().
        Choice {
            words,
            index: AtomicU32::new(0),
            writes: AtomicU32::new(0),
        }
    }

    /// The index of the value in the words, and the number of writes so far.
    pub(crate) fn get(&self) -> (usize, u32) {
        let writes = self.writes.load(Ordering::Relaxed);
        (self.index.load(Ordering::Relaxed) as usize, writes)
    }

    /// Sets the value to the word `val` (a trailing newline ignored).
    fn set(&self, val: &[u8]) -> Result<(), kernel::error::Error> {
        let val = val.strip_suffix(b"\n").unwrap_or(val);
        let index = self
            .words
            .iter()
            .position(|w| w.as_bytes() == val)
            .ok_or(EINVAL)?;
        // INVARIANT: `position` found it among the words.
        self.index.store(index as u32, Ordering::Relaxed);
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The value's word and a newline, into `buf`; returns its length.
    fn show(&self, buf: &mut [u8]) -> usize {
        let word = self.words[self.get().0].as_bytes();
        let n = word.len().min(buf.len().saturating_sub(1));
        buf[..n].copy_from_slice(&word[..n]);
        buf[n] = b'\n';
        n + 1
    }
}

/// `log`: what goes to the kernel log (`crate::log`, `crate::log_level`).
#[no_mangle]
pub(crate) static gfn_log_param: Choice = Choice::new(crate::log_level::Level::WORDS);

/// `log`'s description, as `MODULE_PARM_DESC` would put it in `.modinfo`
/// (what `modinfo` prints), made from its words and what they mean.
#[link_section = ".modinfo"]
#[used]
static LOG_PARMDESC: [u8; LOG_PARMDESC_LEN] = parmdesc(
    "log",
    crate::log_level::Level::WORDS,
    crate::log_level::Level::HELP,
);
const LOG_PARMDESC_LEN: usize = parmdesc_len(
    "log",
    crate::log_level::Level::WORDS,
    crate::log_level::Level::HELP,
);

/// The pieces of `MODULE_PARM_DESC`'s `.modinfo` string: `parm=NAME:`,
/// then `word: help` for each word, separated by `; `, then a NUL.
const fn parmdesc_piece<'a>(
    name: &'a str,
    words: &[&'a str],
    help: &[&'a str],
    i: usize,
) -> &'a [u8] {
    let n = if words.len() < help.len() {
        words.len()
    } else {
        help.len()
    };
    match i {
        0 => b"parm=",
        1 => name.as_bytes(),
        2 => b":",
        _ => {
            let k = (i - 3) / 4;
            if k >= n {
                return if k == n && (i - 3) % 4 == 0 {
                    b"\0"
                } else {
                    b""
                };
            }
            match (i - 3) % 4 {
                0 => words[k].as_bytes(),
                1 => b": ",
                2 => help[k].as_bytes(),
                _ if k + 1 < n => b"; ",
                _ => b"",
            }
        }
    }
}

/// How many pieces [`parmdesc_piece`] gives for `n` words.
const fn parmdesc_pieces(words: &[&str], help: &[&str]) -> usize {
    let n = if words.len() < help.len() {
        words.len()
    } else {
        help.len()
    };
    3 + 4 * n + 1
}

/// The length of [`parmdesc`]'s string.
const fn parmdesc_len(name: &str, words: &[&str], help: &[&str]) -> usize {
    let (mut i, mut len) = (0, 0);
    while i < parmdesc_pieces(words, help) {
        len += parmdesc_piece(name, words, help, i).len();
        i += 1;
    }
    len
}

/// `parm=NAME:word: help; word: help...` and a NUL, at compile time.
const fn parmdesc<const N: usize>(name: &str, words: &[&str], help: &[&str]) -> [u8; N] {
    let mut out = [0u8; N];
    let (mut i, mut at) = (0, 0);
    while i < parmdesc_pieces(words, help) {
        let piece = parmdesc_piece(name, words, help, i);
        let mut j = 0;
        while j < piece.len() && at < N {
            out[at] = piece[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

/// `kernel_param_ops.set` of a [`Choice`].
///
/// # Safety
///
/// `param` must be a `Choice` that outlives the call, `val` a NUL-terminated
/// string.
#[no_mangle]
unsafe extern "C" fn gfn_rs_param_set(param: *mut c_void, val: *const c_char) -> c_int {
    // SAFETY: by the contract.
    let (param, val) = unsafe {
        (
            &*param.cast::<Choice>(),
            core::ffi::CStr::from_ptr(val.cast()),
        )
    };
    match param.set(val.to_bytes()) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `kernel_param_ops.get` of a [`Choice`].
///
/// # Safety
///
/// `param` must be a `Choice` that outlives the call, `buf` a buffer of
/// `PAGE_SIZE` bytes, as sysfs gives.
#[no_mangle]
unsafe extern "C" fn gfn_rs_param_get(param: *mut c_void, buf: *mut c_char) -> c_int {
    // SAFETY: by the contract.
    let (param, buf) = unsafe {
        (
            &*param.cast::<Choice>(),
            core::slice::from_raw_parts_mut(buf.cast::<u8>(), PAGE_SIZE),
        )
    };
    param.show(buf) as c_int
}
