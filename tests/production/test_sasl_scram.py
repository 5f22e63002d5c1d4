#!/usr/bin/python3
"""The secured production path (docs/production.md): samsa-relay and the
`samsa` CLI against an Apache Kafka 4.1.1 node whose client listener is
SASL_SSL with SCRAM-SHA-512, each configured only through librdkafka
properties (security.protocol, sasl.mechanisms, sasl.username,
sasl.password, ssl.ca.location): the relay in its properties file, the CLI
with -X.

The certificates are made here with openssl: a CA, and a server
certificate it signs for 127.0.0.1 (subjectAltName IP and DNS localhost),
in a PKCS#12 keystore for Kafka; the clients trust the CA's PEM (librdkafka
verifies the server's name by default). The SCRAM user is created when the
node's storage is formatted (kafka-storage format --add-scram, KIP-900: in
KRaft the credentials are records of the metadata log). The node keeps a
PLAINTEXT listener for its own (inter-broker) traffic; the clients are
given only the SASL_SSL listener's address.

librdkafka before 2.6.1 cannot authenticate with SCRAM to Kafka 4.x
(librdkafka #4895: its client-final-message repeats the client nonce, which
Kafka 4 checks strictly since), and Debian 12's librdkafka, the one samsa
is built with, is 2.0.2. So:
  0. with Debian's librdkafka: TLS is accepted, then the SCRAM exchange is
     refused ("invalid credentials") for the right password: the
     documented limit (docs/production.md), pinned;
then every check below runs the same samsa binaries with librdkafka 2.16
(the one the PyPI confluent-kafka wheel of tests/compat/python/
requirements.txt bundles, set up by compat.setup_venv) put first on
LD_LIBRARY_PATH as librdkafka.so.1 (the ABI is compatible):
  1. the CLI: cluster info lists the node, topic create (3 partitions),
     describe, produce 20 records, consume them back;
  2. refused: the CLI without the security properties (plaintext to a TLS
     port), with a wrong password (SCRAM authentication fails), and with
     another CA (the server's certificate not trusted): non-zero exit and
     nothing created;
  3. samsa-relay (SQLite outbox, track.groups=g1) publishes 30 rows
     (PUBLISHED, each at its recorded partition and offset, read back over
     SASL_SSL by `samsa consume`), and completion tracking reads g1's
     commits over SASL_SSL too: once `samsa consume -g g1` has read and
     committed everything, every row COMPLETE;
  4. a relay with a wrong password publishes nothing: its rows stay INIT,
     it logs the authentication failure, and it keeps running.
"""

import glob
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
for d in ("tests/integration", "tests/compat"):
    sys.path.insert(0, os.path.join(REPO, d))
import harness  # noqa: E402
import kafka_cluster  # noqa: E402
import relay_harness  # noqa: E402
from harness import check, check_eq, wait_for  # noqa: E402

USER = "samsa-relay"
PASSWORD = "scram-" + os.urandom(6).hex()
STORE_PASS = "store-" + os.urandom(6).hex()
TOPIC = "secured.orders"


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    if r.returncode:
        raise AssertionError("openssl %s: exit %d: %s" % (args[0], r.returncode, r.stdout.decode()))


