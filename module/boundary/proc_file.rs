// SPDX-License-Identifier: GPL-2.0

//! A file under `/proc`, as a trait its open-file type implements.
//!
//! As `kernel::miscdevice` does for misc devices: [`ProcFile`] is a
//! `#[vtable]` trait whose methods take Rust types; [`Registration`] creates
//! the file with a table of trampolines built for the implementing type at
//! compile time, each of which only converts pointers and turns a `Result`
//! into an errno.  The C side (`shim/proc_glue.c`) holds the `proc_ops`,
//! since the kernel crate has no procfs abstraction, and only calls them:
//! every errno is chosen here.

use super::ffi::{self, ProcCallbacks};
use core::marker::PhantomData;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::ForeignOwnable;
use kernel::uaccess::{UserSliceReader, UserSliceWriter};

use super::compat::user_slice;

/// What a file under `/proc` does; one value per open file.
#[vtable]
pub(crate) trait ProcFile: Sized + Send + Sync + 'static {
    /// Opens the file: its state, kept until it is released.
    fn open() -> Result<Pin<KBox<Self>>>;

    /// `read(2)` at `*pos`, which it moves on.
    fn read(&self, _out: &mut UserOut, _pos: &mut i64) -> Result<usize> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `write(2)` of `len` bytes from `input`, at `*pos`.
    fn write(&self, _input: UserSliceReader, _len: usize, _pos: &mut i64) -> Result<usize> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The file's size, for `lseek(2)` from its end.
    fn size(&self) -> Result<i64> {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `poll(2)`: the `EPOLL*` bits that are ready.
    fn poll(&self) -> u32 {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The user's buffer of a `read(2)`, and where in it the next byte goes.
pub(crate) struct UserOut {
    writer: UserSliceWriter,
    /// User address of the next byte.
    addr: usize,
    /// Bytes the caller asked for.
    len: usize,
}

impl UserOut {
    /// Bytes the caller asked for.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes that can be copied before the next possible fault: to the end
    /// of the user page the next byte goes to.
    pub(crate) fn to_page_end(&self) -> usize {
        PAGE_SIZE - self.addr % PAGE_SIZE
    }

    /// Copies `bytes` to the user, all of them or none (`EFAULT`).
    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result {
        self.writer.write_slice(bytes)?;
        self.addr = self.addr.wrapping_add(bytes.len());
        Ok(())
    }
}

/// `/proc/<name>`, whose files are `T`s; removed when dropped.
///
/// # Invariants
///
/// The file exists, created with `Trampolines::<T>::CALLBACKS`, until
/// `drop` removes it.
pub(crate) struct Registration<T: ProcFile> {
    name: &'static CStr,
    _file: PhantomData<T>,
}

impl<T: ProcFile> Registration<T> {
    /// Creates `/proc/<name>` with permissions `mode`.
    pub(crate) fn new(name: &'static CStr, mode: u16) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated and lives as long as the module
        // (procfs copies it); the callbacks are a `static` table whose
        // functions follow the contracts `shim/proc_glue.c` states.
        let created =
            unsafe { ffi::gfn_proc_create(name.as_char_ptr(), mode, &Trampolines::<T>::CALLBACKS) };
        if !created {
            // `proc_create_data()` says no more; allocations are what fail.
            return Err(ENOMEM);
        }
        // INVARIANT: the file was just created with those callbacks.
        Ok(Registration {
            name,
            _file: PhantomData,
        })
    }
}

impl<T: ProcFile> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the file exists; procfs waits for
        // the callbacks in flight and releases every file still open.
        unsafe { ffi::gfn_proc_remove(self.name.as_char_ptr()) }
    }
}

/// A reference on this module, held by each callback that may wait: rmmod
/// then fails at once (`EBUSY`) while one runs, instead of waiting,
/// without a way to be killed, in `remove_proc_entry()` for a reader stuck
/// in a fault.
///
/// # Invariants
///
/// A reference on this module is held, dropped by `drop`.
struct ModuleRef(());

impl ModuleRef {
    /// Takes it; `ENODEV` once the module is going.
    fn get() -> Result<ModuleRef> {
        // SAFETY: `try_module_get(THIS_MODULE)` has no precondition.
        if !unsafe { ffi::gfn_module_get() } {
            return Err(ENODEV);
        }
        // INVARIANT: just taken.
        Ok(ModuleRef(()))
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: the reference is held (type invariant), dropped once.
        unsafe { ffi::gfn_module_put() }
    }
}

