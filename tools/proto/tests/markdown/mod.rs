// SPDX-License-Identifier: GPL-2.0
//! What the documentation tests read of a Markdown file: its headings (as
//! GitHub's anchors), its links and images, its code spans, its fenced code
//! blocks and its tables, each with the line it is on.  Parsed with
//! pulldown-cmark, so that what counts as a link or a block is what a
//! CommonMark renderer (GitHub's among them) takes for one.

#![allow(dead_code)]

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The repository's top directory (`tools/proto` is two below it).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository's top directory")
}

/// The documents a user or contributor reads: `README.md` and every
/// `docs/*.md`, relative to the repository.
pub fn documents() -> Vec<PathBuf> {
    let top = repo();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(top.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("an entry of docs/").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(&top).expect("under the repository").into())
        .collect();
    docs.sort();
    docs.insert(0, "README.md".into());
    docs
}

/// The text of `doc` (relative to the repository).
pub fn read(doc: &Path) -> String {
    std::fs::read_to_string(repo().join(doc)).unwrap_or_else(|e| panic!("{}: {e}", doc.display()))
}

/// A fenced code block: its info string (```` ```request ```` gives
/// `request`) and its text.
pub struct Block {
    pub info: String,
    pub text: String,
    pub line: usize,
}

/// A table: its header cells and its rows, as text (code spans without
/// their backticks).
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub line: usize,
}

/// What the tests read of one Markdown file.
#[derive(Default)]
pub struct Markdown {
    /// The anchors of its headings, as GitHub makes them.
    pub anchors: Vec<String>,
    /// Link and image destinations.
    pub links: Vec<(String, usize)>,
    /// Code spans.
    pub code: Vec<(String, usize)>,
    pub blocks: Vec<Block>,
    pub tables: Vec<Table>,
}

/// GitHub's anchor of a heading: lower case, every character but letters,
/// digits, `-` and `_` dropped, spaces made `-`.  (A repeated heading gets
/// `-1`, `-2`, ...: see [`parse`].)
pub fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Link destinations in raw HTML (`href="..."`, `src="..."`).
fn html_links(html: &str) -> impl Iterator<Item = String> + '_ {
    ["href=\"", "src=\""].into_iter().flat_map(move |attr| {
        html.match_indices(attr).filter_map(move |(at, _)| {
            let rest = &html[at + attr.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
    })
}

/// Reads `text`.
pub fn parse(text: &str) -> Markdown {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut md = Markdown::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    // What is being gathered: a heading's text, a block, a table's cells.
    let mut heading: Option<String> = None;
    let mut block: Option<Block> = None;
    let mut table: Option<Table> = None;
    let mut row: Vec<String> = Vec::new();
    let mut cell: Option<String> = None;
    for (event, range) in Parser::new_ext(text, Options::ENABLE_TABLES).into_offset_iter() {
        let line = line_of(range.start);
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(&heading.take().unwrap_or_default());
                let n = seen.entry(base.clone()).or_insert(0);
                md.anchors.push(match *n {
                    0 => base,
                    n => format!("{base}-{n}"),
                });
                *n += 1;
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                block = Some(Block {
                    info: info.to_string(),
                    text: String::new(),
                    line,
                })
            }
            Event::End(TagEnd::CodeBlock) => md.blocks.extend(block.take()),
            Event::Start(Tag::Table(_)) => {
                table = Some(Table {
                    header: Vec::new(),
                    rows: Vec::new(),
                    line,
                })
            }
            Event::End(TagEnd::Table) => md.tables.extend(table.take()),
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => row.extend(cell.take()),
            Event::End(TagEnd::TableHead) => {
                if let Some(t) = table.as_mut() {
                    t.header = std::mem::take(&mut row);
                }
            }
            Event::End(TagEnd::TableRow) => {
                if let Some(t) = table.as_mut() {
                    t.rows.push(std::mem::take(&mut row));
                }
            }
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                md.links.push((dest_url.to_string(), line))
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                md.links.extend(html_links(&html).map(|l| (l, line)))
            }
            Event::Code(t) => {
                md.code.push((t.to_string(), line));
                for text in [&mut heading, &mut cell].into_iter().flatten() {
                    text.push_str(&t);
                }
            }
            Event::Text(t) => {
                for text in [&mut heading, &mut cell].into_iter().flatten() {
                    text.push_str(&t);
                }
                if let Some(b) = block.as_mut() {
                    b.text.push_str(&t);
                }
            }
            _ => {}
        }
    }
    md
}
