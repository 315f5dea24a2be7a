// SPDX-License-Identifier: GPL-2.0
//! The per-test time limit, tried on the suite binary itself: a hanging
//! test ends as TIMEOUT with everything it started, the next test runs, and
//! the count line closes the run.  Also the host's report of a guest that
//! stopped mid-test (testbed/verdict.sh) and of the slowest tests
//! (testbed/slowest.sh), fed a serial log.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn alive(pid: u32) -> bool {
    // A killed child not yet reaped by its new parent shows as a zombie.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

#[test]
fn a_hanging_test_times_out_and_the_run_goes_on() {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_guest-suite"))
        .env("GFN_SELFTEST_HANG", "2")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(start.elapsed() < Duration::from_secs(20), "{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    let pos = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in\n{text}"))
    };
    let passes = pos("PASS selftest_passes (");
    let run_hang = pos("RUN selftest_hangs (limit 2 s)");
    let timeout = pos("TIMEOUT selftest_hangs after 2 s");
    let panics = pos("FAIL selftest_panics: exited with status 101 (");
    let skips = pos("SKIP selftest_skips: no /nonexistent/gfn-selftest: on purpose (");
    let after = pos("PASS selftest_runs_after (");
    assert!(
        passes < run_hang
            && run_hang < timeout
            && timeout < panics
            && panics < skips
            && skips < after
    );
    assert_eq!(
        lines.last(),
        Some(&"2 passed, 2 failed, 1 skipped"),
        "{text}"
    );
    let pid: u32 = text
        .split("started pid=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no child pid in\n{text}"));
    let gone = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < gone {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "the hanging test's child {pid} outlived it");
}

fn testbed(script: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testbed")
        .join(script)
        .to_string_lossy()
        .into_owned()
}

fn log_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("gfn-suite-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

const STOPPED: &str = "GUEST-START job=check kernel=6.12\r\n\
suite: debug counts\r\n\
RUN module_loads (limit 30 s)\r\n\
PASS module_loads (17 ms)\r\n\
RUN hugetlb_1g (limit 192 s)\r\n\
PASS hugetlb_1g (7164 ms)\r\n\
RUN clients_during_vm_cycles (limit 864 s)\r\n\
     some output\r\n";

#[test]
fn a_stopped_guest_names_its_last_test() {
    let log = log_file("stopped", STOPPED);
    let out = Command::new("bash")
        .args([&testbed("verdict.sh"), &log])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("last test started: clients_during_vm_cycles"),
        "{err}"
    );
    assert!(err.contains("hugetlb_1g 7164 ms"), "{err}");
    std::fs::remove_file(log).unwrap();
}

#[test]
fn the_slowest_tests_are_listed_slowest_first() {
    let log = log_file(
        "slowest",
        // As the serial console writes it, with \r\n.
        "PASS a (5 ms)\r\nPASS b (900 ms)\r\nFAIL c: broke (40 ms)\r\n\
         TIMEOUT d after 30 s\r\nPASS e (1 ms)\r\nPASS f (2 ms)\r\nPASS g (3 ms)\r\n",
    );
    let out = Command::new("bash")
        .args([&testbed("slowest.sh"), &log, "fast"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["d", "b", "c", "a", "g"], "{text}");
    assert!(
        text.starts_with("slowest tests on the fast kernel"),
        "{text}"
    );
    std::fs::remove_file(log).unwrap();
}

#[test]
fn boot_banners_are_no_splat_and_splats_are() {
    let verdict = |name: &str, text: &str| {
        let log = log_file(name, text);
        let out = Command::new("bash")
            .args([&testbed("verdict.sh"), &log])
            .output()
            .unwrap();
        std::fs::remove_file(log).unwrap();
        out.status.code()
    };
    let banner = "[    3.6] rcu: \tRCU lockdep checking is enabled.\r\n\
                  [    3.7] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc.\r\n\
                  GUEST-EXIT rc=0\r\n";
    assert_eq!(verdict("banner", banner), Some(0));
    let splat = "[   42.0] WARNING: possible circular locking dependency detected\r\n\
                 GUEST-EXIT rc=0\r\n";
    assert_eq!(verdict("splat", splat), Some(1));
    assert_eq!(verdict("failed", "GUEST-EXIT rc=1\r\n"), Some(1));
}
