// SPDX-License-Identifier: GPL-2.0
//! Where a picture's things are drawn: the fixed geometry of its strips,
//! the address axis (islands of memslots drawn to scale, breaks for wide
//! holes), pixel heights of byte counts, and the address ticks.

// Bytes in a guest page, as the protocol says.
use gfn_proto::facts::PAGE_SIZE as PAGE;

/// Guest physical addresses from here on are not drawn.
pub(super) const LIMIT: u64 = 1 << 63;
/// Columns a hole drawn as a break takes.
pub const BREAK: u32 = 8;
/// At most this many breaks (the largest holes), so that at least half the
/// columns are memory.
pub(super) const MAX_BREAKS: usize = (GEOMETRY.columns / 2 / BREAK) as usize;

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
pub(super) const G: Geometry = GEOMETRY;

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
pub(super) fn axis(spans: &[(u64, u64)]) -> (u64, Vec<Island>) {
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

/// Pixels standing for `bytes` of a column of `bpc` bytes in a strip `h`
/// high, rounded (halves up).
pub(super) fn height(h: u32, bytes: u64, bpc: u64) -> u32 {
    let (b, bpc) = (u128::from(bytes.min(bpc)), u128::from(bpc));
    ((2 * u128::from(h) * b + bpc) / (2 * bpc)) as u32
}

/// Splits `total` pixels among `parts` in proportion: each gets its floor,
/// the pixels left go to the largest remainders (ties: the earlier part),
/// so the heights sum to `total` exactly.
pub(super) fn split(total: u32, parts: &[u64]) -> Vec<u32> {
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
pub(super) fn label(v: u64) -> String {
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
pub(super) fn ticks(islands: &[Island]) -> Vec<(u64, String)> {
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
