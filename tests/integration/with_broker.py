#!/usr/bin/python3
"""Run a command against a fresh samsa-broker.

  with_broker.py [--broker BIN] [--override K=V]... [--timeout S] -- cmd args...

Starts samsa-broker (temp data dir, listeners on 127.0.0.1:0, the overrides),
runs cmd with SAMSA_BOOTSTRAP=127.0.0.1:PORT (and SAMSA_BROKER_PID,
SAMSA_DATA_DIR) in its environment, stops the broker by its PID and exits
with cmd's exit code.  A broker that died while cmd ran, does not exit 0
on SIGTERM or logged a sanitizer report makes a passing cmd fail.  The broker's log tail is
printed when anything fails.
"""

import argparse
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("usage: with_broker.py [--broker BIN] [--override K=V]... [--timeout S] -- cmd args...")
    sep = argv.index("--")
    ap = argparse.ArgumentParser(prog="with_broker.py")
    ap.add_argument("--broker", default=os.environ.get("SAMSA_BROKER_BIN"))
    ap.add_argument("--override", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds cmd may run")
    opts = ap.parse_args(argv[:sep])
    cmd = argv[sep + 1:]
    if not cmd or not opts.broker:
        ap.error("need a command after -- and a broker (--broker or SAMSA_BROKER_BIN)")
    overrides = {}
    for o in opts.override:
        k, _, v = o.partition("=")
        overrides[k] = v

    broker = harness.Broker(binary=opts.broker, overrides=overrides)
    child = None
    rc = 1
    try:
        broker.start()
        print("with_broker: broker pid %d on %s, data %s"
              % (broker.pid, broker.bootstrap, broker.data_dir), flush=True)
        env = dict(os.environ, SAMSA_BOOTSTRAP=broker.bootstrap,
                   SAMSA_BROKER_PID=str(broker.pid), SAMSA_DATA_DIR=broker.data_dir)
        child = subprocess.Popen(cmd, env=env, preexec_fn=harness._die_with_parent)
        try:
            rc = child.wait(opts.timeout)
        except subprocess.TimeoutExpired:
            print("with_broker: %s still running after %.0fs: killed" % (cmd[0], opts.timeout))
            child.kill()
            child.wait()
            rc = 124
        child = None
        if not broker.alive():
            print("with_broker: the broker died while the command ran (exit %s)" % broker.proc.returncode)
        rc = broker.finish(rc)
    except harness.BrokerError as e:
        print("with_broker: %s" % e)
        rc = 1
    finally:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if rc != 0:
            print("with_broker: broker log tail:\n%s" % broker.log_tail(60), flush=True)
        broker.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())