def make_certs(d):
    """ca.pem/ca.key, server.p12 (key + certificate for 127.0.0.1 signed by
    the CA, and the CA), other-ca.pem (a CA nobody signed with)."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=samsa test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "server.ext", "-out", "server.pem", cwd=d)
    openssl("pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-certfile", "ca.pem",
            "-name", "kafka", "-passout", "pass:" + STORE_PASS, "-out", "server.p12", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=another CA",
            "-keyout", "other-ca.key", "-out", "other-ca.pem", cwd=d)


def start_kafka(certs):
    props = {
        "auto.create.topics.enable": "false",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "listener.name.sasl_ssl.ssl.keystore.type": "PKCS12",
        "listener.name.sasl_ssl.ssl.keystore.location": os.path.join(certs, "server.p12"),
        "listener.name.sasl_ssl.ssl.keystore.password": STORE_PASS,
        "listener.name.sasl_ssl.ssl.key.password": STORE_PASS,
        "group.initial.rebalance.delay.ms": "0",
    }
    scram = "SCRAM-SHA-512=[name=%s,password=%s]" % (USER, PASSWORD)
    return kafka_cluster.KafkaCluster(nodes=1, props=props, listeners={"SASL_SSL": "SASL_SSL"},
                                      format_args=["--add-scram", scram]).start(timeout=240, log=print)


def client_props(certs, password=PASSWORD, ca="ca.pem"):
    return {"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": USER,
            "sasl.password": password, "ssl.ca.location": os.path.join(certs, ca)}


def newer_librdkafka(d):
    """A folder holding librdkafka.so.1 -> the PyPI confluent-kafka wheel's
    librdkafka (build-compat/venv, compat.setup_venv), or None."""
    build = os.environ.get("SAMSA_COMPAT_BUILD", os.path.join(REPO, "build-compat"))
    libs = glob.glob(os.path.join(build, "venv", "lib", "python3*", "site-packages", "confluent_kafka.libs",
                                  "librdkafka*.so*"))
    if not libs:
        return None
    out = os.path.join(d, "librdkafka")
    os.makedirs(out, exist_ok=True)
    os.symlink(libs[0], os.path.join(out, "librdkafka.so.1"))
    return out


def cli_version(env):
    r = subprocess.run([os.environ.get("SAMSA_CLI_BIN", "samsa"), "--version"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=60)
    m = re.search(r"librdkafka (\d+)\.(\d+)\.(\d+)", r.stdout.decode())
    return tuple(int(x) for x in m.groups()) if m else None


ENV = {"env": None}   # the environment of the CLI and the relays: set by main()


def cli(bootstrap, props, *args, stdin=None, timeout=120, wait_ms=20000, env=None):
    """samsa -b bootstrap -X k=v... args; (exit code, stdout, stderr)."""
    cmd = [os.environ.get("SAMSA_CLI_BIN", "samsa"), "-b", bootstrap, "--timeout", str(wait_ms)]
    for k, v in props.items():
        cmd += ["-X", "%s=%s" % (k, v)]
    cmd += list(args)
    r = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       preexec_fn=harness._die_with_parent, env=env or ENV["env"])
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def test_debian_librdkafka(st):
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    v = cli_version(env)
    check(v is not None and v < (2, 6, 1), "samsa as built: librdkafka %s (Debian's; SCRAM against Kafka 4 "
          "needs 2.6.1)" % (v,))
    rc, out, err = cli(st["boot"], client_props(st["certs"]), "cluster", "info", env=env, wait_ms=8000)
    check(rc != 0 and "invalid credentials" in err and "SCRAM-SHA-512" in err,
          "with it, the right user and password are refused in the SCRAM exchange after the TLS handshake "
          "(librdkafka #4895): exit %d, %s" % (rc, err.strip()[:200]), (rc, out, err))


def test_cli(st):
    boot, certs = st["boot"], st["certs"]
    good = client_props(certs)
    rc, out, err = cli(boot, good, "cluster", "info")
    check(rc == 0 and ("%d" % st["kafka"].nodes[0].id) in out, "samsa cluster info over SASL_SSL: exit 0, the "
          "node listed", (rc, out, err))
    rc, out, err = cli(boot, good, "topic", "create", "-p", "3", "-r", "1", TOPIC)
    check_eq((rc, err.strip()), (0, ""), "samsa topic create %s -p 3 over SASL_SSL" % TOPIC)
    rc, out, err = cli(boot, good, "--output", "json", "topic", "describe", TOPIC)
    check(rc == 0 and TOPIC in out and out.count('"partition"') >= 3,
          "samsa topic describe over SASL_SSL: the topic, 3 partitions", (rc, out[:500], err))
    lines = "".join("k%d:v%d\n" % (i % 5, i) for i in range(20)).encode()
    rc, out, err = cli(boot, good, "produce", TOPIC, "-K", ":", stdin=lines)
    check_eq(rc, 0, "samsa produce 20 records over SASL_SSL (exit code; %s)" % err.strip()[:200])
    rc, out, err = cli(boot, good, "consume", TOPIC, "--from-beginning", "-e", "--format", "json")
    got = sorted(l for l in out.splitlines() if l.strip())
    check(rc == 0 and len(got) == 20 and all('"v' in l for l in got),
          "samsa consume over SASL_SSL: the 20 records back", (rc, got[:3], err[:300]))

    # refused: no security, a wrong password, an untrusted certificate
    for i, (what, props) in enumerate((("no security properties (plaintext to the TLS port)", {}),
                        ("a wrong password", client_props(certs, password="wrong")),
                        ("a CA that did not sign the server's certificate", client_props(certs, ca="other-ca.pem")))):
        name = "secured.refused-%d" % i
        rc, out, err = cli(boot, props, "topic", "create", "-p", "1", "-r", "1", name, wait_ms=8000)
        check(rc != 0, "samsa topic create with %s fails (exit %d: %s)" % (what, rc, err.strip()[:160]))
        rc2, out2, _ = cli(boot, good, "topic", "list")
        check(rc2 == 0 and name not in out2, "and created nothing (%s)" % name)


def test_relay(st):
    boot, certs = st["boot"], st["certs"]
    d = st["dir"]
    path = os.path.join(d, "outbox.db")
    relay_harness.init_schema(relay_harness.relay_binary(), "sqlite:" + path)
    app = sqlite3.connect(path, timeout=30, isolation_level=None)
    for i in range(30):
        app.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (?, ?, ?)",
                    (TOPIC, "o%d" % (i % 6), relay_harness.payload("o%d" % (i % 6), i)))
    props = {"outbox.db": "sqlite:" + path, "bootstrap.servers": boot, "track.groups": "g1",
             "complete.interval.ms": 200}
    props.update(client_props(certs))
    relay = relay_harness.Relay(props, name="relay-sasl", workdir=d).start(timeout=60)
    st["relays"].append(relay)

    def counts():
        return dict(app.execute("SELECT status, count(*) FROM samsa_outbox GROUP BY status").fetchall())
    wait_for(lambda: counts() == {"PUBLISHED": 30}, 120, "30 rows PUBLISHED over SASL_SSL", 0.2)
    check(True, "samsa-relay published 30 rows over SASL_SSL/SCRAM-SHA-512 (configured only by librdkafka "
          "properties)")
    rows = app.execute("SELECT event_id, kafka_partition, kafka_offset FROM samsa_outbox").fetchall()
    rc, out, err = cli(boot, client_props(certs), "consume", TOPIC, "-g", "g1", "-o", "beginning", "-e",
                       "--format", "json")
    seen = {}
    for line in out.splitlines():
        if line.strip():
            m = json.loads(line)
            h = {e["key"]: e["value"] for e in m["headers"]}
            seen[h.get("samsa.event_id")] = (m["partition"], m["offset"])
    check(rc == 0 and all(e in seen for e, _, _ in rows),
          "samsa consume -g g1 over SASL_SSL read the relay's 30 records", (rc, len(seen), err[:300]))
    check(all(seen[e] == (p, o) for e, p, o in rows),
          "each row's kafka_partition/kafka_offset holds its event (read over SASL_SSL)")
    wait_for(lambda: counts() == {"COMPLETE": 30}, 120, "every row COMPLETE (g1's commits read over SASL_SSL)", 0.2)
    check(True, "completion tracking read g1's commits over SASL_SSL: 30 rows COMPLETE")
    check(relay.alive() and relay.starts == 1, "the relay still runs, one start")

    # a wrong password: nothing published, the failure logged, the relay alive
    path2 = os.path.join(d, "outbox2.db")
    relay_harness.init_schema(relay_harness.relay_binary(), "sqlite:" + path2)
    app2 = sqlite3.connect(path2, timeout=30, isolation_level=None)
    for i in range(5):
        app2.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (?, ?, ?)",
                     (TOPIC, "w", relay_harness.payload("w", i)))
    props2 = dict(props, **{"outbox.db": "sqlite:" + path2, "sasl.password": "wrong"})
    props2.pop("track.groups")
    bad = relay_harness.Relay(props2, name="relay-wrong-password", workdir=d).start(timeout=60)
    st["relays"].append(bad)
    lines = wait_for(lambda: bad.log_lines(r"SASL authentication error|Authentication failed"), 120,
                     "the relay with a wrong password to log the authentication failure", 0.2)
    check(True, "a relay with a wrong password logs: %s" % lines[0][:200])
    check_eq(dict(app2.execute("SELECT status, count(*) FROM samsa_outbox GROUP BY status").fetchall()),
             {"INIT": 5}, "its 5 rows stay INIT")
    check(bad.alive(), "and it keeps running (it retries; nothing lost)")
    app.close()
    app2.close()


def main():
    d = tempfile.mkdtemp(prefix="samsa-sasl-")
    certs = os.path.join(d, "certs")
    os.makedirs(certs)
    lib = newer_librdkafka(d)
    if lib is None:
        print("FAIL: no librdkafka >= 2.6.1: build-compat/venv is missing (ctest runs compat.setup_venv first; "
              "by hand: tests/compat/setup_clients.py venv)", flush=True)
        return 1
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = lib + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    ENV["env"] = env
    os.environ["LD_LIBRARY_PATH"] = env["LD_LIBRARY_PATH"]   # the relays (relay_harness) inherit it
    v = cli_version(env)
    print("librdkafka for the secured runs: %s (%s)" % (v, os.readlink(os.path.join(lib, "librdkafka.so.1"))),
          flush=True)
    if v is None or v < (2, 6, 1):
        print("FAIL: the librdkafka put first on LD_LIBRARY_PATH is %s, not >= 2.6.1" % (v,), flush=True)
        return 1
    try:
        make_certs(certs)
    except FileNotFoundError:
        print("FAIL: openssl is not installed (scripts/deps.sh test installs it)", flush=True)
        return 1
    try:
        kafka = start_kafka(certs)
    except kafka_cluster.KafkaError as e:
        print("FAIL: Apache Kafka did not start: %s" % e, flush=True)
        return 1
    st = {"kafka": kafka, "boot": kafka.listener_bootstrap("SASL_SSL"), "certs": certs, "dir": d, "relays": []}
    print("SASL_SSL listener: %s (PLAINTEXT %s, for the node itself)" % (st["boot"], kafka.bootstrap), flush=True)
    rc = 1
    try:
        def t_debian_librdkafka():
            test_debian_librdkafka(st)

        def t_cli():
            test_cli(st)

        def t_relay():
            test_relay(st)
        rc = harness.run_tests([t_debian_librdkafka, t_cli, t_relay])
    finally:
        for r in st["relays"]:
            if rc != 0:
                print("%s log:\n%s" % (r.name, r.log_tail()), flush=True)
            rc = r.finish(rc)
        if rc != 0:
            print(kafka.log_tails(), flush=True)
        kafka.cleanup()
        import shutil
        shutil.rmtree(d, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
