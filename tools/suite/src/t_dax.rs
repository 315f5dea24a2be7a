// SPDX-License-Identifier: GPL-2.0
//! fsdax memory behind a memslot: a file of an ext2 file system mounted
//! `-o dax` on the emulated pmem device the guest's command line makes
//! (`memmap=256M!7G`, testbed/guest.sh), by the ext2 driver where it still
//! has DAX (6.12), else by ext4's (7.3).  Its pages are device memory with
//! struct pages (mapped by devmap entries on 6.12, as ZONE_DEVICE folios on
//! 7.3): the module tells them as `kind=dax` with the frame pagemap shows,
//! and the guest's value is in host memory there (`/dev/mem`, or the pmem
//! device itself where /dev/mem refuses a region its driver holds).

use crate::check::{self, ensure};
use crate::facility;
use crate::module::{self, ask, translate};
use crate::oracle;
use crate::pages::{per_page, Page};
use crate::runner::Outcome;
use crate::vmm::Vmm;
use gfn_proto::reply::{Kind, MapLevel};

const PMEM: &str = "/dev/pmem0";
const MOUNT: &str = "/mnt/dax";
const GPA: u64 = 0x4000_0000;

/// The DAX file system, mounted until dropped.
struct Mounted;

impl Mounted {
    fn new() -> Result<Mounted, Outcome> {
        facility::file(
            PMEM,
            "no pmem device (the command line's memmap=SIZE!START, CONFIG_BLK_DEV_PMEM, CONFIG_X86_PMEM_LEGACY)",
        )?;
        facility::file_system(&["ext2", "ext4"])?;
        std::fs::create_dir_all(MOUNT).map_err(|e| format!("{MOUNT}: {e}"))?;
        module::run("mke2fs", &["-q", "-F", "-b", "4096", PMEM])?;
        for fs in ["ext2", "ext4"] {
            if module::run("mount", &["-t", fs, "-o", "dax", PMEM, MOUNT]).is_err() {
                continue;
            }
            // A driver without DAX mounts anyway, ignoring the option.
            if mounted_with_dax()? {
                return Ok(Mounted);
            }
            module::run("umount", &[MOUNT])?;
        }
        Err(format!("neither ext2 nor ext4 mounts {PMEM} with -o dax").into())
    }
}

/// Whether the file system at `MOUNT` is mounted with DAX, as /proc/mounts
/// says.
fn mounted_with_dax() -> Result<bool, String> {
    let mounts =
        std::fs::read_to_string("/proc/mounts").map_err(|e| format!("/proc/mounts: {e}"))?;
    Ok(mounts.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.get(1) == Some(&MOUNT)
            && f.get(3)
                .is_some_and(|o| o.split(',').any(|o| o.starts_with("dax")))
    }))
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = module::run("umount", &[MOUNT]);
    }
}

/// A memslot on a DAX file, touched by the VMM and written by its guest:
/// single addresses and a map of the slot, in both modes, are `kind=dax
/// map=pte` at pagemap's frames, with `size=4096`, and host memory at the
/// reported address holds what the guest wrote.
pub fn dax_memory() -> Result<(), Outcome> {
    let _mounted = Mounted::new()?;
    let store = GPA + 0x3_0040;
    let vmm = Vmm::start(&[
        "--slot",
        &format!("dax:4M@{GPA:#x}"),
        "--write",
        &format!("{store:#x}=0x5eed0da0"),
    ])?;
    for mode in ["", " mode=fault"] {
        let t = translate(&format!("{store:#x} {}{mode}", vmm.pid))?;
        let pfn = oracle::pagemap_pfn(vmm.pid, vmm.hva_of(store)?)?;
        ensure(
            t.kind == Kind::Dax
                && t.map == MapLevel::Pte
                && t.size == 4096
                && t.phys == pfn << 12 | (store & 0xfff),
            || format!("{store:#x}{mode}: {t:?}, pagemap has frame {pfn:#x}"),
        )?;
        check::phys_value(t.phys, 0x5eed_0da0)?;
    }
    let map = per_page(&ask(&format!("{GPA:#x}+1024 pid={}", vmm.pid))?)?;
    ensure(map.len() == 1024, || format!("{} pages told", map.len()))?;
    let hva = vmm.hva_of(GPA)?;
    for (gfn, page) in &map {
        let i = gfn - (GPA >> 12);
        let pfn = oracle::pagemap_pfn(vmm.pid, hva + i * 4096)?;
        ensure(
            matches!(page, Page::Ok(t) if t.kind == Kind::Dax && t.phys >> 12 == pfn),
            || format!("gfn {gfn:#x}: {page:?}, pagemap has frame {pfn:#x}"),
        )?;
    }
    println!("     1024 fsdax pages at pagemap's frames, kind=dax map=pte");
    Ok(vmm.stop()?)
}
