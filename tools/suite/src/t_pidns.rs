// SPDX-License-Identifier: GPL-2.0
//! pids as the reader's pid namespace sees them: from a child namespace,
//! `vms` lists only the VMMs it can see, by their pids there, and the
//! default VM (no pid) is the newest one it can see.  The oracle for the
//! namespace mapping is the VMM's `NSpid` line in `/proc/<pid>/status`.

use crate::check::ensure;
use crate::module::ask;
use crate::oracle;
use crate::vmm::Vmm;
use gfn_proto::reply::{parse_line, Reply};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// Run as pid 1 of a new pid namespace: a VMM (pid 2 there), then, once
/// told, three requests on one open file.
const INSIDE: &str = r#"
gfn-vmm --slot anon:64K@0x100000 --write 0x100000=0x77 --hold-secs 300 > /tmp/pidns-vmm.out &
vmm=$!
i=0
while ! grep -q READY /tmp/pidns-vmm.out; do
	i=$((i + 1)); [ $i -gt 600 ] && exit 9
	sleep 0.1
done
echo "INNER $vmm"
read go
exec 3<>/proc/gfn_to_pfn
echo vms >&3; cat <&3
echo "0x100000 $vmm" >&3; cat <&3
echo 0x100000 >&3; cat <&3
echo END
read done
kill $vmm
"#;

fn nspid(pid: u32) -> Result<Vec<u32>, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .ok_or_else(|| format!("no NSpid line for {pid}"))
}

pub fn pids_in_the_readers_namespace() -> Result<(), String> {
    let mut inside = Command::new("unshare")
        .args(["-p", "-f", "sh", "-c", INSIDE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("unshare: {e}"))?;
    let mut to = inside.stdin.take().ok_or("no stdin")?;
    let mut from = BufReader::new(inside.stdout.take().ok_or("no stdout")?).lines();
    let result = (|| -> Result<(), String> {
        let first = from.next().ok_or("the namespace said nothing")?;
        let first = first.map_err(|e| e.to_string())?;
        let ns_pid: u32 = first
            .strip_prefix("INNER ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| format!("unexpected {first:?}"))?;
        // Newer than the VMM inside, and invisible from there.
        let outer = Vmm::start(&["--slot", "anon:64K@0x200000"])?;
        writeln!(to, "go").map_err(|e| e.to_string())?;
        let mut replies = Vec::new();
        for line in from.by_ref() {
            let line = line.map_err(|e| e.to_string())?;
            if line == "END" {
                break;
            }
            replies.push(parse_line(&line).map_err(|e| format!("{line:?}: {e:?}"))?);
        }
        // From the initial namespace: both VMMs; the inner one's pid here
        // maps to `ns_pid` there, as its NSpid line says.
        let here: Vec<u32> = ask("vms")?
            .iter()
            .filter_map(|r| match r {
                Reply::Vm { pid, .. } => Some(*pid),
                _ => None,
            })
            .collect();
        let inner = *here
            .iter()
            .find(|&&p| p != outer.pid)
            .ok_or_else(|| format!("vms from the initial namespace: {here:?}"))?;
        ensure(here.len() == 2 && here.contains(&outer.pid), || {
            format!("vms from the initial namespace: {here:?}")
        })?;
        let mapped = nspid(inner)?;
        ensure(mapped == [inner, ns_pid], || {
            format!("NSpid of {inner}: {mapped:?}, the namespace says {ns_pid}")
        })?;
        // Inside: one VM, by its pid there; a translation of it; the
        // default VM is that one, not the newer invisible one.
        let hva = std::fs::read_to_string("/tmp/pidns-vmm.out")
            .map_err(|e| e.to_string())?
            .lines()
            .find(|l| l.starts_with("SLOT id=0 "))
            .and_then(|l| l.split_whitespace().find_map(|f| f.strip_prefix("hva=0x")))
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or("no SLOT line from the VMM inside")?;
        let phys = oracle::pagemap_pfn(inner, hva)? << 12;
        match replies.as_slice() {
            [Reply::Vm { pid, .. }, Reply::Ok(a), Reply::Ok(b)]
                if *pid == ns_pid
                    && a.pid == ns_pid
                    && b.pid == ns_pid
                    && a.phys == phys
                    && b.phys == phys => {}
            other => {
                return Err(format!(
                    "inside (VMM {ns_pid} there, {inner} here, frame {phys:#x}): {other:?}"
                ))
            }
        }
        outer.stop()
    })();
    let _ = writeln!(to, "done");
    drop(to);
    let _ = inside.wait();
    result
}
