// SPDX-License-Identifier: GPL-2.0
//! An SVG picture of one VM's guest physical address space, drawn from the
//! replies of one `all` as they stream by: a band of memslots, a strip of
//! what backs each stretch of guest memory, a strip of the NUMA nodes of
//! its present pages, address ticks and a legend.
//!
//! The address axis is linear within "islands" of memslots; a hole between
//! them that would take more than [`BREAK`] + 1 columns to scale (the PCI
//! hole below 4 GiB, the firmware just under it) is drawn as a break of
//! [`BREAK`] white columns instead, so that a real VM's memory fills the
//! picture.  The islands are written into the document (`<metadata
//! id="gfn-axis">`), for programs that read pixels back.  Bounded whatever the
//! guest's size: the address axis is a fixed number of pixel columns, each
//! holding only byte counts per category and per node (never a page or a
//! run), and each fill is one path whose rectangles merge equal neighbouring
//! columns, so no document exceeds [`MAX_BYTES`].

use gfn_proto::reply::{Kind, Reply, Share};
use gfn_proto::request::Reason;
use std::collections::BTreeMap;
use std::fmt::{self, Write};

pub use crate::units::size;

// Bytes in a guest page, as the protocol says.
use gfn_proto::facts::PAGE_SIZE as PAGE;
/// Nodes drawn in their own colour (the lowest present); the others are
/// drawn together as "other nodes".
const MAX_NODES: usize = 8;
/// Longest title drawn, in characters (the rest is cut).
const MAX_TITLE: usize = 200;
/// Guest physical addresses from here on are not drawn.
const LIMIT: u64 = 1 << 63;
/// Columns a hole drawn as a break takes.
pub const BREAK: u32 = 8;
/// At most this many breaks (the largest holes), so that at least half the
/// columns are memory.
const MAX_BREAKS: usize = (GEOMETRY.columns / 2 / BREAK) as usize;

/// One memslot of the address space being drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotSpan {
    /// Memslot id.
    pub id: u16,
    /// First guest physical address.
    pub gpa: u64,
    /// Size in bytes.
    pub size: u64,
}

/// What a pixel of the backing strip stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// Present in an ordinary base page.
    Base,
    /// Present in a transparent huge page.
    Thp,
    /// Present in a hugetlbfs page.
    Hugetlb,
    /// The shared zero page (whatever its kind).
    Zero,
    /// A page merged by KSM (whatever its kind).
    Ksm,
    /// `VM_PFNMAP` memory.
    Pfnmap,
    /// A private guest_memfd page.
    Gmem,
    /// Not present (`err:not-present`).
    NotPresent,
    /// Told with any other error.
    Error,
}

/// Name and colour of each category, in [`Category::ALL`] order: the
/// Okabe-Ito colours, none of them a node colour, the band's or white.
const CATEGORIES: [(&str, &str); 9] = [
    ("base", "#0072b2"),
    ("thp", "#009e73"),
    ("hugetlb", "#d55e00"),
    ("zero", "#f0e442"),
    ("ksm", "#cc79a7"),
    ("pfnmap", "#56b4e9"),
    ("gmem", "#e69f00"),
    ("not-present", "#d9d9d9"),
    ("error", "#000000"),
];

impl Category {
    /// Every category, in the order they stack from the bottom up.
    pub const ALL: [Category; 9] = {
        use Category::*;
        [
            Base, Thp, Hugetlb, Zero, Ksm, Pfnmap, Gmem, NotPresent, Error,
        ]
    };

    /// The category of a page reply (sharing before kind); `None` for
    /// replies that are not pages (`vm`, `slot`, bad tokens).
    pub fn of(reply: &Reply) -> Option<Category> {
        Some(match reply {
            Reply::Ok(t) => match (t.share, t.kind) {
                (Share::Zero, _) => Category::Zero,
                (Share::Ksm, _) => Category::Ksm,
                (Share::None, Kind::Base) => Category::Base,
                (Share::None, Kind::Thp) => Category::Thp,
                (Share::None, Kind::Hugetlb) => Category::Hugetlb,
                // Device memory either way: with struct pages or without.
                (Share::None, Kind::Pfnmap | Kind::Dax) => Category::Pfnmap,
                (Share::None, Kind::Gmem) => Category::Gmem,
            },
            Reply::AddrErr { reason, .. } if *reason == Reason::NotPresent => Category::NotPresent,
            Reply::AddrErr { .. } => Category::Error,
            _ => return None,
        })
    }

    /// The category's name in the legend.
    pub fn name(self) -> &'static str {
        CATEGORIES[self as usize].0
    }

    /// The category's fill, `#rrggbb`.
    pub fn colour(self) -> &'static str {
        CATEGORIES[self as usize].1
    }
}

/// Node colours (Tol's muted scheme), one per node shown.
const NODE_COLOURS: [&str; MAX_NODES] = [
    "#332288", "#882255", "#117733", "#999933", "#44aa99", "#aa4499", "#661100", "#6699cc",
];
/// The fill of the nodes past the first [`MAX_NODES`] present, together.
pub const OTHER_NODES_COLOUR: &str = "#ddcc77";
/// The fill of the memslot band.
pub const BAND_COLOUR: &str = "#888888";

