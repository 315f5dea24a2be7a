#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Where a test guest's CPU spends its time, sampled from outside.

  profile.py sample QMP_SOCKET LOG SAMPLES
      Once LOG (the guest's serial log) says PROFILE-START, stops the guest
      every 2 to 6 ms through QEMU's QMP socket, reads each vCPU's
      instruction pointer (`info registers`), lets it go on, until LOG says
      PROFILE-END; writes one "cpu rip" line per sample to SAMPLES.
  profile.py report SYSTEM_MAP LOG SAMPLES [CPU]
      Names each sample of vCPU CPU (default 0, where the load is pinned)
      by the kernel's System.map and the module's PROFSYM lines in LOG, and
      prints the share of samples per function, largest first.

A stopped vCPU stops at the start of a translated block, so a sample names
the block about to run: the time of a function's last block (before a
call returns, or a system call returns to user space) is counted to what
runs next.  Read shares of a function and its neighbours, not exact costs.
"""
import bisect
import collections
import json
import random
import re
import socket
import sys
import time


def logged(log, word):
    try:
        with open(log, errors="replace") as f:
            return word in f.read()
    except FileNotFoundError:
        return False


def sample(sock_path, log, out):
    while not logged(log, "PROFILE-START"):
        if logged(log, "GUEST-EXIT"):
            sys.exit("profile.py: the guest ended before the load started")
        time.sleep(0.5)
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(sock_path)
    qmp = sock.makefile("rw")

    def command(execute, **arguments):
        qmp.write(json.dumps({"execute": execute, "arguments": arguments}) + "\n")
        qmp.flush()
        while True:  # events come in between
            reply = json.loads(qmp.readline())
            if "return" in reply or "error" in reply:
                return reply

    json.loads(qmp.readline())  # the greeting
    command("qmp_capabilities")
    samples = []
    rounds = 0
    try:
        while True:
            command("stop")
            for cpu in (0, 1):
                regs = command("human-monitor-command",
                               **{"command-line": "info registers", "cpu-index": cpu})
                rip = re.search(r"RIP=([0-9a-f]+)", regs.get("return", ""))
                if rip:
                    samples.append((cpu, rip.group(1)))
            command("cont")
            rounds += 1
            time.sleep(random.uniform(0.002, 0.006))
            if rounds % 10 == 0 and logged(log, "PROFILE-END"):
                break
    except (OSError, ValueError):
        # QEMU went away (the guest powered off after the load, between
        # two looks at the log): the samples so far are the profile.
        if not logged(log, "PROFILE-END"):
            raise
    with open(out, "w") as f:
        f.writelines(f"{cpu} {rip}\n" for cpu, rip in samples)
    print(f"profile.py: {rounds} samples of each vCPU")


def report(system_map, log, samples, cpu="0"):
    symbols = []
    with open(system_map) as f:
        for line in f:
            addr, kind, name = line.split()[:3]
            if kind in "tTwW":
                symbols.append((int(addr, 16), name))
    with open(log, errors="replace") as f:
        for line in f:
            m = re.search(r"PROFSYM ([0-9a-f]+) [tT] (\S+)", line)
            if m:
                symbols.append((int(m.group(1), 16), "[gfn_to_pfn] " + m.group(2)))
    symbols.sort()
    starts = [a for a, _ in symbols]
    counts = collections.Counter()
    with open(samples) as f:
        for line in f:
            c, rip = line.split()
            if c != cpu:
                continue
            rip = int(rip, 16)
            if rip < 0xFFFF800000000000:
                counts["(user space)"] += 1
                continue
            i = bisect.bisect_right(starts, rip) - 1
            counts[symbols[i][1] if i >= 0 else "?"] += 1
    total = sum(counts.values())
    print(f"{total} samples of vCPU {cpu}")
    for name, n in counts.most_common(50):
        print(f"{100 * n / total:5.1f}% {n:6d}  {name}")


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "sample":
        sample(*sys.argv[2:5])
    elif len(sys.argv) in (5, 6) and sys.argv[1] == "report":
        report(*sys.argv[2:])
    else:
        sys.exit(__doc__)
