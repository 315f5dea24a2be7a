// SPDX-License-Identifier: GPL-2.0
//! The operator's outputs that other programs read: `gfn_test metrics`
//! (Prometheus text) and `gfn_test map --svg` (a picture), and the
//! progress line of long maps.  The first two are judged on the host, by
//! real consumers the guest does not have: the guest test hands over the
//! output and the oracles' figures (see `artifact`), and
//! `testbed/artifacts.py` parses the metrics with `promtool` and the
//! Prometheus Python client and renders the SVG with `rsvg-convert`.

use crate::artifact;
use crate::check::ensure;
use crate::module::{output, run};
use crate::oracle::{self, has, KPF_ZERO_PAGE};
use crate::t_stats::{oracle_sums, two_vms};
use crate::vmm::Vmm;
use gfn_client::svg::{node_colour, Category, GEOMETRY, MAX_BYTES};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Where libvirt keeps its domains' pid files (as `gfn_client::names`).
const LIBVIRT_RUN: &str = "/run/libvirt/qemu";

/// `gfn_test metrics` with no VM, then for two VMs on two nodes, one named
/// by a libvirt pid file whose name needs escaping: the host checks that
/// `promtool check metrics` finds nothing to say, and that the Python
/// client parses every figure back equal to the oracles' sums (pagemap,
/// kpageflags, move_pages, smaps; memslots from the VMM's own table).
pub fn gfn_test_metrics() -> Result<(), String> {
    // No VM yet: `gfn_vms 0`, and success, so that a timer replaces the
    // last file.
    let empty = run("gfn_test", &["metrics"])?;
    // Options that do not apply are refused, not ignored.
    for args in [
        &["metrics", "--json"][..],
        &["map", "--svg", "/tmp/x.svg", "--json"],
        &["--svg", "/tmp/x.svg", "0x1000"],
        &["stats", "--svg", "/tmp/x.svg"],
    ] {
        let (ok, _) = output("gfn_test", args)?;
        ensure(!ok, || format!("gfn_test {args:?} succeeded"))?;
    }
    artifact::save("gfn_test_metrics", "empty.prom", empty.as_bytes())?;
    let (a, b) = two_vms()?;
    // A name with a quote, a backslash and a space: label escaping.
    let name = r#"web "a"\1"#;
    std::fs::create_dir_all(LIBVIRT_RUN).map_err(|e| format!("{LIBVIRT_RUN}: {e}"))?;
    let pid_file = format!("{LIBVIRT_RUN}/{name}.pid");
    std::fs::write(&pid_file, format!("{}\n", a.pid)).map_err(|e| format!("{pid_file}: {e}"))?;
    let result = (|| -> Result<(), String> {
        let kvm_before = [oracle::kvm_debugfs(a.pid)?, oracle::kvm_debugfs(b.pid)?];
        let start = std::time::Instant::now();
        let text = run("gfn_test", &["metrics"])?;
        let wall = start.elapsed().as_secs_f64();
        let kvm_after = [oracle::kvm_debugfs(a.pid)?, oracle::kvm_debugfs(b.pid)?];
        let mut vms = Vec::new();
        for (i, (vmm, name)) in [(&a, Some(name)), (&b, None)].into_iter().enumerate() {
            // What KVM maps, by its debugfs, just before and just after.
            let kvm: Vec<Value> = [kvm_before[i], kvm_after[i]]
                .iter()
                .map(|k| {
                    json!({
                        "4k": k.leaves[0] << 12,
                        "2m": k.leaves[1] << 21,
                        "1g": k.leaves[2] << 30,
                        "nx_splits": k.nx_splits,
                    })
                })
                .collect();
            let s = oracle_sums(vmm)?;
            let bytes = |m: &BTreeMap<String, u64>| -> Map<String, Value> {
                m.iter()
                    .map(|(k, n)| (k.clone(), json!(n * 4096)))
                    .collect()
            };
            vms.push(json!({
                "pid": vmm.pid.to_string(),
                "name": name,
                "memslots": vmm.slots.len(),
                "memslot_bytes": s.pages * 4096,
                "memory": bytes(&s.classes),
                "not_present_bytes": s.not_present * 4096,
                "pmd_bytes": s.pmd * 4096,
                "kvm": kvm,
            }));
        }
        let expect = json!({ "vms": vms, "wall_seconds": wall });
        artifact::save("gfn_test_metrics", "metrics.prom", text.as_bytes())?;
        artifact::save(
            "gfn_test_metrics",
            "expect.json",
            expect.to_string().as_bytes(),
        )?;
        println!(
            "     {} lines of metrics and the oracles' figures handed to the host",
            text.lines().count()
        );
        Ok(())
    })();
    let _ = std::fs::remove_file(&pid_file);
    result?;
    a.stop()?;
    b.stop()
}

