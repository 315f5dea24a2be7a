// SPDX-License-Identifier: GPL-2.0
//! Loading and unloading, and VMs coming and going while queries run.

use crate::check::ensure;
use crate::module::{self, ask};
use crate::vmm::Vmm;
use gfn_proto::reply::Reply;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

pub fn module_loads(ko: &str) -> Result<(), String> {
    module::insmod(ko)?;
    ensure(std::path::Path::new(module::PROC).exists(), || {
        format!("{} missing after insmod", module::PROC)
    })
}

/// `starts` VMMs are started and stopped in a loop while another thread
/// queries the first VM without a PID: every reply must be well formed.
pub fn vm_churn(starts: u64) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let querier = thread::spawn(move || -> Result<u64, String> {
        let mut n = 0;
        while !flag.load(Ordering::Relaxed) {
            for r in ask("0x100000 0x100fff 0x1ff000")? {
                match r {
                    Reply::Ok(_) => {}
                    Reply::AddrErr { .. } => {}
                    other => return Err(format!("unexpected {other:?}")),
                }
            }
            n += 1;
        }
        Ok(n)
    });
    let mut result = Ok(());
    for _ in 0..starts {
        match Vmm::start(&["--slot", "anon:2M@0x100000"]).and_then(Vmm::stop) {
            Ok(()) => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let queries = querier
        .join()
        .map_err(|_| "querier panicked".to_string())??;
    result?;
    println!("     {starts} VMMs started and stopped; {queries} queries meanwhile");
    ensure(queries > 0, || "the querier never ran".into())
}

/// rmmod with a file open and queries running must be safe; reads on the
/// orphaned file fail cleanly; the module loads again afterwards.
pub fn unload_with_open_file(ko: &str) -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "thp:2M@0x200000"])?;
    let mut f = module::open().map_err(|e| e.to_string())?;
    module::ask_on(&mut f, b"0x1000").map_err(|e| e.to_string())?;
    // Queries of 512 addresses each keep running while the module goes.
    let request: String = (0..512)
        .map(|i| format!("{:#x} ", 0x200000 + i * 4096))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let querier = thread::spawn(move || -> Result<u32, String> {
        let mut answered = 0;
        while !flag.load(Ordering::Relaxed) {
            let Ok(mut g) = module::open() else { continue };
            match module::ask_on(&mut g, request.as_bytes()) {
                Ok(text) if text.lines().count() == 512 => answered += 1,
                Ok(text) if text.is_empty() => {}
                Ok(text) => return Err(format!("partial reply of {} lines", text.lines().count())),
                Err(_) => {}
            }
        }
        Ok(answered)
    });
    thread::sleep(std::time::Duration::from_millis(300));
    let unloaded = module::rmmod();
    thread::sleep(std::time::Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let answered = querier
        .join()
        .map_err(|_| "querier panicked".to_string())??;
    unloaded?;
    ensure(answered > 0, || {
        "no query completed before the unload".into()
    })?;
    vmm.stop()?;
    let mut rest = String::new();
    let after = f.read_to_string(&mut rest);
    ensure(after.is_err() || rest.is_empty(), || {
        format!("read after rmmod: {after:?} {rest:?}")
    })?;
    drop(f);
    module::insmod(ko)?;
    ask("0x1000").map(|_| ())
}
