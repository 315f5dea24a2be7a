// SPDX-License-Identifier: GPL-2.0
//! reader: prints the value at a host physical address, read from
//! /dev/mem or, where the kernel refuses /dev/mem (CONFIG_STRICT_DEVMEM, as
//! on distribution kernels), from /proc/kcore's RAM, to check that the
//! address gfn_to_pfn reported holds what the guest wrote.  stdout is the
//! value alone, whichever file answered.

use clap::{Parser, ValueEnum};
use gfn_client::phys::{self, Choice};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "reader",
    version,
    about = "Read the value at a host physical address from /dev/mem, or /proc/kcore \
             where the kernel refuses /dev/mem",
    after_help = "Example:\n  reader 0x412380            the byte at 0x412380, in decimal\n  \
                  reader --width 4 --hex 0x412380\n  \
                  reader --verbose 0x412380  also says on stderr which file answered"
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
    /// Where to read: /dev/mem (devmem), /proc/kcore's RAM segments
    /// (kcore), or /dev/mem and then /proc/kcore where the kernel refuses
    /// /dev/mem (auto).
    #[arg(long, value_enum, default_value_t = Source::Auto)]
    source: Source,
    /// Say on stderr which file answered, and why not /dev/mem.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Source {
    Devmem,
    Kcore,
    Auto,
}

impl From<Source> for Choice {
    fn from(s: Source) -> Choice {
        match s {
            Source::Devmem => Choice::DevMem,
            Source::Kcore => Choice::Kcore,
            Source::Auto => Choice::Auto,
        }
    }
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

/// The value to print, and the line `--verbose` adds on stderr.
fn run(cli: &Cli) -> Result<(String, String), String> {
    let mut buf = [0u8; 8];
    let answer = phys::read(cli.addr, &mut buf[..cli.width], cli.source.into())
        .map_err(|r| r.to_string())?;
    let v = u64::from_le_bytes(buf);
    let value = if cli.hex {
        format!("{v:#x}")
    } else {
        v.to_string()
    };
    let told = match answer.passed_over {
        None => format!("read {:#x} through {}", cli.addr, answer.source),
        Some(why) => format!(
            "read {:#x} through {} instead: {why}",
            cli.addr, answer.source
        ),
    };
    Ok((value, told))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok((value, told)) => {
            if cli.verbose {
                eprintln!("reader: {told}");
            }
            println!("{value}");
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
        assert_eq!(
            (c.addr, c.width, c.hex, c.verbose),
            (0x412380, 1, false, false)
        );
        assert_eq!(Choice::from(c.source), Choice::Auto);
        let c = Cli::try_parse_from(["reader", "--width", "8", "--hex", "4096"]).unwrap();
        assert_eq!((c.addr, c.width, c.hex), (4096, 8, true));
        assert!(Cli::try_parse_from(["reader", "--width", "2", "0x1"]).is_err());
        assert!(Cli::try_parse_from(["reader", "0xzz"]).is_err());
        for (name, want) in [
            ("devmem", Choice::DevMem),
            ("kcore", Choice::Kcore),
            ("auto", Choice::Auto),
        ] {
            let c = Cli::try_parse_from(["reader", "--source", name, "-v", "0x1"]).unwrap();
            assert_eq!((Choice::from(c.source), c.verbose), (want, true));
        }
        assert!(Cli::try_parse_from(["reader", "--source", "pmem", "0x1"]).is_err());
    }
}
