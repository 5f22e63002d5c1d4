#!/usr/bin/python3
"""Apache Kafka (KRaft) on loopback from Maven jars: the one implementation
behind scripts/kafka.sh and the tests (tests/compat) that need a real Kafka.

  kafka_cluster.py start  [--nodes 1|3] [--dir DIR] [--prop K=V]... [--listener NAME=PROTOCOL]...
                          [--format-arg ARG]... [--timeout S]
  kafka_cluster.py stop   [--dir DIR]
  kafka_cluster.py status [--dir DIR]
  kafka_cluster.py libs        (resolve the jars only; prints the folder)

The jars: scripts/kafka/pom.xml pins org.apache.kafka:kafka_2.13 (and the
log4j2 that Kafka's own distribution puts beside it); `mvn
dependency:copy-dependencies` copies the runtime classpath once into
build-kafka/<version>/libs (ignored by git), done again only when the pom
changes. Java 17 or newer runs them (JAVA_HOME/bin/java, else java on PATH).

A cluster: N nodes, each broker and controller at once (process.roles=
broker,controller), a static quorum of all N (controller.quorum.voters),
KRaft storage formatted with one cluster id, on 127.0.0.1. Every listener
port is chosen below the kernel's ephemeral range (32768 and up, where
outgoing connections take their local ports, and where a connect() to a
port nobody listens on can even connect a socket to itself), checked free
by a bind and handed to Kafka; when Kafka then finds it taken (the race
between our check and its bind), the start is tried again with new ports
(on a first start) or the same ones after a pause (a restart: clients know
them). Each node has its own folder, DIR/node-<id>/: server.properties,
log4j2.properties, data/ (log.dirs) and kafka.log (all its logging, and
its stdout/stderr in kafka.out). start() returns once every node answers
a Metadata request listing every broker.

Listeners: PLAINTEXT (the inter-broker listener and the bootstrap the tests
use) and CONTROLLER on every node; --listener NAME=PROTOCOL adds one more
(SASL_SSL, say) with its own port per node; its settings come as --prop
(listener.name.<name>.* ...). A --prop value may say {node} (the node id),
{node_dir} and {dir}. --format-arg hands arguments to kafka-storage format
(--add-scram 'SCRAM-SHA-512=[name=u,password=p]' to create SCRAM users).

Processes: in the tests (KafkaCluster(...).start()), each node is a child
that dies with the test process (PR_SET_PDEATHSIG) and that an atexit hook
stops by pid; stop()/kill9(i)/stop_node(i)/start_node(i) act on one pid
each. The script (detached=True) starts them in their own session and
writes DIR/cluster.json (pids, ports); `stop` reads it and stops each pid
whose command line still names that node's server.properties (SIGTERM,
then SIGKILL after a while), never anything by name.

JVM options: SAMSA_KAFKA_HEAP (default -Xms128m -Xmx512m) and
SAMSA_KAFKA_JVM_OPTS (default: G1, short pauses, C1 only: quick start-up
on two cores, the tests' case; a benchmark sets its own).
"""

import argparse
import atexit
import base64
import ctypes
import fcntl
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POM = os.path.join(REPO, "scripts", "kafka", "pom.xml")
CACHE = os.environ.get("SAMSA_KAFKA_CACHE", os.path.join(REPO, "build-kafka"))
DEFAULT_DIR = os.path.join(CACHE, "cluster")
DEFAULT_HEAP = "-Xms128m -Xmx512m"
DEFAULT_JVM_OPTS = ("-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError "
                    "-XX:TieredStopAtLevel=1 -Djava.awt.headless=true")
READY_RE = re.compile(r"Kafka Server started")
BIND_FAIL_RE = re.compile(r"failed to bind to [0-9.:]+|Address already in use")
PORT_LOW, PORT_HIGH = 20000, 32000   # below ip_local_port_range's usual 32768

_live = []   # KafkaNode objects with a running child, for the atexit hook


class KafkaError(Exception):
    pass


# -- Java, Maven and the jars ------------------------------------------------


