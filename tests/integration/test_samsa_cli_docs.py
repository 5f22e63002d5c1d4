#!/usr/bin/python3
"""Every example of docs/cli.md runs as written and prints what the page says.

The examples are the ```sh blocks of docs/cli.md. They run in order, each
block as one bash script (set -euo pipefail, stderr into stdout as a
terminal shows them) in one scratch directory, with `samsa` on PATH,
against a samsa-broker started as the main job starts it
(config/server.properties) on a free port: "127.0.0.1:9092" in a block is
replaced by that address, and SAMSA_BROKERS points there for the commands
that rely on the default. The whole page runs twice on the same broker and
directory, as someone would run it twice against a long-lived main job.

A ```text block after an ```sh block is that block's output as the page
shows it. On the first pass (a fresh broker and directory, as the page
assumes) every line of it must be printed, in that order (lines the page
leaves out may come between; a "..." line marks such a cut), after both
sides are normalised: ISO times, epoch-ms timestamps, durations ("0.01 s",
"0ms"), event ids (UUIDs) and the cluster id become placeholders, the
broker's real address and port become the page's 127.0.0.1:9092, and runs
of spaces (table alignment) become one. A failure is shown as
`CMD || echo "exit code $?"`: the exit code is then part of the output and
compared like the rest, so it hides nothing; any other `||` is refused.
The page shows a DEAD row: before that block, the test marks outbox row 2
DEAD with the error and attempts the relay writes after max.attempts (no
relay runs here), as the page's text says happened.

Checked: every block exits 0 with no sanitizer report; the first pass
prints every documented output line; the page has examples for every
subcommand; after the first pass the broker holds what the examples made
(topic orders with records, group billing with committed offsets, no
scratch topic left) and the outbox database the rows they enqueued.

Usage: test_samsa_cli_docs.py --broker BIN --samsa BIN
"""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Broker, check, check_eq, run_tests  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DOC = os.path.join(ROOT, "docs", "cli.md")


def arg(name, env):
    for i, a in enumerate(sys.argv):
        if a == name and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return os.environ.get(env)


SAMSA = arg("--samsa", "SAMSA_CLI_BIN")
if not SAMSA:
    sys.exit("test_samsa_cli_docs: pass --samsa BIN (or SAMSA_CLI_BIN)")
work = tempfile.mkdtemp(prefix="samsa-itest-docs-")
broker = Broker(name="docs", config_file=os.path.join(ROOT, "config", "server.properties"),
                overrides={"listeners": "PLAINTEXT://127.0.0.1:0",
                           "log.dirs": os.path.join(work, "broker-data")})
scratch = os.path.join(work, "scratch")


def page():
    """The fenced blocks of the page: (line number, language, text)."""
    out, cur, start, lang = [], None, 0, None
    with open(DOC) as f:
        for n, line in enumerate(f, 1):
            if cur is None and line.startswith("```"):
                cur, start, lang = [], n, line.strip()[3:]
            elif cur is not None and line.rstrip() == "```":
                out.append((start, lang, "".join(cur)))
                cur = None
            elif cur is not None:
                cur.append(line)
    return out


def blocks():
    """The ```sh blocks of the page with the ```text block after each, if
    any (before the next ```sh block): (line number, script, output or None)."""
    out = []
    for line, lang, text in page():
        if lang == "sh":
            out.append([line, text, None])
        elif lang == "text" and out and out[-1][2] is None:
            out[-1][2] = text
    return [tuple(b) for b in out]


EXIT_ECHO = '|| echo "exit code $?"'
NORMALISE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<TIME>"),
    (re.compile(r'"timestamp":\d+'), '"timestamp":<MS>'),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<UUID>"),
    (re.compile(r"Cluster: [A-Za-z0-9_-]+"), "Cluster: <ID>"),
    (re.compile(r'"cluster_id": "[A-Za-z0-9_-]+"'), '"cluster_id": "<ID>"'),
    (re.compile(r"\b\d+(\.\d+)? s\b"), "<DUR>"),
    (re.compile(r"\b\d+ms\b"), "<DUR>"),
    (re.compile(r"[ \t]+"), " "),
]


def normalise(text, addr=None):
    """Lines with times, ids and durations replaced; the broker's real
    address (addr: host:port) written as the page's 127.0.0.1:9092."""
    if addr:
        port = addr.rsplit(":", 1)[1]
        text = text.replace(addr, "127.0.0.1:9092")
        text = re.sub(r"(?<![0-9.:])%s(?![0-9])" % port, "9092", text)
    out = []
    for line in text.splitlines():
        for rx, sub in NORMALISE:
            line = rx.sub(sub, line)
        line = line.strip()
        if line:
            out.append(line)
    return out


def missing_lines(doc, got):
    """The documented lines (in order) not found in got in that order, with
    the position in got the search had reached."""
    i, missing = 0, []
    for want in doc:
        if want == "...":
            continue
        j = i
        while j < len(got) and got[j] != want:
            j += 1
        if j == len(got):
            missing.append((want, got[i:i + 3]))
        else:
            i = j + 1
    return missing


