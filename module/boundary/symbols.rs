// SPDX-License-Identifier: GPL-2.0

//! The kernel internals the shim uses that a kernel may not export to this
//! module (`shim/symbols.h`): which they are, `/proc/kallsyms` as the
//! loading task reads it, what the kernel calls an address, and the one
//! store of the addresses found, each of which must first pass the check
//! here.  What to look for, how to read the table and what to say when a
//! load is refused are decided in `crate::symbols`.

use super::ffi;
use crate::kallsyms::{names_exactly, Kind, Wanted, MAX_WANTED};
use kernel::prelude::*;

/// The symbols of `shim/symbols.h` that are not linked, in its order.
pub(crate) struct Needs {
    list: [Wanted<'static>; MAX_WANTED],
    n: usize,
}

impl Needs {
    /// What the shim needs found: none where every symbol is exported to
    /// the module.
    pub(crate) fn of_shim() -> Result<Needs> {
        let mut raw: *const ffi::Symbol = core::ptr::null();
        // SAFETY: `gfn_symbols` only stores a pointer to its static list.
        let count = unsafe { ffi::gfn_symbols(&mut raw) } as usize;
        let empty = Wanted {
            name: b"",
            object: b"",
            kind: Kind::Text,
        };
        let mut needs = Needs {
            list: [empty; MAX_WANTED],
            n: 0,
        };
        for i in 0..count {
            // SAFETY: `raw` points to `count` entries of a static array of
            // the module, which outlives every caller.
            let s = unsafe { &*raw.add(i) };
            if s.linked != 0 {
                continue;
            }
            let slot = needs.list.get_mut(needs.n).ok_or(EINVAL)?;
            // SAFETY: `name` and `object` are string literals of that
            // static array.
            let (name, object) = unsafe {
                (
                    core::ffi::CStr::from_ptr(s.name.cast()).to_bytes(),
                    core::ffi::CStr::from_ptr(s.object.cast()).to_bytes(),
                )
            };
            *slot = Wanted {
                name,
                object,
                kind: if s.data != 0 { Kind::Data } else { Kind::Text },
            };
            needs.n += 1;
        }
        Ok(needs)
    }

    pub(crate) fn wanted(&self) -> &[Wanted<'static>] {
        &self.list[..self.n]
    }
}

/// `/proc/kallsyms`, open for reading by the calling task, with its
/// credentials.
///
/// # Invariants
///
/// `inner` was filled by a successful `gfn_kallsyms_open` and is closed
/// only by `drop`.
pub(crate) struct KallsymsFile {
    inner: ffi::Kallsyms,
}

impl KallsymsFile {
    /// Opens it, or the error (`ESRCH`: the task has no address space to
    /// read it into, a kernel thread).
    pub(crate) fn open() -> core::result::Result<KallsymsFile, i32> {
        let mut inner = ffi::Kallsyms {
            file: core::ptr::null_mut(),
            ubuf: 0,
            pos: 0,
        };
        // SAFETY: `inner` is valid for the call to fill.
        let ret = unsafe { ffi::gfn_kallsyms_open(&mut inner) };
        if ret == ffi::KALLSYMS_NO_MM {
            return Err(ESRCH.to_errno());
        }
        if ret != 0 {
            return Err(ret);
        }
        // INVARIANT: opened just now.
        Ok(KallsymsFile { inner })
    }

    /// Reads the next bytes into `buf`: how many, 0 at the end, or the
    /// error (`EINTR` on a fatal signal, `EFAULT` when what was read could
    /// not be copied from the task's memory).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> core::result::Result<usize, i32> {
        if super::memory::fatal_signal_pending() {
            return Err(EINTR.to_errno());
        }
        let len = buf.len().min(ffi::KALLSYMS_CHUNK);
        let mut uncopied = 0;
        // SAFETY: the file is open (type invariant); `buf` has room for `len`
        // bytes, and `uncopied` is a valid place to write.
        let n = unsafe {
            ffi::gfn_kallsyms_read(&mut self.inner, buf.as_mut_ptr(), len, &mut uncopied)
        };
        if n < 0 {
            return Err(n as i32);
        }
        if uncopied != 0 {
            return Err(EFAULT.to_errno());
        }
        Ok(n as usize)
    }
}

impl Drop for KallsymsFile {
    fn drop(&mut self) {
        // SAFETY: open (type invariant), and closed only here.
        unsafe { ffi::gfn_kallsyms_close(&mut self.inner) };
    }
}

/// What the kernel itself calls an address (`sprint_symbol()`).
pub(crate) struct Described {
    buf: KBox<[u8; ffi::DESCRIBE_LEN]>,
    len: usize,
}

impl Described {
    pub(crate) fn of(addr: u64) -> Result<Described> {
        let mut buf = KBox::new([0u8; ffi::DESCRIBE_LEN], GFP_KERNEL)?;
        // SAFETY: `buf` has the room `gfn_symbol_describe` writes into
        // (`KSYM_SYMBOL_LEN <= GFN_DESCRIBE_LEN`, asserted in C).
        let len = unsafe { ffi::gfn_symbol_describe(addr, buf.as_mut_ptr().cast()) };
        let len = (len.max(0) as usize).min(ffi::DESCRIBE_LEN);
        Ok(Described { buf, len })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Addresses the shim may use for its symbols.
///
/// # Invariants
///
/// `addrs[i]` is, by the kernel's own account (`sprint_symbol()`), the
/// start of the `i`th needed symbol, in its object: `name+0x0/…`.
pub(crate) struct Checked {
    addrs: [u64; MAX_WANTED],
    n: usize,
}

/// Checks each address against what the kernel calls it.  On a mismatch:
/// the symbol and what the kernel calls its address.
pub(crate) fn check(
    needs: &Needs,
    addrs: &[u64; MAX_WANTED],
) -> Result<core::result::Result<Checked, (Wanted<'static>, Described)>> {
    for (w, &addr) in needs.wanted().iter().zip(addrs.iter()) {
        let described = Described::of(addr)?;
        if addr == 0 || !names_exactly(described.bytes(), w) {
            return Ok(Err((*w, described)));
        }
    }
    // INVARIANT: each address was checked just now.
    Ok(Ok(Checked {
        addrs: *addrs,
        n: needs.n,
    }))
}

/// Gives the shim its symbols' addresses.  Called once, from module init,
/// before anything can call into the shim.
pub(crate) fn store(checked: Checked) -> Result {
    // SAFETY: the addresses are those of the symbols, in order (`Checked`'s
    // invariant), stored only when there are as many as the shim wants;
    // nothing reads the pointers yet (module init, before the proc file
    // exists).
    let n = checked.n as u32;
    let wanted = unsafe { ffi::gfn_symbols_store(checked.addrs.as_ptr(), n) };
    if wanted != n {
        // Nothing was stored: the list and the addresses disagree.
        return Err(EINVAL);
    }
    Ok(())
}

/// The kernel release the module was built for, and the running kernel's.
pub(crate) fn releases() -> (&'static [u8], &'static [u8]) {
    // SAFETY: both return NUL-terminated strings that live as long as the
    // module: a literal, and init_utsname()'s release, which nothing
    // changes once the kernel has booted.
    unsafe {
        (
            core::ffi::CStr::from_ptr(ffi::gfn_release_built().cast()).to_bytes(),
            core::ffi::CStr::from_ptr(ffi::gfn_release_running().cast()).to_bytes(),
        )
    }
}