/// The colour of NUMA node `node` in the node strip, where it is the
/// `rank`-th lowest node present (from 0): the nodes shown take the
/// palette in turn, so no two share a colour; the unknown node
/// (`u32::MAX`) is grey.
pub fn node_colour(node: u32, rank: usize) -> &'static str {
    match node {
        u32::MAX => "#bbbbbb",
        _ => NODE_COLOURS
            .get(rank)
            .copied()
            .unwrap_or(OTHER_NODES_COLOUR),
    }
}

/// Where things are drawn, in pixels (a contract a PNG checker relies on).
/// Column `c` of every strip is the pixel column `x0 + c`; nothing but the
/// strip's fills and the white background is ever drawn inside a strip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Left edge of column 0, and the number of columns.
    pub x0: u32,
    pub columns: u32,
    /// Top and height of the memslot band.
    pub band_y: u32,
    pub band_h: u32,
    /// Top and height of the backing strip.
    pub backing_y: u32,
    pub backing_h: u32,
    /// Top and height of the node strip.
    pub node_y: u32,
    pub node_h: u32,
    /// Width of every document, and its least height (a long legend adds rows).
    pub width: u32,
    pub height_min: u32,
}

/// The layout of every picture.
pub const GEOMETRY: Geometry = Geometry {
    x0: 64,
    columns: 1024,
    band_y: 40,
    band_h: 14,
    backing_y: 60,
    backing_h: 120,
    node_y: 186,
    node_h: 40,
    width: 64 + 1024 + 32,
    height_min: 304,
};
const G: Geometry = GEOMETRY;
/// Tick marks start at `TICK_Y`; legend rows of `ROW` pixels at `LEGEND_Y`.
const TICK_Y: u32 = G.node_y + G.node_h + 2;
const LEGEND_Y: u32 = TICK_Y + 30;
const ROW: u32 = 18;
const PER_ROW: usize = 5;

// `SEGMENT` assumes strips' x and width of at most 4 digits, y and height of 3.
const _: () = assert!(G.x0 + G.columns < 10_000 && G.node_y + G.node_h < 1000);
/// Longest rectangle of a path: `M1234 123h1234v123h-1234z`.
const SEGMENT: usize = 25;
/// Longest band rectangle with its `<title>` (longest ids, addresses and
/// sizes), and longest band label.
const BAND_RECT: usize = 192;
const BAND_LABEL: usize = 96;
/// All else: header, strip names, 9 category and 17 node legend entries
/// (about 150 bytes each), the title (6 bytes a character).
const FIXED: usize = 16 * 1024;
/// The axis: tick marks (about 22 bytes each: some 8 at the step's
/// multiples, plus at most two per island), labels (70 bytes, at least 48
/// pixels apart), and per island its metadata and break mark (60 bytes):
/// well under 200 bytes per island and per one of 8 ticks.
const AXIS: usize = (8 + MAX_BREAKS + 1) * 200;
/// Upper bound on the size of any rendered SVG, in bytes, whatever the guest size or map:
/// each of the 9 category paths and `MAX_NODES + 1` node paths starts at
/// most one rectangle per column, band groups are at most one per column,
/// and only groups 60 pixels wide or more are labelled.
pub const MAX_BYTES: usize = FIXED
    + AXIS
    + (9 + MAX_NODES + 1) * (64 + G.columns as usize * SEGMENT)
    + G.columns as usize * BAND_RECT
    + (G.columns as usize / 60 + 1) * BAND_LABEL;

/// What one column has been told.
#[derive(Clone, Debug, Default)]
struct Column {
    /// Bytes per category, in `Category::ALL` order.
    bytes: [u64; 9],
    /// Present bytes per node, sorted by node (nodes are few).
    nodes: Vec<(u32, u64)>,
}

/// Memslots whose pixel extents touch or overlap: one band rectangle over
/// columns `[from, to)`.
#[derive(Clone, Debug)]
struct Group {
    from: u32,
    to: u32,
    gpa: u64,
    end: u64,
    size: u64,
    ids: (u16, u16),
    count: usize,
}

/// Guest memory drawn to scale from column `col` on: `[gpa, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Island {
    pub gpa: u64,
    pub end: u64,
    pub col: u32,
}

/// The axis of `spans` (disjoint, by address): bytes per column and the
/// islands.  Holes wider than `BREAK + 1` columns become breaks (only
/// ever more of them, as columns get narrower, so this ends); the largest
/// `MAX_BREAKS` at most.
fn axis(spans: &[(u64, u64)]) -> (u64, Vec<Island>) {
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return (PAGE, Vec::new());
    };
    // gaps[i]: the hole after span i.
    let gaps: Vec<u64> = spans.windows(2).map(|w| w[1].0 - w[0].1).collect();
    let mut breaks = vec![false; gaps.len()];
    let islands = |breaks: &[bool], bpc: u64| -> Vec<Island> {
        let mut out: Vec<Island> = Vec::new();
        for (i, &(gpa, end)) in spans.iter().enumerate() {
            match out.last_mut() {
                Some(island) if !breaks[i - 1] => island.end = end,
                Some(island) => {
                    let col = island.col + (island.end - island.gpa).div_ceil(bpc) as u32 + BREAK;
                    out.push(Island { gpa, end, col });
                }
                None => out.push(Island { gpa, end, col: 0 }),
            }
        }
        out
    };
    loop {
        let n = breaks.iter().filter(|&&b| b).count();
        let drawn = last.1
            - first.0
            - (0..gaps.len())
                .filter(|&i| breaks[i])
                .map(|i| gaps[i])
                .sum::<u64>();
        let free = u64::from(G.columns - n as u32 * BREAK);
        // At least a page; not rounded to whole pages, which would leave
        // up to a quarter of a small VM's picture empty.
        let mut bpc = drawn.div_ceil(free).max(PAGE);
        // Each island rounds up to whole columns: widen until all fit.
        let fits = |bpc: u64| {
            let isl = islands(&breaks, bpc);
            isl.last().is_none_or(|l| {
                u64::from(l.col) + (l.end - l.gpa).div_ceil(bpc) <= u64::from(G.columns)
            })
        };
        // (By 1/1024th: a few steps even for huge columns.)
        while !fits(bpc) {
            bpc += (bpc / 1024).max(1);
        }
        let mut wide: Vec<usize> = (0..gaps.len())
            .filter(|&i| !breaks[i] && gaps[i] > u64::from(BREAK + 1) * bpc)
            .collect();
        let room = MAX_BREAKS - n;
        if wide.is_empty() || room == 0 {
            return (bpc, islands(&breaks, bpc));
        }
        wide.sort_by_key(|&i| std::cmp::Reverse(gaps[i]));
        for &i in wide.iter().take(room) {
            breaks[i] = true;
        }
    }
}

