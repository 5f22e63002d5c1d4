#!/usr/bin/env python3
"""Every measured figure in the docs comes from a committed results file.

A figure is quoted inside a block that names its source:

    <!-- figures: bench/results/20261207T193619Z.md -->
    | figure | samsa-broker | ... |        table rows: copied verbatim from that file
    Prose here may quote numbers; each must appear in that file.
    <!-- /figures -->

For each block this checks that the results file is tracked by git, that it
was measured on a clean tree at a commit in this branch's history (its
"- commit:" and "- tree: clean" lines, written by bench/provenance.sh), that
every table row of the block is a line of the file, and that every number in
the block's other lines appears in the file. Outside blocks, a line that
states a rate or a latency percentile with a number (12,000 msgs/s, p99 8 ms)
is an untraceable figure and fails the check.

Files checked: README.md, docs/*.md, and every README.md under examples/,
bench/, src/ and tests/. Exit 0 when all is well, 1 with one line per problem,
77 (skip) when there is no git history to check against.
"""

import glob
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPEN = re.compile(r"<!--\s*figures:\s*(\S+)\s*-->")
CLOSE = re.compile(r"<!--\s*/figures\s*-->")
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?")
# a number followed by a rate unit, or a percentile followed by a number
FIGURE = re.compile(r"\d[\d,.]*\s*[kKM]?\s*(?:msgs?/s|events?/s|ev/s|MB/s|req/s|requests/s|orders/s|"
                    r"transactions/s|records/s|ops/s)\b"
                    r"|\bp(?:50|90|99|999)\b[^|]{0,12}?\d[\d.]*\s*(?:ms|us|µs|s)\b")


def git(*args):
    return subprocess.run(["git", "-C", ROOT] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def norm(tok):
    return tok.replace(",", "").lstrip("+")


def numbers(text):
    return {norm(m.group(0)) for m in NUMBER.finditer(text)}


def doc_files():
    files = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    for top in ("examples", "bench", "src", "tests"):
        files += sorted(glob.glob(os.path.join(ROOT, top, "**", "README.md"), recursive=True))
    return [f for f in files if "node_modules" not in f]


def check_results_file(rel, problems, where, cache):
    if rel in cache:
        return cache[rel]
    path = os.path.join(ROOT, rel)
    text = None
    if not rel.startswith("bench/results/"):
        problems.append("%s: %s is not under bench/results/" % (where, rel))
    elif not os.path.isfile(path):
        problems.append("%s: %s does not exist" % (where, rel))
    elif git("ls-files", "--error-unmatch", rel).returncode != 0:
        problems.append("%s: %s is not committed (git ls-files does not list it)" % (where, rel))
    else:
        text = open(path, encoding="utf-8").read()
        m = re.search(r"^- commit: ([0-9a-f]{7,40})\s*$", text, re.M)
        if not m:
            problems.append("%s: %s names no commit (\"- commit: <sha>\")" % (where, rel))
            text = None
        elif git("merge-base", "--is-ancestor", m.group(1), "HEAD").returncode != 0:
            problems.append("%s: %s was measured at %s, which is not in this branch's history"
                            % (where, rel, m.group(1)))
            text = None
        elif not re.search(r"^- tree: clean\s*$", text, re.M):
            problems.append("%s: %s was measured on a tree with uncommitted changes" % (where, rel))
            text = None
    cache[rel] = text
    return text


def check_doc(path, problems, cache):
    rel_doc = os.path.relpath(path, ROOT)
    lines = open(path, encoding="utf-8").read().splitlines()
    source = None       # results file of the open block
    text = None
    fence = False
    blocks = 0
    for i, line in enumerate(lines, 1):
        where = "%s:%d" % (rel_doc, i)
        m = OPEN.search(line)
        if m:
            if source is not None:
                problems.append("%s: a figures block opens inside another" % where)
            source = m.group(1)
            text = check_results_file(source, problems, where, cache)
            blocks += 1
            continue
        if CLOSE.search(line):
            if source is None:
                problems.append("%s: <!-- /figures --> without an opening block" % where)
            source = text = None
            continue
        if line.lstrip().startswith("```"):
            fence = not fence
        if source is None:
            if not fence and FIGURE.search(line):
                problems.append("%s: a figure outside a figures block (cite its results file): %s"
                                % (where, line.strip()[:120]))
            continue
        if text is None:
            continue    # the block's source is already reported
        s = line.strip()
        if s.startswith("|"):
            if s not in (l.strip() for l in text.splitlines()):
                problems.append("%s: this table row is not a line of %s: %s" % (where, source, s[:120]))
        else:
            have = numbers(text) | numbers(source)
            missing = sorted(n for n in numbers(line) if n not in have)
            if missing:
                problems.append("%s: %s not found in %s" % (where, ", ".join(missing), source))
    if source is not None:
        problems.append("%s: a figures block is not closed" % rel_doc)
    return blocks


def main():
    if git("rev-parse", "--git-dir").returncode != 0 or git("rev-parse", "HEAD").returncode != 0:
        print("SKIP: no git history here: the results files' commits cannot be checked")
        return 77
    problems, cache = [], {}
    files = doc_files()
    blocks = sum(check_doc(f, problems, cache) for f in files)
    for p in problems:
        print("FAIL " + p)
    print("%d files, %d figures blocks, %d results files cited, %d problems"
          % (len(files), blocks, len(cache), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
