#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Host-side checks of what guest tests handed over on their second serial
port (tools/suite/src/artifact.rs), by real consumers the guest lacks:

  gfn_test_metrics  promtool check metrics finds nothing to say, and the
                    Prometheus Python client's parser reads back every
                    figure equal to the oracles' sums (expect.json)
  gfn_test_svg      rsvg-convert renders the picture; in each region the
                    share of each colour in the backing and node strips is
                    the oracles' share of its bytes, holes are empty, the
                    memslot band lies over the slots only, and the file is
                    under its bound

A test whose guest half passed must have left its files; one that failed
or did not run is not checked here.

  artifacts.py SERIAL_LOG ARTIFACTS OUTDIR   check; prints PASS/FAIL lines
                                             and "N passed, M failed"
  artifacts.py --extract ARTIFACTS OUTDIR    only write the files out
"""

import json
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

PROMTOOL = os.environ.get("PROMTOOL", "promtool")


def artifacts(path):
    """{test: {file: bytes}} from the port's byte stream."""
    out = {}
    data = open(path, "rb").read() if os.path.exists(path) else b""
    at = 0
    header = re.compile(rb"GFN-ARTIFACT test=(\S+) file=(\S+) bytes=(\d+)\n")
    while True:
        m = header.search(data, at)
        if not m:
            return out
        start, n = m.end(), int(m.group(3))
        if start + n > len(data):
            raise ValueError(f"{path}: {m.group(2).decode()} cut short")
        out.setdefault(m.group(1).decode(), {})[m.group(2).decode()] = data[start:start + n]
        at = start + n


class Failed(Exception):
    pass


def ensure(cond, why):
    if not cond:
        raise Failed(why)


# ---- gfn_test metrics ------------------------------------------------------

def parse_metrics(text):
    """The samples of an exposition that promtool finds nothing to say of,
    as the Prometheus Python client parses them (every family a gauge)."""
    lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          text=True)
    ensure(lint.returncode == 0 and not (lint.stdout + lint.stderr).strip(),
           f"promtool check metrics (rc {lint.returncode}): {lint.stdout}{lint.stderr}")
    from prometheus_client.parser import text_string_to_metric_families
    samples = []
    for family in text_string_to_metric_families(text):
        ensure(family.type == "gauge", f"{family.name}: type {family.type}")
        samples += family.samples
    return samples


def check_metrics(files):
    empty = parse_metrics(files["empty.prom"].decode())
    ensure([(s.name, s.value) for s in empty] == [("gfn_vms", 0)],
           f"with no VM: {empty}")
    text = files["metrics.prom"].decode()
    expect = json.loads(files["expect.json"])
    samples = parse_metrics(text)
    vms = [s for s in samples if s.name == "gfn_vms"]
    ensure(len(vms) == 1 and vms[0].value == len(expect["vms"]),
           f"gfn_vms {[s.value for s in vms]}, want {len(expect['vms'])}")
    for vm in expect["vms"]:
        mine = [s for s in samples if s.labels.get("pid") == vm["pid"]]
        ensure(mine, f"no series for pid {vm['pid']}")
        for s in mine:
            ensure(s.labels.get("name") == vm["name"],
                   f"{s.name}{s.labels}: name, want {vm['name']!r}")

        def values(name):
            return [s for s in mine if s.name == name]

        def one(name):
            found = values(name)
            ensure(len(found) == 1, f"pid {vm['pid']}: {len(found)} series {name}")
            return found[0].value

        ensure(one("gfn_vm_memslots") == vm["memslots"], f"memslots, want {vm['memslots']}")
        ensure(one("gfn_vm_memslot_bytes") == vm["memslot_bytes"],
               f"memslot bytes {one('gfn_vm_memslot_bytes')}, want {vm['memslot_bytes']}")
        memory = {}
        pmd = 0
        for s in values("gfn_vm_memory_bytes"):
            key = "/".join(s.labels[k] for k in ("kind", "order", "node", "share"))
            memory[key] = memory.get(key, 0) + s.value
            pmd += s.value if s.labels["map"] == "pmd" else 0
        ensure(memory == vm["memory"], f"pid {vm['pid']}: memory {memory}, want {vm['memory']}")
        ensure(pmd == vm["pmd_bytes"], f"pmd-mapped {pmd}, want {vm['pmd_bytes']}")
        unbacked = {s.labels["reason"]: s.value for s in values("gfn_vm_unbacked_bytes")}
        want = {"not-present": vm["not_present_bytes"]}
        ensure(unbacked == want, f"pid {vm['pid']}: unbacked {unbacked}, want {want}")
        # What KVM maps: its debugfs figures, read just before or just after.
        kvm = {s.labels["level"]: s.value for s in values("gfn_vm_kvm_mapped_bytes")}
        kvm["nx_splits"] = one("gfn_vm_kvm_nx_splits")
        ensure(kvm in vm["kvm"], f"pid {vm['pid']}: KVM maps {kvm}, debugfs {vm['kvm']}")
        took = one("gfn_vm_map_duration_seconds")
        ensure(0 <= took <= expect["wall_seconds"],
               f"map duration {took} s; gfn_test metrics ran {expect['wall_seconds']} s")
    return f"{len(samples)} samples parsed, every figure as the oracles'; none but gfn_vms 0 without VMs"


