// SPDX-License-Identifier: GPL-2.0
//! What changed between two maps of the same guest memory: runs whose host
//! frame, kind, order, mapping level, node, sharing or error changed (a
//! THP collapsed or split, a page migrated to another node, merged or
//! unmerged by KSM, compacted, swapped out).  Maps are kept as their runs,
//! so memory follows the number of runs, not of pages.

use gfn_proto::reply::{Reply, Translation};
use gfn_proto::request::Reason;
use serde::Serialize;
use std::fmt;

/// What one page of a run is: translated (the run's first frame and
/// facts), or an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Ok(Translation),
    Err(Reason),
}

/// One run of a map: `pages` guest pages from `gpa` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    gpa: u64,
    pages: u64,
    state: State,
}

impl Run {
    fn end(&self) -> u64 {
        self.gpa + self.pages * 4096
    }

    /// The state of the page at `gpa` (inside the run), as a one-page run
    /// state: the frame advanced to that page.
    fn at(&self, gpa: u64) -> State {
        match self.state {
            State::Ok(t) => State::Ok(Translation {
                phys: t.phys + (gpa - self.gpa),
                gpa,
                hva: t.hva + (gpa - self.gpa),
                pages: 1,
                ..t
            }),
            e => e,
        }
    }
}

/// A map: its runs in guest address order.
#[derive(Clone, Debug, Default)]
pub struct Map {
    runs: Vec<Run>,
}

impl Map {
    /// Adds one reply of the map (other replies are ignored).
    pub fn add(&mut self, reply: &Reply) {
        let run = match *reply {
            Reply::Ok(t) => Run {
                gpa: t.gpa,
                pages: t.pages,
                state: State::Ok(t),
            },
            Reply::AddrErr {
                reason, gpa, pages, ..
            } => Run {
                gpa,
                pages,
                state: State::Err(reason),
            },
            _ => return,
        };
        self.runs.push(run);
    }

    /// Pages told.
    pub fn pages(&self) -> u64 {
        self.runs.iter().map(|r| r.pages).sum()
    }
}

/// How a stretch of guest pages was, or is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Side {
    /// `ok`, or the error's reason.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phys: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<&'static str>,
}

impl From<State> for Side {
    fn from(s: State) -> Side {
        match s {
            State::Ok(t) => Side {
                status: "ok",
                phys: Some(t.phys),
                kind: Some(t.kind.as_str()),
                order: Some(t.order),
                map: Some(t.map.as_str()),
                node: Some(t.node),
                share: Some(t.share.as_str()),
            },
            State::Err(r) => Side {
                status: r.as_str(),
                phys: None,
                kind: None,
                order: None,
                map: None,
                node: None,
                share: None,
            },
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (
            self.phys, self.kind, self.order, self.map, self.node, self.share,
        ) {
            (Some(p), Some(k), Some(o), Some(m), Some(n), Some(s)) => write!(
                f,
                "phys={p:#x} kind={k} order={o} map={m} node={n} share={s}"
            ),
            _ => write!(f, "err:{}", self.status),
        }
    }
}

/// `pages` guest pages from `gpa` on that were `old` and are `new` (the
/// frames of the first page; the others follow on).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub gpa: u64,
    pub pages: u64,
    pub old: Side,
    pub new: Side,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "changed gpa={:#x} pages={}: {} -> {}",
            self.gpa, self.pages, self.old, self.new
        )
    }
}

/// Whether two one-page states are the same: the same error, or the same
/// facts and frame (KSM and zero pages included).
fn same(a: State, b: State) -> bool {
    match (a, b) {
        (State::Ok(x), State::Ok(y)) => {
            (x.phys, x.kind, x.order, x.map, x.node, x.share)
                == (y.phys, y.kind, y.order, y.map, y.node, y.share)
        }
        (x, y) => x == y,
    }
}

