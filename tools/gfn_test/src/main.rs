// SPDX-License-Identifier: GPL-2.0
//! gfn_test: the host client of gfn_to_pfn.  Sends guest physical
//! addresses to `/proc/gfn_to_pfn` and prints the module's reply, as the
//! seed's client did (`Kernel reply: ...`), or as JSON; `vms`, `slots` and
//! `map` list VMs, memslots and whole-VM maps, streamed as they are read;
//! `hpa` tells which guest pages are given host pages; `stats` sums each
//! VM's map up, `metrics` as Prometheus text; `map --svg` draws a VM;
//! `watch` tells what moves.

mod args;
mod explain;
mod progress;

use clap::Parser;
use gfn_client::json::JsonReply;
use gfn_client::metrics::{self, VmMetrics};
use gfn_client::names;
use gfn_client::stats::VmStats;
use gfn_client::svg::{self, Picture, SlotSpan};
use gfn_client::watch::{diff, Map};
use gfn_client::{query, query_bin_each, requests, KvmMaps, Reason, Reply};
use progress::Progress;
use std::io::Write;
use std::io::{IsTerminal, Read};
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

/// The progress of `map` of the VM of `pid`, shown only when the map
/// itself does not go to the terminal.
fn map_progress(pid: Option<u32>) -> Progress {
    let what = match pid {
        Some(pid) => format!("pid {pid}"),
        None => "the first VM".into(),
    };
    Progress::new(&what, !std::io::stdout().is_terminal())
}

/// One reply of `vms`, `slots`, `map` or `hpa` as printed: the module's
/// text line (a descending run with its `step=-1`) or a JSON object (with
/// `"step": -1`), with the VM's `name`, where one is found, for `vms`
/// (parsers ignore the field they do not know).
fn reply_line(reply: &Reply, json: bool, name: Option<&str>) -> String {
    if json {
        let mut v = serde_json::to_value(JsonReply::from(reply)).unwrap_or_default();
        if let (Some(name), Some(o)) = (name, v.as_object_mut()) {
            o.insert("name".into(), name.into());
        }
        v.to_string()
    } else {
        match name {
            Some(name) => format!("{reply} name={name}"),
            None => reply.to_string(),
        }
    }
}

/// Runs `request` for `vms`, `slots`, `map` or `hpa`: fails only when a
/// request as a whole failed (no such VM); unmapped pages are part of a
/// map.  The module answers in binary records (`format=bin`), printed here
/// as its own text lines or as JSON; a frame list comes as its pages, so
/// it is printed as an `ok` line (object) per page, which any reader of
/// `ok` lines reads.
fn run_sub(request: &str, json: bool, mut progress: Option<Progress>) -> Result<bool, String> {
    let mut ok = true;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    query_bin_each(request, |reply| {
        use std::io::Write;
        if let Some(p) = &mut progress {
            p.add(&reply);
        }
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
        // `vms`: each VM's name, where one is found.
        let name = match reply {
            Reply::Vm { pid, .. } => names::name_of(pid),
            _ => None,
        };
        let line = reply_line(&reply, json, name.as_deref());
        writeln!(out, "{line}").map_err(|e| gfn_client::ClientError::Io("print", e))
    })
    .map_err(|e| e.to_string())?;
    if let Some(p) = &mut progress {
        // What was printed comes before the progress line's last figures.
        out.flush().map_err(|e| e.to_string())?;
        p.done();
    }
    Ok(ok)
}

/// A VM to summarize: its VMM, memslot count and what KVM maps of it.
#[derive(Clone, Copy)]
struct ListedVm {
    pid: u32,
    slots: u32,
    kvm: Option<KvmMaps>,
}

