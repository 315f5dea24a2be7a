// SPDX-License-Identifier: GPL-2.0
//! Runs the test VMM (`gfn-vmm`) and reads what it says about its VM.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::io::AsRawFd;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

/// One memslot as the VMM reports it.
#[derive(Clone, Debug)]
pub struct Slot {
    pub id: u16,
    pub as_id: u8,
    pub gpa: u64,
    pub size: u64,
    pub hva: u64,
    /// For a `devmem` slot: the physical address its `/dev/mem` mapping
    /// starts at.
    pub phys: Option<u64>,
}

/// A running VMM holding its VM until dropped.
pub struct Vmm {
    child: Child,
    stdin: Option<ChildStdin>,
    /// What it prints after READY.
    out: Option<BufReader<ChildStdout>>,
    pub pid: u32,
    pub slots: Vec<Slot>,
    /// (gpa, value, hva) of each value the vCPU wrote.
    pub wrote: Vec<(u64, u64, u64)>,
    /// `--create-in-thread`: the thread that created the VM (exited).
    pub creator: Option<u32>,
    /// `--main-exits`: the thread that holds the VM, the main one gone.
    pub holder: Option<u32>,
}

fn field(line: &str, key: &str) -> Option<String> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

fn hex(line: &str, key: &str) -> Result<u64, String> {
    let v = field(line, key).ok_or_else(|| format!("no {key}= in '{line}'"))?;
    u64::from_str_radix(v.trim_start_matches("0x"), 16).map_err(|e| format!("{key}: {e}"))
}

fn dec<T: std::str::FromStr>(line: &str, key: &str) -> Result<T, String> {
    field(line, key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no decimal {key}= in '{line}'"))
}

impl Vmm {
    /// Starts `gfn-vmm ARGS --hold` and waits until its guest has run.
    pub fn start(args: &[&str]) -> Result<Vmm, String> {
        let mut child = Command::new("/bin/gfn-vmm")
            .args(args)
            .arg("--hold")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn gfn-vmm: {e}"))?;
        let stdin = child.stdin.take();
        let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut vmm = Vmm {
            pid: child.id(),
            child,
            stdin,
            out: None,
            slots: Vec::new(),
            wrote: Vec::new(),
            creator: None,
            holder: None,
        };
        loop {
            let mut line = String::new();
            if out
                .read_line(&mut line)
                .map_err(|e| format!("gfn-vmm output: {e}"))?
                == 0
            {
                break;
            }
            let line = line.trim_end();
            if line.starts_with("SLOT ") {
                vmm.slots.push(Slot {
                    id: dec(line, "id")?,
                    as_id: dec(line, "as")?,
                    gpa: hex(line, "gpa")?,
                    size: hex(line, "size")?,
                    hva: hex(line, "hva")?,
                    phys: field(line, "phys").map(|_| hex(line, "phys")).transpose()?,
                });
            } else if line.starts_with("WROTE ") {
                vmm.wrote
                    .push((hex(line, "gpa")?, hex(line, "value")?, hex(line, "hva")?));
            } else if line.starts_with("CREATOR ") {
                vmm.creator = Some(dec(line, "tid")?);
            } else if line.starts_with("HOLDER ") {
                vmm.holder = Some(dec(line, "tid")?);
            } else if line == "READY" {
                vmm.out = Some(out);
                return Ok(vmm);
            }
        }
        let status = vmm.child.wait().map_err(|e| e.to_string())?;
        Err(format!("gfn-vmm {args:?} exited before READY: {status}"))
    }

    /// A live thread of the VMM, for the oracles under `/proc/PID`: its
    /// process id, or the thread holding the VM once the main one has
    /// exited (a zombie leader has no pagemap or smaps).
    pub fn task(&self) -> u32 {
        self.holder.unwrap_or(self.pid)
    }

    /// Host virtual address of `gpa`, from the VMM's own slot table.
    pub fn hva_of(&self, gpa: u64) -> Result<u64, String> {
        self.slots
            .iter()
            .find(|s| s.as_id == 0 && gpa >= s.gpa && gpa - s.gpa < s.size)
            .map(|s| s.hva + (gpa - s.gpa))
            .ok_or_else(|| format!("gpa {gpa:#x} is in no slot of the VMM"))
    }

    /// Has the VMM map, touch and unmap memory (which takes its mmap lock
    /// for writing); fails when that takes longer than `limit`.
    pub fn mmap_cycle(&mut self, limit: Duration) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the VMM's stdin is closed")?;
        stdin
            .write_all(b"mmap\n")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("to gfn-vmm: {e}"))?;
        let out = self.out.as_mut().ok_or("the VMM's stdout is closed")?;
        if out.buffer().is_empty() {
            let mut fd = libc::pollfd {
                fd: out.get_ref().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = limit.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: `fd` is one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut fd, 1, ms) } != 1 {
                return Err(format!("the VMM did not map memory within {limit:?}"));
            }
        }
        let mut line = String::new();
        out.read_line(&mut line)
            .map_err(|e| format!("gfn-vmm output: {e}"))?;
        ensure_line(line.trim_end(), "MMAPPED")
    }

    /// Sends the VMM one command line (see `gfn-vmm --help`) and returns
    /// the line it answers, which must start with the command's own word
    /// of success (`SLOT-SET`, `DROPPED`, ...).
    pub fn command(&mut self, cmd: &str) -> Result<String, String> {
        let done = match cmd.split_whitespace().next() {
            Some("mmap") => "MMAPPED",
            Some("slot") => "SLOT-SET",
            Some("protect") => "PROTECTED",
            Some("collapse") => "COLLAPSED",
            Some("mremap") => "MREMAPPED",
            Some("drop") => "DROPPED",
            Some("resolve") => "RESOLVED",
            _ => return Err(format!("{cmd:?} is no gfn-vmm command")),
        };
        let stdin = self.stdin.as_mut().ok_or("the VMM's stdin is closed")?;
        writeln!(stdin, "{cmd}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("to gfn-vmm: {e}"))?;
        let out = self.out.as_mut().ok_or("the VMM's stdout is closed")?;
        let mut line = String::new();
        out.read_line(&mut line)
            .map_err(|e| format!("gfn-vmm output: {e}"))?;
        if !line.starts_with(done) {
            return Err(format!("gfn-vmm answered {cmd:?} with {line:?}"));
        }
        Ok(line.trim_end().to_string())
    }

    /// Kills the VMM with SIGKILL and reaps it.
    pub fn kill(mut self) -> Result<(), String> {
        self.stdin.take();
        self.child.kill().map_err(|e| format!("kill: {e}"))?;
        self.child.wait().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Tells the VMM to exit and waits for it.
    pub fn stop(mut self) -> Result<(), String> {
        self.finish()
    }

    /// Tells the VMM to exit, waits for it, and returns what it printed
    /// on the way out (`CHURNED`, `THRASHED` lines).
    pub fn stop_with_output(mut self) -> Result<String, String> {
        use std::io::Read;
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let mut rest = String::new();
        if let Some(mut out) = self.out.take() {
            out.read_to_string(&mut rest)
                .map_err(|e| format!("gfn-vmm output: {e}"))?;
        }
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("gfn-vmm exited with {status}: {rest}"));
        }
        Ok(rest)
    }

    fn finish(&mut self) -> Result<(), String> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("gfn-vmm exited with {status}"))
        }
    }
}

fn ensure_line(got: &str, want: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("gfn-vmm said {got:?}, expected {want:?}"))
    }
}

impl Drop for Vmm {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.finish();
        }
    }
}