/// The picture of one address space: built from its memslots, fed its
/// map's replies with [`add`](Picture::add), drawn with [`render`](Picture::render).
#[derive(Clone, Debug)]
pub struct Picture {
    /// Memslots of nonzero size, by address.
    slots: Vec<SlotSpan>,
    /// Their union: disjoint `[start, end)`, by address.
    spans: Vec<(u64, u64)>,
    bpc: u64,
    /// Where the spans are drawn, by address.
    islands: Vec<Island>,
    /// One per column up to the last island's end.
    cols: Vec<Column>,
}

/// `text` fit for XML: markup escaped, characters XML forbids turned to
/// spaces, cut to [`MAX_TITLE`] characters (so a title cannot grow a file).
fn escape(text: &str) -> String {
    let mut out = String::new();
    for ch in text.chars().take(MAX_TITLE) {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Pixels standing for `bytes` of a column of `bpc` bytes in a strip `h`
/// high, rounded (halves up).
fn height(h: u32, bytes: u64, bpc: u64) -> u32 {
    let (b, bpc) = (u128::from(bytes.min(bpc)), u128::from(bpc));
    ((2 * u128::from(h) * b + bpc) / (2 * bpc)) as u32
}

/// Splits `total` pixels among `parts` in proportion: each gets its floor,
/// the pixels left go to the largest remainders (ties: the earlier part),
/// so the heights sum to `total` exactly.
fn split(total: u32, parts: &[u64]) -> Vec<u32> {
    let sum: u128 = parts.iter().map(|&p| u128::from(p)).sum();
    if sum == 0 {
        return vec![0; parts.len()];
    }
    let share = |p: u64| u128::from(total) * u128::from(p);
    let mut out: Vec<u32> = parts.iter().map(|&p| (share(p) / sum) as u32).collect();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(share(parts[i]) % sum));
    let left = total - out.iter().sum::<u32>();
    for &i in order.iter().take(left as usize) {
        out[i] += 1;
    }
    out
}

/// An address as a tick label: "0", "512M", "1.5G", "1T" (quarters of a
/// MiB, GiB or TiB at most), else in hex.
fn label(v: u64) -> String {
    if v == 0 {
        return "0".into();
    }
    for (unit, shift) in [("T", 40), ("G", 30), ("M", 20)] {
        if v >= 1 << shift && v.is_multiple_of(1 << (shift - 2)) {
            let s = format!("{:.2}", v as f64 / (1u64 << shift) as f64);
            return format!("{}{unit}", s.trim_end_matches('0').trim_end_matches('.'));
        }
    }
    format!("{v:#x}")
}

/// Ticks of the islands, as addresses with their labels: the multiples of
/// the largest power-of-two step that puts at least 4 of them in the
/// islands (ends excluded; so at most about 8 in one island), the end of
/// an island where it is a multiple, and the start of every island.
fn ticks(islands: &[Island]) -> Vec<(u64, String)> {
    let multiples = |step: u64| -> u64 {
        islands
            .iter()
            .map(|l| ((l.end - 1) / step + 1).saturating_sub(l.gpa.div_ceil(step)))
            .sum()
    };
    let mut step = 1u64 << 63;
    while step > PAGE && multiples(step) < 4 {
        step >>= 1;
    }
    let mut out = Vec::new();
    for l in islands {
        if !l.gpa.is_multiple_of(step) {
            out.push((l.gpa, label(l.gpa)));
        }
        for k in l.gpa.div_ceil(step)..=l.end / step {
            out.push((k * step, label(k * step)));
        }
    }
    out
}

/// The rectangles of one fill: horizontally adjacent columns with the same
/// top and height are one rectangle, which keeps files small.
#[derive(Default)]
struct Runs {
    d: String,
    /// The rectangle still growing: x, width, y, height.
    open: Option<(u32, u32, u32, u32)>,
}

impl Runs {
    fn push(&mut self, x: u32, y: u32, h: u32) {
        match &mut self.open {
            _ if h == 0 => {}
            Some((x1, w, y1, h1)) if *x1 + *w == x && (*y1, *h1) == (y, h) => *w += 1,
            _ => {
                self.flush();
                self.open = Some((x, 1, y, h));
            }
        }
    }

    fn flush(&mut self) {
        if let Some((x, w, y, h)) = self.open.take() {
            let _ = write!(self.d, "M{x} {y}h{w}v{h}h-{w}z");
        }
    }

    /// Writes the path, if it has a rectangle.
    fn write(mut self, out: &mut String, fill: &str) -> fmt::Result {
        self.flush();
        if self.d.is_empty() {
            return Ok(());
        }
        writeln!(out, "<path fill=\"{fill}\" d=\"{}\"/>", self.d)
    }
}

/// Writes a text element; `attrs` start with a space.  Text is never drawn
/// inside a strip.
fn text(out: &mut String, x: u32, y: u32, attrs: &str, body: &str) -> fmt::Result {
    writeln!(out, "<text x=\"{x}\" y=\"{y}\"{attrs}>{body}</text>")
}

/// Pushes the segments of one column, `heights` from `bottom` up.
fn stack_up(runs: &mut [Runs], x: u32, bottom: u32, heights: impl IntoIterator<Item = u32>) {
    let mut y = bottom;
    for (r, h) in runs.iter_mut().zip(heights) {
        y -= h;
        r.push(x, y, h);
    }
}

/// Saturating sum (a map telling a page twice must not overflow).
fn sum<'a>(v: impl IntoIterator<Item = &'a u64>) -> u64 {
    v.into_iter().fold(0, |a, &b| a.saturating_add(b))
}

