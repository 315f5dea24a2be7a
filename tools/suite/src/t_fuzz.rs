// SPDX-License-Identifier: GPL-2.0
//! Interface fuzzing: many random and mutated operations on several open
//! files at once.  Nothing may crash the kernel (the host checks the log for
//! splats), every error must be one the interface documents, and every
//! reply must parse.

use crate::check::ensure;
use crate::module;
use crate::vmm::Vmm;
use gfn_proto::request::MAX_WRITE;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};

/// xorshift64*: a small, seeded, reproducible generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PIECES: &[&[u8]] = &[
    b"0x",
    b"pid=",
    b" ",
    b",",
    b"\n",
    b"\0",
    b"=",
    b"-",
    b"0x1000",
    b"0x1fff",
    b"0xffffffffffffffff",
    b"0x10000000000000000",
    b"4194305",
    b"0",
    b"zz",
    b"\xff",
    b"\t",
];

/// A write built from grammar pieces, random numbers and random bytes.
fn mutated(rng: &mut Rng, pid: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..rng.below(12) {
        match rng.below(6) {
            0 => v.extend_from_slice(format!("{:#x} ", rng.below(0x40_0000)).as_bytes()),
            1 => v.extend_from_slice(format!("{pid} ").as_bytes()),
            2 => v.extend((0..rng.below(8)).map(|_| rng.next() as u8)),
            _ => v.extend_from_slice(PIECES[rng.below(PIECES.len() as u64) as usize]),
        }
    }
    v
}

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// One random operation on `f`; an error is a documented one or a failure.
fn op(rng: &mut Rng, f: &mut File, pid: u32) -> Result<(), String> {
    match rng.below(10) {
        0..=3 => {
            let req = mutated(rng, pid);
            match f.write(&req) {
                Ok(n) => ensure(n == req.len(), || format!("short write {n}"))?,
                Err(e) if errno(&e) == libc::EINVAL => {} // no token in it
                Err(e) => return Err(format!("write {req:?}: {e}")),
            }
        }
        4 => {
            // A token split across two writes: two requests, both answered.
            let _ = f.write(b"0x10");
            let _ = f.write(b"00 ");
        }
        5 => {
            let big = vec![b'1'; MAX_WRITE + 1 + rng.below(100) as usize];
            let e = f.write(&big).err().map(|e| errno(&e));
            ensure(e == Some(libc::E2BIG), || format!("oversize write: {e:?}"))?;
        }
        6 => {
            let mut buf = vec![0; rng.below(300) as usize];
            f.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        }
        7 => {
            let mut buf = vec![0; 64];
            let _ = f
                .read_at(&mut buf, rng.below(1 << 20))
                .map_err(|e| format!("pread: {e}"))?;
        }
        8 => {
            let to = match rng.below(3) {
                0 => SeekFrom::Start(rng.below(4096)),
                1 => SeekFrom::Current(rng.below(64) as i64 - 32),
                _ => SeekFrom::End(-(rng.below(16) as i64)),
            };
            match f.seek(to) {
                Ok(_) => {}
                Err(e) if errno(&e) == libc::EINVAL => {} // before the start
                Err(e) => return Err(format!("seek {to:?}: {e}")),
            }
        }
        _ => {
            // The whole reply from 0 must parse, line by line.
            f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
            let mut text = String::new();
            f.read_to_string(&mut text)
                .map_err(|e| format!("read: {e}"))?;
            crate::module::parse_replies(&text)?;
        }
    }
    Ok(())
}

/// `ops` operations spread over four files, two of them non-blocking.
pub fn interface_fuzz(ops: u64) -> Result<(), String> {
    let vmm = Vmm::start(&["--slot", "anon:2M@0x0", "--slot", "thp:2M@0x200000"])?;
    let mut files = Vec::new();
    for i in 0..4 {
        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(true);
        if i % 2 == 1 {
            o.custom_flags(libc::O_NONBLOCK);
        }
        files.push(o.open(module::PROC).map_err(|e| e.to_string())?);
    }
    // Reads before any write: an empty reply.
    let mut buf = [0u8; 16];
    ensure(
        files[0].read(&mut buf).map_err(|e| e.to_string())? == 0,
        || "reply before a write".into(),
    )?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..ops {
        let which = rng.below(files.len() as u64) as usize;
        op(&mut rng, &mut files[which], vmm.pid).map_err(|e| format!("operation {i}: {e}"))?;
    }
    println!("     {ops} operations on 4 open files");
    vmm.stop()
}
