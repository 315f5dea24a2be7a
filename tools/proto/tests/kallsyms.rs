// SPDX-License-Identifier: GPL-2.0
//! `/proc/kallsyms` as the module reads it on a kernel without the patches'
//! exports: the lines are the shapes 6.12 and 7.3 print (`s_show()` in
//! kernel/kallsyms.c: `%px %c %s` and, for a module's symbol, `\t[%s]`), the
//! refusal lines are read as a user would read them.

use gfn_proto::kallsyms::{
    names_exactly, parse_line, series_of, Kind, Refusal, Scan, Seen, Wanted, VMLINUX,
};

const BUILT: &[u8] = b"7.3.4+deb13-amd64";

const WANTED: [Wanted<'static>; 4] = [
    Wanted {
        name: b"walk_page_range",
        object: VMLINUX,
        kind: Kind::Text,
    },
    Wanted {
        name: b"huge_zero_pfn",
        object: VMLINUX,
        kind: Kind::Data,
    },
    Wanted {
        name: b"vm_list",
        object: b"kvm",
        kind: Kind::Data,
    },
    Wanted {
        name: b"file_is_kvm",
        object: b"kvm",
        kind: Kind::Text,
    },
];

/// A table as 7.3.4+deb13-amd64 prints it to root, with look-alikes: the
/// same names in other objects, longer names with the same start.
const TABLE: &str = "\
ffffffff81000000 T _stext
ffffffff812a3b40 T walk_page_range_vma
ffffffff812a3c10 T walk_page_range
ffffffff812a3d00 t walk_page_range_mm_unsafe
ffffffff82e4c0a8 D huge_zero_pfn
ffffffffc0a10000 t file_is_kvm_helper\t[kvm_amd]
ffffffffc0b2a0e0 T file_is_kvm\t[kvm]
ffffffffc0b7e1c0 d vm_list\t[kvm]
ffffffffc0c00000 d vm_list\t[other_module]
";

fn scan_in_chunks(table: &[u8], chunk: usize) -> Scan<'static> {
    let mut scan = Scan::new(&WANTED).unwrap();
    for piece in table.chunks(chunk) {
        scan.feed(piece);
    }
    scan
}

#[test]
fn finds_each_symbol_in_its_object_whatever_the_chunking() {
    for chunk in [1, 2, 3, 7, 16, 64, 4096] {
        let scan = scan_in_chunks(TABLE.as_bytes(), chunk);
        let got = scan
            .finish()
            .unwrap_or_else(|r| panic!("chunk {chunk}: {r:?}"));
        assert_eq!(
            &got[..4],
            &[
                0xffffffff812a3c10,
                0xffffffff82e4c0a8,
                0xffffffffc0b7e1c0,
                0xffffffffc0b2a0e0
            ],
            "chunk {chunk}"
        );
    }
}

#[test]
fn addresses_hidden_by_kptr_restrict_are_a_refusal_that_names_the_sysctl() {
    let hidden: String = TABLE
        .lines()
        .map(|l| format!("0000000000000000{}\n", &l[16..]))
        .collect();
    let scan = scan_in_chunks(hidden.as_bytes(), 4096);
    let refusal = scan.finish().unwrap_err();
    assert!(matches!(refusal, Refusal::Hidden(_)));
    let line = refusal.line(BUILT).to_string();
    assert!(line.starts_with("not loaded: "), "{line}");
    assert!(line.contains("kptr_restrict"), "{line}");
    assert!(
        line.contains("walk_page_range, huge_zero_pfn, vm_list [kvm] and file_is_kvm [kvm]"),
        "{line}"
    );
    assert!(!line.contains('\n'));
}

#[test]
fn a_kernel_without_kallsyms_all_lacks_data_symbols_and_is_told_so() {
    let text_only: String = TABLE
        .lines()
        .filter(|l| !l.contains(" D ") && !l.contains(" d "))
        .map(|l| format!("{l}\n"))
        .collect();
    let refusal = scan_in_chunks(text_only.as_bytes(), 100)
        .finish()
        .unwrap_err();
    let line = refusal.line(BUILT).to_string();
    assert!(
        line.contains("lists no huge_zero_pfn and vm_list [kvm]"),
        "{line}"
    );
    assert!(line.contains("CONFIG_KALLSYMS_ALL"), "{line}");
}

#[test]
fn a_missing_function_is_another_kernel_not_kallsyms_all() {
    let no_fn: String = TABLE
        .lines()
        .filter(|l| !l.ends_with(" T walk_page_range"))
        .map(|l| format!("{l}\n"))
        .collect();
    let line = scan_in_chunks(no_fn.as_bytes(), 5)
        .finish()
        .unwrap_err()
        .line(BUILT)
        .to_string();
    assert!(line.contains("lists no walk_page_range:"), "{line}");
    assert!(!line.contains("KALLSYMS_ALL"), "{line}");
}

