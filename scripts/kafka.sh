#!/usr/bin/env bash
# Apache Kafka (KRaft) on 127.0.0.1 from Maven jars, no Docker: for tests,
# benchmarks and people. One implementation: tests/compat/kafka_cluster.py
# (the tests import it); this is its command line.
#
#   scripts/kafka.sh start  [--nodes 1|3] [--dir DIR] [--prop K=V]... [--listener NAME=PROTOCOL]...
#                           [--format-arg ARG]... [--timeout S]
#   scripts/kafka.sh stop   [--dir DIR]
#   scripts/kafka.sh status [--dir DIR]
#   scripts/kafka.sh libs           resolve the jars only (Maven, once) and print their folder
#
# start resolves org.apache.kafka:kafka_2.13 (scripts/kafka/pom.xml pins the
# version) with Maven into build-kafka/<version>/libs the first time, formats
# KRaft storage, starts each node (broker + controller) on free loopback
# ports, waits until every node answers Metadata listing all of them, and
# prints their pids, ports, logs and the bootstrap.servers line. The
# default DIR is build-kafka/cluster; each node keeps server.properties,
# data/ and kafka.log in DIR/node-<id>/. stop stops each node by its pid.
# Needs Java 17+ (JAVA_HOME or PATH) and, the first time, Maven.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3
[ -x "$py" ] || py="$(command -v python3 || true)"
[ -n "$py" ] || { echo "kafka.sh: needs python3" >&2; exit 1; }
exec "$py" "$here/../tests/compat/kafka_cluster.py" "$@"
