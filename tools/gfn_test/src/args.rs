// SPDX-License-Identifier: GPL-2.0
//! Command line of `gfn_test`: addresses, then optionally the VMM's pid
//! last, as the seed client took them; or one of the `vms`, `slots`, `map`,
//! `hpa`, `stats`, `metrics` and `watch` subcommands.  Each subcommand has
//! the options it uses and no other, so that an option it would ignore is
//! refused rather than silently dropped.

use clap::{Args, CommandFactory, Parser, Subcommand};
use gfn_client::names;
use gfn_client::request::{lines, Token};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

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
  gfn_test explain --pid 4242     why the VM is not huge: per memslot, what keeps pages small
  gfn_test map --pid 4242 --svg vm.svg   draw the VM's memory: slots, backing, nodes
  gfn_test --domain web1 0x1234   the VM by its libvirt or QEMU name
  gfn_test watch --pid 4242 --interval 5   print what moves (frame, kind, node, sharing)

Exit status: 0 when every address translated (map, vms, slots: when the VM
or the VMs were found), 1 when any failed, 2 on errors.";

const VMS_EXAMPLES: &str = "Examples:
  gfn_test vms                    every VM: VMM pid, memslots, guest memory, name
  gfn_test vms --json             ... one JSON object per VM";

const SLOTS_EXAMPLES: &str = "Examples:
  gfn_test slots                  the first VM's memslots
  gfn_test slots --pid 4242       ... the VM of VMM process 4242
  gfn_test slots --domain web1 --json   ... of the VM named web1, as JSON";

const MAP_EXAMPLES: &str = "Examples:
  gfn_test map --pid 4242         map every page of the VM, runs merged
  gfn_test map 0x0-0x100000 0x40000000+512 --fault   map ranges, faulting pages in
  gfn_test map --pid 4242 --as 1 --json   address space 1 (SMM), as JSON
  gfn_test map --pid 4242 --svg vm.svg   draw the VM's memory: slots, backing, nodes";

const HPA_EXAMPLES: &str = "Examples:
  gfn_test hpa 0x1f5f0080         which guest pages, of every VM, are at that host address
  gfn_test hpa 0x1f400000+512 --pid 4242   ... in a host range, in one VM
  gfn_test hpa 0x1f400000-0x1f600000 --json   ... as JSON";

const STATS_EXAMPLES: &str = "Examples:
  gfn_test stats                  per VM: memory by backing, level, node, sharing
  gfn_test stats --domain web1 --json   one VM's, as one JSON object";

const METRICS_EXAMPLES: &str = "Examples:
  gfn_test metrics                every VM's summary as Prometheus text
  gfn_test metrics --pid 4242     ... the VM of VMM process 4242 only";

const EXPLAIN_EXAMPLES: &str = "Examples:
  gfn_test explain                why each VM is not huge: per memslot, by 2m and 1g
  gfn_test explain --domain web1 --json   one VM's, as one JSON object";

const WATCH_EXAMPLES: &str = "Examples:
  gfn_test watch --pid 4242 --interval 5   print what moves (frame, kind, node, sharing)
  gfn_test watch 0x400000-0x800000 --count 10   ten maps of one range, a second apart
  gfn_test watch --pid 4242 --json   one JSON object per change, and one per map:
                                  {\"round\":K,\"changes\":N}";

/// `--pid`'s help where no pid means every VM rather than the first.
const EVERY_VM: &str = "The VMM's pid (default: every VM)";

#[derive(Debug, Parser)]
#[command(
    name = "gfn_test",
    version,
    about = "Translate KVM guest physical addresses to host physical addresses via /proc/gfn_to_pfn",
    after_help = EXAMPLES,
    // The seed's `gfn_test 0x1234 4242`: once a word is an address (or an
    // option is given), no later word is taken for a subcommand.
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Guest physical addresses (0x...), optionally followed by the VMM's
    /// pid in decimal; `-` or nothing reads addresses from stdin.
    #[arg(value_name = "ADDR... [PID]")]
    pub words: Vec<String>,

    #[command(flatten)]
    pub vm: Vm,

    #[command(flatten)]
    pub walk: Walk,

    /// Print one JSON object per reply line instead of the kernel's lines.
    #[arg(long)]
    pub json: bool,
}