/// The stretches of guest memory told differently by `old` and `new`
/// (pages told by one map only count as changed from or to `no-memslot`).
pub fn diff(old: &Map, new: &Map) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    let (mut i, mut j) = (0, 0);
    let gone = Run {
        gpa: 0,
        pages: u64::MAX >> 12,
        state: State::Err(Reason::NoMemslot),
    };
    let mut at = match (old.runs.first(), new.runs.first()) {
        (Some(a), Some(b)) => a.gpa.min(b.gpa),
        (Some(a), None) | (None, Some(a)) => a.gpa,
        (None, None) => return out,
    };
    loop {
        // Skip runs that end at or before `at`.
        while old.runs.get(i).is_some_and(|r| r.end() <= at) {
            i += 1;
        }
        while new.runs.get(j).is_some_and(|r| r.end() <= at) {
            j += 1;
        }
        let (a, b) = (old.runs.get(i), new.runs.get(j));
        if a.is_none() && b.is_none() {
            return out;
        }
        // Where the next run starts, if `at` is in none of a map's runs.
        let next_start = |r: Option<&Run>| r.map_or(u64::MAX, |r| r.gpa);
        let (ra, rb) = (a.filter(|r| r.gpa <= at), b.filter(|r| r.gpa <= at));
        if ra.is_none() && rb.is_none() {
            at = next_start(a).min(next_start(b));
            continue;
        }
        let end = [
            ra.map_or(next_start(a), Run::end),
            rb.map_or(next_start(b), Run::end),
        ]
        .into_iter()
        .min()
        .unwrap_or(u64::MAX);
        let sa = ra.copied().unwrap_or(gone);
        let sb = rb.copied().unwrap_or(gone);
        if !same(sa.at(at), sb.at(at)) {
            let pages = (end - at) / 4096;
            let (old, new) = (Side::from(sa.at(at)), Side::from(sb.at(at)));
            // Error stretches that go on as they were are one change.
            match out.last_mut() {
                Some(c)
                    if c.gpa + c.pages * 4096 == at
                        && c.old.phys.is_none()
                        && c.new.phys.is_none()
                        && (&c.old, &c.new) == (&old, &new) =>
                {
                    c.pages += pages
                }
                _ => out.push(Change {
                    gpa: at,
                    pages,
                    old,
                    new,
                }),
            }
        }
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gfn_proto::reply::parse_line;

    fn map(lines: &[&str]) -> Map {
        let mut m = Map::default();
        for l in lines {
            m.add(&parse_line(l).unwrap());
        }
        m
    }

    const THP0: &str = "ok phys=0x200000 kind=thp gpa=0x0 hva=0x1000000 pid=7 size=2097152 order=9 node=0 slot=0 as=0 share=none map=pmd pages=512";
    const BASE: &str = "ok phys=0x5000 kind=base gpa=0x200000 hva=0x1200000 pid=7 size=4096 order=0 node=0 slot=0 as=0 share=none map=pte pages=2";

    #[test]
    fn nothing_changed() {
        let a = map(&[THP0, BASE, "err:not-present gpa=0x202000 pid=7 pages=3"]);
        assert!(diff(&a, &a.clone()).is_empty());
        assert_eq!(a.pages(), 517);
    }

    #[test]
    fn a_run_split_differently_is_no_change() {
        let a = map(&[BASE]);
        let b = map(&[
            "ok phys=0x5000 kind=base gpa=0x200000 hva=0x1200000 pid=7 size=4096 order=0 node=0 slot=0 as=0 share=none map=pte",
            "ok phys=0x6000 kind=base gpa=0x201000 hva=0x1201000 pid=7 size=4096 order=0 node=0 slot=0 as=0 share=none map=pte",
        ]);
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn node_frame_and_presence_changes() {
        let a = map(&[THP0, BASE]);
        let b = map(&[
            "ok phys=0x800000 kind=thp gpa=0x0 hva=0x1000000 pid=7 size=2097152 order=9 node=1 slot=0 as=0 share=none map=pmd pages=512",
            "ok phys=0x5000 kind=base gpa=0x200000 hva=0x1200000 pid=7 size=4096 order=0 node=0 slot=0 as=0 share=none map=pte",
            "err:not-present gpa=0x201000 pid=7",
        ]);
        let d = diff(&a, &b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!((d[0].gpa, d[0].pages), (0, 512));
        assert_eq!((d[0].old.node, d[0].new.node), (Some(0), Some(1)));
        assert_eq!((d[1].gpa, d[1].pages), (0x201000, 1));
        assert_eq!(d[1].new.status, "not-present");
        assert!(d[0]
            .to_string()
            .starts_with("changed gpa=0x0 pages=512: phys=0x200000"));
    }
}
