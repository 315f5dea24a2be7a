//! gfn_test: the host client of gfn_to_pfn.  Sends guest physical
//! addresses to `/proc/gfn_to_pfn` and prints the module's reply, as the
//! seed's client did (`Kernel reply: ...`), or as JSON; `vms`, `slots` and
//! `map` list VMs, memslots and whole-VM maps, streamed as they are read;
//! `hpa` tells which guest pages are given host pages; `stats` sums each
//! VM's map up.

mod args;

use clap::Parser;
use gfn_client::json::JsonReply;
use gfn_client::names;
use gfn_client::stats::VmStats;
use gfn_client::watch::{diff, Map};
use gfn_client::{query, query_bin_each, requests, Reason, Reply};
use std::io::Read;
use std::io::Write;
use std::process::ExitCode;

/// Prints one reply line, as the kernel wrote it or as JSON.
fn print(reply: &Reply, json: bool, prefix: &str) -> Result<(), String> {
    if json {
        let v = serde_json::to_string(&JsonReply::from(reply)).map_err(|e| e.to_string())?;
        println!("{v}");
    } else {
        println!("{prefix}{reply}");
    }
    Ok(())
}

/// Runs `vms`, `slots` or `map`: fails only when a request as a whole
/// failed (no such VM); unmapped pages are part of a map.  The module
/// answers in binary records (`format=bin`), printed here as its own text
/// lines or as JSON.
fn run_sub(sub: &args::Sub, cli: &args::Cli) -> Result<bool, String> {
    let mut ok = true;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    query_bin_each(&args::sub_request(sub, cli), |reply| {
        use std::io::Write;
        ok &= match reply {
            Reply::TokenErr { .. } => false,
            Reply::AddrErr { reason, .. } => {
                matches!(
                    reason,
                    Reason::NotPresent | Reason::NoMemslot | Reason::NoVma | Reason::Pfnmap
                )
            }
            _ => true,
        };
        // `vms`: each VM's name, where one is found (parsers ignore the
        // field they do not know).
        let name = match reply {
            Reply::Vm { pid, .. } => names::name_of(pid),
            _ => None,
        };
        let line = if cli.json {
            let mut v = serde_json::to_value(JsonReply::from(&reply)).unwrap_or_default();
            if let (Some(name), Some(o)) = (&name, v.as_object_mut()) {
                o.insert("name".into(), name.clone().into());
            }
            v.to_string()
        } else {
            match &name {
                Some(name) => format!("{reply} name={name}"),
                None => reply.to_string(),
            }
        };
        writeln!(out, "{line}").map_err(|e| gfn_client::ClientError::Io("print", e))
    })
    .map_err(|e| e.to_string())?;
    Ok(ok)
}

/// `stats`: maps each VM (every VM, or `--pid`'s) as binary records and
/// prints its summary, as text blocks or one JSON object per VM.
fn run_stats(cli: &args::Cli) -> Result<bool, String> {
    let pids = match cli.pid {
        Some(pid) => vec![pid],
        None => {
            let mut pids = Vec::new();
            query_bin_each("vms", |r| {
                if let Reply::Vm { pid, .. } = r {
                    pids.push(pid);
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
            if pids.is_empty() {
                return Err("no VM to summarize".into());
            }
            pids
        }
    };
    let mut ok = true;
    for (i, pid) in pids.iter().enumerate() {
        let mut stats = VmStats::new(*pid);
        stats.name = names::name_of(*pid);
        let start = std::time::Instant::now();
        query_bin_each(&format!("all pid={pid}"), |r| {
            if let Reply::TokenErr { reason, .. } = r {
                ok = false;
                eprintln!("gfn_test: VM of pid {pid}: {}", reason.as_str());
            }
            stats.add(&r);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        stats.finish(start.elapsed().as_millis() as u64);
        if cli.json {
            println!(
                "{}",
                serde_json::to_string(&stats).map_err(|e| e.to_string())?
            );
        } else {
            println!("{}{stats}", if i > 0 { "\n" } else { "" });
        }
    }
    Ok(ok)
}

/// `watch`: maps `request` every `--interval` seconds and prints the runs
/// that changed since the previous map (one line each, or one JSON object;
/// with `--json`, each map after the first also ends with
/// `{"round":K,"changes":N}`).
fn run_watch(request: &str, cli: &args::Cli) -> Result<bool, String> {
    if !(cli.interval >= 0.0 && cli.interval.is_finite()) {
        return Err(format!(
            "--interval {}: not a number of seconds",
            cli.interval
        ));
    }
    let mut out = std::io::stdout().lock();
    let mut prev: Option<Map> = None;
    let mut round = 0;
    while cli.count.is_none_or(|c| round < c) {
        if round > 0 {
            std::thread::sleep(std::time::Duration::from_secs_f64(cli.interval));
        }
        let mut map = Map::default();
        let mut failed = None;
        query_bin_each(request, |r| {
            if let Reply::TokenErr { reason, .. } = r {
                failed = Some(reason);
            }
            map.add(&r);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        if let Some(reason) = failed {
            return Err(format!("{request}: {}", reason.as_str()));
        }
        if let Some(prev) = &prev {
            let changes = diff(prev, &map);
            for c in &changes {
                let line = if cli.json {
                    serde_json::to_string(c).map_err(|e| e.to_string())?
                } else {
                    c.to_string()
                };
                writeln!(out, "{line}").map_err(|e| e.to_string())?;
            }
            if cli.json {
                writeln!(out, "{{\"round\":{round},\"changes\":{}}}", changes.len())
                    .map_err(|e| e.to_string())?;
            }
            out.flush().map_err(|e| e.to_string())?;
        }
        prev = Some(map);
        round += 1;
    }
    Ok(true)
}

fn run(cli: &args::Cli) -> Result<bool, String> {
    // A name stands for its VMM's pid everywhere a pid is taken.
    let named;
    let cli = match &cli.domain {
        Some(name) => {
            named = args::Cli {
                pid: Some(names::pid_of(name)?),
                domain: None,
                ..cli.clone()
            };
            &named
        }
        None => cli,
    };
    if let Some(sub) = args::sub(cli)? {
        if sub == args::Sub::Stats {
            return run_stats(cli);
        }
        if let args::Sub::Watch(_) = sub {
            return run_watch(&args::sub_request(&sub, cli), cli);
        }
        return run_sub(&sub, cli);
    }
    let mut plan = args::plan(cli)?;
    if plan.stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("stdin: {e}"))?;
        plan.addrs = args::addrs_in(&text)?;
        if plan.addrs.is_empty() {
            return Err("no addresses given (see --help)".into());
        }
    }
    let mut all_ok = true;
    let opts = args::options(&args::Cli {
        pid: None,
        ..cli.clone()
    });
    for request in requests(&plan.addrs, plan.pid) {
        for reply in query(&(request + &opts)).map_err(|e| e.to_string())? {
            all_ok &= matches!(reply, Reply::Ok(_));
            print(&reply, cli.json, "Kernel reply: ")?;
        }
    }
    Ok(all_ok)
}

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("gfn_test: {e}");
            ExitCode::from(2)
        }
    }
}
