// SPDX-License-Identifier: GPL-2.0
//! A userfaultfd whose faults are never resolved (`--uffd`): a fault on
//! the region waits, as it does under a VMM that migrates its guest
//! after copy (postcopy), until the test says `resolve`.

use super::Region;
use linux_raw_sys::general::{
    uffdio_api, uffdio_range, uffdio_register, UFFDIO_REGISTER_MODE_MISSING, UFFD_API,
};
use rustix::ioctl::{ioctl, Opcode, Updater};
use rustix::mm::{userfaultfd, UserfaultfdFlags};

/// `UFFDIO_API`: agrees on the API, asking for no features.
type ApiIoctl<'a> = Updater<'a, { linux_raw_sys::ioctl::UFFDIO_API as Opcode }, uffdio_api>;
/// `UFFDIO_REGISTER`: registers a range of this process's memory.
type RegisterIoctl<'a> =
    Updater<'a, { linux_raw_sys::ioctl::UFFDIO_REGISTER as Opcode }, uffdio_register>;

/// Registers `region`'s missing pages with a new userfaultfd whose faults
/// are never resolved: a fault there waits until the region's `uffd` is
/// closed (then it goes on as an ordinary fault) or the process exits.
/// Kernel faults wait too (no `UFFD_USER_MODE_ONLY`): it is KVM's that
/// the tests are about.
pub fn never_resolve(region: &mut Region) -> Result<(), String> {
    // SAFETY: the new descriptor handles faults only of ranges registered
    // with it below, which are this region's own.
    let fd = unsafe { userfaultfd(UserfaultfdFlags::CLOEXEC) }
        .map_err(|e| format!("userfaultfd: {e}"))?;
    let mut api = uffdio_api {
        api: UFFD_API.into(),
        features: 0,
        ioctls: 0,
    };
    // SAFETY: `api` is the struct UFFDIO_API reads and fills.
    unsafe { ioctl(&fd, ApiIoctl::new(&mut api)) }.map_err(|e| format!("UFFDIO_API: {e}"))?;
    let mut reg = uffdio_register {
        range: uffdio_range {
            start: region.addr as u64,
            len: region.size as u64,
        },
        mode: UFFDIO_REGISTER_MODE_MISSING.into(),
        ioctls: 0,
    };
    // SAFETY: `reg` is the struct UFFDIO_REGISTER reads and fills; the
    // range is this region's own mapping.
    unsafe { ioctl(&fd, RegisterIoctl::new(&mut reg)) }
        .map_err(|e| format!("UFFDIO_REGISTER: {e}"))?;
    region.uffd = Some(fd);
    Ok(())
}
