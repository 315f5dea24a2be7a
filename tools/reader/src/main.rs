// SPDX-License-Identifier: GPL-2.0
//! reader: prints the value at a host physical address, read from
//! /dev/mem, to check that the address gfn_to_pfn reported holds what the
//! guest wrote.

use clap::Parser;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "reader",
    version,
    about = "Read the value at a host physical address from /dev/mem",
    after_help = "Example:\n  reader 0x412380            the byte at 0x412380, in decimal\n  \
                  reader --width 4 --hex 0x412380"
)]
struct Cli {
    /// Host physical address (0x... or decimal).
    #[arg(value_parser = parse_addr)]
    addr: u64,
    /// Bytes to read, as one little-endian value.
    #[arg(long, default_value_t = 1, value_parser = parse_width)]
    width: usize,
    /// Print in hex instead of decimal.
    #[arg(long)]
    hex: bool,
}

fn parse_width(s: &str) -> Result<usize, String> {
    match s {
        "1" => Ok(1),
        "4" => Ok(4),
        "8" => Ok(8),
        _ => Err(format!("'{s}': the width is 1, 4 or 8 bytes")),
    }
}

fn parse_addr(s: &str) -> Result<u64, String> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("'{s}': {e}"))
}

/// Explains why /dev/mem refused, naming what to change.
fn explain(what: &str, e: &std::io::Error) -> String {
    let why = match e.raw_os_error() {
        Some(libc::ENOENT) => "no /dev/mem: the kernel lacks CONFIG_DEVMEM",
        Some(libc::EACCES) => "needs root",
        Some(libc::EPERM) | Some(libc::EFAULT) | Some(libc::EINVAL) => {
            "refused: CONFIG_STRICT_DEVMEM (or CONFIG_IO_STRICT_DEVMEM) allows only I/O \
             ranges, and kernel lockdown (/sys/kernel/security/lockdown) forbids /dev/mem; \
             boot a kernel with CONFIG_STRICT_DEVMEM=n and no lockdown"
        }
        _ => "",
    };
    format!(
        "{what} /dev/mem: {e}{}{why}",
        if why.is_empty() { "" } else { ": " }
    )
}

fn run(cli: &Cli) -> Result<String, String> {
    let f = File::open("/dev/mem").map_err(|e| explain("open", &e))?;
    let mut buf = [0u8; 8];
    f.read_exact_at(&mut buf[..cli.width], cli.addr)
        .map_err(|e| explain(&format!("read {:#x} from", cli.addr), &e))?;
    let v = u64::from_le_bytes(buf);
    Ok(if cli.hex {
        format!("{v:#x}")
    } else {
        v.to_string()
    })
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("reader: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let c = Cli::try_parse_from(["reader", "0x412380"]).unwrap();
        assert_eq!((c.addr, c.width, c.hex), (0x412380, 1, false));
        let c = Cli::try_parse_from(["reader", "--width", "8", "--hex", "4096"]).unwrap();
        assert_eq!((c.addr, c.width, c.hex), (4096, 8, true));
        assert!(Cli::try_parse_from(["reader", "--width", "2", "0x1"]).is_err());
        assert!(Cli::try_parse_from(["reader", "0xzz"]).is_err());
    }

    #[test]
    fn refusals_name_the_kernel_option() {
        let e = explain("read", &std::io::Error::from_raw_os_error(libc::EPERM));
        assert!(e.contains("CONFIG_STRICT_DEVMEM"));
        let e = explain("open", &std::io::Error::from_raw_os_error(libc::ENOENT));
        assert!(e.contains("CONFIG_DEVMEM"));
    }
}
