// SPDX-License-Identifier: GPL-2.0
//! Every link of the documentation leads somewhere: in `README.md` and
//! `docs/*.md`, each relative link or image names a file or directory of
//! the repository, and each `#anchor` a heading of its target as GitHub
//! anchors it; and each code span that names a path of the repository
//! (`tools/proto/src/reply.rs`, `testbed/`) names one that exists, so that
//! a file moved or renamed is not still described where it was.  External
//! links (http, https, mailto) are not fetched.

mod markdown;

use markdown::{documents, parse, read, repo};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// `path` with `.` and `..` taken out, without asking the file system;
/// `None` when it climbs out of the repository.
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// The anchors of every document, by its path in the repository.
fn anchors() -> HashMap<PathBuf, Vec<String>> {
    documents()
        .into_iter()
        .map(|d| {
            let a = parse(&read(&d)).anchors;
            (d, a)
        })
        .collect()
}

/// What is wrong with link `dest` of document `doc`, if anything.
fn check_link(doc: &Path, dest: &str, anchors: &HashMap<PathBuf, Vec<String>>) -> Option<String> {
    if ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| dest.starts_with(s))
    {
        return None;
    }
    let (path, anchor) = dest.split_once('#').unwrap_or((dest, ""));
    let target = if path.is_empty() {
        doc.to_path_buf()
    } else if let Some(from_top) = path.strip_prefix('/') {
        PathBuf::from(from_top)
    } else {
        doc.parent().unwrap_or(Path::new("")).join(path)
    };
    let Some(target) = normalise(&target) else {
        return Some(format!("{dest}: outside the repository"));
    };
    if !repo().join(&target).exists() {
        return Some(format!("{dest}: no {}", target.display()));
    }
    if anchor.is_empty() {
        return None;
    }
    match anchors.get(&target) {
        None => Some(format!(
            "{dest}: an anchor into {}, which is not a document checked here",
            target.display()
        )),
        Some(a) if !a.iter().any(|a| a == anchor) => Some(format!(
            "{dest}: {} has no heading #{anchor} (it has: {})",
            target.display(),
            a.join(", ")
        )),
        Some(_) => None,
    }
}

#[test]
fn every_link_and_anchor_resolves() {
    let anchors = anchors();
    let mut wrong = Vec::new();
    let mut links = 0;
    for doc in documents() {
        for (dest, line) in parse(&read(&doc)).links {
            links += 1;
            if let Some(why) = check_link(&doc, &dest, &anchors) {
                wrong.push(format!("{}:{line}: {why}", doc.display()));
            }
        }
    }
    assert!(links > 0, "no links found: is the Markdown read at all?");
    assert!(
        wrong.is_empty(),
        "links that lead nowhere:\n{}",
        wrong.join("\n")
    );
}

/// Whether a code span names a path of the repository: one word, under
/// one of its top directories, with no placeholder (`patches/SERIES/`)
/// or wildcard in it.
fn names_a_path(span: &str) -> bool {
    const TOP: [&str; 7] = [
        "module/", "shim/", "tools/", "testbed/", "patches/", "docs/", ".ci/",
    ];
    TOP.iter().any(|t| span.starts_with(t))
        && !span.contains(char::is_whitespace)
        && !span.contains(['*', '<', '$'])
        && !span
            .split('/')
            .any(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_uppercase()))
}

#[test]
fn every_path_named_in_code_exists() {
    let mut wrong = Vec::new();
    let mut paths = 0;
    for doc in documents() {
        for (span, line) in parse(&read(&doc)).code {
            if names_a_path(&span) {
                paths += 1;
                if !repo().join(&span).exists() {
                    wrong.push(format!("{}:{line}: `{span}`", doc.display()));
                }
            }
        }
    }
    assert!(paths > 0, "no paths found in code spans");
    assert!(
        wrong.is_empty(),
        "paths named in the documentation that the repository does not have:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn anchors_are_githubs() {
    assert_eq!(
        markdown::slug("What `make demo` shows"),
        "what-make-demo-shows"
    );
    assert_eq!(markdown::slug("1. Patch the kernel"), "1-patch-the-kernel");
    assert_eq!(
        markdown::slug("Counts, time limits and the time budget"),
        "counts-time-limits-and-the-time-budget"
    );
    assert_eq!(
        markdown::slug("The `/proc/gfn_to_pfn` protocol"),
        "the-procgfn_to_pfn-protocol"
    );
    let md = parse("# A\n\n## A\n\n### A b\n");
    assert_eq!(md.anchors, ["a", "a-1", "a-b"]);
}
