// SPDX-License-Identifier: GPL-2.0
//! What changed between two maps of the same guest memory: runs whose host
//! frame, kind, order, mapping level, node, sharing or error changed (a
//! THP collapsed or split, a page migrated to another node, merged or
//! unmerged by KSM, compacted, swapped out).  Maps are kept as their runs,
//! so memory follows the number of runs, not of pages: replies that go on
//! where the run before them ends (a frame list's pages, handed on one at
//! a time, whose frames go on up or down) are merged back into it.
//!
//! A run's host frames go up by one a page, or down (`step=-1`): page `i`
//! of a run is [`Translation::page`]`(i)`, never `phys + i * 4096`.

use gfn_proto::reply::{Reply, Step, Translation};
use gfn_proto::request::Reason;
use gfn_proto::runs::continues;
use serde::Serialize;
use std::fmt;

/// What the pages of a run are: translated (the run's first frame, the
/// way its frames go, and its facts), or an error.
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

// Bytes in a guest page, as the protocol says.
use gfn_proto::facts::PAGE_SIZE as PAGE;

impl Run {
    fn end(&self) -> u64 {
        self.gpa + self.pages * PAGE
    }

    /// The state of the page at `gpa` (inside the run), as a one-page run
    /// state: the frame moved on to that page, up or down as the run's
    /// frames go.
    fn at(&self, gpa: u64) -> State {
        match self.state {
            State::Ok(t) => State::Ok(t.page((gpa - self.gpa) / PAGE)),
            e => e,
        }
    }

    /// Which way the run's frames go (`Up` for errors).
    fn step(&self) -> Step {
        match self.state {
            State::Ok(t) => t.step,
            State::Err(_) => Step::Up,
        }
    }

    /// Adds `next` to the run when it goes on where the run ends, as the
    /// module would have merged it: the same error, or the same facts and
    /// frames that go on the run's way (either way, for a run of one page).
    fn absorb(&mut self, next: &Run) -> bool {
        if next.gpa != self.end() {
            return false;
        }
        match (&mut self.state, next.state) {
            (State::Ok(t), State::Ok(n)) => {
                let Some(step) = continues(&Reply::Ok(*t), &Reply::Ok(n)) else {
                    return false;
                };
                *t = t.with_pages(t.pages + n.pages);
                t.step = step;
            }
            (State::Err(a), State::Err(b)) if *a == b => {}
            _ => return false,
        }
        self.pages += next.pages;
        true
    }
}

/// A map: its runs in guest address order.
#[derive(Clone, Debug, Default)]
pub struct Map {
    runs: Vec<Run>,
}

impl Map {
    /// Adds one reply of the map (other replies are ignored), merged into
    /// the run before it when it goes on from it.
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
        if let Some(last) = self.runs.last_mut() {
            if last.absorb(&run) {
                return;
            }
        }
        self.runs.push(run);
    }

    /// Pages told.
    pub fn pages(&self) -> u64 {
        self.runs.iter().map(|r| r.pages).sum()
    }
}

/// How a stretch of guest pages was, or is: the facts and host frame of
/// its first page; the frames of the others go on up by one a page, or
/// down when `step` is -1.  In JSON, fields an error has not are left out,
/// and so is `step` when it is 1 (as in the module's lines, where only
/// `step=-1` is written): a stretch's frames go up unless it says
/// `"step": -1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Side {
    /// `ok`, or the error's reason.
    pub status: &'static str,
    /// Host physical address of the stretch's first page.
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
    /// 1: the frames go up from `phys` a page at a time; -1: down (only
    /// for a translated stretch of two pages or more).
    #[serde(skip_serializing_if = "ascending")]
    pub step: i8,
}

/// Whether a `step` is 1, which JSON leaves out.
fn ascending(step: &i8) -> bool {
    *step == 1
}

