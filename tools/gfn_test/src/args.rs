// SPDX-License-Identifier: GPL-2.0
//! Command line of `gfn_test`: addresses, then optionally the VMM's pid
//! last, as the seed client took them; or one of the `vms`, `slots`, `map`,
//! `hpa`, `stats`, `metrics` and `watch` subcommands.

use clap::Parser;

const EXAMPLES: &str = "Examples:
  gfn_test 0x1234                 translate one address in the first VM
  gfn_test 0x1234 4242            ... in the VM of VMM process 4242 (seed form)
  gfn_test --pid 4242 0x1000 0x2000 0x3000
  gfn_test --json 0x1234 4242     one JSON object per address
  writer | grep -o '0x[0-9a-f]*' | gfn_test --pid 4242 -   addresses from stdin
  gfn_test vms                    list every VM: VMM pid, memslots, guest memory
  gfn_test slots --pid 4242       list the VM's memslots
  gfn_test map --pid 4242         map every page of the VM, runs merged
  gfn_test map 0x0-0x100000 0x40000000+512 --fault   map ranges, faulting pages in
  gfn_test hpa 0x1f5f0080         which guest pages, of every VM, are at that host address
  gfn_test hpa 0x1f400000+512 --pid 4242   ... in a host range, in one VM
  gfn_test stats                  per VM: memory by backing, level, node, sharing
  gfn_test metrics                the same as Prometheus text (node_exporter's textfile)
  gfn_test map --pid 4242 --svg vm.svg   draw the VM's memory: slots, backing, nodes
  gfn_test --domain web1 0x1234   the VM by its libvirt or QEMU name
  gfn_test watch --pid 4242 --interval 5   print what moves (frame, kind, node, sharing)

Exit status: 0 when every address translated (map, vms, slots: when the VM
or the VMs were found), 1 when any failed, 2 on errors.";

#[derive(Clone, Debug, Parser)]
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

    /// The VM's name instead of its pid: a libvirt domain
    /// (/run/libvirt/qemu/NAME.pid) or a QEMU started with -name guest=NAME.
    #[arg(long, value_name = "NAME", conflicts_with = "pid")]
    pub domain: Option<String>,

    /// Print one JSON object per reply line instead of the kernel's lines.
    #[arg(long)]
    pub json: bool,

    /// Fault pages in (and allocate them) rather than report them not
    /// present; without it, asking never changes the VMM's memory.
    #[arg(long)]
    pub fault: bool,

    /// `map`: draw the VM's guest physical address space into this SVG
    /// file instead of printing the map (memslots, backing, NUMA node).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<std::path::PathBuf>,

    /// `watch`: seconds between maps.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub interval: f64,

    /// `watch`: stop after this many maps (default: never).
    #[arg(long, value_name = "MAPS")]
    pub count: Option<u64>,

    /// Memslot address space (1 is SMM on x86).
    #[arg(long = "as", value_name = "ID", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=1))]
    pub as_id: u8,
}

/// A subcommand, when the first word names one.
#[derive(Debug, PartialEq, Eq)]
pub enum Sub {
    Vms,
    Slots,
    /// Ranges as the module's grammar writes them; empty for the whole VM.
    Map(Vec<String>),
    /// Host physical addresses or ranges, as the module's grammar writes them.
    Hpa(Vec<String>),
    /// A summary per VM (every VM, or `--pid`'s).
    Stats,
    /// The summaries as Prometheus text.
    Metrics,
    /// Ranges (empty: the whole VM) mapped over and over, changes printed.
    Watch(Vec<String>),
}

