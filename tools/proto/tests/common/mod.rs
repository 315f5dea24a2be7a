// SPDX-License-Identifier: GPL-2.0
//! What the property tests share: how many cases they run, a small seeded
//! generator for the choices a test makes as it goes, and reply storage
//! for windows, that fails or not.

#![allow(dead_code)]

use gfn_proto::window::Store;
use std::cell::Cell;
use std::rc::Rc;

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

/// Reply storage that never fails.
pub struct Plain(pub Vec<u8>);

impl Store for Plain {
    type Error = ();

    fn len(&self) -> usize {
        self.0.len()
    }

    fn grow_to(&mut self, len: usize) -> Result<(), ()> {
        self.0.resize(len, 0);
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

/// Reply storage that fails to grow `percent` of the time: a cell, so that
/// a test can change the odds while a window owns the storage.
pub struct Flaky {
    pub bytes: Vec<u8>,
    pub rng: Rng,
    pub percent: Rc<Cell<u32>>,
}

impl Flaky {
    /// Empty storage failing `percent` of the time, with choices from `seed`.
    pub fn new(seed: u64, percent: u32) -> Flaky {
        Flaky {
            bytes: Vec::new(),
            rng: Rng::new(seed),
            percent: Rc::new(Cell::new(percent)),
        }
    }
}

/// The storage could not grow.
#[derive(Debug)]
pub struct NoMemory;

impl Store for Flaky {
    type Error = NoMemory;

    fn len(&self) -> usize {
        self.bytes.len()
    }

    fn grow_to(&mut self, len: usize) -> Result<(), NoMemory> {
        assert!(
            len > self.bytes.len(),
            "grown to {len} from {}",
            self.bytes.len()
        );
        if self.rng.chance(self.percent.get()) {
            return Err(NoMemory);
        }
        self.bytes.resize(len, 0);
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}
