// SPDX-License-Identifier: GPL-2.0
//! The userspace tools in the seed's workflow: gfn_test translates what the
//! guest wrote, reader finds the value at the reported host address, and
//! writer's printed address holds its value.

use crate::check::{self, ensure};
use crate::facility;
use crate::module::output;
use crate::oracle;
use crate::runner::Outcome;
use crate::vmm::Vmm;
use gfn_client::phys;
use gfn_proto::reply::{parse_line, Kind, Reply};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Seed workflow with the test VMM: vCPU writes, gfn_test translates
/// (seed form `ADDR PID`), reader prints the value at the reported address.
/// reader reads /dev/mem, or /proc/kcore where the kernel refuses RAM
/// there; `--verbose` must name the source the suite's own probe finds
/// (`facility::ram_reader`), and `--source` the other one must answer the
/// same value or refuse naming what to change.  Where the kernel refuses
/// both, the test skips after checking gfn_test's translation.
pub fn gfn_test_then_reader() -> Result<(), Outcome> {
    let vmm = Vmm::start(&["--slot", "thp:2M@0x200000", "--write", "0x3ff080=0x5d"])?;
    let (ok, text) = output("gfn_test", &["0x3ff080", &vmm.pid.to_string()])?;
    ensure(ok, || format!("gfn_test failed: {text}"))?;
    let line = text
        .strip_prefix("Kernel reply: ")
        .ok_or_else(|| format!("gfn_test printed {text:?}"))?;
    let Ok(Reply::Ok(t)) = parse_line(line.trim_end()) else {
        return Err(format!("gfn_test printed {text:?}").into());
    };
    check::translation(&vmm, 0x3ff080, &t, Kind::Thp, 2 << 20)?;
    let source = match facility::ram_reader("reader") {
        Ok(source) => source,
        Err(skip) => {
            vmm.stop()?;
            println!("     gfn_test's translation checked; reader cannot read it here");
            return Err(skip);
        }
    };
    let phys = format!("{:#x}", t.phys);
    // The plain call: the value alone on stdout, nothing on stderr.
    let plain = reader(&[&phys])?;
    ensure(
        plain.ok && plain.stdout == "93\n" && plain.stderr.is_empty(),
        || format!("reader {phys}: {plain:?}, want 93"),
    )?;
    let wide = reader(&["--width", "4", "--hex", &phys])?;
    ensure(wide.ok && wide.stdout == "0x5d\n", || {
        format!("reader --width 4 --hex {phys}: {wide:?}")
    })?;
    let told = reader_through(source, &phys)?;
    ensure(told == "93", || {
        format!("reader --verbose {phys} printed {told:?}, want 93")
    })?;
    // The source auto did not take, asked for by name.
    let (other, arg, change) = match source {
        phys::Source::DevMem => (phys::KCORE, "kcore", ["CONFIG_PROC_KCORE", "lockdown"]),
        phys::Source::Kcore => (phys::DEVMEM, "devmem", ["CONFIG_STRICT_DEVMEM", "lockdown"]),
    };
    let asked = reader(&["--source", arg, &phys])?;
    if asked.ok {
        ensure(asked.stdout == "93\n", || {
            format!("reader --source {arg} {phys}: {asked:?}, want 93")
        })?;
        println!("     reader read 93 at {phys} through {source}, and through {other} asked for");
    } else {
        ensure(
            asked.stdout.is_empty()
                && asked.stderr.lines().count() == 1
                && change.iter().any(|c| asked.stderr.contains(c)),
            || {
                format!("reader --source {arg} {phys} failed without naming one of {change:?}: {asked:?}")
            },
        )?;
        println!(
            "     reader read 93 at {phys} through {source}; {other} refuses: {}",
            asked.stderr.trim_end()
        );
    }
    Ok(vmm.stop()?)
}