def mark_dead_row(scratch_dir):
    """What the relay leaves after max.attempts=10 for a row the broker
    refuses as too large (docs/outbox.md): DEAD, attempts 10, the error and
    where its dead letter went."""
    con = sqlite3.connect(os.path.join(scratch_dir, "outbox.db"))
    with con:
        n = con.execute("UPDATE samsa_outbox SET status = 'DEAD', attempts = 10, last_error ="
                        " 'MSG_SIZE_TOO_LARGE: Broker: Message size too large (topic payments)"
                        " (dead letter: payments.DLT [0] @ 0)' WHERE id = 2").rowcount
    con.close()
    check_eq(n, 1, "outbox row 2 marked DEAD as the relay would, for the `samsa outbox dead` example")


def run_page(label, compare):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(os.path.abspath(SAMSA)) + ":" + env["PATH"]
    env["SAMSA_BROKERS"] = broker.bootstrap
    env.pop("SAMSA_OUTBOX_DB", None)
    for line, text, shown in blocks():
        if compare and "samsa outbox dead" in text:
            mark_dead_row(scratch)
        script = "exec 2>&1\n" + text.replace("127.0.0.1:9092", broker.bootstrap)
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=scratch, env=env,
                           stdout=subprocess.PIPE, timeout=120, stdin=subprocess.DEVNULL)
        out = r.stdout.decode("utf-8", "replace")
        first = text.strip().splitlines()[0]
        check(r.returncode == 0, "%s: the block at docs/cli.md:%d (%s...) runs: exit 0" % (label, line, first),
              "exit %d\noutput:\n%s" % (r.returncode, out))
        check(not harness.SANITIZER_RE.search(out), "%s: and no sanitizer report" % label, out)
        if not compare or shown is None:
            continue
        doc = normalise(shown)
        got = normalise(out, broker.bootstrap)
        missing = missing_lines(doc, got)
        check(not missing, "%s: the block at docs/cli.md:%d prints the %d lines the page shows"
              % (label, line, len([d for d in doc if d != "..."])),
              "not printed (normalised; with where the search was): %s\nall it printed (normalised):\n%s"
              % (missing, "\n".join(got)))


def test_no_hidden_exit_codes():
    """`|| echo "exit code $?"` only, and its exit code shown in the output block."""
    for line, text, shown in blocks():
        for cmd in text.splitlines():
            if "||" not in cmd:
                continue
            check(cmd.rstrip().endswith(EXIT_ECHO) and cmd.count("||") == 1,
                  "docs/cli.md:%d: `%s`: the only `||` is %s" % (line, cmd.strip(), EXIT_ECHO))
        n = sum(1 for cmd in text.splitlines() if cmd.rstrip().endswith(EXIT_ECHO))
        if n:
            shown_codes = len(re.findall(r"^exit code \d+$", shown or "", re.M))
            check_eq(shown_codes, n, "docs/cli.md:%d: the output block shows the exit code of each of its %d "
                     "failing commands" % (line, n))


def test_page_covers_every_command():
    text = "".join(t for _, t, _ in blocks())
    for cmd in ["topic create", "topic list", "topic describe", "topic delete", "topic alter-config",
                "topic add-partitions", "produce", "consume", "group list", "group describe", "group delete",
                "group reset-offsets", "cluster info", "outbox status", "outbox list", "outbox show",
                "outbox retry", "outbox dead", "outbox init", "outbox enqueue", "completion bash"]:
        check(re.search(r"samsa (.* )?%s\b" % re.escape(cmd), text), "docs/cli.md has an example of samsa %s" % cmd)
    with open(DOC) as f:
        page = f.read()
    for tool in ("kafka-topics.sh", "kafka-console-producer.sh", "kafka-console-consumer.sh",
                 "kafka-consumer-groups.sh", "kcat"):
        check(("| `%s" % tool) in page, "the mapping table has %s" % tool)


def test_examples_run():
    os.makedirs(scratch, exist_ok=True)
    run_page("first pass", compare=True)
    env = dict(os.environ, SAMSA_BROKERS=broker.bootstrap)

    def js(*args):
        r = subprocess.run([SAMSA] + list(args) + ["--output", "json"], capture_output=True, env=env, timeout=60)
        check_eq(r.returncode, 0, "samsa %s" % " ".join(args))
        return json.loads(r.stdout)
    topics = {t["topic"] for t in js("topic", "list")}
    check("orders" in topics and "scratch" not in topics, "the examples left orders and removed scratch", topics)
    check(js("topic", "describe", "orders")["messages"] >= 6, "orders holds the records produced")
    g = js("group", "describe", "billing")
    check(g["offsets"] and all(o["committed"] is not None for o in g["offsets"]),
          "group billing has committed offsets", g)
    groups = {x["group"] for x in js("group", "list")}
    check("billing-test" not in groups, "billing-test was deleted")
    con = sqlite3.connect(os.path.join(scratch, "outbox.db"))
    rows = con.execute("SELECT topic, key, status FROM samsa_outbox ORDER BY id").fetchall()
    con.close()
    check_eq(rows, [("orders", "order-1", "INIT"), ("payments", "user-7", "INIT")],
             "the outbox holds the two enqueued rows")


def test_examples_run_again():
    run_page("second pass", compare=False)


def main():
    try:
        broker.start()
        rc = run_tests([test_page_covers_every_command, test_no_hidden_exit_codes, test_examples_run,
                        test_examples_run_again], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()
        if os.environ.get("SAMSA_KEEP_TMP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