/// What the oracles say of the pages of guest range [gpa, gpa + size) of
/// `vmm`: the fraction of its bytes in each picture category, and of each
/// NUMA node's (present pages only).
fn composition(vmm: &Vmm, gpa: u64, size: u64) -> Result<(Value, Value), String> {
    let hva = vmm.hva_of(gpa)?;
    let n = (size >> 12) as usize;
    let present = oracle::present_pages(vmm.pid, hva, n)?;
    let mut backing: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_node: BTreeMap<String, u64> = BTreeMap::new();
    *backing.entry(Category::NotPresent.name()).or_default() += (n - present.len()) as u64;
    for page in &present {
        let category = if has(page.flags, KPF_ZERO_PAGE) {
            Category::Zero
        } else {
            match oracle::kind_of(page.flags) {
                gfn_proto::reply::Kind::Thp => Category::Thp,
                gfn_proto::reply::Kind::Hugetlb => Category::Hugetlb,
                _ => Category::Base,
            }
        };
        *backing.entry(category.name()).or_default() += 1;
        *by_node.entry(page.node.to_string()).or_default() += 1;
    }
    let frac = |m: BTreeMap<String, u64>| -> Value {
        m.into_iter()
            .filter(|(_, v)| *v > 0)
            .map(|(k, v)| (k, json!(v as f64 / n as f64)))
            .collect::<Map<_, _>>()
            .into()
    };
    Ok((
        frac(
            backing
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        ),
        frac(by_node),
    ))
}

/// What the host needs to check one picture of `vmm`: the layout and
/// colours it is drawn with, its bound, the VMM's own memslots (address
/// space 0) and the oracles' share of each region.
fn picture_expect(vmm: &Vmm, file: &str, regions: Vec<Value>) -> Value {
    let g = &GEOMETRY;
    let slots: Vec<Value> = vmm
        .slots
        .iter()
        .filter(|s| s.as_id == 0)
        .map(|s| json!([s.gpa, s.size]))
        .collect();
    json!({
        "file": file,
        "slots": slots,
        "geometry": {"x0": g.x0, "columns": g.columns, "band_y": g.band_y, "band_h": g.band_h,
            "backing_y": g.backing_y, "backing_h": g.backing_h, "node_y": g.node_y, "node_h": g.node_h},
        "colours": Category::ALL.iter().map(|c| (c.name().to_string(), json!(c.colour())))
            .collect::<Map<_, _>>(),
        // Nodes 0 and 1 are the lowest present: the first two colours.
        "node_colours": (0..2u32).map(|n| (n.to_string(), json!(node_colour(n, n as usize))))
            .collect::<Map<_, _>>(),
        "max_bytes": MAX_BYTES,
        "regions": regions,
    })
}

/// Draws the VM of `vmm` into `file` with `gfn_test map --svg`, hands
/// the picture over, and returns what gfn_test said of it.
fn draw(vmm: &Vmm, file: &str) -> Result<String, String> {
    let path = format!("/tmp/{file}");
    let told = run(
        "gfn_test",
        &["map", "--pid", &vmm.pid.to_string(), "--svg", &path],
    )?;
    let svg = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    artifact::save("gfn_test_svg", file, &svg)?;
    Ok(told.trim().to_string())
}