/// What one run of `reader` did.
#[derive(Debug)]
struct ReaderRun {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn reader(args: &[&str]) -> Result<ReaderRun, String> {
    let out = Command::new("reader")
        .args(args)
        .output()
        .map_err(|e| format!("reader: {e}"))?;
    Ok(ReaderRun {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The value `reader --verbose` prints at `phys`, after checking that it
/// says it read through `source` (the suite's probe of this kernel).
fn reader_through(source: phys::Source, phys: &str) -> Result<String, String> {
    let run = reader(&["--verbose", phys])?;
    let want = format!("reader: read {phys} through {source}");
    ensure(
        run.ok && run.stderr.lines().count() == 1 && run.stderr.starts_with(&want),
        || format!("reader --verbose {phys}: {run:?}, want stderr {want:?}"),
    )?;
    Ok(run.stdout.trim_end().to_string())
}

/// `gfn_test --json`, field by field against the pagemap oracle; exit
/// status 1 when an address fails.
pub fn gfn_test_json() -> Result<(), String> {
    let vmm = Vmm::start(&[
        "--slot",
        "anon:2M@0x100000",
        "--slot",
        "hugetlb:2M@0x400000",
    ])?;
    let pid = vmm.pid.to_string();
    let (ok, text) = output(
        "gfn_test",
        &["--json", "--pid", &pid, "0x100123", "0x5ff456"],
    )?;
    ensure(ok, || format!("gfn_test --json failed: {text}"))?;
    let lines: Vec<&str> = text.lines().collect();
    ensure(lines.len() == 2, || {
        format!("want 2 JSON lines, got {text:?}")
    })?;
    for (line, (gpa, kind, size)) in lines.iter().zip([
        (0x100123u64, "base", 4096u64),
        (0x5ff456, "hugetlb", 2 << 20),
    ]) {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{line}: {e}"))?;
        let hva = vmm.hva_of(gpa)?;
        let pfn = oracle::pagemap_pfn(vmm.pid, hva)?;
        let want = [
            ("gpa", gpa),
            ("phys", pfn << 12 | (gpa & 0xfff)),
            ("pfn", pfn),
            ("hva", hva),
            ("size", size),
            ("pid", u64::from(vmm.pid)),
        ];
        for (key, value) in want {
            ensure(v[key].as_u64() == Some(value), || {
                format!("{key} in {line}: want {value:#x}")
            })?;
        }
        ensure(v["status"] == "ok" && v["kind"] == kind, || {
            format!("status/kind in {line}")
        })?;
        let phys_hex = format!("{:#x}", pfn << 12 | (gpa & 0xfff));
        ensure(v["phys_hex"] == phys_hex.as_str(), || {
            format!("phys_hex in {line}")
        })?;
    }
    // A failed address: one object, whole, with the fields of its line
    // (`err:no-memslot gpa=0x7ff00000000 pid=N`, one page).
    let (ok, text) = output("gfn_test", &["--json", "0x7ff00000000", &pid])?;
    let want = serde_json::json!({
        "status": "err",
        "reason": "no-memslot",
        "gpa": 0x7ff_0000_0000_u64,
        "gpa_hex": "0x7ff00000000",
        "pages": 1,
        "pid": vmm.pid,
    });
    let got: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{l}: {e}")))
        .collect::<Result<_, _>>()?;
    ensure(!ok && got == [want.clone()], || {
        format!("failed address: ok={ok} {text:?}, want {want}")
    })?;
    vmm.stop()
}

/// `gfn_test vms`, `slots` and `map` (text and `--json`): the VMs, memslots
/// and pages the VMM has, pages checked against its pagemap.
pub fn gfn_test_subcommands() -> Result<(), String> {
    let vmm = Vmm::start(&[
        "--no-touch",
        "--slot",
        "thp:4M@0x200000",
        "--write",
        "0x200080=0x1",
    ])?;
    let pid = vmm.pid.to_string();
    let before = crate::oracle::kvm_debugfs(vmm.pid)?;
    let (ok, text) = output("gfn_test", &["vms"])?;
    let after = crate::oracle::kvm_debugfs(vmm.pid)?;
    let memory: u64 = vmm.slots.iter().map(|s| s.size).sum();
    // KVM's counts as its debugfs tells them, just before or just after.
    let want = |k: gfn_proto::reply::KvmMaps| {
        format!(
            "vm pid={pid} slots={} memory={memory} kvm_4k={} kvm_2m={} kvm_1g={} nx_splits={}",
            vmm.slots.len(),
            k.leaves[0],
            k.leaves[1],
            k.leaves[2],
            k.nx_splits
        )
    };
    ensure(
        ok && text.lines().any(|l| l == want(before) || l == want(after)),
        || format!("gfn_test vms: ok={ok} {text:?}, want {:?}", want(before)),
    )?;
    let (ok, text) = output("gfn_test", &["slots", "--json", "--pid", &pid])?;
    ensure(ok && text.lines().count() == vmm.slots.len(), || {
        format!("gfn_test slots: {text:?}")
    })?;
    for (line, slot) in text.lines().zip(&vmm.slots) {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{line}: {e}"))?;
        ensure(
            v["status"] == "slot"
                && v["gpa"].as_u64() == Some(slot.gpa)
                && v["hva"].as_u64() == Some(slot.hva)
                && v["size"].as_u64() == Some(slot.size),
            || format!("{line} for {slot:?}"),
        )?;
    }
    // The THP slot: the written huge page is present, the other is not.
    let (ok, text) = output("gfn_test", &["map", "--pid", &pid, "0x200000-0x600000"])?;
    ensure(ok, || format!("gfn_test map failed: {text}"))?;
    let replies = crate::module::parse_replies(&text)?;
    let map = crate::pages::per_page(&replies)?;
    let c = crate::pages::check_slot(&vmm, &vmm.slots[0], &map)?;
    ensure(c.present == 512 && c.absent == 512, || format!("{c:?}"))?;
    let (ok, text) = output("gfn_test", &["map", "--json", "--pid", &pid])?;
    let pages: u64 = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .map(|v| v["pages"].as_u64().unwrap_or(0))
                .map_err(|e| e.to_string())
        })
        .sum::<Result<u64, String>>()?;
    ensure(ok && pages == memory / 4096, || {
        format!(
            "gfn_test map --json: ok={ok}, {pages} pages told of {}",
            memory / 4096
        )
    })?;
    let (ok, _) = output("gfn_test", &["map", "--pid", "4194304"])?;
    ensure(!ok, || "gfn_test map of no VM succeeded".into())?;
    vmm.stop()
}

/// writer in the test guest: the physical address it prints holds its
/// value, read with reader (through /dev/mem, or /proc/kcore where the
/// kernel refuses RAM there; skipped where it refuses both).
pub fn writer_then_reader() -> Result<(), Outcome> {
    let source = facility::ram_reader("reader")?;
    let mut child = Command::new("writer")
        .args(["77", "--hold-secs", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("writer: {e}"))?;
    let out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut gpa = None;
    for line in out.lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(rest) = line.strip_prefix("WRITER gpa=0x") {
            gpa = rest
                .split_whitespace()
                .next()
                .and_then(|h| u64::from_str_radix(h, 16).ok());
            break;
        }
    }
    let result = (|| {
        let gpa = gpa.ok_or("writer printed no WRITER line")?;
        let value = reader_through(source, &format!("{gpa:#x}"))?;
        ensure(value == "77", || {
            format!("reader at {gpa:#x} printed {value:?}, want 77")
        })?;
        println!("     reader read 77 at {gpa:#x} through {source}");
        Ok::<(), String>(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    Ok(result?)
}
