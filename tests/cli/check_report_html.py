#!/usr/bin/env python3
"""Check an HTML report written by `heaplab report` (docs/report.md).

usage: check_report_html.py REPORT.html [--site DIR] [--max-bytes N]
                            [--allocators a,b] [--workloads x,y] [--kinds bench,run]
                            [--compare] [--machines N]

  - the page is well-formed HTML: python's html.parser, with a stack of open elements, so an
    unclosed or misnested element, a stray end tag or text after </html> is an error;
  - it holds one <script type="application/json" id="heaplab-results">, a heaplab.report/1
    document, and every other script and style is inline (no src, no href but "#..." and
    "data:");
  - no URL outside the licence comments (/*! ... */) of the inlined libraries;
  - with --site: every style and script of the viewer's asset table (SITE/index.html's
    <link> and <script> tags, in their order) is inlined, in that order, "</" written "<\\/";
  - the data names every allocator and workload asked for, in cells of the kinds asked for;
    --compare: it holds a comparison; --machines N: N machines;
  - at most --max-bytes bytes.
Exit 0, or 1 with one line per problem."""
import argparse
import html.parser
import json
import os
import re
import sys

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Strict(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.scripts = []  # (attrs, text)
        self.styles = []
        self.ended = False
        self.doctype = False
        self._text = None

    def where(self):
        line, col = self.getpos()
        return "line %d, column %d" % (line, col + 1)

    def handle_decl(self, decl):
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        if self.ended:
            self.errors.append("<%s> after </html> (%s)" % (tag, self.where()))
        for k, v in attrs:
            if k in ("src", "href") and v is not None and not (v.startswith("#") or v.startswith("data:")):
                self.errors.append("<%s %s=%r>: loads something (%s)" % (tag, k, v, self.where()))
        if tag in VOID:
            return
        self.stack.append((tag, self.where()))
        if tag in ("script", "style"):
            self._text = (tag, dict(attrs), [])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            self.errors.append("</%s>: a void element has no end tag (%s)" % (tag, self.where()))
            return
        if not self.stack or self.stack[-1][0] != tag:
            open_ = self.stack[-1] if self.stack else None
            self.errors.append("</%s> (%s) does not close %s" % (
                tag, self.where(), "<%s> of %s" % open_ if open_ else "anything"))
            return
        self.stack.pop()
        if self._text and self._text[0] == tag:
            kind, attrs, parts = self._text
            (self.scripts if kind == "script" else self.styles).append((attrs, "".join(parts)))
            self._text = None
        if tag == "html":
            self.ended = True

    def handle_data(self, data):
        if self._text:
            self._text[2].append(data)
        elif self.ended and data.strip():
            self.errors.append("text after </html> (%s)" % self.where())


def escaped(text):
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def site_assets(site):
    """The viewer's styles and scripts in table order (index.html's tags)."""
    with open(os.path.join(site, "index.html"), encoding="utf-8") as f:
        index = f.read()
    out = []
    for m in re.finditer(r'<link rel="stylesheet" href="assets/([^"]+)">|<script src="assets/([^"]+)">', index):
        name = m.group(1) or m.group(2)
        with open(os.path.join(site, "assets", name), encoding="utf-8") as f:
            out.append(("style" if m.group(1) else "script", name, f.read()))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--site")
    ap.add_argument("--max-bytes", type=int, default=2 * 1024 * 1024)
    ap.add_argument("--allocators", default="")
    ap.add_argument("--workloads", default="")
    ap.add_argument("--kinds", default="")
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--machines", type=int, default=0)
    a = ap.parse_args()
    problems = []
    raw = open(a.report, "rb").read()
    if len(raw) > a.max_bytes:
        problems.append("%d bytes, more than %d" % (len(raw), a.max_bytes))
    text = raw.decode("utf-8")

    p = Strict()
    p.feed(text)
    p.close()
    problems += p.errors
    if not p.doctype:
        problems.append("no <!doctype html>")
    for tag, where in p.stack:
        problems.append("<%s> of %s is never closed" % (tag, where))
    if not p.ended:
        problems.append("no </html>")

    data_scripts = [t for attrs, t in p.scripts if attrs.get("id") == "heaplab-results"]
    code = [t for attrs, t in p.scripts if attrs.get("id") != "heaplab-results"]
    data = None
    if len(data_scripts) != 1:
        problems.append("%d scripts with id heaplab-results, not 1" % len(data_scripts))
    else:
        try:
            data = json.loads(data_scripts[0])
        except ValueError as e:
            problems.append("the data is not JSON: %s" % e)
    if any(attrs.get("type") not in (None, "application/json") for attrs, _ in p.scripts):
        problems.append("a script of another type")

    # URLs: none, but in the licence comments of the libraries inlined (/*! ... */).
    bare = re.sub(r"/\*!.*?\*/", "", text, flags=re.S)
    for m in re.finditer(r"\b(?:https?|ftp|wss?)://[A-Za-z0-9][^\s\"'<>)]*", bare):
        problems.append("an external URL: %s" % m.group(0))
        break

    if a.site:
        want = site_assets(a.site)
        got = [("style", t) for _, t in p.styles] + [("script", t) for t in code]
        got_styles = [t for k, t in got if k == "style"]
        at = {"style": 0, "script": 0}
        for kind, name, body in want:
            pool = got_styles if kind == "style" else code
            i = at[kind]
            if i >= len(pool) or escaped(body) not in pool[i]:
                problems.append("%s %s is not inlined as the %s %s of the page" % (
                    kind, name, ["first", "second", "third"][i] if i < 3 else "%dth" % (i + 1), kind))
            at[kind] = i + 1

    if data is not None:
        if data.get("schema") != "heaplab.report/1":
            problems.append("data schema %r" % data.get("schema"))
        cells = data.get("cells", [])
        kinds = {d["kind"] for d in data.get("docs", [])}
        for k in filter(None, a.kinds.split(",")):
            if k not in kinds:
                problems.append("no %s document in the data" % k)
        for al in filter(None, a.allocators.split(",")):
            if not any(c["allocator"] == al for c in cells) or al not in text:
                problems.append("allocator %s is not in the report" % al)
        for wl in filter(None, a.workloads.split(",")):
            if not any(c["workload"] == wl and c["status"] == "ok" for c in cells):
                problems.append("workload %s is not in the report" % wl)
        if a.compare and not data.get("compare"):
            problems.append("no comparison in the data")
        if a.machines and len(data.get("machines", [])) != a.machines:
            problems.append("%d machines, not %d" % (len(data.get("machines", [])), a.machines))
        for c in cells:
            rss = c.get("rss")
            if rss and len(rss["t_ms"]) > 2000:
                problems.append("a series of %d points" % len(rss["t_ms"]))
                break

    for x in problems:
        print("%s: %s" % (a.report, x))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
