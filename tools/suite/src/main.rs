// SPDX-License-Identifier: GPL-2.0
//! guest-suite: the in-guest end-to-end tests of gfn_to_pfn.
//!
//! Run as root inside the test-bed guest: `guest-suite /gfn_to_pfn.ko
//! [FILTER]`.  Each test compares the module's answers with an independent
//! oracle (pagemap, kpageflags, /dev/mem) and runs in a process of its own
//! under a time limit (see `runner`); counts and limits follow the kernel
//! flavour (see `plan`).  A test whose facility the kernel lacks is skipped,
//! saying why (see `facility`).  Prints one PASS/FAIL/SKIP/TIMEOUT line per
//! test and `N passed, M failed, K skipped` last; exits non-zero when any
//! test failed.

mod artifact;
mod bench;
mod check;
mod cpus;
mod elf;
mod facility;
mod module;
mod oracle;
mod pages;
mod plan;
mod runner;
mod selftest;
mod t_dax;
mod t_dense;
mod t_facts;
mod t_failslab;
mod t_file;
mod t_format;
mod t_fuzz;
mod t_gmem;
mod t_held;
mod t_huge;
mod t_input;
mod t_lifecycle;
mod t_log;
mod t_map;
mod t_map_races;
mod t_metrics;
mod t_mm_races;
mod t_oracles;
mod t_pidns;
mod t_qemu;
mod t_reasons;
mod t_refusal;
mod t_reverse;
mod t_shared;
mod t_stats;
mod t_stress;
mod t_threads;
mod t_tools;
mod t_translate;
mod t_vms_churn;
mod t_walk;
mod vmm;

use plan::Plan;
use runner::Test;
use std::process::Command;

