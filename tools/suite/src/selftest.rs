// SPDX-License-Identifier: GPL-2.0
//! The runner's own check: with `GFN_SELFTEST_HANG=SECS` the suite runs,
//! instead of its tests, one that passes, one that hangs (with a child
//! process of its own, as tests' VMMs are), one that panics, one whose
//! facility is missing and one that passes after them.  `tests/runner.rs`
//! runs the binary so and expects `TIMEOUT selftest_hangs after SECS s`,
//! the panic named as a failure, the skip counted apart, the last test run,
//! the closing count line, and the hanging test's child gone.  Only that
//! check sets the switch.

use crate::runner::Test;
use std::time::Duration;

/// The hanging test's limit, when the switch is set.
pub fn requested() -> Option<Duration> {
    let secs: u64 = std::env::var("GFN_SELFTEST_HANG").ok()?.parse().ok()?;
    Some(Duration::from_secs(secs))
}

fn hangs() -> Result<(), String> {
    // Not on the suite's stdout: a child left alive must not keep the
    // host test's pipe open.
    let child = std::process::Command::new("sleep")
        .arg("3600")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("sleep: {e}"))?;
    println!("     started pid={}", child.id());
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

pub fn tests(limit: Duration) -> Vec<Test> {
    vec![
        Test::new("selftest_passes", limit, || Ok(())),
        Test::new("selftest_hangs", limit, hangs),
        Test::new("selftest_panics", limit, || panic!("on purpose")),
        Test::may_skip("selftest_skips", limit, || {
            crate::facility::file("/nonexistent/gfn-selftest", "on purpose")
        }),
        Test::new("selftest_runs_after", limit, || Ok(())),
    ]
}
