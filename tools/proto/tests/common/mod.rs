// SPDX-License-Identifier: GPL-2.0
//! What the property tests share: how many cases they run, and a small
//! seeded generator for the choices a test makes as it goes.

#![allow(dead_code)]

use std::cell::Cell;

/// Cases for a property test: `$VAR` when set, else `default`.
pub fn cases(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small, seeded generator for the choices made as a test goes (where to
/// cut entries, which step fails, how long a read is); proptest picks the
/// seed, so a failing case replays.
pub struct Rng(Cell<u64>);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(Cell::new(seed | 1))
    }

    pub fn next(&self) -> u64 {
        // xorshift64*
        let mut x = self.0.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&self, percent: u32) -> bool {
        self.next() % 100 < u64::from(percent)
    }

    /// A number in `lo..=hi`.
    pub fn within(&self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}