/// The suite's tests, in order, with their limits under `plan`.  The
/// number after each test is what it takes on the fast kernel, in
/// seconds, on the machine the README was measured on (scaled by the
/// counts where a test has them); `Plan::limit` adds the margins.
///
/// Each test is named after its function, by the macros below
/// (`stringify!` of the path's last segment): the name the runner prints,
/// `GFN_FILTER` selects by and the README cites as evidence cannot drift
/// from the code it names.
fn tests(plan: &Plan, ko: &'static str) -> Vec<Test> {
    let c = plan.counts;
    let slowdown = plan.slowdown;
    // `test!(module::function, fast_secs)`: a test that passes or fails;
    // `test!(module::function(args), fast_secs)` calls it with `args`.
    macro_rules! test {
        ($m:ident :: $f:ident, $secs:expr) => {
            test!($m::$f(), $secs)
        };
        ($m:ident :: $f:ident ($($arg:expr),*), $secs:expr) => {
            Test::new(stringify!($f), plan.limit($secs), move || $m::$f($($arg),*))
        };
    }
    // A test that may skip (see `facility`), in the same two forms.
    macro_rules! may_skip {
        ($m:ident :: $f:ident, $secs:expr) => {
            may_skip!($m::$f(), $secs)
        };
        ($m:ident :: $f:ident ($($arg:expr),*), $secs:expr) => {
            Test::may_skip(stringify!($f), plan.limit($secs), move || $m::$f($($arg),*))
        };
    }
    // A test that boots a nested QEMU guest: skipped where the test bed
    // cannot boot one reliably (facility::nested_qemu).
    macro_rules! qemu {
        ($m:ident :: $f:ident) => {
            Test::may_skip(stringify!($f), plan.limit(t_qemu::FAST_SECS), || {
                facility::nested_qemu()?;
                $m::$f().map_err(runner::Outcome::Fail)
            })
        };
    }
    let table = vec![
        test!(t_lifecycle::module_loads(ko), 0.1),
        test!(cpus::guest_has_two_cpus, 0.1),
        test!(t_oracles::physical_memory_oracles, 0.1),
        test!(t_file::proc_file_mode, 0.1),
        test!(t_input::no_vms, 0.1),
        test!(t_translate::base_page, 0.2),
        test!(t_translate::thp_head, 0.2),
        test!(t_translate::thp_tail, 0.2),
        test!(t_translate::hugetlb_head, 0.2),
        test!(t_translate::hugetlb_tail, 0.2),
        test!(t_translate::two_vms_by_pid, 0.2),
        test!(t_translate::vms_at_other_descriptors, 0.2),
        test!(t_translate::seed_four_addresses, 0.2),
        test!(t_translate::mixed_backings_one_write, 0.2),
        test!(t_input::outside_memslot_and_unknown_pid, 0.2),
        test!(t_input::garbage_tokens, 0.2),
        test!(t_input::oversize_and_empty_writes, 0.1),
        test!(t_input::largest_reply, 0.5),
        test!(t_log::log_rate_limited, 0.5),
        test!(t_log::log_parameter, 0.3),
        test!(t_map::map_all_matches_pagemap, 0.5),
        test!(t_map::range_edges_and_holes, 0.2),
        test!(t_format::records_match_text, 0.5),
        test!(t_dense::runs_step_either_way, 1.0),
        test!(t_dense::lists_cost_a_frame_a_page, 1.0),
        test!(t_map::nofault_probe_keeps_rss, 0.2),
        test!(t_map::streamed_reply_is_bounded, 2.5),
        may_skip!(t_reasons::no_vma_and_pfnmap_frames, 0.3),
        test!(t_reasons::memslots_changed_between_queries, 0.5),
        test!(t_walk::pte_mapped_thp, 0.3),
        may_skip!(t_walk::probe_keeps_pages_idle, 0.5),
        may_skip!(t_mm_races::swapped_out_pages, 0.5),
        test!(t_facts::huge_zero_page, 0.2),
        test!(t_facts::hugetlb_1g, 6.0),
        test!(t_facts::mthp_order, 1.2),
        test!(t_facts::ksm_pages, 1.0),
        test!(t_facts::numa_node, 0.3),
        test!(t_facts::memfd_memory, 0.5),
        may_skip!(t_dax::dax_memory, 0.5),
        may_skip!(t_gmem::guest_memfd_private_pages, 0.5),
        test!(t_reverse::reverse_lookup, 2.0),
        test!(t_reverse::reverse_lookup_ksm, 2.0),
        // Each system call within 50 ms on the fast kernel: about 3 ms
        // here, and about 110 ms when walks covered 2 MiB each and found
        // the VM again for every one.
        test!(
            t_reverse::reverse_lookup_is_bounded(std::time::Duration::from_millis(
                50 * u64::from(slowdown)
            )),
            3.0
        ),
        test!(t_threads::vm_of_an_exited_creator, 0.3),
        test!(t_threads::vm_after_the_main_thread_exited, 0.3),
        test!(t_facts::smm_address_space, 0.1),
        test!(t_facts::discovery_vms_slots, 0.2),
        test!(t_file::non_root_refused, 0.1),
        test!(t_pidns::pids_in_the_readers_namespace, 0.5),
        test!(t_file::read_seek_poll, 0.1),
        test!(t_file::new_file_after_a_closed_ones_long_reply, 0.3),
        test!(t_file::a_short_request_after_a_long_one, 0.3),
        test!(t_file::read_into_faulting_buffer, 0.3),
        may_skip!(t_tools::gfn_test_then_reader, 0.3),
        test!(t_tools::gfn_test_json, 0.3),
        test!(t_tools::gfn_test_subcommands, 0.5),
        // 1.3 s on the fast kernel; its kpageflags oracle is slow on debug.
        test!(t_stats::gfn_test_stats, 3.0),
        test!(t_stats::gfn_test_watch, 1.5),
        test!(t_stats::gfn_test_watch_ksm, 3.0),
        test!(t_metrics::gfn_test_metrics, 3.0),
        test!(t_metrics::gfn_test_svg, 3.0),
        test!(t_metrics::gfn_test_progress, 0.5),
        test!(t_huge::kvm_counts_are_debugfs, 2.0),
        test!(t_huge::slot_moved_4k_loses_huge_kvm_maps, 2.0),
        test!(t_huge::explain_says_why, 3.0),
        qemu!(t_huge::qemu_guest_is_huge),
        may_skip!(t_tools::writer_then_reader, 0.2),
        // Every test that boots QEMU: see t_qemu::FAST_SECS.
        qemu!(t_qemu::qemu_default_memory),
        qemu!(t_qemu::qemu_thp_memory),
        qemu!(t_qemu::qemu_hugetlbfs_memory),
        qemu!(t_qemu::qemu_memfd_memory),
        qemu!(t_qemu::qemu_memfd_hugetlb_memory),
        qemu!(t_qemu::qemu_tmpfs_file_memory),
        // 3.4 s per 10^5 operations on the fast kernel; 13x that on debug.
        test!(
            t_fuzz::interface_fuzz(c.fuzz_ops),
            c.fuzz_ops as f64 * 4e-5 * 13.0 / 6.0
        ),
        test!(t_stress::user_namespace_root_refused, 0.1),
        // 0.15 s per VM cycle on the fast kernel, 8x that on debug while
        // the host tests run beside it.
        test!(
            t_stress::clients_during_vm_cycles(c.vm_cycles),
            c.vm_cycles as f64 * 0.2
        ),
        test!(t_stress::vmm_killed_mid_query, 1.0),
        test!(t_stress::vms_listing_is_consistent, 5.0),
        // 4.8 s per 200 batches of 500 translations on the fast kernel.
        test!(
            t_stress::no_leak_after_queries(c.leak_batches),
            c.leak_batches as f64 * 0.024
        ),
        // 0.11 s per VMM started on the fast kernel, 7x that on debug.
        test!(
            t_lifecycle::vm_churn(c.vm_starts),
            c.vm_starts as f64 * 0.11 * 7.0 / 6.0
        ),
        // 0.7 s per 100 rounds on the fast kernel.
        test!(
            t_map_races::memslot_churn_during_map(c.churn_rounds),
            c.churn_rounds as f64 * 0.007
        ),
        // 100 `vms` listings of 4 VMs per churn round, 0.3 to 0.9 ms each
        // on the fast kernel (the host idle or building a kernel), beside
        // the VMMs swapping their memslot sets; starting the VMMs, with 502
        // memslots each, took 1.7 to 8.9 s.
        test!(
            t_vms_churn::vms_during_memslot_churn(c.churn_rounds * 100),
            10.0 + c.churn_rounds as f64 * 100.0 * 0.0005
        ),
        // 13.9 s per 1000 rounds on the fast kernel, and 2.9 s per 200
        // maps during migration.
        test!(
            t_mm_races::maps_while_memory_moves(c.mm_rounds),
            c.mm_rounds as f64 * 0.014
        ),
        test!(
            t_mm_races::maps_during_migration(c.mm_rounds / 5),
            c.mm_rounds as f64 * 0.003
        ),
        test!(t_held::vendor_unloaded_mid_reply, 1.0),
        test!(t_held::fault_wait_is_killable(ko), 1.0),
        test!(t_shared::shared_file_reader_is_killable, 1.0),
        test!(t_shared::rmmod_while_a_fault_waits(ko), 1.0),
        test!(t_shared::killed_reader_loses_no_reply, 2.0),
        test!(t_failslab::allocation_failures_lose_nothing, 4.0),
        test!(t_map_races::unload_while_map_read(ko), 0.5),
        test!(t_lifecycle::unload_with_open_file(ko), 0.5),
        // Two loads of the module (one refused) and a read of
        // /proc/kallsyms; up to a few seconds under TCG where the module
        // resolves its symbols there.
        may_skip!(t_refusal::refusal_kptr_restrict(ko), 2.0),
        may_skip!(t_refusal::refusal_no_kallsyms_all(ko), 2.0),
        may_skip!(t_refusal::refusal_other_release(ko), 1.0),
    ];
    // Fault injection (failslab) is in the debug kernel's config only.
    table
        .into_iter()
        .filter(|t| plan.name != "fast" || t.name != "allocation_failures_lose_nothing")
        .collect()
}

