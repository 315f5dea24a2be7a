// SPDX-License-Identifier: GPL-2.0
//! Files a test hands to the host, for checks by programs the guest does
//! not have: Prometheus' `promtool` and its Python client's parser,
//! `rsvg-convert`.  They go out on the guest's second serial port
//! (`/dev/ttyS1`), which the test bed's QEMU writes to a file beside the
//! serial log (`testbed/guest.sh`); `testbed/artifacts.py` checks them
//! there, and the test's verdict on the host is one more PASS or FAIL.
//!
//! On the port, each file is a header line
//! `GFN-ARTIFACT test=TEST file=NAME bytes=N`, then its N bytes, then a
//! line feed.

use std::io::Write;
use std::os::fd::AsRawFd;

/// The port the host keeps in `<serial log>.artifacts`.
const PORT: &str = "/dev/ttyS1";

/// Sends `data` to the host as file `name` of test `test`.
pub fn save(test: &str, name: &str, data: &[u8]) -> Result<(), String> {
    let mut port = std::fs::OpenOptions::new()
        .write(true)
        .open(PORT)
        .map_err(|e| format!("{PORT}: {e} (not in the test bed's guest?)"))?;
    raw(&port)?;
    let header = format!(
        "GFN-ARTIFACT test={test} file={name} bytes={}\n",
        data.len()
    );
    port.write_all(header.as_bytes())
        .and_then(|()| port.write_all(data))
        .and_then(|()| port.write_all(b"\n"))
        .and_then(|()| port.flush())
        .map_err(|e| format!("{PORT}: {e}"))?;
    // The bytes have left the UART before the test goes on (and before
    // the guest may power off).
    // SAFETY: tcdrain only waits on the open descriptor.
    if unsafe { libc::tcdrain(port.as_raw_fd()) } != 0 {
        return Err(format!(
            "tcdrain {PORT}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Puts the port in raw mode: the tty layer must not turn line feeds into
/// CR LF (the byte counts would be wrong) nor act on control bytes.
fn raw(port: &std::fs::File) -> Result<(), String> {
    let fd = port.as_raw_fd();
    // SAFETY: an all-zero termios is a valid value for tcgetattr to fill.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open; `t` is a termios owned here.
    if unsafe { libc::tcgetattr(fd, &mut t) } != 0 {
        return Err(format!(
            "tcgetattr {PORT}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `t` was filled by tcgetattr; cfmakeraw only changes its
    // fields, and tcsetattr reads it.
    let rc = unsafe {
        libc::cfmakeraw(&mut t);
        libc::tcsetattr(fd, libc::TCSANOW, &t)
    };
    if rc != 0 {
        return Err(format!(
            "tcsetattr {PORT}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
