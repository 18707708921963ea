#!/usr/bin/env python3
"""Render the heap maps of a heaplab results file (heaplab.results/2, docs/inside.md) as a
PNG: one column per allocator, for one workload and thread count, at one snapshot.

    scripts/heapmap_png.py RESULTS.json [-w WORKLOAD] [-t THREADS] [-m LABEL] [-a LIST]
                           [-o OUT.png]

Each column shows the allocator's regions in address order, each a block of rows of
squares, one square per cell (a page, or more when the maps are large: the title says how
much one square is). Colours: grey not resident, red resident with nothing live (kept by
the allocator), orange to yellow sparse (at most half live), green dense. Long stretches
that are not resident and hold nothing are folded into one labelled line. Python 3 standard
library only (zlib writes the PNG)."""
import argparse
import json
import re
import struct
import sys
import zlib

# ------------------------------------------------------------------------------------------
# A 5x7 font, upper case: each glyph is 7 rows of 5 bits.

FONT = {
    "A": "01110 10001 10001 11111 10001 10001 10001", "B": "11110 10001 10001 11110 10001 10001 11110",
    "C": "01110 10001 10000 10000 10000 10001 01110", "D": "11110 10001 10001 10001 10001 10001 11110",
    "E": "11111 10000 10000 11110 10000 10000 11111", "F": "11111 10000 10000 11110 10000 10000 10000",
    "G": "01110 10001 10000 10111 10001 10001 01111", "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110", "J": "00111 00010 00010 00010 00010 10010 01100",
    "K": "10001 10010 10100 11000 10100 10010 10001", "L": "10000 10000 10000 10000 10000 10000 11111",
    "M": "10001 11011 10101 10101 10001 10001 10001", "N": "10001 11001 10101 10011 10001 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110", "P": "11110 10001 10001 11110 10000 10000 10000",
    "Q": "01110 10001 10001 10001 10101 10010 01101", "R": "11110 10001 10001 11110 10100 10010 10001",
    "S": "01111 10000 10000 01110 00001 00001 11110", "T": "11111 00100 00100 00100 00100 00100 00100",
    "U": "10001 10001 10001 10001 10001 10001 01110", "V": "10001 10001 10001 10001 10001 01010 00100",
    "W": "10001 10001 10001 10101 10101 10101 01010", "X": "10001 10001 01010 00100 01010 10001 10001",
    "Y": "10001 10001 01010 00100 00100 00100 00100", "Z": "11111 00001 00010 00100 01000 10000 11111",
    "0": "01110 10001 10011 10101 11001 10001 01110", "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111", "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010", "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110", "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110", "9": "01110 10001 10001 01111 00001 00010 01100",
    " ": "00000 00000 00000 00000 00000 00000 00000", ".": "00000 00000 00000 00000 00000 01100 01100",
    ",": "00000 00000 00000 00000 01100 00100 01000", ":": "00000 01100 01100 00000 01100 01100 00000",
    ";": "00000 01100 01100 00000 01100 00100 01000", "@": "01110 10001 10111 10101 10111 10000 01110", "'": "00100 00100 00000 00000 00000 00000 00000",
    "-": "00000 00000 00000 11111 00000 00000 00000", "/": "00001 00010 00010 00100 01000 01000 10000",
    "(": "00010 00100 01000 01000 01000 00100 00010", ")": "01000 00100 00010 00010 00010 00100 01000",
    "=": "00000 00000 11111 00000 11111 00000 00000", "%": "11001 11010 00010 00100 01000 01011 10011",
    "\"": "01010 01010 00000 00000 00000 00000 00000", "_": "00000 00000 00000 00000 00000 00000 11111",
    "+": "00000 00100 00100 11111 00100 00100 00000", "<": "00010 00100 01000 10000 01000 00100 00010",
    ">": "01000 00100 00010 00001 00010 00100 01000", "?": "01110 10001 00001 00010 00100 00000 00100",
}
GLYPH_W, GLYPH_H = 6, 8  # with a column and a row of space

# ------------------------------------------------------------------------------------------
# Colours

GREY, BG, INK = (226, 226, 226), (255, 255, 255), (40, 40, 40)
FOLD = (200, 205, 215)
EMPTY = (214, 48, 49)
SPARSE = [(232, 110, 40), (240, 150, 45), (246, 190, 60), (250, 222, 90)]
DENSE = [(170, 210, 110), (110, 180, 90), (60, 150, 75), (25, 115, 60)]
SWAPPED = (150, 100, 180)
UNKNOWN = [(150, 160, 190), (110, 125, 170)]