/// The subcommand in `words`, if any; checks `map`'s ranges.
pub fn sub(cli: &Cli) -> Result<Option<Sub>, String> {
    let Some((first, rest)) = cli.words.split_first() else {
        return Ok(None);
    };
    let extra = || format!("'{first}' takes no arguments (got {rest:?}); use --pid");
    Ok(Some(match first.as_str() {
        "vms" if rest.is_empty() => Sub::Vms,
        "stats" if rest.is_empty() => Sub::Stats,
        "metrics" if rest.is_empty() => Sub::Metrics,
        "stats" | "metrics" => return Err(extra()),
        "slots" if rest.is_empty() => Sub::Slots,
        "vms" | "slots" => return Err(extra()),
        "map" | "watch" => {
            for r in rest {
                let tokens: Vec<_> = gfn_client::request::lines(r.as_bytes())
                    .flat_map(|l| l.tokens().map(|(_, t)| t).collect::<Vec<_>>())
                    .collect();
                if !matches!(
                    tokens.as_slice(),
                    [gfn_client::request::Token::Range { .. }]
                ) {
                    return Err(format!(
                        "'{r}' is not a range: write START-END or START+PAGES (0x... addresses)"
                    ));
                }
            }
            if first == "watch" {
                Sub::Watch(rest.to_vec())
            } else {
                Sub::Map(rest.to_vec())
            }
        }
        "hpa" if rest.is_empty() => {
            return Err("'hpa' needs host physical addresses or ranges (0x...)".into())
        }
        "hpa" => {
            for r in rest {
                let tokens: Vec<_> = gfn_client::request::lines(format!("hpa={r}").as_bytes())
                    .flat_map(|l| l.tokens().map(|(_, t)| t).collect::<Vec<_>>())
                    .collect();
                if !matches!(tokens.as_slice(), [gfn_client::request::Token::Hpa { .. }]) {
                    return Err(format!(
                        "'{r}' is not a host address or range: write 0x..., START-END or START+PAGES"
                    ));
                }
            }
            Sub::Hpa(rest.to_vec())
        }
        _ => return Ok(None),
    }))
}

/// The request text for a subcommand, with the line's options.
pub fn sub_request(sub: &Sub, cli: &Cli) -> String {
    let mut req = match sub {
        Sub::Vms => "vms".to_string(),
        Sub::Slots => "slots".to_string(),
        Sub::Map(ranges) | Sub::Watch(ranges) if ranges.is_empty() => "all".to_string(),
        Sub::Map(ranges) | Sub::Watch(ranges) => ranges.join(" "),
        Sub::Stats | Sub::Metrics => "vms".to_string(),
        Sub::Hpa(addrs) => addrs
            .iter()
            .map(|a| format!("hpa={a}"))
            .collect::<Vec<_>>()
            .join(" "),
    };
    req += &options(cli);
    req
}

/// ` pid=N mode=fault as=1`, each only when asked for.
pub fn options(cli: &Cli) -> String {
    let mut o = String::new();
    if let Some(pid) = cli.pid {
        o += &format!(" pid={pid}");
    }
    if cli.fault {
        o += " mode=fault";
    }
    if cli.as_id != 0 {
        o += &format!(" as={}", cli.as_id);
    }
    o
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

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("gfn_test").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn subcommands() {
        let c = cli(&["vms"]);
        assert_eq!(sub(&c).unwrap(), Some(Sub::Vms));
        assert_eq!(sub_request(&Sub::Vms, &c), "vms");
        let c = cli(&["slots", "--pid", "7"]);
        assert_eq!(sub_request(&sub(&c).unwrap().unwrap(), &c), "slots pid=7");
        let c = cli(&["map", "--pid", "7", "--fault", "--as", "1"]);
        assert_eq!(
            sub_request(&sub(&c).unwrap().unwrap(), &c),
            "all pid=7 mode=fault as=1"
        );
        let c = cli(&["map", "0x0-0x2000", "0x1000+3"]);
        assert_eq!(
            sub_request(&sub(&c).unwrap().unwrap(), &c),
            "0x0-0x2000 0x1000+3"
        );
        assert!(sub(&cli(&["map", "0x1000"])).is_err());
        assert!(sub(&cli(&["map", "0x2000-0x1000"])).is_err());
        assert!(sub(&cli(&["vms", "7"])).is_err());
        let c = cli(&["hpa", "0x1f5f0080", "0x1000+4", "--pid", "7"]);
        assert_eq!(
            sub_request(&sub(&c).unwrap().unwrap(), &c),
            "hpa=0x1f5f0080 hpa=0x1000+4 pid=7"
        );
        assert!(sub(&cli(&["hpa"])).is_err());
        assert!(sub(&cli(&["hpa", "1234"])).is_err());
        assert!(sub(&cli(&["hpa", "0x2000-0x1000"])).is_err());
        assert_eq!(sub(&cli(&["0x1000", "7"])).unwrap(), None);
        assert!(Cli::try_parse_from(["gfn_test", "--as", "2", "vms"]).is_err());
    }

    #[test]
    fn bad_words() {
        assert!(plan_of(&["1234", "0x1"]).is_err());
        assert!(plan_of(&["0xzz"]).is_err());
        assert!(plan_of(&["0x1", "99999999999"]).is_err());
        assert!(plan_of(&["--json", "0x10000000000000000"]).is_err());
    }
}
