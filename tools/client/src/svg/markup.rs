// SPDX-License-Identifier: GPL-2.0
//! How a picture is written as SVG: the document's parts in order (title,
//! strip names, the memslot band, one path per fill, ticks, the axis's
//! metadata, the legend), and the bound on its size.

use super::layout::{ticks, G, MAX_BREAKS};
use super::{node_colour, size, sum, Category, Picture};
use super::{BAND_COLOUR, BREAK, MAX_NODES, OTHER_NODES_COLOUR};
use std::fmt::{self, Write};

/// Longest title drawn, in characters (the rest is cut).
const MAX_TITLE: usize = 200;
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
pub(super) const FIXED: usize = 16 * 1024;
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

impl Picture {
    /// Writes the SVG document (see [`Picture::render`]).
    pub(super) fn write_svg(&self, title: &str, out: &mut String) -> fmt::Result {
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
