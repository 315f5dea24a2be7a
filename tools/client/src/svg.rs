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
//!
//! What each pixel stands for is here (the categories, their colours, the
//! counting of replies into columns); where things are drawn in
//! `svg/layout.rs`; how the document is written in `svg/markup.rs`.

mod layout;
mod markup;

use gfn_proto::reply::{Kind, Reply, Share};
use gfn_proto::request::Reason;
use layout::{axis, height, split, G, LIMIT};
use std::collections::BTreeMap;

pub use crate::units::size;
pub use layout::{Geometry, Island, BREAK, GEOMETRY};
pub use markup::MAX_BYTES;

// Bytes in a guest page, as the protocol says.
use gfn_proto::facts::PAGE_SIZE as PAGE;
/// Nodes drawn in their own colour (the lowest present); the others are
/// drawn together as "other nodes".
const MAX_NODES: usize = 8;

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
}

#[cfg(test)]
mod tests {
    use super::layout::{label, ticks, MAX_BREAKS};
    use super::markup::FIXED;
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