/// A test killed, failed or skipped while the module was unloaded would
/// fail every test after it; load it again (the verdict is already
/// counted).
fn reload_after(name: &str, ko: &str) {
    if selftest::requested().is_none() && !std::path::Path::new(module::PROC).exists() {
        let how = module::insmod(ko).map_or_else(|e| e, |()| "done".into());
        println!("     {name} left the module unloaded; insmod again: {how}");
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--bench") {
        args.remove(1);
        let ko = args.get(1).map_or("/gfn_to_pfn.ko", String::as_str);
        if let Err(e) = bench::run(ko, args.get(2).map(String::as_str)) {
            println!("bench failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    // `--profile KO single|seed`: the load testbed/profile.sh samples.
    if args.get(1).map(String::as_str) == Some("--profile") {
        let ko = args.get(2).map_or("/gfn_to_pfn.ko", String::as_str);
        let what = args.get(3).map_or("single", String::as_str);
        if let Err(e) = bench::profile::run(ko, what) {
            println!("profile failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    // `--one NAME KO`: run one test here; the parent judges the time.
    let one = if args.get(1).map(String::as_str) == Some("--one") {
        args.remove(1);
        Some(args.remove(1))
    } else {
        None
    };
    let ko: &'static str = Box::leak(
        args.get(1)
            .cloned()
            .unwrap_or_else(|| "/gfn_to_pfn.ko".into())
            .into_boxed_str(),
    );
    let filter = args.get(2).cloned();
    let plan = Plan::from_env();
    // The runner's own check swaps in a table with a hanging test.
    let table = match selftest::requested() {
        Some(limit) => selftest::tests(limit),
        None => tests(&plan, ko),
    };
    if let Some(name) = one {
        let Some(test) = table.iter().find(|t| t.name == name) else {
            println!("FAIL {name}: no such test (0 ms)");
            std::process::exit(runner::FAILED);
        };
        std::process::exit(runner::exit_status(runner::run_here(test)));
    }
    let c = plan.counts;
    println!(
        "suite: {} counts: {} VM cycles, {} fuzz operations, {} translations, {} churn maps, {} VMM starts",
        plan.name,
        c.vm_cycles,
        c.fuzz_ops,
        c.leak_batches * 500,
        c.churn_rounds,
        c.vm_starts
    );
    let me = std::env::current_exe().unwrap_or_else(|_| "/bin/guest-suite".into());
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for test in &table {
        // A comma-separated list of name fragments selects tests.
        let chosen = filter
            .as_ref()
            .is_none_or(|f| f.split(',').any(|part| test.name.contains(part)));
        if !chosen && test.name != "module_loads" {
            continue;
        }
        let mut command = Command::new(&me);
        command.args(["--one", test.name, ko]);
        match runner::run_child(test, command) {
            runner::Verdict::Pass => passed += 1,
            runner::Verdict::Fail => {
                failed += 1;
                reload_after(test.name, ko);
            }
            runner::Verdict::Skip => {
                skipped += 1;
                reload_after(test.name, ko);
            }
        }
    }
    // testbed/check.sh reads `N passed, M failed` from the front.
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

#[cfg(test)]
mod table_tests {
    use super::*;

    /// `--one NAME` runs the first test of that name: two of one name
    /// would hide the second (a function registered twice, say).
    #[test]
    fn test_names_are_unique() {
        for plan in [plan::FAST, plan::DEBUG, plan::SOAK] {
            let mut names: Vec<_> = tests(&plan, "/gfn_to_pfn.ko")
                .iter()
                .map(|t| t.name)
                .collect();
            names.sort_unstable();
            let twice: Vec<_> = names.windows(2).filter(|w| w[0] == w[1]).collect();
            assert!(twice.is_empty(), "{}: named twice: {twice:?}", plan.name);
        }
    }
}