def colour(resident, bucket):
    """A cell's colour: resident is 0, 1 or 2 (unknown); bucket 0-8."""
    if resident == 2:
        return UNKNOWN[bucket > 0]
    if resident == 0:
        return SWAPPED if bucket else GREY
    if bucket == 0:
        return EMPTY
    return SPARSE[bucket - 1] if bucket <= 4 else DENSE[bucket - 5]


# ------------------------------------------------------------------------------------------
# Decoding and folding cells

def decode(text):
    """heaplab.rle/1 -> [(resident, bucket)] per cell."""
    cells = []
    for n, ch in re.findall(r"([0-9]*)([A-Ia-ip-x])", text or ""):
        if "A" <= ch <= "I":
            cell = (0, ord(ch) - ord("A"))
        elif "a" <= ch <= "i":
            cell = (1, ord(ch) - ord("a"))
        else:
            cell = (2, ord(ch) - ord("p"))
        cells.extend([cell] * (int(n) if n else 1))
    return cells


def merge(cells, f):
    """Every f cells as one square: resident if half of them are, bucket of their mean."""
    out = []
    for i in range(0, len(cells), f):
        group = cells[i:i + f]
        res = [c[0] for c in group]
        r = 2 if 2 in res else int(sum(res) * 2 >= len(group))
        mean = sum(c[1] for c in group) / len(group)
        b = 0 if mean == 0 else max(1, min(8, int(mean + 0.999)))
        out.append((r, b))
    return out


def size_text(n):
    for unit, div in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= div:
            v = n / div
            return ("%.1f%s" % (v, unit)) if v < 100 else ("%.0f%s" % (v, unit))
    return "%dB" % n


# ------------------------------------------------------------------------------------------
# Layout: a column is a list of items, each a text line, a row of squares or a fold.

class Column:
    def __init__(self, name, snap, cell_bytes, f, row_squares):
        self.name, self.items = name, []
        self.square_bytes = cell_bytes * f
        fold_min = 3  # rows: a shorter empty stretch is drawn as it is
        for r in snap["regions"]:
            squares = merge(decode(r["cells"]), f)
            big = r["bytes"] >= 256 << 10 or r["live_bytes"]
            if big:
                label = "%s %s %s" % (r["addr"][:14], r["kind"], size_text(r["bytes"]))
                if r["largest_object_bytes"] * 2 >= r["bytes"]:
                    label += " HUGE BLOCK"
                self.items.append(("text", label))
            rows = [squares[i:i + row_squares] for i in range(0, len(squares), row_squares)]
            i = 0
            while i < len(rows):
                j = i
                while j < len(rows) and all(c == (0, 0) for c in rows[j]):
                    j += 1
                if j - i >= fold_min:
                    folded = sum(len(x) for x in rows[i:j]) * self.square_bytes
                    self.items.append(("fold", "%s NOT RESIDENT" % size_text(folded)))
                    i = j
                    continue
                self.items.append(("row", rows[i]))
                i += 1
            self.items.append(("gap", None))

    def rows(self):
        return sum(1 for kind, _ in self.items if kind == "row")


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(BG * (w * h))

    def rect(self, x, y, w, h, rgb):
        for yy in range(max(0, y), min(self.h, y + h)):
            start = (yy * self.w + max(0, x)) * 3
            end = (yy * self.w + min(self.w, x + w)) * 3
            if end > start:
                self.px[start:end] = bytes(rgb) * ((end - start) // 3)

    def text(self, x, y, s, rgb=INK):
        for ch in s.upper():
            rows = FONT.get(ch, FONT["?"]).split()
            for dy, bits in enumerate(rows):
                for dx, bit in enumerate(bits):
                    if bit == "1":
                        self.rect(x + dx, y + dy, 1, 1, rgb)
            x += GLYPH_W

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(tag, data):
            return (struct.pack(">I", len(data)) + tag + data
                    + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))

        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)))
            f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
            f.write(chunk(b"IEND", b""))


SQ = 3                 # pixels per square
ROW_SQUARES = 128      # squares per row
FOLD_H, TEXT_H, GAP_H = 9, 10, 4