impl Picture {
    /// `slots`: the memslots of one address space (any order; may be empty).
    pub fn new(slots: &[SlotSpan]) -> Picture {
        // Nothing is drawn from 2^63 on (KVM reaches 2^52), so that no
        // address sum below can overflow.
        let mut slots: Vec<SlotSpan> = slots
            .iter()
            .filter(|s| s.gpa < LIMIT)
            .map(|&s| SlotSpan {
                size: s.size.min(LIMIT - s.gpa),
                ..s
            })
            .filter(|s| s.size > 0)
            .collect();
        slots.sort_by_key(|s| (s.gpa, s.id));
        let mut spans: Vec<(u64, u64)> = Vec::new();
        for s in &slots {
            let end = s.gpa.saturating_add(s.size);
            match spans.last_mut() {
                Some(last) if s.gpa <= last.1 => last.1 = last.1.max(end),
                _ => spans.push((s.gpa, end)),
            }
        }
        let (bpc, islands) = axis(&spans);
        let used = islands.last().map_or(0, |l| {
            l.col as usize + (l.end - l.gpa).div_ceil(bpc) as usize
        });
        Picture {
            slots,
            spans,
            bpc,
            islands,
            cols: vec![Column::default(); used],
        }
    }

    /// The island holding `gpa`, if any.
    fn island(&self, gpa: u64) -> Option<&Island> {
        let i = self.islands.partition_point(|l| l.end <= gpa);
        self.islands.get(i).filter(|l| l.gpa <= gpa)
    }

    /// The column drawing guest physical address `gpa`: `None` in a hole
    /// drawn as a break, or outside the memslots' extent.
    pub fn column_of(&self, gpa: u64) -> Option<u32> {
        self.island(gpa)
            .map(|l| l.col + ((gpa - l.gpa) / self.bpc) as u32)
    }

    /// The column just past guest physical address `end - 1`.
    fn column_after(&self, end: u64) -> u32 {
        self.island(end - 1)
            .map_or(0, |l| l.col + (end - l.gpa).div_ceil(self.bpc) as u32)
    }

    /// Where the memslots are drawn to scale, by address.
    pub fn islands(&self) -> &[Island] {
        &self.islands
    }

    /// Counts one reply of the map (ignores replies outside every slot span, and non-page replies).
    /// Parts of a reply outside the spans are cut off; a run is split
    /// exactly over the columns it crosses.
    pub fn add(&mut self, reply: &Reply) {
        let (cat, gpa, pages, node) = match (Category::of(reply), *reply) {
            (Some(c), Reply::Ok(t)) => (c, t.gpa, t.pages, Some(t.node)),
            (Some(c), Reply::AddrErr { gpa, pages, .. }) => (c, gpa, pages, None),
            _ => return,
        };
        let end = gpa.saturating_add(pages.saturating_mul(PAGE));
        let first = self.spans.partition_point(|s| s.1 <= gpa);
        for &(s, e) in self.spans.get(first..).unwrap_or(&[]) {
            if s >= end {
                break;
            }
            let (mut at, stop) = (gpa.max(s), end.min(e));
            let Some(&island) = self.island(at) else {
                continue;
            };
            while at < stop {
                let k = (at - island.gpa) / self.bpc;
                let c = u64::from(island.col) + k;
                let upto = stop.min(island.gpa + (k + 1) * self.bpc);
                let Some(col) = self.cols.get_mut(c as usize) else {
                    break;
                };
                let n = upto - at;
                col.bytes[cat as usize] = col.bytes[cat as usize].saturating_add(n);
                if let Some(node) = node {
                    match col.nodes.binary_search_by_key(&node, |&(k, _)| k) {
                        Ok(i) => col.nodes[i].1 = col.nodes[i].1.saturating_add(n),
                        Err(i) => col.nodes.insert(i, (node, n)),
                    }
                }
                at = upto;
            }
        }
    }

    /// Bytes per column: column `island.col + k` covers guest physical
    /// `[island.gpa + k*bpc, island.gpa + (k+1)*bpc)`.
    pub fn bytes_per_column(&self) -> u64 {
        self.bpc
    }

