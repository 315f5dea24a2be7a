// SPDX-License-Identifier: GPL-2.0

//! Answers one request: parses it, translates each address, logs each
//! result and appends one reply line per address or bad token.

use crate::reply::{Kind, Reply, Translation};
use crate::request::{self, Reason, Token};
use crate::shim::{self, ShimPage, Vm};
use core::fmt::Write;
use kernel::prelude::*;

/// Appends formatted text to a growable reply buffer.
struct ReplyWriter<'a> {
    buf: &'a mut KVVec<u8>,
}

impl Write for ReplyWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.buf
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}

/// Kind of host page, decided from the folio the shim found.
fn kind_of(page: &ShimPage) -> Kind {
    if page.flags & shim::PAGE_HUGETLB != 0 {
        Kind::Hugetlb
    } else if page.flags & shim::PAGE_LARGE != 0 {
        Kind::Thp
    } else {
        Kind::Base
    }
}

/// Translates `gpa` in `vm` and logs the outcome in the seed's words.
fn translate(vm: &Vm, gpa: u64, pid: Option<u32>) -> Reply {
    let pid_shown = pid.unwrap_or(vm.vmm_pid);
    match vm.translate(gpa) {
        Ok(page) => {
            let t = Translation {
                phys: (page.pfn << 12) | (gpa & 0xfff),
                kind: kind_of(&page),
                gpa,
                hva: page.hva,
                pid: pid_shown,
                size: page.folio_size,
            };
            pr_info!("exact phys addr for gpa {:#x}: {:#x}\n", gpa, t.phys);
            match t.kind {
                Kind::Base => pr_info!("page is not huge page\n"),
                Kind::Thp => pr_info!("page is THP, size {} KiB\n", t.size >> 10),
                Kind::Hugetlb => pr_info!("page is hugetlb page, size {} KiB\n", t.size >> 10),
            }
            Reply::Ok(t)
        }
        Err((reason, err)) => {
            pr_info!(
                "gpa {:#x} (pid {}): {} (error {})\n",
                gpa,
                pid_shown,
                reason.as_str(),
                err.to_errno()
            );
            Reply::AddrErr {
                reason,
                gpa,
                pid: Some(pid_shown),
            }
        }
    }
}

/// Answers the request in `input`, appending reply lines to `out`.
///
/// Fails only when the reply buffer cannot grow (`ENOMEM`).
pub(crate) fn answer(input: &[u8], out: &mut KVVec<u8>) -> Result {
    let mut w = ReplyWriter { buf: out };
    for line in request::lines(input) {
        let pid = line.pid();
        // The VM is looked up once per line, on its first address.
        let mut vm: Option<Result<Vm, Reason>> = None;
        for (span, token) in line.tokens() {
            let reply = match token {
                Token::Pid(_) => continue,
                Token::Bad(reason) => {
                    pr_info!(
                        "bad token at offset {} (length {}): {}\n",
                        span.offset,
                        span.len,
                        reason.as_str()
                    );
                    Reply::TokenErr { reason, span }
                }
                Token::Addr(gpa) => match pid {
                    Err(reason) => {
                        pr_info!("gpa {:#x}: {}\n", gpa, reason.as_str());
                        Reply::AddrErr {
                            reason,
                            gpa,
                            pid: None,
                        }
                    }
                    Ok(pid) => match vm.get_or_insert_with(|| Vm::get(pid)) {
                        Ok(vm) => translate(vm, gpa, pid),
                        Err(reason) => {
                            pr_info!("gpa {:#x}: {}\n", gpa, reason.as_str());
                            Reply::AddrErr {
                                reason: *reason,
                                gpa,
                                pid,
                            }
                        }
                    },
                },
            };
            writeln!(w, "{}", reply).map_err(|_| ENOMEM)?;
        }
    }
    Ok(())
}