/// The VM asked about, by its VMM's pid or by its name.
#[derive(Args, Clone, Debug)]
pub struct Vm {
    /// The VMM's pid (default: the first VM the kernel lists).
    #[arg(long)]
    pub pid: Option<u32>,

    /// The VM's name instead of its pid: a libvirt domain
    /// (/run/libvirt/qemu/NAME.pid) or a QEMU started with -name guest=NAME.
    #[arg(long, value_name = "NAME", conflicts_with = "pid")]
    pub domain: Option<String>,
}

impl Vm {
    /// The pid asked for: a name stands for its VMM's pid everywhere a pid
    /// is taken.
    pub fn pid(&self) -> Result<Option<u32>, String> {
        match &self.domain {
            Some(name) => names::pid_of(name).map(Some),
            None => Ok(self.pid),
        }
    }
}

/// How guest pages are looked up: faulted in or not, in which address
/// space.
#[derive(Args, Clone, Debug)]
pub struct Walk {
    /// Fault pages in (and allocate them) rather than report them not
    /// present; without it, asking never changes the VMM's memory.
    #[arg(long)]
    pub fault: bool,

    /// Memslot address space (1 is SMM on x86).
    #[arg(long = "as", value_name = "ID", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=1))]
    pub as_id: u8,
}

impl Walk {
    /// ` mode=fault as=1`, each only when asked for.
    pub fn options(&self) -> String {
        let mut o = String::new();
        if self.fault {
            o += " mode=fault";
        }
        if self.as_id != 0 {
            o += &format!(" as={}", self.as_id);
        }
        o
    }
}

/// ` pid=N`, when a VM was asked for.
fn pid_option(pid: Option<u32>) -> String {
    pid.map_or(String::new(), |pid| format!(" pid={pid}"))
}

/// The subcommands, each with its own options.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every VM: its VMM's pid, memslots, guest memory, and its name
    /// where one is found.
    #[command(after_help = VMS_EXAMPLES)]
    Vms {
        /// Print one JSON object per VM.
        #[arg(long)]
        json: bool,
    },
    /// List the VM's memslots (of both address spaces).
    #[command(after_help = SLOTS_EXAMPLES)]
    Slots {
        #[command(flatten)]
        vm: Vm,
        /// Print one JSON object per memslot.
        #[arg(long)]
        json: bool,
    },
    /// Map the VM's pages, runs merged: the ranges given, or every memslot;
    /// or draw the VM as SVG.
    #[command(after_help = MAP_EXAMPLES)]
    Map(Map),
    /// Tell which guest pages, of every VM or of one, are these host
    /// physical pages.
    #[command(after_help = HPA_EXAMPLES, mut_arg("pid", |a| a.help(EVERY_VM)))]
    Hpa(Hpa),
    /// Sum each VM's map up: memory by backing, level, NUMA node, sharing.
    #[command(after_help = STATS_EXAMPLES, mut_arg("pid", |a| a.help(EVERY_VM)))]
    Stats {
        #[command(flatten)]
        vm: Vm,
        /// Print one JSON object per VM.
        #[arg(long)]
        json: bool,
    },
    /// The summaries of `stats` as Prometheus text (node_exporter's
    /// textfile collector).
    #[command(after_help = METRICS_EXAMPLES, mut_arg("pid", |a| a.help(EVERY_VM)))]
    Metrics {
        #[command(flatten)]
        vm: Vm,
    },
    /// Why the VM is not huge: per memslot, how much KVM could map by
    /// 2 MiB and 1 GiB pages and what keeps the rest from it, beside what
    /// KVM maps.
    #[command(after_help = EXPLAIN_EXAMPLES, mut_arg("pid", |a| a.help(EVERY_VM)))]
    Explain {
        #[command(flatten)]
        vm: Vm,
        /// Print one JSON object per VM.
        #[arg(long)]
        json: bool,
    },
    /// Map the VM over and over and print what moved: frame, kind, NUMA
    /// node, sharing.
    #[command(after_help = WATCH_EXAMPLES)]
    Watch(Watch),
}

