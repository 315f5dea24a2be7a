// SPDX-License-Identifier: GPL-2.0
//! The hugetlb pool, for the log of every QEMU and before one whose RAM is
//! on hugetlb pages: the counts of each page size, and which processes
//! still hold pages of it when it is short.

use std::time::{Duration, Instant};

const SIZES: &str = "/sys/kernel/mm/hugepages";

/// One of a page size's counters (`free_hugepages`, ...), or 0.
fn counter(dir: &str, name: &str) -> u64 {
    std::fs::read_to_string(format!("{SIZES}/{dir}/{name}"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The page sizes' directories (`hugepages-2048kB`, ...), smallest first.
fn sizes() -> Vec<String> {
    let mut dirs: Vec<(u64, String)> = std::fs::read_dir(SIZES)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|n| {
                    let kb = n
                        .strip_prefix("hugepages-")?
                        .strip_suffix("kB")?
                        .parse()
                        .ok()?;
                    Some((kb, n))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.into_iter().map(|(_, n)| n).collect()
}

/// Every page size's pool in one line: `2048kB FREE/NR free (resv R,
/// surplus S)`, from free_hugepages, nr_hugepages, resv_hugepages and
/// surplus_hugepages.
pub fn summary() -> String {
    let parts: Vec<String> = sizes()
        .iter()
        .map(|d| {
            format!(
                "{} {}/{} free (resv {}, surplus {})",
                d.trim_start_matches("hugepages-"),
                counter(d, "free_hugepages"),
                counter(d, "nr_hugepages"),
                counter(d, "resv_hugepages"),
                counter(d, "surplus_hugepages"),
            )
        })
        .collect();
    if parts.is_empty() {
        "no hugetlb pool".into()
    } else {
        parts.join("; ")
    }
}

/// 2 MiB pages free and not reserved for a mapping already made.
fn available_2m() -> u64 {
    let d = "hugepages-2048kB";
    counter(d, "free_hugepages").saturating_sub(counter(d, "resv_hugepages"))
}

/// The processes holding hugetlb pages (`HugetlbPages` in their status)
/// and the files in /dev/hugepages, in one line.
pub fn holders() -> String {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let kb = field("HugetlbPages:");
        if kb.trim_end_matches(" kB").parse::<u64>().unwrap_or(0) > 0 {
            found.push(format!(
                "pid {pid} {} ({}) HugetlbPages {kb}",
                field("Name:"),
                field("State:")
            ));
        }
    }
    let files: Vec<String> = std::fs::read_dir("/dev/hugepages")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let len = e.metadata().map_or(0, |m| m.len());
            format!("{} ({len} bytes)", e.file_name().to_string_lossy())
        })
        .collect();
    format!(
        "holders: [{}]; files in /dev/hugepages: [{}]",
        found.join(", "),
        files.join(", ")
    )
}

/// Waits up to `limit` for `pages` 2 MiB pages to be available; says so
/// when it had to wait, and fails with the holders when they never were.
pub fn wait_for(pages: u64, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    if available_2m() >= pages {
        return Ok(());
    }
    let short = format!("{}; {}", summary(), holders());
    while start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(50));
        if available_2m() >= pages {
            println!(
                "     waited {:.1} s for {pages} free 2 MiB pages; at first: {short}",
                start.elapsed().as_secs_f64()
            );
            return Ok(());
        }
    }
    Err(format!(
        "fewer than {pages} free 2 MiB pages after {limit:?}: {}; {}; at first: {short}",
        summary(),
        holders()
    ))
}
