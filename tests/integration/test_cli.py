#!/usr/bin/python3
"""samsa-broker's command line, as kafka-server-start.sh takes it.

Start-up errors (unknown or malformed property, in a file or an --override;
unknown option; a listener port already taken), --help and --version;
security settings fail closed: a listener whose security protocol (after
listener.security.protocol.map) is not PLAINTEXT, and any ssl.*, sasl.*,
authorizer or listener-prefixed security property stop start-up with exit 1
and a message naming the property and saying samsa-broker does not support
it yet; a PLAINTEXT listener on every interface starts with a WARN that
there is no authentication (a loopback one without); a
server.properties file with --override winning over it; node.id and
advertised.listeners as Metadata reports them; SIGINT and SIGTERM shut down
with exit 0 and the data survives a restart on the same port.

Usage: test_cli.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Broker, BrokerError, broker_binary, check, check_eq, run_tests, unique  # noqa: E402

import confluent_kafka as ck  # noqa: E402
import confluent_kafka.admin as cka  # noqa: E402

BIN = broker_binary()
tmp = tempfile.mkdtemp(prefix="samsa-itest-cli-")
started = []


def run(*args, timeout=20):
    """Run the broker expecting it to exit by itself (a start-up error or
    --help); returns (exit code, stdout+stderr)."""
    r = subprocess.run([BIN] + list(args), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    out = (r.stdout + r.stderr).decode(errors="replace")
    if harness.SANITIZER_RE.search(out):
        raise AssertionError("sanitizer report from samsa-broker %s:\n%s" % (" ".join(args), out[-3000:]))
    return r.returncode, out


def props_file(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def metadata(bootstrap):
    return cka.AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)


def test_startup_errors():
    data = os.path.join(tmp, "never-started")
    code, out = run("--override", "log.dirs=" + data, "--override", "no.such.property=1")
    check_eq(code, 1, "an unknown --override property: exit code 1")
    check("no.such.property" in out, "the message names the unknown property", out.strip())
    path = props_file("unknown.properties", "log.dirs=%s\nlisteners=PLAINTEXT://127.0.0.1:0\nfoo.bar.baz=3\n" % data)
    code, out = run(path)
    check_eq(code, 1, "an unknown property in server.properties: exit code 1")
    check("foo.bar.baz" in out, "the message names it", out.strip())
    code, out = run("--override", "log.dirs=" + data, "--override", "num.partitions=lots")
    check_eq(code, 1, "a malformed num.partitions: exit code 1")
    check("num.partitions" in out, "the message names num.partitions", out.strip())
    code, out = run("--override", "log.dirs=" + data, "--override", "default.replication.factor=3")
    check_eq(code, 1, "default.replication.factor=3 on a single node: exit code 1")
    check("default.replication.factor" in out, "the message names default.replication.factor", out.strip())
    code, out = run("--override", "log.dirs=" + data, "--override", "listeners=nonsense")
    check_eq(code, 1, "a malformed listeners: exit code 1")
    # Kafka's rules for the per-address connection limits
    for kv, prop in (("max.connections.per.ip=0", "max.connections.per.ip"),
                     ("max.connections.per.ip=-1", "max.connections.per.ip"),
                     ("max.connections.per.ip.overrides=127.0.0.1", "max.connections.per.ip.overrides"),
                     ("max.connections.per.ip.overrides=127.0.0.1:lots", "max.connections.per.ip.overrides"),
                     ("max.connections.per.ip.overrides=no-such-host.invalid:3", "no-such-host.invalid")):
        code, out = run("--override", "log.dirs=" + data, "--override", kv)
        check(code == 1 and prop in out, "%s: exit code 1, the message names %s" % (kv, prop), out.strip())
    # Kafka's rule: queued.max.request.bytes, when it limits, holds at least the largest request
    code, out = run("--override", "log.dirs=" + data, "--override", "socket.request.max.bytes=2000000",
                    "--override", "queued.max.request.bytes=1000000")
    check(code == 1 and "queued.max.request.bytes" in out and "socket.request.max.bytes" in out,
          "queued.max.request.bytes below socket.request.max.bytes: exit code 1, both named", out.strip())
    code, out = run("--override", "justakey")
    check(code in (1, 2), "--override without '=': a usage or config error (exit %d)" % code, out.strip())
    code, out = run("--no-such-option")
    check_eq(code, 2, "an unknown option: usage error, exit code 2")
    code, out = run(os.path.join(tmp, "missing.properties"))
    check_eq(code, 1, "a server.properties that does not exist: exit code 1")
    code, out = run("--override=log.dirs=" + data, "--override=num.partitions=lots")
    check(code == 1 and "num.partitions" in out, "--override=K=V is read like --override K=V", out.strip())
    code, out = run("--override", "log.dirs=" + data, "--override")
    check_eq((code, out), (2, "samsa-broker: --override needs KEY=VALUE\n"), "--override last: exit 2, needs KEY=VALUE")
    code, out = run("a.properties", "b.properties")
    check_eq((code, out), (2, "samsa-broker: more than one properties file ('a.properties', 'b.properties')\n"),
             "two properties files: exit 2")
    check(not os.path.exists(data), "none of these created the data dir")


def expect_unsupported(args, prop, what, also=()):
    """The broker refuses to start (exit 1) with a message naming prop and
    saying it does not support it yet; nothing is created on disk."""
    data = os.path.join(tmp, "never-started-" + unique("sec"))
    code, out = run("--override", "log.dirs=" + data, *args)
    check_eq(code, 1, "%s: exit code 1" % what)
    check(prop in out and "samsa-broker does not support" in out and "yet" in out,
          "%s: the message names %s and says samsa-broker does not support it yet" % (what, prop), out.strip())
    for word in also:
        check(word in out, "%s: the message says %s" % (what, word), out.strip())
    check("started in" not in out and not os.path.exists(data), "%s: nothing started, no data dir" % what)


def test_security_fails_closed():
    lo = "127.0.0.1:0"
    # the case: a named listener mapped to SASL_SSL used to start as plaintext
    expect_unsupported(["--override", "listeners=INTERNAL://" + lo,
                        "--override", "listener.security.protocol.map=INTERNAL:SASL_SSL"],
                       "listener.security.protocol.map", "listener INTERNAL mapped to SASL_SSL",
                       also=("INTERNAL", "SASL_SSL"))
    expect_unsupported(["--override", "listeners=PLAINTEXT://%s,SECURE://127.0.0.1:0" % lo,
                        "--override", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SECURE:SSL"],
                       "listener.security.protocol.map", "a second listener mapped to SSL", also=("SECURE", "SSL"))
    for proto in ("SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        expect_unsupported(["--override", "listeners=%s://%s" % (proto, lo)], "listeners",
                           "listeners=%s://" % proto, also=(proto,))
    expect_unsupported(["--override", "listeners=PLAINTEXT://%s" % lo,
                        "--override", "advertised.listeners=SSL://broker.example:9093"],
                       "advertised.listeners", "advertised.listeners=SSL://", also=("SSL",))
    expect_unsupported(["--override", "listeners=PLAINTEXT://%s,CONTROLLER://127.0.0.1:0" % lo,
                        "--override", "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:SSL"],
                       "listener.security.protocol.map", "a CONTROLLER listener mapped to SSL",
                       also=("CONTROLLER",))
    for kv in ("ssl.keystore.location=/etc/kafka/broker.jks", "ssl.client.auth=required",
               "sasl.enabled.mechanisms=SCRAM-SHA-512", "sasl.mechanism.inter.broker.protocol=PLAIN",
               "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
               "listener.name.internal.ssl.keystore.location=/etc/kafka/internal.jks",
               "listener.name.internal.scram-sha-256.sasl.jaas.config=x",
               "listener.name.plaintext.sasl.enabled.mechanisms=PLAIN",
               "security.inter.broker.protocol=SASL_SSL",
               "super.users=User:admin", "principal.builder.class=com.example.Builder"):
        key = kv.split("=", 1)[0]
        expect_unsupported(["--override", "listeners=PLAINTEXT://" + lo, "--override", kv], key, kv)
    # an empty value fails closed too: the operator meant something by it
    expect_unsupported(["--override", "listeners=PLAINTEXT://" + lo, "--override", "ssl.truststore.location="],
                       "ssl.truststore.location", "an empty ssl.truststore.location")
    # in a file, the line is named
    path = props_file("tls.properties", "listeners=PLAINTEXT://%s\nssl.keystore.password=secret\n" % lo)
    data = os.path.join(tmp, "never-started-file")
    code, out = run(path, "--override", "log.dirs=" + data)
    check_eq(code, 1, "ssl.keystore.password in server.properties: exit code 1")
    check("ssl.keystore.password" in out and "tls.properties:2" in out and "samsa-broker does not support" in out,
          "the message names the property, its file and line, and that it is not supported yet", out.strip())
    check("secret" not in out, "and does not print the password's value", out.strip())
    # Kafka's rule: a listener name needs a security protocol
    data = os.path.join(tmp, "never-started-nomap")
    code, out = run("--override", "log.dirs=" + data, "--override", "listeners=INTERNAL://" + lo)
    check_eq(code, 1, "listeners=INTERNAL:// with no listener.security.protocol.map entry: exit code 1")
    check("INTERNAL" in out and "listener.security.protocol.map" in out,
          "the message names the listener and listener.security.protocol.map", out.strip())
    # still fine: a named listener mapped to PLAINTEXT, the default PLAINTEXT
    # one, security.inter.broker.protocol=PLAINTEXT
    b = Broker(name="cli-internal", overrides={"listeners": "INTERNAL://" + lo,
                                               "listener.security.protocol.map": "INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
                                               "security.inter.broker.protocol": "PLAINTEXT"})
    started.append(b)
    b.start()
    check(True, "INTERNAL mapped to PLAINTEXT starts (security.inter.broker.protocol=PLAINTEXT accepted)")
    check_eq(b.finish(0), 0, "and stops cleanly")


def test_all_interfaces_warns():
    for host in ("", "0.0.0.0"):
        b = Broker(name="cli-any" + (host or "-empty"), overrides={"listeners": "PLAINTEXT://%s:0" % host})
        started.append(b)
        b.start()
        warn = [l for l in b.log_text().splitlines() if " WARN " in l and "authentication" in l]
        check(len(warn) == 1 and "every interface" in warn[0] and ":%d" % b.port in warn[0],
              "listeners=PLAINTEXT://%s:0 starts with one WARN that every interface can reach it with no "
              "authentication (naming the port)" % host, warn or b.log_tail(10))
        md = metadata(b.bootstrap)
        check(md.brokers, "and serves clients on 127.0.0.1")
        check_eq(b.finish(0), 0, "and stops cleanly")
    b = Broker(name="cli-loopback")
    started.append(b)
    b.start()
    check(not [l for l in b.log_text().splitlines() if "authentication" in l],
          "a loopback listener (127.0.0.1) logs no such warning")
    check_eq(b.finish(0), 0, "and stops cleanly")


def test_help_version():
    code, out = run("--version")
    check(code == 0 and out.startswith("samsa-broker "), "--version: exit 0, 'samsa-broker <version>'", out.strip())
    code, out = run("--help")
    check(code == 0 and "--override" in out and "server.properties" in out,
          "--help: exit 0, shows the usage line", out[:200])


def test_properties_file_and_overrides():
    data = os.path.join(tmp, "from-file")
    path = props_file("server.properties",
                      "# a comment\nnode.id=7\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs=%s\n"
                      "num.partitions=2\nauto.create.topics.enable=true\n" % data)
    b = Broker(config_file=path, overrides={"num.partitions": 5}, name="cli-file")
    started.append(b)
    b.start()
    check(os.path.isdir(data), "log.dirs from the file is used (%s exists)" % data)
    topic = unique("cli")
    p = ck.Producer({"bootstrap.servers": b.bootstrap})
    p.produce(topic, b"x")
    check_eq(p.flush(20), 0, "auto-create by producing to %s" % topic)
    md = metadata(b.bootstrap)
    check_eq(sorted(md.brokers), [7], "Metadata reports node.id 7 from the file")
    check_eq(md.controller_id, 7, "the controller is node 7")
    check_eq(len(md.topics[topic].partitions), 5, "--override num.partitions=5 beats the file's 2")
    code = b.stop(sig=signal.SIGINT)
    check_eq(code, 0, "SIGINT: clean shutdown, exit 0")
    port = b.port
    # restart: same dir and port, advertised as localhost
    b.overrides["advertised.listeners"] = "PLAINTEXT://localhost:%d" % port
    b.start()
    md = metadata(b.bootstrap)
    check_eq([(x.host, x.port) for x in md.brokers.values()], [("localhost", port)],
             "advertised.listeners is what Metadata hands out")
    check(topic in md.topics and len(md.topics[topic].partitions) == 5,
          "after the restart the topic is still there with 5 partitions")
    c = ck.Consumer({"bootstrap.servers": b.bootstrap, "group.id": "itest-cli", "enable.auto.commit": False})
    try:
        total = sum(c.get_watermark_offsets(ck.TopicPartition(topic, pp), timeout=10)[1]
                    for pp in md.topics[topic].partitions)
    finally:
        c.close()
    check_eq(total, 1, "the one message produced before SIGINT is still there")
    check_eq(b.stop(), 0, "SIGTERM: clean shutdown, exit 0")
    check_eq(b.sanitizer_reports(), [], "no sanitizer report in the log of either run")


def test_port_in_use():
    a = Broker(name="cli-a")
    started.append(a)
    a.start()
    other = Broker(name="cli-b", overrides={"listeners": "PLAINTEXT://127.0.0.1:%d" % a.port})
    started.append(other)
    try:
        other.start(timeout=20)
        failed_to_start = False
    except BrokerError as e:
        failed_to_start = True
        print("  (second broker said: %s)" % str(e).strip().splitlines()[-1])
    check(failed_to_start and not other.alive() and other.last_exit not in (None, 0),
          "a second broker on a port in use exits with an error (exit %s)" % other.last_exit)
    log = other.log_text()
    check("in use" in log, "it says the address is in use", other.log_tail(5))
    check_eq(other.sanitizer_reports(), [], "and exits without a sanitizer report")
    check(a.alive(), "the first broker is unaffected")
    check_eq(a.finish(0), 0, "and stops cleanly (exit 0, no sanitizer report)")


def test_data_dir_errors():
    """A log dir the broker cannot use stops it at start, saying why (exit 1):
    held by another running broker (its lock), under a file, an unwritable
    lock file, another broker's data (meta.properties with another node.id),
    a meta.properties that cannot be written; and a listener host that does
    not resolve. The running broker whose dir it is goes on."""
    a = Broker(name="cli-owner")
    started.append(a)
    a.start()
    code, out = run("--override", "listeners=PLAINTEXT://127.0.0.1:0", "--override", "log.dirs=" + a.data_dir)
    check(code == 1 and ("log dir %s is in use by another samsa-broker (lock held on %s/.lock)"
                         % (a.data_dir, a.data_dir)) in out,
          "a second broker on a running broker's log dir: exit 1, the lock named", out.strip()[-300:])
    check(a.alive() and a.finish(0) == 0, "the running broker is unaffected and stops cleanly")
    afile = props_file("a-file", "not a directory\n")
    cases = [
        (afile + "/data", "log dir %s/data: cannot create: Not a directory" % afile),
    ]
    lockdir = os.path.join(tmp, "lock-is-a-dir")
    os.makedirs(os.path.join(lockdir, ".lock"))
    cases.append((lockdir, "log dir %s: cannot write: Is a directory" % lockdir))
    other = os.path.join(tmp, "another-brokers")
    os.makedirs(other)
    with open(os.path.join(other, "meta.properties"), "w") as f:
        f.write("version=1\ncluster.id=abcdefghijklmnopqrstuv\nnode.id=5\n")
    cases.append((other, "%s/meta.properties says node.id=5 but the configuration says 0; refusing to start on "
                         "another broker's data" % other))
    nometa = os.path.join(tmp, "meta-unwritable")
    os.makedirs(os.path.join(nometa, "meta.properties.tmp"))
    cases.append((nometa, "cannot write %s/meta.properties.tmp: Is a directory" % nometa))
    for d, text in cases:
        code, out = run("--override", "listeners=PLAINTEXT://127.0.0.1:0", "--override", "log.dirs=" + d)
        check(code == 1 and text in out, "log.dirs=%s: exit 1, '%s'" % (d[len(tmp):], text), out.strip()[-300:])
    code, out = run("--override", "listeners=PLAINTEXT://no-such-host.invalid:0", "--override",
                    "log.dirs=" + os.path.join(tmp, "unresolved"))
    check(code == 1 and "listeners: cannot resolve 'no-such-host.invalid'" in out,
          "a listener host that does not resolve: exit 1, named", out.strip()[-300:])


def main():
    try:
        rc = run_tests([test_startup_errors, test_security_fails_closed, test_all_interfaces_warns,
                        test_help_version, test_properties_file_and_overrides, test_port_in_use,
                        test_data_dir_errors], started)
        return rc
    finally:
        for b in started:
            b.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