/// The VMs to summarize: `want`'s, or every VM the module lists (a VMM
/// with several VMs: its first); none is an error unless `none_is_ok`.
fn vm_list(want: Option<u32>, none_is_ok: bool) -> Result<Vec<ListedVm>, String> {
    let mut vms: Vec<ListedVm> = Vec::new();
    query_bin_each("vms", |r| {
        if let Reply::Vm {
            pid, slots, kvm, ..
        } = r
        {
            if want.is_none_or(|p| p == pid) && !vms.iter().any(|v| v.pid == pid) {
                vms.push(ListedVm { pid, slots, kvm });
            }
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    match (vms.is_empty(), want) {
        (true, Some(pid)) => Err(format!("no VM of pid {pid}")),
        (true, None) if !none_is_ok => Err("no VM to summarize".into()),
        _ => Ok(vms),
    }
}

/// Maps address space `as_id` of the VM of `pid` whole, as binary
/// records, into its summary (with its name), handing each reply to `also`
/// too; false when the module refused the map.
fn map_stats(pid: u32, as_id: u8, mut also: impl FnMut(&Reply)) -> Result<(VmStats, bool), String> {
    let mut stats = VmStats::new(pid);
    stats.name = names::name_of(pid);
    let mut ok = true;
    let mut progress = Progress::new(&format!("pid {pid}"), true);
    let start = std::time::Instant::now();
    query_bin_each(&format!("all pid={pid} as={as_id}"), |r| {
        if let Reply::TokenErr { reason, .. } = r {
            ok = false;
            eprintln!("gfn_test: VM of pid {pid}: {}", reason.as_str());
        }
        progress.add(&r);
        stats.add(&r);
        also(&r);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    progress.done();
    stats.finish(start.elapsed().as_millis() as u64);
    Ok((stats, ok))
}

/// `stats`: maps each VM (every VM, or `pid`'s) as binary records and
/// prints its summary, as text blocks or one JSON object per VM.
fn run_stats(pid: Option<u32>, json: bool) -> Result<bool, String> {
    let mut ok = true;
    for (i, vm) in vm_list(pid, false)?.into_iter().enumerate() {
        let (mut stats, mapped) = map_stats(vm.pid, 0, |_| {})?;
        stats.kvm = vm.kvm.map(Into::into);
        ok &= mapped;
        if json {
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

/// `metrics`: the summaries of `stats` as Prometheus text (see
/// `gfn_client::metrics`), printed once every VM is mapped.
fn run_metrics(pid: Option<u32>) -> Result<bool, String> {
    let mut all = Vec::new();
    // A host without VMs is `gfn_vms 0`, not an error: a timer then
    // still replaces the last file.  A VM gone while it was being mapped
    // is left out (its reason went to stderr).
    for vm in vm_list(pid, pid.is_none())? {
        let (mut stats, mapped) = map_stats(vm.pid, 0, |_| {})?;
        stats.kvm = vm.kvm.map(Into::into);
        if mapped {
            all.push((stats, vm.slots));
        }
    }
    let vms: Vec<VmMetrics> = all
        .iter()
        .map(|(stats, memslots)| VmMetrics {
            stats,
            memslots: *memslots,
        })
        .collect();
    print!("{}", metrics::render(&vms));
    Ok(true)
}

/// `explain`: why each VM (every VM, or `pid`'s) is not huge, as text
/// blocks or one JSON object per VM.  Of every VM, one that goes away
/// meanwhile is left out, with a line on stderr (and exit status 1).
fn run_explain(pid: Option<u32>, json: bool) -> Result<bool, String> {
    let host = explain::host();
    let mut ok = true;
    let mut printed = 0;
    for vm in vm_list(pid, false)? {
        let report = match explain::explain(vm.pid, vm.kvm, &host) {
            Ok(r) => r,
            Err(e) if pid.is_none() => {
                eprintln!("gfn_test: {e}");
                ok = false;
                continue;
            }
            Err(e) => return Err(e),
        };
        if json {
            println!(
                "{}",
                serde_json::to_string(&report).map_err(|e| e.to_string())?
            );
        } else {
            print!("{}{report}", if printed > 0 { "\n" } else { "" });
        }
        printed += 1;
    }
    Ok(ok)
}

/// `map --svg FILE`: one VM's address space `as_id` drawn as SVG from its
/// memslots and its whole map; prints where it went and what it shows.
fn run_svg(file: &std::path::Path, pid: Option<u32>, as_id: u8) -> Result<bool, String> {
    let pid = vm_list(pid, false)?[0].pid;
    let mut spans = Vec::new();
    query_bin_each(&format!("slots pid={pid}"), |r| {
        if let Reply::Slot {
            as_id: slot_as,
            id,
            gpa,
            size,
            ..
        } = r
        {
            if slot_as == as_id {
                spans.push(SlotSpan { id, gpa, size });
            }
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let mut picture = Picture::new(&spans);
    let (stats, ok) = map_stats(pid, as_id, |r| picture.add(r))?;
    let name = stats
        .name
        .as_ref()
        .map_or(String::new(), |n| format!(" ({n})"));
    let title = format!(
        "VM of pid {pid}{name}: {} in {} memslots of address space {}, mapped in {} ms",
        svg::size(stats.pages * 4096),
        spans.len(),
        as_id,
        stats.map_ms
    );
    let svg = picture.render(&title);
    std::fs::write(file, &svg).map_err(|e| format!("{}: {e}", file.display()))?;
    println!(
        "{}: {} bytes, {} KiB of guest memory per column",
        file.display(),
        svg.len(),
        picture.bytes_per_column() >> 10
    );
    Ok(ok)
}

/// `watch`: maps `request` every `--interval` seconds and prints the runs
/// that changed since the previous map (one line each, or one JSON object;
/// with `--json`, each map after the first also ends with
/// `{"round":K,"changes":N}`).
fn run_watch(request: &str, w: &args::Watch) -> Result<bool, String> {
    let mut out = std::io::stdout().lock();
    let mut prev: Option<Map> = None;
    let mut round = 0;
    while w.count.is_none_or(|c| round < c) {
        if round > 0 {
            std::thread::sleep(w.interval);
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
                let line = if w.json {
                    serde_json::to_string(c).map_err(|e| e.to_string())?
                } else {
                    c.to_string()
                };
                writeln!(out, "{line}").map_err(|e| e.to_string())?;
            }
            if w.json {
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

/// Runs a subcommand, with the VM it names (by pid or by name).
fn run_command(command: &args::Command) -> Result<bool, String> {
    use args::Command as C;
    match command {
        C::Vms { json } => run_sub("vms", *json, None),
        C::Slots { vm, json } => run_sub(&args::slots_request(vm.pid()?), *json, None),
        C::Map(m) => {
            let pid = m.vm.pid()?;
            match &m.svg {
                Some(file) => run_svg(file, pid, m.pages.walk.as_id),
                None => run_sub(&m.pages.request(pid), m.json, Some(map_progress(pid))),
            }
        }
        C::Hpa(h) => run_sub(&h.request(h.vm.pid()?), h.json, None),
        C::Stats { vm, json } => run_stats(vm.pid()?, *json),
        C::Metrics { vm } => run_metrics(vm.pid()?),
        C::Explain { vm, json } => run_explain(vm.pid()?, *json),
        C::Watch(w) => run_watch(&w.pages.request(w.vm.pid()?), w),
    }
}

/// The seed's form: translates the addresses of the words, or of stdin.
fn run_seed(cli: &args::Cli) -> Result<bool, String> {
    let mut plan = args::plan(&cli.words, cli.vm.pid()?)?;
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
    let opts = cli.walk.options();
    for request in requests(&plan.addrs, plan.pid) {
        for reply in query(&(request + &opts)).map_err(|e| e.to_string())? {
            all_ok &= matches!(reply, Reply::Ok(_));
            print(&reply, cli.json, "Kernel reply: ")?;
        }
    }
    Ok(all_ok)
}

fn main() -> ExitCode {
    let cli = args::Cli::parse_from(args::hoisted(std::env::args_os().collect()));
    let result = match &cli.command {
        Some(command) => run_command(command),
        None => run_seed(&cli),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("gfn_test: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gfn_client::query::parse_reply;

    #[test]
    fn printed_lines_keep_the_way_frames_go() {
        let down = "ok phys=0x9000 kind=base gpa=0x200000 hva=0x1200000 pid=7 size=4096 \
                    order=0 node=0 slot=0 as=0 share=none map=pte step=-1 pages=3";
        let list = "list kind=base gpa=0x203000 hva=0x1203000 pid=7 size=4096 order=0 \
                    node=0 slot=0 as=0 share=none map=pte frames=1f,4";
        let replies = parse_reply(&format!("{down}\n{list}\n")).unwrap();
        let text: Vec<String> = replies.iter().map(|r| reply_line(r, false, None)).collect();
        assert_eq!(
            text,
            [
                down.to_string(),
                "ok phys=0x1f000 kind=base gpa=0x203000 hva=0x1203000 pid=7 size=4096 order=0 \
                 node=0 slot=0 as=0 share=none map=pte"
                    .into(),
                "ok phys=0x4000 kind=base gpa=0x204000 hva=0x1204000 pid=7 size=4096 order=0 \
                 node=0 slot=0 as=0 share=none map=pte"
                    .into(),
            ]
        );
        // What is printed reads back as it was.
        assert_eq!(parse_reply(&text.join("\n")).unwrap(), replies);
        let json: Vec<serde_json::Value> = replies
            .iter()
            .map(|r| serde_json::from_str(&reply_line(r, true, None)).unwrap())
            .collect();
        assert_eq!(
            (json[0]["step"].as_i64(), json[0]["pfn"].as_u64()),
            (Some(-1), Some(9))
        );
        assert!(json[1].get("step").is_none() && json[2]["pfn"] == 4);
        let vm = parse_reply("vm pid=7 slots=1 memory=4096").unwrap();
        assert_eq!(
            reply_line(&vm[0], false, Some("web")),
            "vm pid=7 slots=1 memory=4096 name=web"
        );
        let v: serde_json::Value =
            serde_json::from_str(&reply_line(&vm[0], true, Some("web"))).unwrap();
        assert_eq!(v["name"], "web");
    }
}
