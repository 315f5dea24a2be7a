// SPDX-License-Identifier: GPL-2.0
//! The kernel log: the seed's lines for single addresses, rate-limited so
//! that one large write cannot flood a console, and the `log` parameter.

use crate::check::ensure;
use crate::module::{ask, log_mark, log_since, set_log, translate, LOG_PARAM};
use crate::vmm::Vmm;
use gfn_proto::reply::Reply;

/// Lines let through per interval (module/log.rs).
const BURST: usize = 40;

/// Sets the parameter back to `all` however the test ends.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = set_log("all");
    }
}

fn seed_lines(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|l| l.starts_with("exact phys addr for gpa") || l.starts_with("page is "))
        .count()
}

/// How many lines `lines` says were held back.
fn suppressed(lines: &[String]) -> usize {
    lines
        .iter()
        .filter_map(|l| l.strip_suffix(" log lines suppressed (rate limit)"))
        .filter_map(|n| n.parse::<usize>().ok())
        .sum()
}

/// 1500 addresses in one write would log 3000 lines: 40 get through (more
/// only if the write outlasts the 5 s interval), and every line is
/// accounted for, logged or counted in a "suppressed" line.
pub fn log_rate_limited() -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "anon:8M@0x100000"])?;
    let n = 1500usize;
    let request: String = (0..n as u64)
        .map(|i| format!("{:#x} ", 0x100000 + i * 0x1000 + i % 64 * 8))
        .collect::<String>()
        + &vmm.pid.to_string();
    // Lines held back by earlier tests are reported with the first line
    // let through: let that happen before the mark, then start afresh.
    set_log("all")?;
    translate(&format!("0x100000 {}", vmm.pid))?;
    set_log("all")?;
    let mark = log_mark("rate")?;
    let start = std::time::Instant::now();
    let replies = ask(&request)?;
    let secs = start.elapsed().as_secs_f64();
    ensure(
        replies.len() == n && replies.iter().all(|r| matches!(r, Reply::Ok(_))),
        || format!("{} replies, not all ok", replies.len()),
    )?;
    let during = log_since(&mark)?;
    let printed = seed_lines(&during);
    // Intervals the write may have touched.
    let intervals = (secs / 5.0).floor() as usize + 1;
    ensure(
        (intervals == 1 && printed == BURST) || (printed >= BURST && printed <= BURST * intervals),
        || format!("{printed} log lines for {n} addresses in {secs:.1} s, want {BURST} per 5 s"),
    )?;
    // A new interval: the next line is preceded by the count held back.
    set_log("all")?;
    let mark = log_mark("after")?;
    translate(&format!("0x100000 {}", vmm.pid))?;
    let after = log_since(&mark)?;
    ensure(
        after
            .first()
            .is_some_and(|l| l.ends_with("log lines suppressed (rate limit)")),
        || format!("log after the burst: {after:?}"),
    )?;
    ensure(seed_lines(&after) == 2, || format!("{after:?}"))?;
    let held = suppressed(&during) + suppressed(&after);
    ensure(printed + held == 2 * n, || {
        format!(
            "{printed} lines logged and {held} held back for {} lines",
            2 * n
        )
    })?;
    println!(
        "     {n} addresses in {secs:.1} s: {printed} lines logged, {held} held back and counted"
    );
    vmm.stop()
}

/// `log=summary` logs range summaries only, `log=none` nothing; a bad
/// value is refused and changes nothing.
pub fn log_parameter() -> Result<(), String> {
    let _restore = Restore;
    let read = || std::fs::read_to_string(LOG_PARAM).map_err(|e| format!("{LOG_PARAM}: {e}"));
    ensure(read()? == "all\n", || format!("default {:?}", read()))?;
    let vmm = Vmm::start(&["--slot", "anon:1M@0x100000"])?;
    let range = format!("0x100000+16 pid={}", vmm.pid);
    let single = format!("0x100000 {}", vmm.pid);
    for (value, singles, summaries) in [("summary", 0, 1), ("none", 0, 0), ("all", 2, 1)] {
        set_log(value)?;
        ensure(read()? == format!("{value}\n"), || {
            format!("{value}: {:?}", read())
        })?;
        let mark = log_mark(value)?;
        translate(&single)?;
        ask(&range)?;
        let lines = log_since(&mark)?;
        let got = (
            seed_lines(&lines),
            lines
                .iter()
                .filter(|l| l.starts_with("range at offset"))
                .count(),
        );
        ensure(got == (singles, summaries), || {
            format!("log={value}: {got:?} (single, summary) lines, want ({singles}, {summaries}): {lines:?}")
        })?;
    }
    let bad = std::fs::write(LOG_PARAM, "bogus");
    ensure(
        bad.as_ref()
            .is_err_and(|e| e.raw_os_error() == Some(libc::EINVAL)),
        || format!("writing 'bogus': {bad:?}"),
    )?;
    ensure(read()? == "all\n", || {
        format!("after 'bogus': {:?}", read())
    })?;
    vmm.stop()
}