# ---- gfn_test map --svg ----------------------------------------------------

def png_pixels(png):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB(A) PNG."""
    ensure(png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    at, idat = 8, b""
    while at < len(png):
        n, kind = struct.unpack(">I4s", png[at:at + 8])
        body = png[at + 8:at + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            ensure(depth == 8 and colour in (2, 6), f"PNG depth {depth} colour type {colour}")
        elif kind == b"IDAT":
            idat += body
        at += 12 + n
    bpp = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows


def rgb(hex_colour):
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def check_svg(files, outdir):
    said = []
    for expect in json.loads(files["expect.json"])["pictures"]:
        said.append(check_picture(files[expect["file"]], expect, outdir))
    return "; ".join(said)


def check_axis(per_col, islands, slots, columns):
    """The picture's axis against the VMM's own memslots: the islands are
    runs of the memslots (touching ones joined), in order, each starting
    where the one before ends plus an 8-column break, all within the
    columns."""
    spans = []
    for gpa, size in sorted(slots):
        if spans and gpa <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], gpa + size)
        else:
            spans.append([gpa, gpa + size])
    ensure(per_col >= 4096, f"{per_col} bytes per column")
    at, col = 0, 0
    for i, (start, end, first) in enumerate(islands):
        ensure(at < len(spans) and spans[at][0] == start,
               f"island {i} starts at {start:#x}, not at a memslot run's start ({spans})")
        while at < len(spans) and spans[at][1] <= end:
            at += 1
        ensure(spans[at - 1][1] == end, f"island {i} ends at {end:#x}, inside a memslot")
        ensure(first == (col + 8 if i else 0), f"island {i} at column {first}, want {col + 8}")
        col = first + -(-(end - start) // per_col)
    if at < len(spans):
        raise Failed(f"memslots from {spans[at][0]:#x} on are drawn nowhere")
    ensure(col <= columns, f"{col} columns used of {columns}")


def check_picture(svg, expect, outdir):
    g = expect["geometry"]
    ensure(len(svg) <= expect["max_bytes"], f"{len(svg)} bytes, bound {expect['max_bytes']}")
    svg_path = os.path.join(outdir, expect["file"])
    png_path = svg_path.removesuffix(".svg") + ".png"
    open(svg_path, "wb").write(svg)
    r = subprocess.run(["rsvg-convert", "-o", png_path, svg_path], capture_output=True, text=True)
    ensure(r.returncode == 0 and not r.stderr.strip(), f"rsvg-convert: {r.stderr}")
    width, height, rows = png_pixels(open(png_path, "rb").read())
    # The axis the picture declares: islands of memslots drawn to scale,
    # [gpa, end) from column col on, bytes_per_column each; holes between
    # islands are breaks.  Pixels are then checked at the addresses the
    # picture claims for them.
    meta = ET.fromstring(svg).find("{http://www.w3.org/2000/svg}metadata[@id='gfn-axis']")
    ensure(meta is not None, "no axis metadata")
    axis = json.loads(meta.text)
    per_col, islands = axis["bytes_per_column"], axis["islands"]

    def ceil(a, b):
        return -(-a // b)

    check_axis(per_col, islands, expect["slots"], g["columns"])

    def columns(what, gpa, size):
        """The columns wholly inside [gpa, gpa + size), first and last."""
        for start, end, col in islands:
            if start <= gpa and gpa + size <= end:
                return col + ceil(gpa - start, per_col), col + (gpa + size - start) // per_col - 1
        for (start, end, col), (nxt, _, ncol) in zip(islands, islands[1:]):
            if end <= gpa and gpa + size <= nxt:
                return col + ceil(end - start, per_col), ncol - 1
        raise Failed(f"{what}: [{gpa:#x}, {gpa + size:#x}) is not drawn ({islands})")
    white = (255, 255, 255)
    backing = {rgb(c): name for name, c in expect["colours"].items()}
    nodes = {rgb(c): n for n, c in expect["node_colours"].items()}
    ensure(len(backing) == len(expect["colours"]), "two categories share a colour")
    checked = 0
    for region in expect["regions"]:
        lo, hi = columns(region["what"], region["gpa"], region["size"])
        ensure(hi - lo >= 2, f"{region['what']}: only {hi - lo + 1} whole columns")
        xs = range(g["x0"] + lo, g["x0"] + hi + 1)
        ensure(xs[-1] < width, f"{region['what']}: column {xs[-1]} beyond the {width} px width")

        def shares(y0, h, palette):
            count, other = {}, 0
            for y in range(y0, y0 + h):
                for x in xs:
                    px = rows[y][x]
                    if px in palette:
                        count[palette[px]] = count.get(palette[px], 0) + 1
                    elif px != white:
                        other += 1
            total = len(xs) * h
            ensure(other == 0, f"{region['what']}: {other} pixels of no known colour")
            return {k: v / total for k, v in count.items()}

        for strip, palette, want in (
                ("backing", backing, region["backing"]),
                ("node", nodes, region["nodes"])):
            got = shares(g[strip + "_y"], g[strip + "_h"], palette)
            # Where the oracles see one kind only, every pixel is of it
            # (a column drawn one off would show at the region's edges);
            # elsewhere the shares agree to 2 % (pixel rounding).
            tolerance = 0 if any(v >= 0.999 for v in want.values()) else 0.02
            for k in set(got) | set(want):
                ensure(abs(got.get(k, 0) - round(want.get(k, 0), 3)) <= tolerance,
                       f"{region['what']}, {strip} strip: {got}, oracles {want}")
        band = [rows[y][x] != white for y in range(g["band_y"], g["band_y"] + g["band_h"])
                for x in xs]
        ensure(all(band) if region["band"] else not any(band),
               f"{region['what']}: memslot band {'missing' if region['band'] else 'over a hole'}")
        checked += 1
    return (f"{expect['file']}: {checked} regions of a {width}x{height} rendering, "
            f"{len(svg)} bytes, as the oracles")


CHECKS = {"gfn_test_metrics": lambda files, out: check_metrics(files),
          "gfn_test_svg": check_svg}


def main():
    if sys.argv[1] == "--extract":
        for test, files in artifacts(sys.argv[2]).items():
            for name, data in files.items():
                os.makedirs(sys.argv[3], exist_ok=True)
                open(os.path.join(sys.argv[3], name), "wb").write(data)
        return 0
    log, path, outdir = sys.argv[1:4]
    os.makedirs(outdir, exist_ok=True)
    serial = open(log, "rb").read().decode(errors="replace").replace("\r", "")
    try:
        got = artifacts(path)
    except ValueError as e:
        print(f"FAIL host artifacts: {e}")
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    for test, check in CHECKS.items():
        if not re.search(rf"^PASS {test}\b", serial, re.M):
            continue
        try:
            ensure(test in got, "the guest test passed but handed over nothing")
            os.makedirs(os.path.join(outdir, test), exist_ok=True)
            print(f"PASS host:{test} ({check(got[test], os.path.join(outdir, test))})")
            passed += 1
        except Exception as e:  # any fault of the files is the test's failure
            print(f"FAIL host:{test}: {type(e).__name__}: {e}")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
