//! guest-suite: the in-guest end-to-end tests of gfn_to_pfn.
//!
//! Run as root inside the test-bed guest: `guest-suite /gfn_to_pfn.ko`.
//! Each test compares the module's answers with an independent oracle
//! (pagemap, kpageflags, /dev/mem).  Prints one PASS/FAIL line per test and
//! `N passed, M failed` last; exits non-zero when any test failed.

mod bench;
mod check;
mod module;
mod oracle;
mod pages;
mod t_facts;
mod t_file;
mod t_fuzz;
mod t_input;
mod t_lifecycle;
mod t_map;
mod t_map_races;
mod t_qemu;
mod t_stress;
mod t_tools;
mod t_translate;
mod vmm;

use std::time::Instant;

type Test = (&'static str, Box<dyn Fn() -> Result<(), String>>);

/// `GFN_SOAK=N` scales the fuzzing, race and leak tests N times (make soak).
fn soak() -> u64 {
    std::env::var("GFN_SOAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn tests(ko: &'static str) -> Vec<Test> {
    let k = soak();
    vec![
        (
            "module_loads",
            Box::new(move || t_lifecycle::module_loads(ko)),
        ),
        ("proc_file_mode", Box::new(t_file::proc_file_mode)),
        ("no_vms", Box::new(t_input::no_vms)),
        ("base_page", Box::new(t_translate::base_page)),
        ("thp_head", Box::new(t_translate::thp_head)),
        ("thp_tail", Box::new(t_translate::thp_tail)),
        ("hugetlb_head", Box::new(t_translate::hugetlb_head)),
        ("hugetlb_tail", Box::new(t_translate::hugetlb_tail)),
        ("two_vms_by_pid", Box::new(t_translate::two_vms_by_pid)),
        (
            "seed_four_addresses",
            Box::new(t_translate::seed_four_addresses),
        ),
        (
            "mixed_backings_one_write",
            Box::new(t_translate::mixed_backings_one_write),
        ),
        (
            "outside_memslot_and_unknown_pid",
            Box::new(t_input::outside_memslot_and_unknown_pid),
        ),
        ("garbage_tokens", Box::new(t_input::garbage_tokens)),
        (
            "oversize_and_empty_writes",
            Box::new(t_input::oversize_and_empty_writes),
        ),
        ("largest_reply", Box::new(t_input::largest_reply)),
        (
            "map_all_matches_pagemap",
            Box::new(t_map::map_all_matches_pagemap),
        ),
        (
            "range_edges_and_holes",
            Box::new(t_map::range_edges_and_holes),
        ),
        (
            "nofault_probe_keeps_rss",
            Box::new(t_map::nofault_probe_keeps_rss),
        ),
        (
            "streamed_reply_is_bounded",
            Box::new(t_map::streamed_reply_is_bounded),
        ),
        ("huge_zero_page", Box::new(t_facts::huge_zero_page)),
        ("hugetlb_1g", Box::new(t_facts::hugetlb_1g)),
        ("mthp_order", Box::new(t_facts::mthp_order)),
        ("ksm_pages", Box::new(t_facts::ksm_pages)),
        ("numa_node", Box::new(t_facts::numa_node)),
        ("smm_address_space", Box::new(t_facts::smm_address_space)),
        ("discovery_vms_slots", Box::new(t_facts::discovery)),
        ("non_root_refused", Box::new(t_file::non_root_refused)),
        ("read_seek_poll", Box::new(t_file::read_seek_poll)),
        (
            "gfn_test_then_reader",
            Box::new(t_tools::gfn_test_then_reader),
        ),
        ("gfn_test_json", Box::new(t_tools::gfn_test_json)),
        (
            "gfn_test_subcommands",
            Box::new(t_tools::gfn_test_subcommands),
        ),
        ("writer_then_reader", Box::new(t_tools::writer_then_reader)),
        ("qemu_default_memory", Box::new(t_qemu::qemu_default_memory)),
        ("qemu_thp_memory", Box::new(t_qemu::qemu_thp_memory)),
        (
            "qemu_hugetlbfs_memory",
            Box::new(t_qemu::qemu_hugetlbfs_memory),
        ),
        (
            "interface_fuzz_100k",
            Box::new(move || t_fuzz::run(100_000 * k)),
        ),
        (
            "user_namespace_root_refused",
            Box::new(t_stress::user_namespace_root_refused),
        ),
        (
            "clients_during_1000_vm_cycles",
            Box::new(move || t_stress::clients_during_vm_cycles(1000 * k)),
        ),
        (
            "vmm_killed_mid_query",
            Box::new(t_stress::vmm_killed_mid_query),
        ),
        (
            "no_leak_after_100k_queries",
            Box::new(move || t_stress::no_leak_after_100k_queries(200 * k)),
        ),
        ("vm_churn", Box::new(t_lifecycle::vm_churn)),
        (
            "memslot_churn_during_map",
            Box::new(move || t_map_races::memslot_churn_during_map(100 * k)),
        ),
        (
            "unload_while_map_read",
            Box::new(move || t_map_races::unload_while_map_read(ko)),
        ),
        (
            "unload_with_open_file",
            Box::new(move || t_lifecycle::unload_with_open_file(ko)),
        ),
    ]
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--bench") {
        args.remove(1);
        let ko = args.get(1).map_or("/gfn_to_pfn.ko", String::as_str);
        if let Err(e) = bench::run(ko) {
            println!("bench failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    let ko: &'static str = Box::leak(
        args.get(1)
            .cloned()
            .unwrap_or_else(|| "/gfn_to_pfn.ko".into())
            .into_boxed_str(),
    );
    let filter = args.get(2).cloned();
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests(ko) {
        // A comma-separated list of name fragments selects tests.
        let chosen = filter
            .as_ref()
            .is_none_or(|f| f.split(',').any(|part| name.contains(part)));
        if !chosen && name != "module_loads" {
            continue;
        }
        let start = Instant::now();
        match test() {
            Ok(()) => {
                passed += 1;
                println!("PASS {name} ({} ms)", start.elapsed().as_millis());
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name}: {e}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
