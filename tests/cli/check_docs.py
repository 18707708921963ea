#!/usr/bin/env python3
"""Diff every command's options as `heaplab help CMD` prints them against docs/cli.md.

For each command that `heaplab --help` lists, `heaplab help CMD` prints one or more blocks,
each starting with a "usage: heaplab NAME ..." line (NAME may be two words: "trace info").
Every block's option lines ("  -w, --workload LIST", "      --json FILE") give its option
names. docs/cli.md must have a section "## NAME" (text after a comma ignored) whose table
rows name, in their first column, exactly those options (--help aside).
Exit 0 when all agree, 1 with one line per difference."""
import re
import subprocess
import sys


def help_blocks(heaplab):
    out = subprocess.run([heaplab, "--help"], capture_output=True, text=True, check=True).stdout
    names = re.findall(r"^  ([a-z][a-z-]*) ", out.split("commands:", 1)[1], re.M)
    blocks = {}
    for name in names:
        text = subprocess.run([heaplab, "help", name], capture_output=True, text=True,
                              check=True).stdout
        current = None
        for line in text.splitlines():
            m = re.match(r"usage: heaplab ([a-z-]+(?: [a-z-]+)?)", line)
            if m:
                words = m.group(1).split()
                # "trace info" is a subcommand; "list" followed by an operand is not.
                current = " ".join(words[:2]) if len(words) == 2 and words[0] == name \
                    and not words[1].startswith("-") and name in ("trace",) else words[0]
                blocks.setdefault(current, set())
                continue
            m = re.match(r"^  (?:-[a-zA-Z], |    )--([a-z][a-z0-9-]*)", line)
            if m and current and m.group(1) != "help":
                blocks[current].add(m.group(1))
    return blocks


def doc_sections(path):
    sections, current = {}, None
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^## (.+)$", line)
        if m:
            current = m.group(1).split(",")[0].strip().strip("`")
            sections[current] = set()
            continue
        if current and line.startswith("|"):
            first = line.split("|")[1]
            sections[current].update(n for n in re.findall(r"--([a-z][a-z0-9-]*)", first)
                                     if n != "help")
    return sections


def main():
    heaplab, doc = sys.argv[1], sys.argv[2]
    blocks, sections = help_blocks(heaplab), doc_sections(doc)
    bad = 0
    for name, opts in sorted(blocks.items()):
        if name not in sections:
            print(f"docs/cli.md has no section '## {name}'")
            bad += 1
            continue
        for o in sorted(opts - sections[name]):
            print(f"{name}: --{o} is in --help but not in docs/cli.md")
            bad += 1
        for o in sorted(sections[name] - opts):
            print(f"{name}: --{o} is in docs/cli.md but not in --help")
            bad += 1
    if not blocks:
        print("no command found in heaplab --help")
        bad += 1
    sys.exit(1 if bad else 0)


main()
