// SPDX-License-Identifier: GPL-2.0

//! The `log` module parameter's values: its words, written once, and what
//! they mean.  Apart from `log.rs`, which acts on them, so that the
//! parameter (`boundary/params.rs`) and the log both depend on this file
//! and not on each other.

/// What goes to the kernel log.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// Single addresses and summaries (the default).
    All,
    /// Summaries of ranges, `all` and `hpa=` only.
    Summary,
    /// Nothing.
    None,
}

impl Level {
    /// The parameter's words, in the order of [`Level::LEVELS`].
    pub(crate) const WORDS: &'static [&'static str] = &["all", "summary", "none"];
    /// What each word means, in the same order, for the parameter's
    /// description.
    pub(crate) const HELP: &'static [&'static str] = &[
        "single addresses and summaries, rate-limited (the default)",
        "summaries of ranges, all and hpa= only",
        "nothing",
    ];
    const LEVELS: [Level; 3] = [Level::All, Level::Summary, Level::None];

    /// The level of the word at `index` (the last one past the end).
    pub(crate) fn at(index: usize) -> Level {
        Self::LEVELS[index.min(Self::LEVELS.len() - 1)]
    }
}