impl Side {
    /// The stretch of `pages` pages from `gpa` of `run`.
    fn of(run: &Run, gpa: u64, pages: u64) -> Side {
        let step = match run.step() {
            Step::Down if pages > 1 => -1,
            _ => 1,
        };
        Side {
            step,
            ..Side::from(run.at(gpa))
        }
    }
}

impl From<State> for Side {
    /// The side of a one-page state.
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
                step: 1,
            },
            State::Err(r) => Side {
                status: r.as_str(),
                phys: None,
                kind: None,
                order: None,
                map: None,
                node: None,
                share: None,
                step: 1,
            },
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (
            self.phys, self.kind, self.order, self.map, self.node, self.share,
        ) {
            (Some(p), Some(k), Some(o), Some(m), Some(n), Some(s)) => {
                write!(
                    f,
                    "phys={p:#x} kind={k} order={o} map={m} node={n} share={s}"
                )?;
                if self.step == -1 {
                    write!(f, " step=-1")?;
                }
                Ok(())
            }
            _ => write!(f, "err:{}", self.status),
        }
    }
}

/// `pages` guest pages from `gpa` on that were `old` and are `new` (the
/// frames of the first page; the others follow on, each side its way).
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

/// Where, from `at` on and before `end`, the pages of runs `a` and `b`
/// stop being all told alike or all differently.  Frames that go the same
/// way stay as alike as at `at` (the same frame, or never); frames that go
/// opposite ways meet on at most one page: the stretch ends there, or just
/// after `at` when that is where they meet.
fn alike_until(a: &Run, b: &Run, at: u64, end: u64) -> u64 {
    let (State::Ok(x), State::Ok(y)) = (a.at(at), b.at(at)) else {
        return end;
    };
    if end - at <= PAGE || a.step() == b.step() {
        return end;
    }
    if same(a.at(at), b.at(at)) {
        return at + PAGE;
    }
    // The frames going up meet those going down after `k` pages when
    // `up + k == down - k`.
    let (up, down) = match a.step() {
        Step::Up => (x.phys >> 12, y.phys >> 12),
        Step::Down => (y.phys >> 12, x.phys >> 12),
    };
    match down.checked_sub(up) {
        Some(gap) if gap > 0 && gap % 2 == 0 => (gap / 2)
            .checked_mul(PAGE)
            .and_then(|d| at.checked_add(d))
            .map_or(end, |meet| meet.min(end)),
        _ => end,
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
        let end = alike_until(&sa, &sb, at, end);
        if !same(sa.at(at), sb.at(at)) {
            let pages = (end - at) / PAGE;
            let (old, new) = (Side::of(&sa, at, pages), Side::of(&sb, at, pages));
            // Error stretches that go on as they were are one change.
            match out.last_mut() {
                Some(c)
                    if c.gpa + c.pages * PAGE == at
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

    /// Three base pages from gpa 0x200000 on, on frames 9, 8 and 7.
    const DOWN: &str = "ok phys=0x9000 kind=base gpa=0x200000 hva=0x1200000 pid=7 size=4096 order=0 node=0 slot=0 as=0 share=none map=pte step=-1 pages=3";

    /// The page at `gpa` of base pages from 0x200000 on, on frame `frame`.
    fn page(gpa: u64, frame: u64) -> String {
        format!(
            "ok phys={:#x} kind=base gpa={gpa:#x} hva={:#x} pid=7 size=4096 order=0 node=0 slot=0 as=0 share=none map=pte",
            frame << 12,
            gpa - 0x200000 + 0x1200000
        )
    }

    #[test]
    fn descending_runs_go_down_page_by_page() {
        let m = map(&[DOWN]);
        let State::Ok(t) = m.runs[0].at(0x202000) else {
            panic!("not translated")
        };
        assert_eq!(
            (t.phys, t.gpa, t.hva, t.pages),
            (0x7000, 0x202000, 0x1202000, 1)
        );
        // The same pages told one by one are the same map.
        let split = [page(0x200000, 9), page(0x201000, 8), page(0x202000, 7)];
        let split = map(&split.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(diff(&m, &split).is_empty(), "{:?}", diff(&m, &split));
        // ... and are kept as one run again.
        assert_eq!((split.runs.len(), split.pages()), (1, 3));
        assert_eq!(split.runs[0].step(), Step::Down);
        // So are they told as a frame list.
        let mut listed = Map::default();
        gfn_proto::list::parse_item(
            "list kind=base gpa=0x200000 hva=0x1200000 pid=7 size=4096 order=0 node=0 slot=0 as=0 share=none map=pte frames=9,8,7",
        )
        .unwrap()
        .for_each(|r| listed.add(&r));
        assert!(diff(&m, &listed).is_empty() && listed.runs == m.runs);
        // Moved: the frame of the middle page only.
        let moved = [page(0x200000, 9), page(0x201000, 0x55), page(0x202000, 7)];
        let moved = map(&moved.iter().map(String::as_str).collect::<Vec<_>>());
        let d = diff(&m, &moved);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].gpa, d[0].pages), (0x201000, 1));
        assert_eq!(
            (d[0].old.phys, d[0].new.phys),
            (Some(0x8000), Some(0x55000))
        );
    }

    #[test]
    fn frames_that_turn_around_change_where_they_differ() {
        // Up 5, 6, 7 then down 7, 6, 5: only the middle page is the same.
        let up = map(&["ok phys=0x5000 kind=base gpa=0x200000 hva=0x1200000 pid=7 size=4096 order=0 node=0 slot=0 as=0 share=none map=pte pages=3"]);
        let down = map(&[&DOWN.replace("phys=0x9000", "phys=0x7000")]);
        let d = diff(&up, &down);
        let got: Vec<_> = d.iter().map(|c| (c.gpa, c.pages)).collect();
        assert_eq!(got, [(0x200000, 1), (0x202000, 1)], "{d:?}");
        assert_eq!((d[1].old.phys, d[1].new.phys), (Some(0x7000), Some(0x5000)));
        // The same first frame, then apart: the rest changed, going down.
        let down = map(&[&DOWN.replace("phys=0x9000", "phys=0x5000")]);
        let d = diff(&up, &down);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].gpa, d[0].pages), (0x201000, 2));
        assert_eq!((d[0].old.step, d[0].new.step), (1, -1));
        assert_eq!((d[0].old.phys, d[0].new.phys), (Some(0x6000), Some(0x4000)));
        assert!(
            d[0].to_string()
                .ends_with("phys=0x4000 kind=base order=0 map=pte node=0 share=none step=-1"),
            "{}",
            d[0]
        );
        // Never the same frame: one change.
        let down = map(&[&DOWN.replace("phys=0x9000", "phys=0x8000")]);
        let d = diff(&up, &down);
        assert_eq!(
            d.iter().map(|c| (c.gpa, c.pages)).collect::<Vec<_>>(),
            [(0x200000, 3)]
        );
    }

    #[test]
    fn changes_of_descending_runs_say_so_in_json() {
        let gone = map(&["err:not-present gpa=0x200000 pid=7 pages=3"]);
        let d = diff(&gone, &map(&[DOWN]));
        assert_eq!(d.len(), 1);
        let v = serde_json::to_value(&d[0]).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "gpa": 0x200000, "pages": 3,
                "old": {"status": "not-present"},
                "new": {"status": "ok", "phys": 0x9000, "kind": "base", "order": 0,
                        "map": "pte", "node": 0, "share": "none", "step": -1}
            })
        );
        // Frames going up leave `step` out.
        let d = diff(&gone, &map(&[&DOWN.replace(" step=-1", "")]));
        let v = serde_json::to_value(&d[0]).unwrap();
        assert!(v["new"].get("step").is_none(), "{v}");
    }
}
