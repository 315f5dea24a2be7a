// SPDX-License-Identifier: GPL-2.0
//! `docs/protocol.md` says what `tools/proto` does: its marked examples are
//! fed to the code the module compiles.
//!
//! - ```` ```grammar ````: the productions are those of `request.rs`'s own
//!   grammar comment (the comments beside them may differ).
//! - ```` ```request ````: every line parses as a request line whose tokens
//!   and options are all valid; together they use every kind of token.
//! - The table headed `request | error`: each request gets exactly that
//!   error from the parser, and the table names every error the parser
//!   gives.
//! - ```` ```reply ````: every line parses as a reply (or frame list) and
//!   prints back as the same line.
//! - ```` ```record ````: the bytes, field by field, lie at the offsets and
//!   sizes the `offset | size | field` tables give, hold the value written
//!   beside them, and decode to the reply on the block's `= ` line.
//! - The table headed `code | reason | meaning`: each code is that
//!   reason's, and every reason is there.

mod markdown;

use gfn_proto::list::{decode_item, parse_item, Item};
use gfn_proto::reply::Reply;
use gfn_proto::request::{lines, Reason, Token};
use markdown::{parse, read, Block, Markdown, Table};
use std::collections::{BTreeSet, HashMap};
use std::mem::discriminant;

fn protocol() -> Markdown {
    parse(&read("docs/protocol.md".as_ref()))
}

/// The blocks of `md` marked `info`; at least one.
fn blocks<'a>(md: &'a Markdown, info: &str) -> Vec<&'a Block> {
    let b: Vec<_> = md.blocks.iter().filter(|b| b.info == info).collect();
    assert!(!b.is_empty(), "docs/protocol.md has no ```{info} block");
    b
}

/// The tables of `md` whose header starts with `header`; at least one.
fn tables<'a>(md: &'a Markdown, header: &[&str]) -> Vec<&'a Table> {
    let t: Vec<_> = md
        .tables
        .iter()
        .filter(|t| t.header.len() >= header.len() && t.header[..header.len()] == *header)
        .collect();
    assert!(
        !t.is_empty(),
        "docs/protocol.md has no table headed {header:?}"
    );
    t
}

/// The non-empty lines of a block, with their line numbers in the file.
fn lines_of(b: &Block) -> impl Iterator<Item = (usize, &str)> {
    b.text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(move |(i, l)| (b.line + 1 + i, l))
}

/// A grammar's productions without the comments beside them: `name :=
/// rule` and `| rule` for a continuation, each up to the first double
/// space.
fn productions(grammar: &str) -> Vec<String> {
    let rule = |r: &str| r.trim_start().split("  ").next().unwrap_or("").to_string();
    grammar
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.split_once(":=") {
            Some((name, r)) => format!("{} := {}", name.trim(), rule(r)),
            None => rule(l),
        })
        .collect()
}

#[test]
fn grammar_is_request_rs_grammar() {
    let source = include_str!("../src/request.rs");
    let comment: Vec<&str> = source
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .skip_while(|l| *l != "```text")
        .skip(1)
        .take_while(|l| *l != "```")
        .collect();
    assert!(!comment.is_empty(), "request.rs has no ```text grammar");
    let md = protocol();
    let doc = blocks(&md, "grammar");
    assert_eq!(doc.len(), 1, "one ```grammar block");
    assert_eq!(
        productions(&doc[0].text),
        productions(&comment.join("\n")),
        "docs/protocol.md:{}: the grammar is not request.rs's",
        doc[0].line
    );
}

/// The reasons the parser gives a request line: its bad tokens', and its
/// options' when they cannot be told.
fn line_errors(request: &str) -> BTreeSet<&'static str> {
    let mut errors = BTreeSet::new();
    for line in lines(request.as_bytes()) {
        for (_, token) in line.tokens() {
            if let Token::Bad(r) = token {
                errors.insert(r.as_str());
            }
        }
        if let Err(r) = line.options() {
            errors.insert(r.as_str());
        }
    }
    errors
}