/// What `map` and `watch` walk: ranges, and how.
#[derive(Args, Clone, Debug)]
pub struct Pages {
    /// Guest physical ranges, START-END or START+PAGES (0x... addresses);
    /// none: every memslot of the VM.
    #[arg(value_name = "RANGE", value_parser = range)]
    pub ranges: Vec<String>,

    #[command(flatten)]
    pub walk: Walk,
}

impl Pages {
    /// The request that walks these pages of the VM of `pid`.
    pub fn request(&self, pid: Option<u32>) -> String {
        let what = if self.ranges.is_empty() {
            "all".to_string()
        } else {
            self.ranges.join(" ")
        };
        what + &pid_option(pid) + &self.walk.options()
    }
}

/// `map`'s options.
#[derive(Args, Clone, Debug)]
pub struct Map {
    #[command(flatten)]
    pub vm: Vm,

    #[command(flatten)]
    pub pages: Pages,

    /// Print one JSON object per reply line instead of the kernel's lines.
    #[arg(long)]
    pub json: bool,

    /// Draw the VM's guest physical address space (of `--as`) into this
    /// SVG file instead of printing the map: memslots, backing, NUMA node.
    /// The picture is of the whole VM as it is: no ranges, --fault or --json.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["ranges", "fault", "json"])]
    pub svg: Option<PathBuf>,
}

/// `hpa`'s options.
#[derive(Args, Clone, Debug)]
pub struct Hpa {
    /// Host physical addresses or ranges: 0x..., START-END or START+PAGES.
    #[arg(value_name = "ADDR|RANGE", required = true, value_parser = host)]
    pub addrs: Vec<String>,

    #[command(flatten)]
    pub vm: Vm,

    /// Print one JSON object per reply line instead of the kernel's lines.
    #[arg(long)]
    pub json: bool,
}

impl Hpa {
    /// The request that asks who maps these host pages (in the VM of `pid`).
    pub fn request(&self, pid: Option<u32>) -> String {
        let asked: Vec<String> = self.addrs.iter().map(|a| format!("hpa={a}")).collect();
        asked.join(" ") + &pid_option(pid)
    }
}

/// `watch`'s options.
#[derive(Args, Clone, Debug)]
pub struct Watch {
    #[command(flatten)]
    pub vm: Vm,

    #[command(flatten)]
    pub pages: Pages,

    /// Print one JSON object per change, and `{"round":K,"changes":N}`
    /// after each map but the first.
    #[arg(long)]
    pub json: bool,

    /// Seconds between maps.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = seconds)]
    pub interval: Duration,

    /// Stop after this many maps (default: never).
    #[arg(long, value_name = "MAPS")]
    pub count: Option<u64>,
}

/// The request that lists the memslots of the VM of `pid`.
pub fn slots_request(pid: Option<u32>) -> String {
    format!("slots{}", pid_option(pid))
}

/// The tokens `text` is made of, in the module's grammar.
fn tokens(text: &str) -> Vec<Token> {
    lines(text.as_bytes())
        .flat_map(|l| l.tokens().map(|(_, t)| t).collect::<Vec<_>>())
        .collect()
}

/// `map`'s and `watch`'s words: each one guest range, as the module reads
/// it, checked here so that a typo is not sent as a request of its own.
fn range(r: &str) -> Result<String, String> {
    match tokens(r).as_slice() {
        [Token::Range { .. }] => Ok(r.to_string()),
        _ => Err(format!(
            "'{r}' is not a range: write START-END or START+PAGES (0x... addresses)"
        )),
    }
}

/// `hpa`'s words: each one host address or range, as the module reads it.
fn host(r: &str) -> Result<String, String> {
    match tokens(&format!("hpa={r}")).as_slice() {
        [Token::Hpa { .. }] => Ok(r.to_string()),
        _ => Err(format!(
            "'{r}' is not a host address or range: write 0x..., START-END or START+PAGES"
        )),
    }
}

/// `--interval`: seconds, 0 or more, few enough for a `Duration` (which
/// sleeping needs).
fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|e| format!("{e}"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| "not a number of seconds".to_string())
}