/// The C callbacks of a `T` file: conversions, and the errno of what `T`
/// does not do.
struct Trampolines<T>(PhantomData<T>);

/// `DEFAULT_POLLMASK`: what the VFS says of a file without `poll`.
const DEFAULT_POLLMASK: u32 = 0x0001 | 0x0004 | 0x0040 | 0x0100;

impl<T: ProcFile> Trampolines<T> {
    const CALLBACKS: ProcCallbacks = ProcCallbacks {
        open: Some(Self::open),
        release: Some(Self::release),
        read: Some(Self::read),
        write: Some(Self::write),
        size: Some(Self::size),
        poll: Some(Self::poll),
    };

    /// # Safety
    ///
    /// `private` must be `&file->private_data` of a file being opened.
    unsafe extern "C" fn open(private: *mut *mut c_void) -> c_int {
        match T::open() {
            Ok(state) => {
                // SAFETY: `private` is valid for writes by the contract;
                // the state is taken back in `release`.
                unsafe { *private = state.into_foreign() as *mut c_void };
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// `private` must be what `open` stored, with no other callback of its
    /// file running or to come.
    unsafe extern "C" fn release(private: *mut c_void) {
        // SAFETY: by the contract `private` came from `into_foreign` in
        // `open` and is taken back once, after the file's last callback.
        drop(unsafe { <Pin<KBox<T>>>::from_foreign(private) });
    }

    /// The open file's state.
    ///
    /// # Safety
    ///
    /// `private` must be what `open` stored, not yet released.
    unsafe fn state<'a>(private: *mut c_void) -> Pin<&'a T> {
        // SAFETY: by the contract, `release` has not run, and procfs calls
        // it only after every other callback of the file has returned.
        unsafe { <Pin<KBox<T>>>::borrow(private) }
    }

    /// # Safety
    ///
    /// `private` as for `state`; `buf` a user pointer of `len` bytes; `pos`
    /// the file position procfs hands to the call.
    unsafe extern "C" fn read(
        private: *mut c_void,
        buf: *mut u8,
        len: usize,
        pos: *mut i64,
    ) -> isize {
        if !T::HAS_READ {
            return ssize(Err(EINVAL));
        }
        // SAFETY: by the contract.
        let (file, pos) = unsafe { (Self::state(private), &mut *pos) };
        let mut out = UserOut {
            writer: user_slice(buf as usize, len).writer(),
            addr: buf as usize,
            len,
        };
        ssize(ModuleRef::get().and_then(|_held| file.read(&mut out, pos)))
    }

    /// # Safety
    ///
    /// As for `read`.
    unsafe extern "C" fn write(
        private: *mut c_void,
        buf: *const u8,
        len: usize,
        pos: *mut i64,
    ) -> isize {
        if !T::HAS_WRITE {
            return ssize(Err(EINVAL));
        }
        // SAFETY: by the contract.
        let (file, pos) = unsafe { (Self::state(private), &mut *pos) };
        let input = user_slice(buf as usize, len).reader();
        ssize(ModuleRef::get().and_then(|_held| file.write(input, len, pos)))
    }

    /// # Safety
    ///
    /// As for `state`.
    unsafe extern "C" fn size(private: *mut c_void) -> i64 {
        if !T::HAS_SIZE {
            // No size: no seeking, as on a pipe.
            return ESPIPE.to_errno().into();
        }
        // SAFETY: by the contract.
        let file = unsafe { Self::state(private) };
        match ModuleRef::get().and_then(|_held| file.size()) {
            Ok(n) => n,
            Err(e) => e.to_errno().into(),
        }
    }

    /// # Safety
    ///
    /// As for `state`.
    unsafe extern "C" fn poll(private: *mut c_void) -> c_uint {
        if !T::HAS_POLL {
            return DEFAULT_POLLMASK;
        }
        // SAFETY: by the contract.
        unsafe { Self::state(private) }.poll()
    }
}

/// A byte count or an error as `read(2)` and `write(2)` return them.
fn ssize(r: Result<usize>) -> isize {
    match r {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}
