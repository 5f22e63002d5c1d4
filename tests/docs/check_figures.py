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

What counts as a figure outside a block (then it fails): a number with a rate
unit (msgs/s, events/s, MB/s, transactions/s, ...), a latency percentile with
a time (p99 8 ms), CPU seconds or % of a core, an RSS in MB, a coverage
percentage, duplicates/lost per kill or cycle, and a table row whose table
header or first cell names a measure (msgs/s, latency, p50, CPU, RSS, %, ...)
or whose cells hold a rate or a percentage, with a number in its other cells.
Tables of settings and their defaults are not figures. Fenced code counts:
sample output with figures must sit in a block too.

Files checked: README.md, docs/*.md, and every README.md under examples/,
bench/, src/ and tests/. Exit 0 when all is well, 1 with one line per problem.
Outside a git checkout (tests/mutants/run.sh builds a copy without .git) the
docs are still checked against the results files, but not whether those are
committed and measured at a commit of this history (a NOTE says so).
"""

import glob
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPEN = re.compile(r"^ {0,3}<!--\s*figures:\s*(\S+)\s*-->")
CLOSE = re.compile(r"^ {0,3}<!--\s*/figures\s*-->")
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?")
NUM = r"\d[\d,]*(?:\.\d+)?"
# What a measured figure looks like in a line of prose (or a fenced sample of output):
FIGURE = re.compile(
    # a number followed by a rate unit
    NUM + r"\s*[kKM]?\s*(?:msgs?/s|messages/s|events?/s|ev/s|[kKMG]i?B/s|req/s|requests/s|orders/s|"
    r"transactions/s|tx/s|tps|records/s|rows/s|ops/s)\b"
    # a latency percentile followed by a number and a time unit
    r"|\b(?:p(?:50|90|95|99|999)|median)\b[^|]{0,16}?\d[\d.]*\s*(?:ms|us|µs|s)\b"
    # CPU time or load of a process
    r"|" + NUM + r"\s*(?:CPU s(?:econds?)?\b|% of (?:one|a) core)"
    r"|\bCPU s(?:econds?)? per 1M(?: msgs| messages)?:?\s*" + NUM +
    # memory of a process
    r"|\bRSS\b[^.|]{0,40}?" + NUM + r"\s*(?:[kKMG]i?B)\b|" + NUM + r"\s*(?:[kKMG]i?B)\s+(?:of\s+)?RSS\b"
    # coverage
    r"|(?:\bcoverage\b|\blines\b|\bfunctions\b)[^|]{0,40}?" + NUM + r"\s*%"
    # outcomes of a kill or crash loop
    r"|" + NUM + r"\s+(?:duplicates?|duplicated|lost|acknowledged|acked)\b[^|]{0,60}?\b(?:kill|cycle|per kill)"
    r"|\b(?:per kill|kill -9s?)\b[^|]{0,60}?" + NUM + r"\s+(?:duplicates?|lost)\b")
# A table row is a figure when its table's header or its own first cell names a measure, or one of its
# other cells holds a number with a unit of measure, and one of its other cells holds a number: then
# it must be a verbatim line of a results file. (A table of settings and their defaults is not.)
UNITS = (r"msgs?/s|messages/s|ev/s|events?/s|[kKMG]i?B/s|req/s|orders/s|transactions/s|records/s|"
         r"(?<![.\w])ms\b|\bp(?:50|90|95|99|999)\b|\bCPU\b|\bRSS\b|per 1M|\bstart-up\b|\bstartup\b|"
         r"per kill|\bduplicat|\bthroughput\b|\bcoverage\b")
MEASURE_HEADER = re.compile(UNITS + r"|\blatency\b|\blost\b|\backnowledged\b|\bcycles\b|%")
MEASURE_LABEL = re.compile(UNITS)
CELL_NUMBER = re.compile(r"(?<![\w.`=-])\d[\d,]*(?:\.\d+)?(?![\w`=])")
CELL_MEASURE = re.compile(NUM + r"\s*(?:%|per kill\b|" + UNITS.split("|(?<!")[0] + r")")


def table_figure(header, row):
    """True when a table data row states measured figures."""
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    if len(cells) < 2 or all(set(c) <= set("-: ") for c in cells):
        return False
    if not (MEASURE_HEADER.search(header or "") or MEASURE_LABEL.search(cells[0])
            or any(CELL_MEASURE.search(c) for c in cells[1:])):
        return False
    return any(CELL_NUMBER.search(c) for c in cells[1:])


HAVE_GIT = True


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
    elif HAVE_GIT and git("ls-files", "--error-unmatch", rel).returncode != 0:
        problems.append("%s: %s is not committed (git ls-files does not list it)" % (where, rel))
    else:
        text = open(path, encoding="utf-8").read()
        m = re.search(r"^- commit: ([0-9a-f]{7,40})\s*$", text, re.M)
        if not m:
            problems.append("%s: %s names no commit (\"- commit: <sha>\")" % (where, rel))
            text = None
        elif HAVE_GIT and git("merge-base", "--is-ancestor", m.group(1), "HEAD").returncode != 0:
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
    header = None       # the first row of the table the line is in
    for i, line in enumerate(lines, 1):
        if line.strip().startswith("|"):
            if header is None:
                header = line
                is_header = True
            else:
                is_header = False
        else:
            header = None
            is_header = False
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
            if (FIGURE.search(line)
                    or (not fence and not is_header and header is not None and table_figure(header, line))):
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
    global HAVE_GIT
    HAVE_GIT = git("rev-parse", "--git-dir").returncode == 0 and git("rev-parse", "HEAD").returncode == 0
    if not HAVE_GIT:
        # e.g. tests/mutants/run.sh's copy of the tree: the docs are still checked against the
        # results files, but whether those are committed and measured in this history is not
        print("NOTE: %s is not a git checkout: not checked whether the results files are committed"
              " and their commits are in the history" % ROOT)
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