#[test]
fn request_examples_parse() {
    let md = protocol();
    let mut wrong = Vec::new();
    let mut kinds = Vec::new();
    for b in blocks(&md, "request") {
        for (at, text) in lines_of(b) {
            let errors = line_errors(text);
            if !errors.is_empty() {
                wrong.push(format!("docs/protocol.md:{at}: {text:?}: {errors:?}"));
            }
            for line in lines(text.as_bytes()) {
                kinds.extend(line.tokens().map(|(_, t)| discriminant(&t)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "requests that do not parse:\n{}",
        wrong.join("\n")
    );
    // Every kind of token, by an example of each that the parser makes.
    let every = [
        Token::Addr(0),
        Token::Range { gfn: 0, pages: 1 },
        Token::All,
        Token::Vms,
        Token::Slots,
        Token::Hpa {
            pfn: 0,
            pages: 1,
            offset: 0,
        },
        Token::Pid(1),
        Token::Fault(true),
        Token::As(0),
        Token::Bin(true),
        Token::Plain(true),
    ];
    for t in every {
        assert!(
            kinds.contains(&discriminant(&t)),
            "no request example has a token like {t:?}"
        );
    }
}

#[test]
fn request_errors_are_the_parsers() {
    let md = protocol();
    let mut wrong = Vec::new();
    let mut named = BTreeSet::new();
    for t in tables(&md, &["request", "error"]) {
        for row in &t.rows {
            let (request, error) = (&row[0], row[1].as_str());
            named.insert(error.to_string());
            let got = line_errors(request);
            if got != BTreeSet::from([error]) {
                wrong.push(format!(
                    "table at docs/protocol.md:{}: {request:?} gets {got:?}, not {error:?}",
                    t.line
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The errors a request line can get from the parser, before any VM is
    // looked at (the rest come from the module).
    let parser = [
        Reason::InvalidToken,
        Reason::Overflow,
        Reason::InvalidPid,
        Reason::DuplicatePid,
        Reason::UnknownKey,
        Reason::InvalidValue,
        Reason::DuplicateKey,
        Reason::EmptyRange,
    ];
    for r in parser {
        assert!(
            named.contains(r.as_str()),
            "the request error table has no example of {}",
            r.as_str()
        );
    }
}

/// The line the module prints for `item`.
fn printed(item: &Item<'_>) -> String {
    match item {
        Item::Reply(r) => String::from_utf8_lossy(r.encode().as_bytes()).into_owned(),
        Item::List(l) => {
            // A list's head has its first page's facts: that page's `ok`
            // line from ` kind=` on, then its frames.
            let first = l.pages().next().expect("a list has a page");
            let line = String::from_utf8_lossy(Reply::Ok(first).encode().as_bytes()).into_owned();
            let facts = &line[line.find(" kind=").expect("an ok line has kind=")..];
            let frames: Vec<String> = l.frames().map(|f| format!("{f:x}")).collect();
            format!("list{facts} frames={}", frames.join(","))
        }
    }
}

#[test]
fn reply_examples_print_back() {
    let md = protocol();
    let mut wrong = Vec::new();
    for b in blocks(&md, "reply") {
        for (at, line) in lines_of(b) {
            match parse_item(line) {
                Err(e) => wrong.push(format!("docs/protocol.md:{at}: {e:?}: {line}")),
                Ok(item) if printed(&item) != line => wrong.push(format!(
                    "docs/protocol.md:{at}: prints back as\n  {}\nnot\n  {line}",
                    printed(&item)
                )),
                Ok(_) => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Where each field lies in a record: its offsets and sizes, by name, from
/// every table headed `offset | size | field`.
fn layout(md: &Markdown) -> HashMap<String, Vec<(usize, usize)>> {
    let mut fields: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
    for t in tables(md, &["offset", "size", "field"]) {
        for row in &t.rows {
            let num = |s: &str| {
                s.parse::<usize>()
                    .unwrap_or_else(|_| panic!("table at docs/protocol.md:{}: {s:?}", t.line))
            };
            fields
                .entry(row[2].clone())
                .or_default()
                .push((num(&row[0]), num(&row[1])));
        }
    }
    fields
}

/// A number as written beside a field: `0x` hex or decimal.
fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Reads a record block: its bytes (checking each line's field against
/// the layout and the value written beside it) and its `= ` line.
fn record_block(
    b: &Block,
    layout: &HashMap<String, Vec<(usize, usize)>>,
    wrong: &mut Vec<String>,
) -> (Vec<u8>, String) {
    let mut bytes = Vec::new();
    let mut expected = String::new();
    for (at, line) in lines_of(b) {
        if let Some(text) = line.strip_prefix("= ") {
            expected = text.to_string();
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let n = words
            .iter()
            .take_while(|w| w.len() == 2 && w.bytes().all(|c| c.is_ascii_hexdigit()))
            .count();
        let field: Vec<u8> = words[..n]
            .iter()
            .map(|w| u8::from_str_radix(w, 16).expect("hex digits"))
            .collect();
        let (name, value) = (words.get(n), words.get(n + 1));
        let Some(at_size) = name.and_then(|name| layout.get(*name)) else {
            wrong.push(format!("docs/protocol.md:{at}: no field named {name:?}"));
            continue;
        };
        if !at_size.contains(&(bytes.len(), field.len())) {
            wrong.push(format!(
                "docs/protocol.md:{at}: {} bytes at offset {}, where the tables put {:?} at {at_size:?} (offset, size)",
                field.len(),
                bytes.len(),
                name.unwrap_or(&"")
            ));
        }
        let mut le = [0u8; 8];
        le[..field.len().min(8)].copy_from_slice(&field[..field.len().min(8)]);
        if value.and_then(|v| number(v)) != Some(u64::from_le_bytes(le)) {
            wrong.push(format!(
                "docs/protocol.md:{at}: the bytes hold {}, not {value:?}",
                u64::from_le_bytes(le)
            ));
        }
        bytes.extend(field);
    }
    (bytes, expected)
}

#[test]
fn record_examples_decode() {
    let md = protocol();
    let layout = layout(&md);
    let mut wrong = Vec::new();
    for b in blocks(&md, "record") {
        let (bytes, expected) = record_block(b, &layout, &mut wrong);
        match decode_item(&bytes) {
            Ok(Some((item, used))) if used == bytes.len() && printed(&item) == expected => {}
            Ok(Some((item, used))) => wrong.push(format!(
                "record at docs/protocol.md:{}: {used} of {} bytes decode to\n  {}\nnot\n  {expected}",
                b.line,
                bytes.len(),
                printed(&item)
            )),
            other => wrong.push(format!(
                "record at docs/protocol.md:{}: {other:?}",
                b.line
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn reasons_table_is_the_codes() {
    let md = protocol();
    let t = tables(&md, &["code", "reason", "meaning"]);
    let rows: Vec<&Vec<String>> = t.iter().flat_map(|t| &t.rows).collect();
    assert_eq!(rows.len(), Reason::ALL.len(), "a row per reason");
    let mut listed = BTreeSet::new();
    for row in rows {
        let code: u8 = row[0].parse().expect("a code");
        let reason = Reason::from_code(code).map(Reason::as_str);
        assert_eq!(reason, Some(row[1].as_str()), "code {code} is {reason:?}");
        listed.insert(code);
    }
    let all: BTreeSet<u8> = Reason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(listed, all, "the reasons table lists every code once");
}
