// SPDX-License-Identifier: GPL-2.0
//! writer: run inside a guest.  Allocates a page, writes VALUE at byte 128,
//! finds the page's guest physical address through /proc/self/pagemap and
//! prints it with the command to run on the host; then holds the page, so
//! that the host can translate the address and read the value back.

use clap::Parser;
use gfn_client::pagemap;
use std::io::{BufRead, Write};
use std::process::ExitCode;

/// Byte offset of VALUE in the page, as in the seed.
const OFFSET: usize = 128;

#[derive(Parser)]
#[command(
    name = "writer",
    version,
    about = "Write VALUE into a locked page and print its guest physical address",
    after_help = "Run as root in the guest, then on the host:\n  \
                  gfn_test <printed gpa> <VMM pid>    and    reader <printed phys>"
)]
struct Cli {
    /// The byte to write at offset 128 of the page.
    #[arg(default_value_t = 24)]
    value: u8,
    /// Hold the page for N seconds instead of until Enter.
    #[arg(long, value_name = "N")]
    hold_secs: Option<u64>,
    /// Exit right after printing (the page is freed).
    #[arg(long)]
    no_wait: bool,
}

fn run(cli: &Cli) -> Result<(), String> {
    // SAFETY: a fresh anonymous page at an address of the kernel's choosing.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err(format!("mmap: {}", std::io::Error::last_os_error()));
    }
    let page = page.cast::<u8>();
    // SAFETY: OFFSET is inside the 4096-byte writable page just mapped.
    unsafe { page.add(OFFSET).write_volatile(cli.value) };
    // SAFETY: locks the page just mapped, so it stays where it is.
    if unsafe { libc::mlock(page.cast(), 4096) } != 0 {
        return Err(format!("mlock: {}", std::io::Error::last_os_error()));
    }
    let vaddr = page as u64 + OFFSET as u64;
    let entry = pagemap::entry(None, vaddr).map_err(|e| format!("/proc/self/pagemap: {e}"))?;
    if !entry.present {
        return Err("the page is not present in pagemap".into());
    }
    if entry.pfn == 0 {
        return Err(
            "pagemap shows frame 0: run writer as root (CAP_SYS_ADMIN), \
                    without it the kernel hides frame numbers"
                .into(),
        );
    }
    let gpa = entry.pfn << 12 | OFFSET as u64;
    println!("value:                  {}", cli.value);
    println!("virtual address:        {vaddr:#x}");
    println!("guest frame number:     {:#x}", entry.pfn);
    println!("guest physical address: {gpa:#x}");
    println!("on the host, run:       echo \"{gpa:#x}\" > /proc/gfn_to_pfn");
    println!("WRITER gpa={gpa:#x} value={} vaddr={vaddr:#x}", cli.value);
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    if cli.no_wait {
        return Ok(());
    }
    match cli.hold_secs {
        Some(s) => std::thread::sleep(std::time::Duration::from_secs(s)),
        None => {
            println!("holding the page; press Enter to exit");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            let n = std::io::stdin().lock().read_line(&mut line).unwrap_or(0);
            if n == 0 {
                // No terminal or EOF: hold until a signal ends the process.
                loop {
                    // SAFETY: pause() only waits for a signal.
                    unsafe { libc::pause() };
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("writer: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let c = Cli::try_parse_from(["writer"]).unwrap();
        assert_eq!((c.value, c.hold_secs, c.no_wait), (24, None, false));
        let c = Cli::try_parse_from(["writer", "77", "--hold-secs", "5"]).unwrap();
        assert_eq!((c.value, c.hold_secs), (77, Some(5)));
        assert!(Cli::try_parse_from(["writer", "256"]).is_err());
    }
}