def height(col):
    h = 0
    for kind, _ in col.items:
        h += {"row": SQ, "text": TEXT_H, "fold": FOLD_H, "gap": GAP_H}[kind]
    return h


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results")
    ap.add_argument("-w", "--workload", help="a workload, or the trace's file name")
    ap.add_argument("-t", "--threads", type=int)
    ap.add_argument("-m", "--mark", default="end",
                    help="the snapshot's label, or LABEL@OPS (every@80000) (default: end)")
    ap.add_argument("-a", "--allocators", help="comma-separated: only these, in this order")
    ap.add_argument("-o", "--output", default="heapmap.png")
    ap.add_argument("--max-rows", type=int, default=360,
                    help="squares merge (x2, x4...) until no column has more rows")
    a = ap.parse_args()
    doc = json.load(open(a.results))
    cells = [c for c in doc["results"] if c.get("heapmap", {}).get("status") == "ok"
             and (a.workload is None or c["workload"] == a.workload
                  or c["workload"].endswith("/" + a.workload))
             and (a.threads is None or c["threads"] == a.threads)]
    if not cells:
        sys.exit("heapmap_png: no cell with a heap map matches")
    key = (cells[0]["workload"], cells[0]["threads"])
    cells = [c for c in cells if (c["workload"], c["threads"]) == key]
    if a.allocators:
        order = a.allocators.split(",")
        cells = sorted((c for c in cells if c["allocator"] in order),
                       key=lambda c: order.index(c["allocator"]))
    label, _, at = a.mark.partition("@")
    snaps = []
    for c in cells:
        s = next((s for s in c["heapmap"]["snapshots"] if s["label"] == label
                  and (not at or s["ops"] == int(at))), None)
        if s:
            snaps.append((c["allocator"], s))
    if not snaps:
        sys.exit("heapmap_png: no snapshot labelled %r" % a.mark)
    f = 1
    while True:
        cols = [Column(name, s, s["cell_bytes"], f, ROW_SQUARES) for name, s in snaps]
        if max(col.rows() for col in cols) <= a.max_rows or f >= 1 << 16:
            break
        f *= 2
    col_w = ROW_SQUARES * SQ
    pad = 14
    head = 3 * TEXT_H + 8
    sub = 3 * TEXT_H
    legend = 2 * TEXT_H + 10
    W = pad + len(cols) * (col_w + pad)
    H = head + sub + max(height(c) for c in cols) + legend + pad
    cv = Canvas(W, H)
    name = key[0].rsplit("/", 1)[-1]
    square = size_text(cols[0].square_bytes)
    cv.text(pad, 6, "HEAPLAB HEAP MAPS: %s, %d THREAD%s, AT \"%s\"" %
            (name, key[1], "" if key[1] == 1 else "S", a.mark))
    cv.text(pad, 6 + TEXT_H, "ONE SQUARE = %s; ROWS OF %s; REGIONS IN ADDRESS ORDER" %
            (square, size_text(cols[0].square_bytes * ROW_SQUARES)))
    for i, (col, (alloc, s)) in enumerate(zip(cols, snaps)):
        x = pad + i * (col_w + pad)
        y = head
        cv.text(x, y, alloc, (0, 0, 0))
        cv.text(x, y + TEXT_H, "LIVE %s RES %s MAP %s" % (
            size_text(s["live_bytes"]), size_text(s["resident_bytes"]),
            size_text(s["mapped_bytes"])))
        c = s["cells"]
        cb = s["cell_bytes"]
        cv.text(x, y + 2 * TEXT_H, "EMPTY %s SPARSE %s DENSE %s" % (
            size_text(c["empty"] * cb), size_text(c["sparse"] * cb), size_text(c["dense"] * cb)))
        y = head + sub
        for kind, val in col.items:
            if kind == "text":
                cv.text(x, y + 1, val, (90, 90, 90))
                y += TEXT_H
            elif kind == "fold":
                cv.rect(x, y + 1, col_w, FOLD_H - 2, FOLD)
                cv.text(x + 4, y + 1, val, (60, 60, 80))
                y += FOLD_H
            elif kind == "gap":
                y += GAP_H
            else:
                for k, (res, b) in enumerate(val):
                    cv.rect(x + k * SQ, y, SQ, SQ, colour(res, b))
                y += SQ
    y = H - legend - 2
    x = pad
    keys = [(GREY, "NOT RESIDENT"), (EMPTY, "RESIDENT, NOTHING LIVE")]
    keys += [(rgb, "%d/8" % (i + 1)) for i, rgb in enumerate(SPARSE + DENSE)]
    keys[2] = (SPARSE[0], "LIVE: 1/8")
    keys += [(FOLD, "FOLDED: NOT RESIDENT")]
    for rgb, label in keys:
        cv.rect(x, y, 9, 7, rgb)
        cv.text(x + 12, y, label)
        x += 12 + GLYPH_W * len(label) + 14
    cv.text(pad, y + TEXT_H + 2, "FROM %s (DOCS/INSIDE.MD)" % a.results.rsplit("/", 1)[-1])
    cv.png(a.output)
    print("%s: %d x %d, %d allocators, one square = %s" % (a.output, W, H, len(cols), square))


if __name__ == "__main__":
    main()