    /// The bytes of column `c` told, per category in [`Category::ALL`] order.
    pub fn column_bytes(&self, c: u32) -> [u64; 9] {
        self.cols.get(c as usize).map_or([0; 9], |col| col.bytes)
    }

    /// The pixel heights of column `c` of the backing strip, per category
    /// in [`Category::ALL`] order, which is their order from the bottom up.
    pub fn stack(&self, c: u32) -> [u32; 9] {
        let bytes = self.column_bytes(c);
        let h = split(height(G.backing_h, sum(&bytes), self.bpc), &bytes);
        std::array::from_fn(|i| h[i])
    }

    /// The present bytes of every node.
    fn nodes(&self) -> BTreeMap<u32, u64> {
        let mut all = BTreeMap::<u32, u64>::new();
        for &(node, n) in self.cols.iter().flat_map(|c| &c.nodes) {
            let t = all.entry(node).or_default();
            *t = t.saturating_add(n);
        }
        all
    }

    /// The pixel heights of column `c` of the node strip: for each node of
    /// `shown`, then for all other nodes together, from the bottom up.
    fn node_stack(&self, c: u32, shown: &[u32]) -> Vec<u32> {
        let mut parts = vec![0u64; shown.len() + 1];
        for &(node, n) in self.cols.get(c as usize).map_or(&[][..], |c| &c.nodes) {
            let i = shown.binary_search(&node).unwrap_or(shown.len());
            parts[i] = parts[i].saturating_add(n);
        }
        split(height(G.node_h, sum(&parts), self.bpc), &parts)
    }

    /// The band's rectangles, by address: merging slots whose extents
    /// touch or overlap leaves at most one group per column.
    fn groups(&self) -> Vec<Group> {
        let mut out: Vec<Group> = Vec::new();
        for s in &self.slots {
            let end = s.gpa.saturating_add(s.size);
            let from = self.column_of(s.gpa).unwrap_or(0);
            let to = self.column_after(end).max(from + 1);
            match out.last_mut() {
                Some(g) if from <= g.to => {
                    (g.to, g.end) = (g.to.max(to), g.end.max(end));
                    g.size = g.size.saturating_add(s.size);
                    g.ids = (g.ids.0.min(s.id), g.ids.1.max(s.id));
                    g.count += 1;
                }
                _ => {
                    let (gpa, size, ids, count) = (s.gpa, s.size, (s.id, s.id), 1);
                    out.push(Group {
                        from,
                        to,
                        gpa,
                        end,
                        size,
                        ids,
                        count,
                    });
                }
            }
        }
        out
    }

    /// The SVG document. `title` is free text (escape it for XML!): it is
    /// escaped here, and cut to 200 characters.
    pub fn render(&self, title: &str) -> String {
        let mut out = String::new();
        // Writing to a `String` cannot fail.
        let _ = self.write_svg(title, &mut out);
        out
    }

