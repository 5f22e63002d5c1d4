#!/usr/bin/python3
"""Every example of docs/cli.md runs as written.

The examples are the ```sh blocks of docs/cli.md (```text blocks show
output and are not run). They run in order, each block as one bash script
(set -euo pipefail) in one scratch directory, with `samsa` on PATH, against
a samsa-broker started as the main job starts it (config/server.properties)
on a free port: "127.0.0.1:9092" in a block is replaced by that address, and
SAMSA_BROKERS points there for the commands that rely on the default. The
whole page runs twice on the same broker and directory, as someone would
run it twice against a long-lived main job.

Checked: every block exits 0 with no sanitizer report on stderr; the page
has examples for every subcommand; after the first pass the broker holds
what the examples made (topic orders with records, group billing with
committed offsets, no scratch topic left) and the outbox database the rows
they enqueued.

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


def blocks():
    """The ```sh blocks of the page: (line number, text)."""
    out, cur, start = [], None, 0
    with open(DOC) as f:
        for n, line in enumerate(f, 1):
            if cur is None and line.rstrip() == "```sh":
                cur, start = [], n
            elif cur is not None and line.rstrip() == "```":
                out.append((start, "".join(cur)))
                cur = None
            elif cur is not None:
                cur.append(line)
    return out


def run_page(label):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(os.path.abspath(SAMSA)) + ":" + env["PATH"]
    env["SAMSA_BROKERS"] = broker.bootstrap
    env.pop("SAMSA_OUTBOX_DB", None)
    for line, text in blocks():
        script = text.replace("127.0.0.1:9092", broker.bootstrap)
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=scratch, env=env,
                           capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        err = r.stderr.decode("utf-8", "replace")
        first = text.strip().splitlines()[0]
        check(r.returncode == 0, "%s: the block at docs/cli.md:%d (%s...) runs: exit 0" % (label, line, first),
              "exit %d\nstdout:\n%s\nstderr:\n%s" % (r.returncode, r.stdout.decode("utf-8", "replace"), err))
        check(not harness.SANITIZER_RE.search(err), "%s: and no sanitizer report" % label, err)


def test_page_covers_every_command():
    text = "".join(t for _, t in blocks())
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
    run_page("first pass")
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
    run_page("second pass")


def main():
    try:
        broker.start()
        rc = run_tests([test_page_covers_every_command, test_examples_run, test_examples_run_again], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()
        if os.environ.get("SAMSA_KEEP_TMP") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