/// `gfn_test map --svg` of a VM with a THP slot, a base-page slot half on
/// each node (move_pages), a hole, a hugetlb slot and a slot half dropped
/// (MADV_DONTNEED; and 1 MiB a quarter dropped page by page), and of a VM
/// with 16 GiB of untouched memory: the host renders them with
/// rsvg-convert and checks, in each region, the share of every colour of
/// the backing and node strips against the oracles' shares of its bytes
/// (pagemap, kpageflags, move_pages; for the 16 GiB, its pagemap read a
/// GiB at a time), every pixel where a region is of one kind, the hole empty, the
/// memslot band over the slots only, the axis against the VMM's memslots,
/// and each file under its bound.
pub fn gfn_test_svg() -> Result<(), String> {
    const MIB: u64 = 1 << 20;
    // Layout (MiB): THP [0, 16), base [16, 24) of which [16, 20) moves to
    // node 1, a hole [24, 32), hugetlb [32, 40), base [40, 56) of which
    // [40, 48) is dropped; the code slot below 4 GiB.
    let mut vmm = Vmm::start(&[
        "--node",
        "0",
        "--slot",
        "thp:16M@0x0",
        "--slot",
        "anon:8M@0x1000000",
        "--slot",
        "hugetlb:8M@0x2000000",
        "--slot",
        "anon:16M@0x2800000",
    ])?;
    let half: Vec<u64> = (0..1024).map(|i| vmm.slots[1].hva + i * 4096).collect();
    let moved = oracle::move_to(vmm.pid, &half, 1)?;
    ensure(moved == 1024, || {
        format!("move_pages moved {moved} of 1024")
    })?;
    // Dropped: [40, 48) MiB whole, and 8 KiB of every 32 KiB of [52, 53):
    // columns (48 KiB) mixing base and not-present pages.
    let drops = std::iter::once((0x2800000, 0x800000))
        .chain((0..32).map(|i| (0x3400000 + i * 0x8000, 0x2000)));
    for (gpa, size) in drops {
        vmm.command(&format!("drop {gpa:#x} {size:#x}"))?;
    }
    let told = draw(&vmm, "vm.svg")?;
    let mut regions = Vec::new();
    for (what, gpa, size) in [
        ("THP slot", 0, 16 * MIB),
        ("base pages moved to node 1", 0x1000000, 4 * MIB),
        ("base pages on node 0", 0x1400000, 4 * MIB),
        ("hugetlb slot", 0x2000000, 8 * MIB),
        ("dropped half", 0x2800000, 8 * MIB),
        ("touched", 0x3000000, 4 * MIB),
        ("a quarter dropped, page by page", 0x3400000, MIB),
        ("touched after", 0x3500000, 3 * MIB),
    ] {
        let (backing, nodes) = composition(&vmm, gpa, size)?;
        regions.push(json!({"what": what, "gpa": gpa, "size": size,
            "backing": backing, "nodes": nodes, "band": true}));
    }
    regions.push(json!({"what": "hole", "gpa": 0x1800000u64, "size": 8 * MIB,
        "backing": {}, "nodes": {}, "band": false}));
    let mut pictures = vec![picture_expect(&vmm, "vm.svg", regions)];
    vmm.stop()?;

    // 16 GiB that the VMM never touched: too much for pagemap here, so
    // its resident size (smaps) is the oracle.  (Not 1 TiB: KVM takes
    // 13 s to set up such a memslot under TCG; the host test
    // `a_terabyte_of_alternating_runs_stays_small` draws one.)
    let big = Vmm::start(&["--no-touch", "--slot", "anon:16G@0x100000000"])?;
    let told_big = draw(&big, "big.svg")?;
    let slot = big
        .slots
        .iter()
        .find(|s| s.gpa == 1 << 32)
        .ok_or("no big slot")?;
    // Pages of the slot with a frame or a swap entry, from its pagemap, a
    // GiB at a time.  (Not smaps' Rss: smaps counts whole VMAs, and the
    // kernel may merge the slot's with the code slot's mapping next to it,
    // whose 64 KiB the VMM touched.)
    let mut resident = 0;
    for gib in 0..slot.size >> 30 {
        resident += gfn_client::pagemap::entries(big.pid, slot.hva + (gib << 30), 1 << 18)
            .map_err(|e| format!("pagemap of {}: {e}", big.pid))?
            .iter()
            .filter(|e| e.present || e.swapped)
            .count();
    }
    ensure(resident == 0, || {
        format!("{resident} pages of the untouched slot are resident")
    })?;
    let backing = json!({"not-present": 1.0});
    pictures.push(picture_expect(
        &big,
        "big.svg",
        vec![
            json!({"what": "untouched 16 GiB", "gpa": slot.gpa, "size": slot.size,
            "backing": backing, "nodes": {}, "band": true}),
        ],
    ));
    artifact::save(
        "gfn_test_svg",
        "expect.json",
        json!({ "pictures": pictures }).to_string().as_bytes(),
    )?;
    println!("     {told}\n     {told_big}");
    big.stop()
}

/// Where `gfn_test`'s stderr (and stdout) go in `run_with_terminal`.
#[derive(Clone, Copy, PartialEq)]
enum Stderr {
    Pipe,
    Terminal,
    /// Stdout on the same terminal as stderr.
    SharedTerminal,
}