    fn write_svg(&self, title: &str, out: &mut String) -> fmt::Result {
        let node_bytes = self.nodes();
        let shown: Vec<u32> = node_bytes.keys().copied().take(MAX_NODES).collect();
        let mut totals = [0u64; 9];
        for (i, t) in totals.iter_mut().enumerate() {
            *t = sum(self.cols.iter().map(|c| &c.bytes[i]));
        }
        // The legend: swatch colour and text, categories then nodes.
        let mut cats: Vec<(&str, String)> = Vec::new();
        for (cat, &b) in Category::ALL.iter().zip(&totals).filter(|(_, &b)| b > 0) {
            let pc = format!("{:.1}", b as f64 * 100.0 / sum(&totals) as f64);
            let pc = pc.strip_suffix(".0").unwrap_or(&pc);
            cats.push((cat.colour(), format!("{} {} ({pc}%)", cat.name(), size(b))));
        }
        let mut nodes: Vec<(&str, String)> = Vec::new();
        for (rank, (&n, &b)) in node_bytes.iter().take(MAX_NODES).enumerate() {
            let name = if n == u32::MAX {
                "unknown".into()
            } else {
                n.to_string()
            };
            nodes.push((node_colour(n, rank), format!("node {name} {}", size(b))));
        }
        let rest = node_bytes.values().skip(MAX_NODES);
        if rest.len() > 0 {
            let text = format!("{} other nodes {}", rest.len(), size(sum(rest)));
            nodes.push((OTHER_NODES_COLOUR, text));
        }
        let rows: Vec<_> = cats.chunks(PER_ROW).chain(nodes.chunks(PER_ROW)).collect();
        let (w, h) = (
            G.width,
            (LEGEND_Y + rows.len() as u32 * ROW + 8).max(G.height_min),
        );
        writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" shape-rendering=\"crispEdges\" font-family=\"sans-serif\" \
             font-size=\"11\" fill=\"#000\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>"
        )?;
        text(out, 8, 18, " font-size=\"14\"", &escape(title))?;
        for (name, y, h) in [
            ("slots", G.band_y, G.band_h),
            ("backing", G.backing_y, G.backing_h),
            ("nodes", G.node_y, G.node_h),
        ] {
            text(out, G.x0 - 6, y + h / 2 + 4, " text-anchor=\"end\"", name)?;
        }
        // The band; its labels stand above it, never in a strip.
        writeln!(out, "<g fill=\"{BAND_COLOUR}\">")?;
        let mut labels = String::new();
        for g in self.groups() {
            let (x, gw, (a, b)) = (G.x0 + g.from, g.to - g.from, g.ids);
            let name = match g.count {
                1 => format!("slot {a}"),
                _ => format!("slots {a}-{b}"),
            };
            let count = match g.count {
                n if n > 1 && n != usize::from(b - a) + 1 => format!(" ({n} memslots)"),
                _ => String::new(),
            };
            let (y, bh, size) = (G.band_y, G.band_h, size(g.size));
            writeln!(
                out,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{gw}\" height=\"{bh}\"><title>{name}: \
                 {:#x}-{:#x}, {size}{count}</title></rect>",
                g.gpa, g.end
            )?;
            if gw >= 60.max(7 * name.len() as u32) {
                let attrs = " text-anchor=\"middle\" font-size=\"10\"";
                text(&mut labels, x + gw / 2, y - 4, attrs, &name)?;
            }
        }
        writeln!(out, "</g>\n{labels}")?;
        // The strips: one path per category, and per node shown.
        let mut cat_runs: Vec<Runs> = (0..9).map(|_| Runs::default()).collect();
        let mut node_runs: Vec<Runs> = (0..=shown.len()).map(|_| Runs::default()).collect();
        for c in 0..self.cols.len() as u32 {
            let x = G.x0 + c;
            stack_up(&mut cat_runs, x, G.backing_y + G.backing_h, self.stack(c));
            stack_up(
                &mut node_runs,
                x,
                G.node_y + G.node_h,
                self.node_stack(c, &shown),
            );
        }
        for (runs, cat) in cat_runs.into_iter().zip(Category::ALL) {
            runs.write(out, cat.colour())?;
        }
        for (i, runs) in node_runs.into_iter().enumerate() {
            let fill = shown
                .get(i)
                .map_or(OTHER_NODES_COLOUR, |&n| node_colour(n, i));
            runs.write(out, fill)?;
        }
        // Address ticks: 1 px wide marks under the node strip, then labels
        // (one too close to the one before is left out); a zigzag under
        // each break.
        let mut marks = String::new();
        // Labels at least 48 px apart; of two closer ones, an island's
        // start (where the axis jumps) wins over a multiple of the step.
        let mut labels: Vec<(u32, String, bool)> = Vec::new();
        for (v, label) in ticks(&self.islands) {
            let Some(c) = self
                .column_of(v)
                .or_else(|| v.checked_sub(1).map(|e| self.column_after(e + 1)))
            else {
                continue;
            };
            let x = G.x0 + c;
            write!(marks, "M{x} {TICK_Y}h1v5h-1z")?;
            let start = self.islands.iter().any(|l| l.gpa == v);
            match labels.last_mut() {
                Some(last) if x < last.0 + 48 => {
                    if start && !last.2 {
                        *last = (x, label, start);
                    }
                }
                _ => labels.push((x, label, start)),
            }
        }
        for (x, label, _) in &labels {
            text(out, *x, TICK_Y + 17, " text-anchor=\"middle\"", label)?;
        }
        writeln!(out, "<path d=\"{marks}\"/>")?;
        let mut zigzag = String::new();
        for w in self.islands.windows(2) {
            let x = G.x0 + w[1].col - BREAK + 1;
            write!(zigzag, "M{x} {}l2 -4l2 4l2 -4", TICK_Y + 5)?;
        }
        if !zigzag.is_empty() {
            writeln!(out, "<path fill=\"none\" stroke=\"#000\" d=\"{zigzag}\"/>")?;
        }
        // The axis, for programs that read the pixels back.
        let islands: Vec<String> = self
            .islands
            .iter()
            .map(|l| format!("[{},{},{}]", l.gpa, l.end, l.col))
            .collect();
        writeln!(
            out,
            "<metadata id=\"gfn-axis\">{{\"bytes_per_column\":{},\"islands\":[{}]}}</metadata>",
            self.bpc,
            islands.join(",")
        )?;
        // The legend, one row after another.
        for (r, row) in rows.iter().enumerate() {
            for (i, (colour, body)) in row.iter().enumerate() {
                let x = G.x0 + i as u32 * (G.columns / PER_ROW as u32);
                let y = LEGEND_Y + r as u32 * ROW;
                write!(
                    out,
                    "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>"
                )?;
                text(out, x + 16, y + 10, "", body)?;
            }
        }
        writeln!(out, "</svg>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gfn_proto::reply::parse_line;
    use std::time::{Duration, Instant};

    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;

    /// A reply of category `cat`, parsed from its line.
    fn line(cat: Category, gpa: u64, pages: u64, node: u32) -> Reply {
        let (kind, share) = match cat {
            Category::Zero | Category::Ksm => ("base", cat.name()),
            _ => (cat.name(), "none"),
        };
        let text = match cat {
            Category::NotPresent => format!("err:not-present gpa={gpa:#x} pid=7 pages={pages}"),
            Category::Error => format!("err:no-vma gpa={gpa:#x} pid=7 pages={pages}"),
            _ => format!(
                "ok phys=0x200000 kind={kind} gpa={gpa:#x} hva=0x1000000 pid=7 size=4096 order=0 \
                 node={node} slot=0 as=0 share={share} map=pte pages={pages}"
            ),
        };
        parse_line(&text).unwrap()
    }

    fn slot(id: u16, gpa: u64, size: u64) -> SlotSpan {
        SlotSpan { id, gpa, size }
    }

    #[test]
    fn slots_with_a_hole_stack_exactly() {
        use Category::*;
        // A THP slot [0, 1G), a hole of 8 columns [1G, 1G + 24M), drawn
        // to scale, a mixed slot [1G + 24M, 3G).
        let mut p = Picture::new(&[slot(1, GIB + 24 * MIB, 2 * GIB - 24 * MIB), slot(0, 0, GIB)]);
        assert_eq!(p.bytes_per_column(), 3 * MIB);
        p.add(&line(Thp, 0, GIB / PAGE, 0));
        // Column 700, [2100M, 2103M): 1M base, 1M THP, 512K zero.
        p.add(&line(Base, 2100 * MIB, 256, 0));
        p.add(&line(Thp, 2101 * MIB, 256, 1));
        p.add(&line(Zero, 2102 * MIB, 128, 1));
        // Column 800: 1M, 1M and 1M less a page: 119.84 px, so 40 each.
        p.add(&line(Ksm, 2400 * MIB, 256, 0));
        p.add(&line(NotPresent, 2401 * MIB, 256, 0));
        p.add(&line(Error, 2402 * MIB, 255, 0));
        p.add(&parse_line("vm pid=7 slots=2 memory=1").unwrap());
        assert_eq!(p.stack(0), [0, 120, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(p.stack(345), [0; 9], "the hole");
        assert_eq!(p.islands().len(), 1);
        assert_eq!(p.stack(700), [40, 40, 0, 20, 0, 0, 0, 0, 0]);
        assert_eq!(p.stack(800), [0, 0, 0, 0, 40, 0, 0, 40, 40]);
        // 33 px of present memory: 13.2 for node 0, 19.8 for node 1.
        assert_eq!(p.node_stack(700, &[0, 1]), [13, 20, 0]);
        let g: Vec<_> = p.groups().iter().map(|g| (g.from, g.to)).collect();
        assert_eq!(g, [(0, 342), (349, 1024)]);
        let svg = p.render("vm 7");
        assert!(
            svg.contains("<title>slot 0: 0x0-0x40000000, 1 GiB</title>"),
            "{svg}"
        );
        assert!(svg.contains("<path fill=\"#009e73\" d=\"M64 60h341v120h-341zM405 140h1v40h-1z"));
        assert!(svg.contains("thp 1 GiB (99.6%)") && svg.contains("node 1 1.5 MiB"));
        for cat in Category::ALL {
            assert_eq!(Category::of(&line(cat, 0, 1, 0)), Some(cat));
        }
    }

    #[test]
    fn wide_holes_are_breaks() {
        // The test VMM's layout: data slots with a 16 MiB hole, and its
        // code slot just below 4 GiB.
        let p = Picture::new(&[
            slot(0, 0, 48 * MIB),
            slot(1, 64 * MIB, 48 * MIB),
            slot(2, 0xfff0_0000, MIB),
        ]);
        let bpc = p.bytes_per_column();
        let isl = p.islands();
        assert_eq!(isl.len(), 3, "{isl:?}");
        // 97 MiB over 1024 - 2 breaks' columns, a little more so that
        // each island has whole columns.
        let even = (97 * MIB).div_ceil(1024 - 2 * u64::from(BREAK));
        assert!(bpc >= even && bpc <= even + even / 256, "{bpc} vs {even}");
        assert_eq!(isl[1].col, (48 * MIB).div_ceil(bpc) as u32 + BREAK);
        assert_eq!(p.column_of(56 * MIB), None, "in a break");
        assert_eq!(p.column_of(64 * MIB), Some(isl[1].col));
        assert_eq!(p.column_of(0xfff0_0000), Some(isl[2].col));
        let last = isl[2].col as usize + MIB.div_ceil(bpc) as usize;
        assert!(last <= 1024 && last > 1000, "{last}");
        let svg = p.render("vmm");
        assert!(
            svg.contains(">4095M</text>") && svg.contains(">64M</text>"),
            "{svg}"
        );
        assert!(
            svg.contains(&format!("\"islands\":[[0,{},0],", 48 * MIB)),
            "{svg}"
        );
        // Holes to scale stay: 1 GiB slots 8 columns (of 2 MiB) apart.
        let p = Picture::new(&[slot(0, 0, GIB), slot(1, GIB + 16 * MIB, GIB)]);
        assert_eq!(p.islands().len(), 1);
    }

    #[test]
    fn addresses_near_the_top_do_not_overflow() {
        // Slots from 2^63 on are not drawn; one across it is cut there.
        let p0 = Picture::new(&[slot(0, u64::MAX - MIB + 1, MIB), slot(1, 0, PAGE)]);
        assert_eq!(p0.islands().len(), 1);
        let mut p = Picture::new(&[slot(0, (1 << 63) - MIB, 2 * MIB), slot(1, 0, PAGE)]);
        p.add(&line(Category::Base, (1 << 63) - PAGE, 2, 0));
        p.add(&line(Category::Base, !(PAGE - 1), 1, 0));
        let told: u64 = (0..1024).map(|c| p.column_bytes(c)[0]).sum();
        assert_eq!(told, PAGE);
        assert!(p.render("top").len() <= MAX_BYTES);
    }

    #[test]
    fn split_is_largest_remainder() {
        assert_eq!(split(10, &[1, 1, 1]), [4, 3, 3]);
        assert_eq!(split(7, &[5, 3, 2]), [4, 2, 1]);
        assert_eq!(
            (split(0, &[5, 3]), split(5, &[0, 0])),
            (vec![0, 0], vec![0, 0])
        );
        assert_eq!((height(120, 1, 3), height(120, 99, 3)), (40, 120));
    }

    #[test]
    fn runs_split_across_columns_exactly() {
        let mut p = Picture::new(&[slot(0, 0x1000, 64 * MIB - 0x1000), slot(2, 128 * MIB, MIB)]);
        let bpc = p.bytes_per_column();
        // The 64 MiB hole is a break: columns count from 0x1000 on.
        assert_eq!(p.islands().len(), 2);
        let drawn = 65 * MIB - PAGE;
        let even = drawn.div_ceil(1024 - u64::from(BREAK));
        assert!(bpc >= even && bpc <= even + even / 256, "{bpc} vs {even}");
        let mut told = 0;
        for (gpa, pages) in [(0x3000, 1000), (0x3e9000, 15_000), (0, 2), (127 * MIB, 512)] {
            p.add(&line(Category::Base, gpa, pages, 3));
            told += pages * PAGE;
        }
        // Less what lies outside the slots: a page below, 1 MiB in the hole.
        told -= PAGE + MIB;
        assert_eq!((0..1024).map(|c| p.column_bytes(c)[0]).sum::<u64>(), told);
        assert_eq!(p.column_bytes(0)[0], bpc - PAGE);
        assert_eq!(p.column_bytes(1)[0], bpc);
    }

    #[test]
    fn a_terabyte_of_alternating_runs_stays_small() {
        let t = Instant::now();
        let mut p = Picture::new(&[slot(0, 0, 3 * GIB), slot(1, 4 * GIB, 1020 * GIB)]);
        for i in 0..1u64 << 19 {
            p.add(&line(
                Category::ALL[i as usize % 9],
                i * 2 * MIB,
                512,
                (i % 40) as u32,
            ));
        }
        let added = t.elapsed();
        let svg = p.render("1 TiB");
        assert!(added.as_secs() < 30 && t.elapsed() - added < Duration::from_secs(2));
        assert!(svg.len() <= MAX_BYTES, "{} > {MAX_BYTES}", svg.len());
        assert!(svg.contains("32 other nodes") && svg.contains(">1T</text>"));
        // Near the worst: 1 GiB columns all different, 512 slot groups (a
        // slot in every other column), a long title.
        let mut slots: Vec<_> = (0..512)
            .map(|i| slot(i, u64::from(i) * 2 * GIB, GIB))
            .collect();
        slots.push(slot(600, (1 << 40) - PAGE, PAGE));
        let mut p = Picture::new(&slots);
        assert_eq!((p.bytes_per_column(), p.groups().len()), (GIB, 512));
        for c in (0..1024u64).step_by(2) {
            let mut gpa = c * GIB;
            for (k, cat) in Category::ALL.into_iter().enumerate() {
                let pages = 1 + (c * 7919 + k as u64 * 104_729) % 29_000;
                p.add(&line(cat, gpa, pages, ((c + k as u64) % 40) as u32));
                gpa += pages * PAGE;
            }
        }
        let svg = p.render(&"\"<&>".repeat(100));
        assert!(svg.len() <= MAX_BYTES, "{} > {MAX_BYTES}", svg.len());
        // The most breaks: 80 small slots 1 TiB apart (13 columns to
        // scale), each holding every category.
        let slots: Vec<_> = (0..80)
            .map(|i| slot(i, u64::from(i) << 40, 4 * MIB))
            .collect();
        let mut p = Picture::new(&slots);
        assert_eq!(p.islands().len(), MAX_BREAKS + 1);
        for s in &slots {
            for (k, cat) in Category::ALL.into_iter().enumerate() {
                p.add(&line(
                    cat,
                    s.gpa + k as u64 * 400 * 1024,
                    100,
                    u32::from(s.id) % 40,
                ));
            }
        }
        let svg = p.render("breaks");
        assert!(svg.len() <= MAX_BYTES, "{} > {MAX_BYTES}", svg.len());
    }

    #[test]
    fn title_is_escaped() {
        let svg = Picture::new(&[]).render("a<b & \"c\"\u{1}");
        assert!(svg.contains(">a&lt;b &amp; &quot;c&quot; </text>"), "{svg}");
        assert!(!svg.contains("a<b") && svg.len() < FIXED);
    }

    #[test]
    fn tick_labels() {
        let labels = |end| {
            let island = Island {
                gpa: 0,
                end,
                col: 0,
            };
            ticks(&[island])
                .into_iter()
                .map(|t| t.1)
                .collect::<Vec<_>>()
        };
        assert_eq!(labels(2 * GIB), ["0", "512M", "1G", "1.5G", "2G"]);
        assert_eq!(labels(6 * GIB), ["0", "1G", "2G", "3G", "4G", "5G", "6G"]);
        assert_eq!(labels(1 << 40), ["0", "256G", "512G", "768G", "1T"]);
        assert_eq!(labels(3 * GIB + PAGE), ["0", "1G", "2G", "3G"]);
        assert_eq!(
            (label(0xfff0_0000), label(0x1234_5000)),
            ("4095M".into(), "0x12345000".into())
        );
    }

    #[test]
    fn colours_are_distinct() {
        let mut all: Vec<&str> = Category::ALL.iter().map(|c| c.colour()).collect();
        all.extend((0..MAX_NODES).map(|rank| node_colour(7, rank)));
        all.push(node_colour(u32::MAX, 0));
        all.extend([OTHER_NODES_COLOUR, BAND_COLOUR, "#ffffff"]);
        let n = all.len();
        assert!(all.iter().all(|c| c.len() == 7 && *c == c.to_lowercase()));
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