/// `args` with the options written before a subcommand's name moved after
/// it: the command line was flat before subcommands had options of their
/// own, and `gfn_test --pid 4242 map` still means `gfn_test map --pid
/// 4242` (which then refuses an option that `map` does not take).
pub fn hoisted(mut args: Vec<OsString>) -> Vec<OsString> {
    let mut cmd = Cli::command();
    cmd.build();
    let mut i = 1;
    while let Some(word) = args.get(i).and_then(|a| a.to_str()) {
        if cmd.find_subcommand(word).is_some() {
            args[1..=i].rotate_right(1);
            break;
        }
        i += match word.strip_prefix("--") {
            // `--`: only addresses follow.
            Some("") => break,
            Some(long) if takes_value(&cmd, long) => 2,
            _ if word.starts_with('-') && word != "-" => 1,
            // An address or a pid: the seed form.
            _ => break,
        };
    }
    args
}

/// Whether `--long` (without `=VALUE`) takes the next word as its value,
/// at the top level or in any subcommand.
fn takes_value(cmd: &clap::Command, long: &str) -> bool {
    std::iter::once(cmd)
        .chain(cmd.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .any(|a| a.get_long() == Some(long) && a.get_action().takes_values())
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

/// Sorts the seed form's words: a last bare decimal word is the pid (which
/// must agree with `pid`, the one given by option, if any).
pub fn plan(words: &[String], pid: Option<u32>) -> Result<Plan, String> {
    let mut words = words;
    let mut pid = pid;
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
    use clap::error::ErrorKind;

    /// `gfn_test ARGS` parsed as `main` parses it.
    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let argv = std::iter::once("gfn_test").chain(args.iter().copied());
        Cli::try_parse_from(hoisted(argv.map(OsString::from).collect()))
    }

    fn cli(args: &[&str]) -> Cli {
        parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// How `gfn_test ARGS` is refused.
    fn refusal(args: &[&str]) -> ErrorKind {
        let e = parse(args).expect_err(&format!("{args:?} parsed"));
        assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        e.kind()
    }

    fn plan_of(args: &[&str]) -> Result<Plan, String> {
        let cli = parse(args).map_err(|e| e.to_string())?;
        assert!(cli.command.is_none(), "{args:?} parsed as a subcommand");
        plan(&cli.words, cli.vm.pid)
    }

    fn help(args: &[&str]) -> String {
        let e = parse(args).expect_err("--help parsed");
        assert_eq!(e.kind(), ErrorKind::DisplayHelp);
        e.to_string()
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
        let c = cli(&["--json", "--fault", "--as", "1", "0x1234", "4242"]);
        assert!(c.json && c.walk.fault && c.walk.as_id == 1);
        assert_eq!(c.walk.options(), " mode=fault as=1");
        let c = cli(&["--domain", "web1", "0x1234"]);
        assert_eq!(
            (c.vm.domain.as_deref(), &c.words[..]),
            (Some("web1"), &["0x1234".to_string()][..])
        );
        // A domain named like a subcommand is a name all the same.
        let c = cli(&["--domain", "map", "0x1"]);
        assert!(c.command.is_none() && c.vm.domain.as_deref() == Some("map"));
        // A subcommand's name after an address is an (invalid) address.
        assert!(plan_of(&["0x1234", "map"]).is_err());
        assert_eq!(
            refusal(&["--pid", "1", "--domain", "x", "0x1"]),
            ErrorKind::ArgumentConflict
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
        assert!(plan_of(&["--pid", "42", "--", "-"]).unwrap().stdin);
        assert_eq!(addrs_in("0x1 0x2,0x3\n 0x4\n").unwrap(), [1, 2, 3, 4]);
        assert!(addrs_in("0x1 zz").is_err());
    }

    /// The request a subcommand's command line sends.
    fn request(args: &[&str]) -> String {
        match cli(args).command {
            Some(Command::Slots { vm, .. }) => slots_request(vm.pid),
            Some(Command::Map(m)) => m.pages.request(m.vm.pid),
            Some(Command::Watch(w)) => w.pages.request(w.vm.pid),
            Some(Command::Hpa(h)) => h.request(h.vm.pid),
            c => panic!("{args:?}: {c:?} sends no request of its own"),
        }
    }

    #[test]
    fn subcommands() {
        assert!(matches!(
            cli(&["vms"]).command,
            Some(Command::Vms { json: false })
        ));
        assert_eq!(request(&["slots", "--pid", "7"]), "slots pid=7");
        assert_eq!(request(&["slots"]), "slots");
        assert_eq!(
            request(&["map", "--pid", "7", "--fault", "--as", "1"]),
            "all pid=7 mode=fault as=1"
        );
        assert_eq!(
            request(&["map", "0x0-0x2000", "0x1000+3"]),
            "0x0-0x2000 0x1000+3"
        );
        assert_eq!(
            request(&["watch", "0x0-0x2000", "--as", "1"]),
            "0x0-0x2000 as=1"
        );
        assert_eq!(
            request(&["hpa", "0x1f5f0080", "0x1000+4", "--pid", "7"]),
            "hpa=0x1f5f0080 hpa=0x1000+4 pid=7"
        );
        for bad in [
            &["map", "0x1000"][..],
            &["map", "0x2000-0x1000"],
            &["watch", "0x1000", "--count", "2"],
            &["hpa", "1234"],
            &["hpa", "0x2000-0x1000"],
            &["hpa", "0x1 0x2"],
        ] {
            assert_eq!(refusal(bad), ErrorKind::ValueValidation, "{bad:?}");
        }
        let e = parse(&["map", "0x1000"]).unwrap_err().to_string();
        assert!(
            e.contains("'0x1000' is not a range: write START-END or START+PAGES"),
            "{e}"
        );
        assert_eq!(refusal(&["hpa"]), ErrorKind::MissingRequiredArgument);
        for extra in [
            &["vms", "7"][..],
            &["stats", "0x1"],
            &["metrics", "x"],
            &["slots", "7"],
        ] {
            assert_eq!(refusal(extra), ErrorKind::UnknownArgument, "{extra:?}");
        }
        assert!(cli(&["0x1000", "7"]).command.is_none());
        assert_eq!(refusal(&["--as", "2", "map"]), ErrorKind::ValueValidation);
    }

    #[test]
    fn watch_interval() {
        let Some(Command::Watch(w)) = cli(&["watch"]).command else {
            panic!("not watch");
        };
        assert_eq!((w.interval, w.count), (Duration::from_secs(1), None));
        let Some(Command::Watch(w)) = cli(&["watch", "--interval", "0.2", "--count", "3"]).command
        else {
            panic!("not watch");
        };
        assert_eq!((w.interval, w.count), (Duration::from_millis(200), Some(3)));
        for bad in ["nan", "inf", "1e30", "x", "-1"] {
            assert!(parse(&["watch", "--interval", bad]).is_err(), "{bad}");
        }
    }

    /// Every option a subcommand could be given, with a value if it takes one.
    const OPTIONS: [&[&str]; 8] = [
        &["--pid", "1"],
        &["--domain", "d"],
        &["--json"],
        &["--fault"],
        &["--as", "1"],
        &["--svg", "x.svg"],
        &["--interval", "2"],
        &["--count", "3"],
    ];

    /// Each subcommand (with a word it needs) and the options it takes.
    const OWN: [(&[&str], &[&str]); 8] = [
        (&["vms"], &["--json"]),
        (&["slots"], &["--pid", "--domain", "--json"]),
        (
            &["map"],
            &["--pid", "--domain", "--json", "--fault", "--as", "--svg"],
        ),
        (&["hpa", "0x1000"], &["--pid", "--domain", "--json"]),
        (&["stats"], &["--pid", "--domain", "--json"]),
        (&["metrics"], &["--pid", "--domain"]),
        (&["explain"], &["--pid", "--domain", "--json"]),
        (
            &["watch"],
            &[
                "--pid",
                "--domain",
                "--json",
                "--fault",
                "--as",
                "--interval",
                "--count",
            ],
        ),
    ];

    #[test]
    fn each_subcommand_has_its_own_help() {
        let top = help(&["--help"]);
        for name in [
            "vms", "slots", "map", "hpa", "stats", "metrics", "explain", "watch",
        ] {
            assert!(top.contains(&format!("\n  {name} ")), "{name} not in {top}");
        }
        assert!(top.contains("gfn_test 0x1234 4242") && top.contains("Exit status:"));
        for (sub, own) in OWN {
            let page = help(&[sub[0], "--help"]);
            assert_ne!(page, top);
            assert_eq!(page, help(&["help", sub[0]]));
            assert!(
                page.contains(&format!("Usage: gfn_test {}", sub[0])),
                "{page}"
            );
            assert!(
                page.contains(&format!("gfn_test {} ", sub[0])),
                "no example in {page}"
            );
            for opt in OPTIONS.map(|o| o[0]) {
                let shown = page.contains(&format!("{opt} ")) || page.contains(&format!("{opt}\n"));
                assert_eq!(
                    shown,
                    own.contains(&opt),
                    "{opt} in {}'s help:\n{page}",
                    sub[0]
                );
            }
        }
    }

    #[test]
    fn options_that_do_not_apply_are_refused() {
        for (sub, own) in OWN {
            for opt in OPTIONS {
                let args = [sub, opt].concat();
                if own.contains(&opt[0]) {
                    cli(&args);
                } else {
                    assert_eq!(refusal(&args), ErrorKind::UnknownArgument, "{args:?}");
                    // Before the subcommand's name as well.
                    let before = [opt, sub].concat();
                    assert_eq!(refusal(&before), ErrorKind::UnknownArgument, "{before:?}");
                }
            }
        }
        for args in [
            &["--svg", "x", "0x1000"][..],
            &["--interval", "2", "0x1000"],
        ] {
            assert_eq!(refusal(args), ErrorKind::UnknownArgument, "{args:?}");
        }
        // A picture is of the whole VM as it is, and not JSON.
        for args in [
            &["map", "--svg", "x", "--json"][..],
            &["map", "--svg", "x", "--fault"],
            &["map", "--svg", "x", "0x0-0x1000"],
        ] {
            assert_eq!(refusal(args), ErrorKind::ArgumentConflict, "{args:?}");
        }
    }

    #[test]
    fn options_before_the_subcommand() {
        let Some(Command::Map(m)) = cli(&["--pid", "4242", "--json", "map", "0x0+1"]).command
        else {
            panic!("not map");
        };
        assert!(m.json && m.vm.pid == Some(4242) && m.pages.ranges == ["0x0+1"]);
        let Some(Command::Stats { vm, json: true }) =
            cli(&["--domain=web1", "--json", "stats"]).command
        else {
            panic!("not stats --json");
        };
        assert_eq!(vm.domain.as_deref(), Some("web1"));
        assert!(matches!(
            cli(&["--interval", "2", "watch"]).command,
            Some(Command::Watch(_))
        ));
    }

    /// The command lines the guest suite and the demo run.
    #[test]
    fn suite_forms() {
        for args in [
            &["metrics"][..],
            &["metrics", "--domain", "demo"],
            &["map", "--pid", "7", "--svg", "/tmp/x.svg"],
            &["map", "--domain", "demo", "--svg", "/tmp/x.svg"],
            &["0x3ff080", "7"],
            &["vms"],
            &["--domain", "demo", "0x1000"],
            &["hpa", "0x1000"],
            &["stats", "--json", "--pid", "7"],
            &["stats"],
            &["stats", "--pid", "7"],
            &["stats", "--domain", "demo"],
            &["watch", "--json", "--interval", "0.2", "--pid", "7"],
            &["watch", "--pid", "7", "--interval", "0.5"],
            &["--json", "--pid", "7", "0x100123", "0x5ff456"],
            &["--json", "0x7ff00000000", "7"],
            &["slots", "--json", "--pid", "7"],
            &["slots", "--pid", "7"],
            &["map", "--pid", "7", "0x200000-0x600000"],
            &["map", "--json", "--pid", "7"],
            &["map", "--pid", "4194304"],
        ] {
            cli(args);
        }
        for args in [
            &["metrics", "--json"][..],
            &["map", "--svg", "/tmp/x.svg", "--json"],
            &["--svg", "/tmp/x.svg", "0x1000"],
            &["stats", "--svg", "/tmp/x.svg"],
        ] {
            refusal(args);
        }
    }

    #[test]
    fn bad_words() {
        assert!(plan_of(&["1234", "0x1"]).is_err());
        assert!(plan_of(&["0xzz"]).is_err());
        assert!(plan_of(&["0x1", "99999999999"]).is_err());
        assert!(plan_of(&["--json", "0x10000000000000000"]).is_err());
    }
}