/// Runs `gfn_test ARGS` with its stderr on a pipe or a new
/// pseudo-terminal, and `GFN_PROGRESS_AFTER_MS=after_ms` (None: unset);
/// returns its stdout (piped, unless it shares the terminal) and what
/// reached stderr (or the terminal).
fn run_with_terminal(
    args: &[&str],
    stderr: Stderr,
    after_ms: Option<&str>,
) -> Result<(String, String), String> {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut cmd = std::process::Command::new("gfn_test");
    cmd.args(args).stdout(std::process::Stdio::piped());
    match after_ms {
        Some(ms) => cmd.env("GFN_PROGRESS_AFTER_MS", ms),
        None => cmd.env_remove("GFN_PROGRESS_AFTER_MS"),
    };
    if stderr == Stderr::Pipe {
        let out = cmd
            .stderr(std::process::Stdio::piped())
            .output()
            .map_err(|e| format!("gfn_test: {e}"))?;
        return Ok((
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors into the two ints; the other
    // arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(format!("openpty: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: openpty returned these two descriptors, owned by nothing else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    if stderr == Stderr::SharedTerminal {
        cmd.stdout(slave.try_clone().map_err(|e| format!("dup: {e}"))?);
    }
    let mut child = cmd
        .stderr(slave)
        .spawn()
        .map_err(|e| format!("gfn_test: {e}"))?;
    // The slave's last copies are then the child's: once it exits,
    // reading the master ends (EIO).  Read meanwhile, so the child never
    // waits on a full terminal.
    drop(cmd);
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = std::fs::File::from(master).read_to_end(&mut text);
        text
    });
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)
            .map_err(|e| format!("gfn_test stdout: {e}"))?;
    }
    child.wait().map_err(|e| format!("gfn_test: {e}"))?;
    let tty_text = reader.join().map_err(|_| "pty reader panicked")?;
    Ok((stdout, String::from_utf8_lossy(&tty_text).into_owned()))
}

/// Progress on stderr: `map` and `stats` show pages walked and the rate
/// on a terminal once they have run past the threshold, rewritten in
/// place, the last figures those of every page of the VMM's memslots (and
/// of what `map` told); nothing on a pipe, nothing under the threshold
/// (60 s, and the default second for a map quicker than that), nothing
/// when `map`'s own output goes to the same terminal.
pub fn gfn_test_progress() -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "anon:1M@0x100000", "--slot", "thp:4M@0x40000000"])?;
    let pid = vmm.pid.to_string();
    let map = ["map", "--pid", pid.as_str()];
    // Every page of the VMM's memslots, its own table says.
    let pages: u64 = vmm
        .slots
        .iter()
        .filter(|s| s.as_id == 0)
        .map(|s| s.size >> 12)
        .sum();
    let last_line = |tty: &str| tty.rsplit("\r\x1b[K").next().unwrap_or("").to_string();
    let want = format!("mapping pid {pid}: {pages} pages walked, ");
    let (out, tty) = run_with_terminal(&map, Stderr::Terminal, Some("0"))?;
    let told: u64 = crate::module::parse_replies(&out)?
        .iter()
        .map(|r| match r {
            gfn_proto::reply::Reply::Ok(t) => t.pages,
            gfn_proto::reply::Reply::AddrErr { pages, .. } => *pages,
            _ => 0,
        })
        .sum();
    let last = last_line(&tty);
    ensure(
        told == pages && last.starts_with(&want) && last.ends_with(" pages/s\r\n"),
        || format!("map told {told} pages of {pages}; on the terminal: {tty:?}"),
    )?;
    let (_, stats) = run_with_terminal(&["stats", "--pid", &pid], Stderr::Terminal, Some("0"))?;
    ensure(last_line(&stats).starts_with(&want), || {
        format!("stats on the terminal: {stats:?}")
    })?;
    for (stderr, after, what) in [
        (Stderr::Pipe, Some("0"), "on a pipe"),
        (Stderr::Terminal, Some("60000"), "under a 60 s threshold"),
    ] {
        let (_, said) = run_with_terminal(&map, stderr, after)?;
        ensure(said.is_empty(), || format!("{what}: {said:?}"))?;
    }
    let (_, shared) = run_with_terminal(&map, Stderr::SharedTerminal, Some("0"))?;
    ensure(
        !shared.contains("mapping pid") && shared.contains("ok phys="),
        || format!("map and progress on one terminal: {shared:?}"),
    )?;
    let start = std::time::Instant::now();
    let (_, quick) = run_with_terminal(&map, Stderr::Terminal, None)?;
    if start.elapsed() < std::time::Duration::from_millis(900) {
        ensure(quick.is_empty(), || {
            format!("a quick map printed {quick:?}")
        })?;
    }
    println!("     on a terminal: {:?}", last.trim_end());
    vmm.stop()
}