def java_binary():
    """java from JAVA_HOME, else from PATH; KafkaError unless it is 17+."""
    jh = os.environ.get("JAVA_HOME")
    java = os.path.join(jh, "bin", "java") if jh else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        raise KafkaError("no Java: Apache Kafka 4.x needs Java 17 or newer (Debian: apt-get install "
                         "openjdk-17-jre-headless, or set JAVA_HOME)")
    r = subprocess.run([java, "-version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    m = re.search(r'version "(\d+)(?:\.(\d+))?', r.stdout.decode("utf-8", "replace"))
    if not m:
        raise KafkaError("%s -version says no version: %s" % (java, r.stdout.decode("utf-8", "replace").strip()))
    major = int(m.group(1)) if m.group(1) != "1" else int(m.group(2))
    if major < 17:
        raise KafkaError("%s is Java %d; Apache Kafka 4.x brokers need Java 17 or newer (set JAVA_HOME)"
                         % (java, major))
    return java


def kafka_version():
    with open(POM) as f:
        m = re.search(r"<kafka.version>([^<]+)</kafka.version>", f.read())
    if not m:
        raise KafkaError("%s names no <kafka.version>" % POM)
    return m.group(1)


def libs_dir(log=None):
    """build-kafka/<version>/libs, copied by Maven from scripts/kafka/pom.xml
    the first time (and again when the pom changes). Safe to call from two
    processes at once (a lock file)."""
    log = log or (lambda s: None)
    with open(POM, "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest()
    base = os.path.join(CACHE, kafka_version())
    libs = os.path.join(base, "libs")
    stamp_path = os.path.join(base, "pom.sha256")
    os.makedirs(base, exist_ok=True)

    def fresh():
        try:
            with open(stamp_path) as f:
                return f.read().strip() == stamp and any(n.endswith(".jar") for n in os.listdir(libs))
        except OSError:
            return False

    if fresh():
        return libs
    with open(os.path.join(base, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if fresh():
            return libs
        mvn = shutil.which("mvn")
        if not mvn:
            raise KafkaError("no Maven (mvn) to fetch Apache Kafka %s's jars into %s (Debian: apt-get install maven)"
                             % (kafka_version(), libs))
        tmp = tempfile.mkdtemp(prefix="libs-", dir=base)
        log("kafka: copying Apache Kafka %s's jars with Maven (%s) into %s" % (kafka_version(), POM, libs))
        cmd = [mvn, "-B", "-q", "-f", POM, "dependency:copy-dependencies", "-DincludeScope=runtime",
               "-DoutputDirectory=" + tmp]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise KafkaError("%s failed (exit %d):\n%s" % (" ".join(cmd), r.returncode,
                                                          r.stdout.decode("utf-8", "replace")[-4000:]))
        shutil.rmtree(libs, ignore_errors=True)
        os.rename(tmp, libs)
        with open(stamp_path, "w") as f:
            f.write(stamp + "\n")
    return libs


def classpath():
    libs = libs_dir(log=lambda s: print(s, file=sys.stderr, flush=True))
    return ":".join(os.path.join(libs, n) for n in sorted(os.listdir(libs)) if n.endswith(".jar"))


# -- ports ---------------------------------------------------------------------


def pick_ports(n, avoid=()):
    """n distinct ports below the ephemeral range that a bind finds free now."""
    got = []
    rnd = random.Random()
    for _ in range(2000):
        p = rnd.randrange(PORT_LOW, PORT_HIGH)
        if p in got or p in avoid:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        got.append(p)
        if len(got) == n:
            return got
    raise KafkaError("no %d free ports between %d and %d" % (n, PORT_LOW, PORT_HIGH))


# -- Metadata, by hand (no client library needed) ----------------------------


def metadata_brokers(host, port, timeout=5.0):
    """Sends Metadata v1 for no topics; returns the broker ids it lists."""
    body = struct.pack(">i", 0)                      # Topics: empty array (not null: no topic list)
    client = b"samsa-kafka-cluster"
    hdr = struct.pack(">hhih", 3, 1, 7, len(client)) + client
    frame = hdr + body
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">i", len(frame)) + frame)
        n = struct.unpack(">i", _recv(s, 4))[0]
        data = _recv(s, n)
    pos = 4                                          # CorrelationId
    (count,) = struct.unpack_from(">i", data, pos)
    pos += 4
    ids = []
    for _ in range(count):
        (node,) = struct.unpack_from(">i", data, pos)
        pos += 4
        (hl,) = struct.unpack_from(">h", data, pos)
        pos += 2 + hl + 4                            # Host, Port
        (rl,) = struct.unpack_from(">h", data, pos)
        pos += 2 + max(rl, 0)                        # Rack (nullable)
        ids.append(node)
    return sorted(ids)


def _recv(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


# -- one node ------------------------------------------------------------------


def _die_with_parent():
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setpgid(0, 0)


class KafkaNode:
    def __init__(self, cluster, node_id):
        self.cluster = cluster
        self.id = node_id
        self.dir = os.path.join(cluster.dir, "node-%d" % node_id)
        self.data_dir = os.path.join(self.dir, "data")
        self.config_path = os.path.join(self.dir, "server.properties")
        self.log_path = os.path.join(self.dir, "kafka.log")
        self.out_path = os.path.join(self.dir, "kafka.out")
        self.ports = {}          # listener name -> port
        self.proc = None
        self.pid = None
        self.starts = 0
        self.last_exit = None

    @property
    def port(self):
        return self.ports["PLAINTEXT"]

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def write_config(self):
        c = self.cluster
        listeners = ",".join("%s://127.0.0.1:%d" % (n, self.ports[n]) for n in c.listener_names())
        advertised = ",".join("%s://127.0.0.1:%d" % (n, self.ports[n]) for n in c.listener_names()
                              if n != "CONTROLLER")
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.id),
            "controller.quorum.voters": c.voters(),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listeners": listeners,
            "advertised.listeners": advertised,
            "listener.security.protocol.map": ",".join("%s:%s" % (n, p) for n, p in c.protocols().items()),
            "log.dirs": self.data_dir,
            "offsets.topic.replication.factor": str(min(3, len(c.nodes))),
            "transaction.state.log.replication.factor": str(min(3, len(c.nodes))),
            "transaction.state.log.min.isr": str(min(2, len(c.nodes))),
            "share.coordinator.state.topic.replication.factor": str(min(3, len(c.nodes))),
            "share.coordinator.state.topic.min.isr": str(min(2, len(c.nodes))),
        }
        for k, v in c.props.items():
            props[k] = v.replace("{node}", str(self.id)).replace("{node_dir}", self.dir).replace("{dir}", c.dir)
        os.makedirs(self.dir, exist_ok=True)
        with open(self.config_path, "w") as f:
            f.write("# written by tests/compat/kafka_cluster.py\n")
            for k, v in props.items():
                f.write("%s=%s\n" % (k, v.replace("\\", "\\\\")))
        with open(os.path.join(self.dir, "log4j2.properties"), "w") as f:
            f.write("# every logger of this node into kafka.log beside it\n"
                    "appender.file.type = File\n"
                    "appender.file.name = FILE\n"
                    "appender.file.fileName = %s\n"
                    "appender.file.layout.type = PatternLayout\n"
                    "appender.file.layout.pattern = [%%d] %%p %%m (%%c)%%n\n"
                    "rootLogger.level = INFO\n"
                    "rootLogger.appenderRef.file.ref = FILE\n"
                    "logger.kafka.name = kafka\nlogger.kafka.level = INFO\n"
                    "logger.zk.name = org.apache.kafka.clients\nlogger.zk.level = WARN\n" % self.log_path)

    def java_args(self, main, *args):
        c = self.cluster
        heap = os.environ.get("SAMSA_KAFKA_HEAP", DEFAULT_HEAP)
        opts = os.environ.get("SAMSA_KAFKA_JVM_OPTS", DEFAULT_JVM_OPTS)
        return ([c.java] + shlex.split(heap) + shlex.split(opts) +
                ["-Dlog4j2.configurationFile=" + os.path.join(self.dir, "log4j2.properties"),
                 "-Dkafka.logs.dir=" + self.dir, "-cp", c.classpath, main] + list(args))

    def format(self):
        # --cluster-id=ID in one argument: a base64 id may begin with '-'
        args = self.java_args("kafka.tools.StorageTool", "format", "--cluster-id=" + self.cluster.cluster_id,
                              "--config", self.config_path, *self.cluster.format_args)
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = r.stdout.decode("utf-8", "replace")
        if r.returncode != 0:
            raise KafkaError("kafka-storage format of node %d failed (exit %d): %s" % (self.id, r.returncode, out))
        return out

    def alive(self):
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and _pid_is_node(self.pid, self.config_path)

    def spawn(self):
        """Starts the JVM; returns at once (wait_ready() waits)."""
        if self.alive():
            raise KafkaError("node %d already runs (pid %d)" % (self.id, self.pid))
        self.starts += 1
        self._log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        out = open(self.out_path, "ab")
        out.write(("\n=== kafka_cluster: start #%d\n" % self.starts).encode())
        out.flush()
        args = self.java_args("kafka.Kafka", self.config_path)
        if self.cluster.detached:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         close_fds=True, start_new_session=True)
        else:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         close_fds=True, preexec_fn=_die_with_parent)
            _live.append(self)
        out.close()
        self.pid = self.proc.pid

    def new_log(self):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def state(self):
        """'ready', 'bind' (a port was taken), 'exited' or None (starting)."""
        text = self.new_log()
        if BIND_FAIL_RE.search(text):
            return "bind"
        if self.proc is not None and self.proc.poll() is not None:
            self._reaped()
            return "exited"
        if READY_RE.search(text):
            return "ready"
        return None

    def stop(self, timeout=30.0, sig=signal.SIGTERM):
        """sig (SIGTERM: a controlled shutdown), wait, then SIGKILL."""
        if self.proc is not None:
            p = self.proc
            if p.poll() is None:
                try:
                    p.send_signal(sig)
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            self._reaped()
        elif self.pid is not None and _pid_is_node(self.pid, self.config_path):
            os.kill(self.pid, sig)
            deadline = time.monotonic() + timeout
            while _pid_is_node(self.pid, self.config_path) and time.monotonic() < deadline:
                time.sleep(0.1)   # not our child: poll /proc until it is gone
            if _pid_is_node(self.pid, self.config_path):
                os.kill(self.pid, signal.SIGKILL)
                while _pid_is_node(self.pid, self.config_path):
                    time.sleep(0.05)
        self.pid = None
        return self.last_exit

    def kill9(self):
        return self.stop(timeout=30.0, sig=signal.SIGKILL)

    def _reaped(self):
        self.last_exit = self.proc.returncode
        self.proc = None
        if self in _live:
            _live.remove(self)

    def log_tail(self, lines=30):
        out = []
        for path in (self.log_path, self.out_path):
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            out.append("  %s:\n" % path + "\n".join("  | " + l for l in text[-lines:]))
        return "\n".join(out) or "  (no log)"


