//! Command line of `gfn_test`: addresses, then optionally the VMM's pid
//! last, as the seed client took them.

use clap::Parser;

const EXAMPLES: &str = "Examples:
  gfn_test 0x1234                 translate one address in the first VM
  gfn_test 0x1234 4242            ... in the VM of VMM process 4242 (seed form)
  gfn_test --pid 4242 0x1000 0x2000 0x3000
  gfn_test --json 0x1234 4242     one JSON object per address
  writer | grep -o '0x[0-9a-f]*' | gfn_test --pid 4242 -   addresses from stdin

Exit status: 0 when every address translated, 1 when any failed, 2 on errors.";

#[derive(Debug, Parser)]
#[command(
    name = "gfn_test",
    version,
    about = "Translate KVM guest physical addresses to host physical addresses via /proc/gfn_to_pfn",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Guest physical addresses (0x...), optionally followed by the VMM's
    /// pid in decimal; `-` or nothing reads addresses from stdin.
    #[arg(value_name = "ADDR... [PID]")]
    pub words: Vec<String>,

    /// The VMM's pid (default: the first VM the kernel lists).
    #[arg(long)]
    pub pid: Option<u32>,

    /// Print one JSON object per address instead of the kernel's lines.
    #[arg(long)]
    pub json: bool,
}

/// What to translate, once the words are sorted out.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    pub addrs: Vec<u64>,
    pub pid: Option<u32>,
    pub stdin: bool,
}

fn parse_addr(s: &str) -> Result<u64, String> {
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| format!("'{s}' is not an address: write it as 0x..."))?;
    u64::from_str_radix(hex, 16).map_err(|e| format!("'{s}': {e}"))
}

/// Sorts the positional words: a last bare decimal word is the pid.
pub fn plan(cli: &Cli) -> Result<Plan, String> {
    let mut words: &[String] = &cli.words;
    let mut pid = cli.pid;
    if let Some(last) = words.last() {
        if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
            let p: u32 = last.parse().map_err(|e| format!("pid '{last}': {e}"))?;
            if pid.is_some_and(|q| q != p) {
                return Err(format!("two pids: --pid {} and {p}", pid.unwrap_or(0)));
            }
            pid = Some(p);
            words = &words[..words.len() - 1];
        }
    }
    let stdin = words.is_empty() || words == ["-"];
    let addrs = if stdin {
        Vec::new()
    } else {
        words
            .iter()
            .map(|w| parse_addr(w))
            .collect::<Result<_, _>>()?
    };
    Ok(Plan { addrs, pid, stdin })
}

/// Addresses in text read from stdin: white space or comma separated.
pub fn addrs_in(text: &str) -> Result<Vec<u64>, String> {
    text.split(|c: char| c.is_ascii_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(parse_addr)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(args: &[&str]) -> Result<Plan, String> {
        let cli = Cli::try_parse_from(std::iter::once("gfn_test").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        plan(&cli)
    }

    #[test]
    fn seed_forms() {
        assert_eq!(
            plan_of(&["0x1234"]).unwrap(),
            Plan {
                addrs: vec![0x1234],
                pid: None,
                stdin: false
            }
        );
        assert_eq!(
            plan_of(&["0x1234", "4242"]).unwrap(),
            Plan {
                addrs: vec![0x1234],
                pid: Some(4242),
                stdin: false
            }
        );
    }

    #[test]
    fn many_addresses_and_pid_option() {
        let p = plan_of(&["--pid", "7", "0x1", "0X2", "0xabc"]).unwrap();
        assert_eq!(p.addrs, [1, 2, 0xabc]);
        assert_eq!(p.pid, Some(7));
        assert_eq!(plan_of(&["--pid", "7", "0x1", "7"]).unwrap().pid, Some(7));
        assert!(plan_of(&["--pid", "7", "0x1", "8"]).is_err());
    }

    #[test]
    fn stdin_when_no_address() {
        assert!(plan_of(&[]).unwrap().stdin);
        assert!(plan_of(&["-"]).unwrap().stdin);
        let p = plan_of(&["-", "42"]).unwrap();
        assert!(p.stdin && p.pid == Some(42));
        assert_eq!(addrs_in("0x1 0x2,0x3\n 0x4\n").unwrap(), [1, 2, 3, 4]);
        assert!(addrs_in("0x1 zz").is_err());
    }

    #[test]
    fn bad_words() {
        assert!(plan_of(&["1234", "0x1"]).is_err());
        assert!(plan_of(&["0xzz"]).is_err());
        assert!(plan_of(&["0x1", "99999999999"]).is_err());
        assert!(plan_of(&["--json", "0x10000000000000000"]).is_err());
    }
}