#[test]
fn nothing_is_guessed_twice_listed() {
    let twice = format!("{TABLE}ffffffff81999999 T walk_page_range\n");
    let scan = scan_in_chunks(twice.as_bytes(), 13);
    assert_eq!(scan.seen(0), Seen::Twice);
    assert!(matches!(scan.finish(), Err(Refusal::Ambiguous(w)) if w.name == b"walk_page_range"));
}

#[test]
fn type_letters_are_not_trusted() {
    // Debian's 7.3.4 lists huge_zero_pfn (data) as `T`: found all the same.
    let as_text = TABLE.replace(" D huge_zero_pfn\n", " T huge_zero_pfn\n");
    assert!(scan_in_chunks(as_text.as_bytes(), 13).finish().is_ok());
}

#[test]
fn an_empty_table_misses_everything() {
    let scan = scan_in_chunks(b"", 1);
    assert!(matches!(scan.finish(), Err(Refusal::Missing(m)) if m.count() == 4));
}

#[test]
fn overlong_lines_are_passed_over_without_losing_the_next() {
    let long = format!("ffffffff81000000 T {}\n{TABLE}", "x".repeat(2000));
    for chunk in [1, 100, 700, 5000] {
        assert!(
            scan_in_chunks(long.as_bytes(), chunk).finish().is_ok(),
            "chunk {chunk}"
        );
    }
}

#[test]
fn lines_parse_as_the_kernel_prints_them() {
    let l = parse_line(b"ffffffffc0b7e1c0 d vm_list\t[kvm]").unwrap();
    assert_eq!(
        (l.address, l.letter, l.name, l.object),
        (0xffffffffc0b7e1c0, b'd', &b"vm_list"[..], &b"kvm"[..])
    );
    let l = parse_line(b"ffffffff812a3c10 T walk_page_range").unwrap();
    assert_eq!(l.object, VMLINUX);
    for bad in [
        &b""[..],
        b"zz T x",
        b"ffff T",
        b"ffff Tx",
        b"ffff T x\t[kvm",
        b"11112222333344445 T x",
    ] {
        assert_eq!(parse_line(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn the_kernel_must_name_the_address_exactly_the_symbol_start() {
    let [walk, _, vm_list, _] = WANTED;
    assert!(names_exactly(b"walk_page_range+0x0/0x90", &walk));
    assert!(!names_exactly(b"walk_page_range+0x10/0x90", &walk));
    assert!(!names_exactly(b"walk_page_range_vma+0x0/0x90", &walk));
    assert!(!names_exactly(b"walk_page_range+0x0/0x90 [kvm]", &walk));
    assert!(names_exactly(b"vm_list+0x0/0x10 [kvm]", &vm_list));
    assert!(!names_exactly(b"vm_list+0x0/0x10", &vm_list));
    assert!(!names_exactly(b"vm_list+0x0/0x10 [kvm_amd]", &vm_list));
    assert!(!names_exactly(b"0xffffffffc0b7e1c0", &vm_list));
}

#[test]
fn other_refusals_read_as_one_line_with_a_fix() {
    let [walk, ..] = WANTED;
    for r in [
        Refusal::Unreadable(-2),
        Refusal::Disowned(walk, b"other_fn+0x40/0x100"),
        Refusal::Release {
            built: b"7.3.4+deb13-amd64",
            running: b"7.3.5+deb13-amd64",
        },
    ] {
        let line = r.line(BUILT).to_string();
        assert!(
            line.starts_with("not loaded: ") && !line.contains('\n'),
            "{line}"
        );
        assert!(line.contains("; ") || line.contains(": "), "{line}");
    }
    assert!(Refusal::Unreadable(-2)
        .line(BUILT)
        .to_string()
        .contains("/proc/kallsyms"));
}

#[test]
fn refusals_name_the_series_patches() {
    let line = Refusal::Unreadable(-2).line(b"6.12.118").to_string();
    assert!(
        line.ends_with("a kernel built with the exports of patches/6.12/"),
        "{line}"
    );
    for (release, series) in [
        (&b"7.3.4+deb13-amd64"[..], &b"7.3"[..]),
        (b"6.12.118", b"6.12"),
        (b"7.3", b"7.3"),
        (b"7.3-rc1", b"7.3"),
    ] {
        assert_eq!(series_of(release), series);
    }
}