def _pid_is_node(pid, config_path):
    """Whether pid runs (not a zombie) with config_path on its command line."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().split(b"\0")
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        return False
    return config_path.encode() in cmd


# -- the cluster -----------------------------------------------------------------


class KafkaCluster:
    """N KRaft nodes on loopback. props: extra server properties (every
    node); listeners: {name: security protocol} beside PLAINTEXT and
    CONTROLLER; format_args: more arguments for kafka-storage format."""

    # pauses between tries of a restart whose old port is taken
    PORT_RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0)
    FIRST_START_TRIES = 5

    def __init__(self, nodes=1, dir=None, props=None, listeners=None, format_args=(), detached=False):
        if nodes < 1:
            raise KafkaError("need at least one node")
        self._own_dir = dir is None
        self.dir = os.path.abspath(dir or tempfile.mkdtemp(prefix="samsa-kafka-"))
        self.props = dict(props or {})
        self.extra_listeners = dict(listeners or {})
        for name in self.extra_listeners:
            if name in ("PLAINTEXT", "CONTROLLER"):
                raise KafkaError("listener %s is always there" % name)
        self.format_args = list(format_args)
        self.detached = detached
        self.nodes = [KafkaNode(self, i + 1) for i in range(nodes)]
        self.cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        self.java = None
        self.classpath = None
        self.formatted = False

    def listener_names(self):
        return ["PLAINTEXT"] + list(self.extra_listeners) + ["CONTROLLER"]

    def protocols(self):
        p = {"PLAINTEXT": "PLAINTEXT", "CONTROLLER": "PLAINTEXT"}
        p.update(self.extra_listeners)
        return p

    def voters(self):
        return ",".join("%d@127.0.0.1:%d" % (n.id, n.ports["CONTROLLER"]) for n in self.nodes)

    @property
    def bootstrap(self):
        return ",".join(n.bootstrap for n in self.nodes)

    def listener_bootstrap(self, name):
        return ",".join("127.0.0.1:%d" % n.ports[name] for n in self.nodes)

    def _assign_ports(self):
        names = self.listener_names()
        ports = pick_ports(len(names) * len(self.nodes))
        for i, n in enumerate(self.nodes):
            n.ports = dict(zip(names, ports[i * len(names):(i + 1) * len(names)]))

    # -- lifecycle

    def start(self, timeout=120.0, log=None):
        """Formats (the first time) and starts every node; returns when each
        answers Metadata listing all of them. KafkaError on failure (every
        node it started is stopped then)."""
        log = log or (lambda s: None)
        self.java = self.java or java_binary()
        self.classpath = self.classpath or classpath()
        os.makedirs(self.dir, exist_ok=True)
        t0 = time.monotonic()
        for attempt in range(self.FIRST_START_TRIES):
            self._assign_ports()
            for n in self.nodes:
                n.write_config()
            if not self.formatted:
                for n in self.nodes:
                    n.format()
                self.formatted = True
            for n in self.nodes:
                n.spawn()
            self._save()
            try:
                res = self._wait_ready(self.nodes, timeout - (time.monotonic() - t0))
            except BaseException:
                self.stop()
                raise
            if res == "ready":
                self._save()
                log("kafka: %d node(s) ready in %.1fs: %s (dir %s)"
                    % (len(self.nodes), time.monotonic() - t0, self.bootstrap, self.dir))
                return self
            self.stop()
            log("kafka: a port was taken when Kafka bound it (try %d): new ports" % (attempt + 1))
        raise KafkaError("kafka: ports taken on each of %d tries" % self.FIRST_START_TRIES)

    def _wait_ready(self, nodes, timeout):
        """'ready' when each node logged its start and answers Metadata with
        every broker; 'bind' when one could not bind a port; KafkaError when
        one exits or time runs out."""
        deadline = time.monotonic() + max(timeout, 1.0)
        want = [n.id for n in self.nodes]
        pending = list(nodes)
        while True:
            for n in list(pending):
                st = n.state()
                if st == "bind":
                    return "bind"
                if st == "exited":
                    raise KafkaError("kafka node %d exited with code %s before it was ready:\n%s"
                                     % (n.id, n.last_exit, n.log_tail()))
                if st == "ready":
                    try:
                        if metadata_brokers("127.0.0.1", n.port) == want:
                            pending.remove(n)
                    except (OSError, struct.error):
                        pass
            if not pending:
                return "ready"
            if time.monotonic() >= deadline:
                raise KafkaError("kafka node(s) %s not ready after %.0fs:\n%s"
                                 % (",".join(str(n.id) for n in pending), timeout,
                                    "\n".join(n.log_tail() for n in pending)))
            time.sleep(0.2)

    def start_node(self, i, timeout=120.0):
        """Starts node i (an index into nodes) again on its old ports, trying
        again after a pause while one is taken."""
        n = self.nodes[i]
        for pause in (0,) + self.PORT_RETRY_PAUSES:
            time.sleep(pause)   # a backoff between tries, not a wait for an event
            n.write_config()
            n.spawn()
            self._save()
            try:
                res = self._wait_ready([n], timeout)
            except BaseException:
                n.kill9()
                raise
            if res == "ready":
                return n
            n.kill9()
        raise KafkaError("kafka node %d: its ports %s stayed taken" % (n.id, n.ports))

    def stop_node(self, i, timeout=60.0):
        return self.nodes[i].stop(timeout)

    def kill9(self, i):
        return self.nodes[i].kill9()

    def stop(self, timeout=60.0):
        """Stops every node by its pid (the controllers last: a broker shuts
        down cleanly while a quorum remains)."""
        for n in self.nodes:
            if n.alive():
                try:
                    n.proc.send_signal(signal.SIGTERM) if n.proc else os.kill(n.pid, signal.SIGTERM)
                except OSError:
                    pass
        for n in self.nodes:
            n.stop(timeout)
        self._save()

    def cleanup(self):
        self.stop()
        if self._own_dir and os.environ.get("SAMSA_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tails(self, lines=30):
        return "\n".join("node %d (pid %s):\n%s" % (n.id, n.pid, n.log_tail(lines)) for n in self.nodes)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            print(self.log_tails(), flush=True)
        self.cleanup()
        return False

    # -- the state file (the script's start, stop and status)

    def _save(self):
        if not self.detached:
            return
        st = {"cluster_id": self.cluster_id, "bootstrap": self.bootstrap,
              "nodes": [{"id": n.id, "pid": n.pid, "ports": n.ports, "config": n.config_path,
                         "log": n.log_path} for n in self.nodes]}
        tmp = os.path.join(self.dir, "cluster.json.tmp")
        with open(tmp, "w") as f:
            json.dump(st, f, indent=1)
        os.rename(tmp, os.path.join(self.dir, "cluster.json"))

    @classmethod
    def load(cls, dir):
        path = os.path.join(dir, "cluster.json")
        try:
            with open(path) as f:
                st = json.load(f)
        except OSError:
            return None
        c = cls(nodes=len(st["nodes"]), dir=dir, detached=True)
        c.cluster_id = st["cluster_id"]
        c.formatted = True
        for n, s in zip(c.nodes, st["nodes"]):
            n.pid = s["pid"]
            n.ports = s["ports"]
        return c


def _stop_all():
    for n in reversed(list(_live)):
        try:
            n.stop(timeout=20)
        except Exception:
            n.kill9()


atexit.register(_stop_all)


# -- the command line (scripts/kafka.sh) ---------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(prog="kafka.sh", description="Apache Kafka (KRaft) on 127.0.0.1 from Maven jars")
    ap.add_argument("command", choices=["start", "stop", "status", "libs"])
    ap.add_argument("--nodes", type=int, default=1, choices=[1, 3])
    ap.add_argument("--dir", default=DEFAULT_DIR, help="where the nodes keep config, data and logs (default %(default)s)")
    ap.add_argument("--prop", action="append", default=[], metavar="K=V", help="a server property for every node")
    ap.add_argument("--listener", action="append", default=[], metavar="NAME=PROTOCOL",
                    help="one more listener on every node, e.g. SASL_SSL=SASL_SSL")
    ap.add_argument("--format-arg", action="append", default=[], metavar="ARG",
                    help="an argument for kafka-storage format (e.g. --add-scram=...)")
    ap.add_argument("--timeout", type=float, default=180.0)
    o = ap.parse_args(argv)
    dir = os.path.abspath(o.dir)
    try:
        if o.command == "libs":
            print(libs_dir(log=lambda s: print(s, file=sys.stderr, flush=True)))
            return 0
        old = KafkaCluster.load(dir)
        if o.command == "status":
            if old is None:
                print("kafka: no cluster in %s" % dir)
                return 3
            up = 0
            for n in old.nodes:
                alive = n.alive()
                up += alive
                print("node %d: %s pid %s, %s" % (n.id, "running" if alive else "stopped", n.pid,
                                                  " ".join("%s=%d" % kv for kv in n.ports.items())))
            print("bootstrap.servers=%s" % old.bootstrap)
            return 0 if up == len(old.nodes) else 3
        if o.command == "stop":
            if old is None:
                print("kafka: no cluster in %s" % dir)
                return 0
            old.stop()
            print("kafka: stopped %d node(s) in %s" % (len(old.nodes), dir))
            return 0
        # start
        if old is not None and any(n.alive() for n in old.nodes):
            raise KafkaError("a cluster already runs in %s (kafka.sh stop --dir %s)" % (dir, dir))
        if old is not None or (os.path.isdir(dir) and os.listdir(dir)):
            shutil.rmtree(dir)   # a stopped cluster's folder: start afresh
        props = {}
        for p in o.prop:
            k, sep, v = p.partition("=")
            if not sep:
                raise KafkaError("--prop %s: want KEY=VALUE" % p)
            props[k] = v
        listeners = {}
        for p in o.listener:
            k, sep, v = p.partition("=")
            if not sep:
                raise KafkaError("--listener %s: want NAME=PROTOCOL" % p)
            listeners[k.upper()] = v.upper()
        c = KafkaCluster(nodes=o.nodes, dir=dir, props=props, listeners=listeners, format_args=o.format_arg,
                         detached=True)
        c.start(timeout=o.timeout, log=lambda s: print(s, file=sys.stderr, flush=True))
        for n in c.nodes:
            print("node %d: pid %d, %s, log %s" % (n.id, n.pid, " ".join("%s=%d" % kv for kv in n.ports.items()),
                                                    n.log_path))
        for name in listeners:
            print("%s bootstrap: %s" % (name, c.listener_bootstrap(name)))
        print("bootstrap.servers=%s" % c.bootstrap)
        return 0
    except KafkaError as e:
        print("kafka.sh: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
