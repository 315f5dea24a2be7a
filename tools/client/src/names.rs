// SPDX-License-Identifier: GPL-2.0
//! VM names: what an operator calls a VM, found where the VMM's manager
//! left it.  libvirt keeps each running domain's QEMU pid in
//! `/run/libvirt/qemu/NAME.pid`; QEMU itself takes `-name guest=NAME` (or
//! `-name NAME`) on its command line.

use std::fs;

/// Where libvirt keeps its QEMU domains' pid files.
const LIBVIRT_RUN: &str = "/run/libvirt/qemu";

/// The name QEMU's command line gives: `-name guest=NAME,...`, or the
/// older `-name NAME`.
fn cmdline_name(cmdline: &[u8]) -> Option<String> {
    let mut args = cmdline.split(|&b| b == 0).map(String::from_utf8_lossy);
    while let Some(arg) = args.next() {
        if arg == "-name" || arg == "--name" {
            let value = args.next()?;
            let first = value.split(',').next()?;
            let name = first.strip_prefix("guest=").unwrap_or(first);
            return (!name.is_empty() && !name.contains('=')).then(|| name.to_string());
        }
    }
    None
}

/// The name of the VM whose VMM is process `pid`, if one can be found:
/// libvirt's pid files first, then QEMU's command line.
pub fn name_of(pid: u32) -> Option<String> {
    if let Ok(dir) = fs::read_dir(LIBVIRT_RUN) {
        for entry in dir.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "pid")
                && fs::read_to_string(&path).is_ok_and(|t| t.trim() == pid.to_string())
            {
                return path.file_stem().map(|s| s.to_string_lossy().into_owned());
            }
        }
    }
    cmdline_name(&fs::read(format!("/proc/{pid}/cmdline")).ok()?)
}

/// The pid of the VMM of the VM called `name`: libvirt's pid file, or the
/// one process whose command line names it.
pub fn pid_of(name: &str) -> Result<u32, String> {
    if let Ok(text) = fs::read_to_string(format!("{LIBVIRT_RUN}/{name}.pid")) {
        return text
            .trim()
            .parse()
            .map_err(|e| format!("{LIBVIRT_RUN}/{name}.pid: {e}"));
    }
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc")
        .map_err(|e| format!("/proc: {e}"))?
        .flatten()
    {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(cmdline) = fs::read(entry.path().join("cmdline")) {
            if cmdline_name(&cmdline).as_deref() == Some(name) {
                found.push(pid);
            }
        }
    }
    match found.as_slice() {
        [pid] => Ok(*pid),
        [] => Err(format!(
            "no VM called '{name}' ({LIBVIRT_RUN}/{name}.pid, or a process with -name guest={name})"
        )),
        _ => Err(format!(
            "several processes are called '{name}': {found:?}; use --pid"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_names() {
        let c = |s: &str| cmdline_name(s.replace(' ', "\0").as_bytes());
        assert_eq!(
            c("qemu -name guest=web1,debug-threads=on -m 1G"),
            Some("web1".into())
        );
        assert_eq!(c("qemu -m 1G -name db"), Some("db".into()));
        assert_eq!(c("qemu -m 1G"), None);
        assert_eq!(c("qemu -name"), None);
        assert_eq!(c("qemu -name process=x"), None);
    }
}
