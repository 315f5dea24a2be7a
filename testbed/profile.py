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
  profile.py lines KO LOG SAMPLES [CPU]
      Names the module's samples by source line, with KO a build of the
      same module carrying debug information (the same code: its symbols
      must have the sizes of the module that ran, told by LOG's PROFSYM
      lines and KO's own), through llvm-addr2line: each sample counts to
      the call within the function the sample's code was inlined into,
      so a function that inlines much (a parser, a job's step) is split by
      what it called; prints the share of all samples per call site.

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
import subprocess
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


def loaded_symbols(log):
    """The module's text symbols where it was loaded, from LOG's PROFSYM
    lines (the guest copies them from /proc/kallsyms): name -> address."""
    loaded = {}
    with open(log, errors="replace") as f:
        for line in f:
            m = re.search(r"PROFSYM ([0-9a-f]+) [tT] (\S+)", line)
            if m:
                loaded[m.group(2)] = int(m.group(1), 16)
    return loaded


def report(system_map, log, samples, cpu="0"):
    symbols = []
    with open(system_map) as f:
        for line in f:
            addr, kind, name = line.split()[:3]
            if kind in "tTwW":
                symbols.append((int(addr, 16), name))
    symbols += [(addr, "[gfn_to_pfn] " + name) for name, addr in loaded_symbols(log).items()]
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


def ko_symbols(ko):
    """The functions of KO's .text (where addr2line's offsets point, in a
    module not yet linked): name -> (offset, size)."""
    out = subprocess.run(["objdump", "-t", ko], capture_output=True, text=True,
                         check=True).stdout
    symbols = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[2] == "F" and parts[3] == ".text":
            symbols[parts[5]] = (int(parts[0], 16), int(parts[4], 16))
    return symbols


def lines(ko, log, samples, cpu="0"):
    loaded = loaded_symbols(log)
    own = ko_symbols(ko)
    # The module that ran, symbol by symbol: where each starts, and where
    # the same symbol starts in KO.  Sizes are compared through the gaps
    # between loaded symbols, which must equal KO's.
    pairs = sorted((loaded[n], own[n][0], own[n][1]) for n in loaded if n in own)
    if not pairs:
        sys.exit("profile.py: no symbol of LOG's module is in " + ko)
    for (a, b, _), (a2, b2, _) in zip(pairs, pairs[1:]):
        if a2 - a != b2 - b:
            sys.exit(f"profile.py: {ko} is not the module that ran (its layout differs)")
    starts = [a for a, _, _ in pairs]
    counts = collections.Counter()
    total = 0
    with open(samples) as f:
        for line in f:
            c, rip = line.split()
            if c != cpu:
                continue
            total += 1
            rip = int(rip, 16)
            i = bisect.bisect_right(starts, rip) - 1
            if i < 0 or rip - pairs[i][0] >= pairs[i][2]:
                continue
            counts[pairs[i][1] + rip - pairs[i][0]] += 1
    offsets = sorted(counts)
    named = subprocess.run(
        ["llvm-addr2line-19", "-e", ko, "-a", "-f", "-i", "-C"] + [hex(o) for o in offsets],
        capture_output=True, text=True, check=True).stdout.splitlines()
    frames = collections.defaultdict(list)
    at = None
    i = 0
    while i < len(named):
        if named[i].startswith("0x"):
            at = int(named[i], 16)
            i += 1
            continue
        frames[at].append((named[i], named[i + 1].rsplit("/", 1)[-1]))
        i += 2
    sites = collections.Counter()
    for offset, n in counts.items():
        chain = frames.get(offset) or [("?", "?")]
        # The frame just inside the outermost function, at its line there.
        inner = chain[-2][0] if len(chain) > 1 else chain[-1][0] + " (its own code)"
        sites[f"{inner[:80]} @ {chain[-1][1]}"] += n
    print(f"{total} samples of vCPU {cpu}; the module's, by call site:")
    for name, n in sites.most_common(50):
        print(f"{100 * n / total:5.1f}% {n:6d}  {name}")


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "sample":
        sample(*sys.argv[2:5])
    elif len(sys.argv) in (5, 6) and sys.argv[1] == "report":
        report(*sys.argv[2:])
    elif len(sys.argv) in (5, 6) and sys.argv[1] == "lines":
        lines(*sys.argv[2:])
    else:
        sys.exit(__doc__)
