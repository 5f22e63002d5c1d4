#!/usr/bin/python3
"""Installs what the differential suite runs, from the pinned files in the
repository, into ignored folders; each step does nothing when its stamp
(the hash of its pinned files) is current. The ctest fixtures compat.setup_*
run one step each, so a family waits only for its own.

  setup_clients.py kafka   Apache Kafka's jars (scripts/kafka/pom.xml -> build-kafka/<version>/libs)
  setup_clients.py venv    build-compat/venv: a venv of /usr/bin/python3 with
                           tests/compat/python/requirements.txt (exact versions, hashes)
  setup_clients.py java    the Java runner: tests/compat/java (Maven, kafka-clients pinned) compiled,
                           its classpath in build-compat/java/classpath.txt
  setup_clients.py go      the Go runner: tests/compat/go (go.mod/go.sum pin franz-go and Sarama)
                           built as build-compat/go/compat-runner

Maven, pip and the Go module proxy are reached only here; a failure says
which step and prints the tool's output.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("SAMSA_COMPAT_BUILD", os.path.join(REPO, "build-compat"))
sys.path.insert(0, HERE)
import kafka_cluster  # noqa: E402


class SetupError(Exception):
    pass


def digest(paths):
    h = hashlib.sha256()
    for p in paths:
        h.update(p.encode())
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def run(cmd, what, cwd=None, env=None):
    print("setup: %s: %s" % (what, " ".join(cmd)), flush=True)
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0:
        raise SetupError("%s failed (exit %d):\n%s" % (what, r.returncode, out[-6000:]))
    return out


def stamped(name, inputs, build):
    """Runs build() unless build-compat/<name>.stamp holds the inputs' hash."""
    os.makedirs(BUILD, exist_ok=True)
    stamp = os.path.join(BUILD, name + ".stamp")
    want = digest(inputs)
    with open(os.path.join(BUILD, ".%s.lock" % name), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(stamp) as f:
                if f.read().strip() == want:
                    print("setup: %s: up to date" % name)
                    return
        except OSError:
            pass
        build()
        with open(stamp, "w") as f:
            f.write(want + "\n")
    print("setup: %s: done" % name)


def step_kafka():
    kafka_cluster.java_binary()
    print("setup: kafka: jars in %s" % kafka_cluster.libs_dir(log=print))


def step_venv():
    req = os.path.join(HERE, "python", "requirements.txt")
    venv = os.path.join(BUILD, "venv")

    def build():
        shutil.rmtree(venv, ignore_errors=True)
        run(["/usr/bin/python3", "-m", "venv", venv], "venv (Debian: python3-venv)")
        run([os.path.join(venv, "bin", "pip"), "install", "--disable-pip-version-check", "-q", "--require-hashes",
             "--no-deps", "-r", req], "pip install -r tests/compat/python/requirements.txt")
    stamped("venv", [req], build)


def step_java():
    jdir = os.path.join(HERE, "java")
    inputs = [os.path.join(jdir, "pom.xml")] + sorted(
        os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(jdir, "src")) for f in fs)
    out_dir = os.path.join(BUILD, "java")

    def build():
        if not shutil.which("mvn"):
            raise SetupError("no Maven (mvn) to build the Java runner (Debian: apt-get install maven)")
        os.makedirs(out_dir, exist_ok=True)
        cp_file = os.path.join(out_dir, "deps.txt")
        classes = os.path.join(out_dir, "classes")
        run(["mvn", "-B", "-q", "-f", os.path.join(jdir, "pom.xml"), "compile", "dependency:build-classpath",
             "-Dmdep.outputFile=" + cp_file, "-Dcompat.classes=" + classes], "mvn compile (tests/compat/java)")
        with open(cp_file) as f:
            deps = f.read().strip()
        with open(os.path.join(out_dir, "classpath.txt"), "w") as f:
            f.write(classes + ":" + deps + "\n")
    stamped("java", inputs, build)


def step_go():
    gdir = os.path.join(HERE, "go")
    inputs = [os.path.join(gdir, f) for f in sorted(os.listdir(gdir)) if f.endswith((".go", ".mod", ".sum"))]
    exe = os.path.join(BUILD, "go", "compat-runner")

    def build():
        go = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)
        if not go:
            raise SetupError("no Go toolchain (go) to build the Go runner")
        env = dict(os.environ, GOFLAGS="-mod=readonly", CGO_ENABLED="0")
        os.makedirs(os.path.dirname(exe), exist_ok=True)
        run([go, "build", "-o", exe, "."], "go build (tests/compat/go)", cwd=gdir, env=env)
    stamped("go", inputs, build)


STEPS = {"kafka": step_kafka, "venv": step_venv, "java": step_java, "go": step_go}


def main():
    steps = sys.argv[1:] or list(STEPS)
    for s in steps:
        if s not in STEPS:
            print("setup_clients.py: unknown step %s (%s)" % (s, ", ".join(STEPS)))
            return 2
    try:
        for s in steps:
            STEPS[s]()
    except (SetupError, kafka_cluster.KafkaError) as e:
        print("setup: FAILED: %s" % e, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
