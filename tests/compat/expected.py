"""The differences between Apache Kafka and samsa-broker that the
differential suite (tests/compat/driver.py) expects, each with an id that
docs/compatibility.md explains. A difference seen that is not here fails the
suite, and so does one listed here that is not seen.

Diff(id, families, scenarios, path, kafka, samsa):
  families, scenarios: a name, a tuple of names, or "*";
  path: an fnmatch pattern over the flattened observation paths
        ("<error>" when the scenario raised, "<no output>" when the runner said nothing);
  kafka, samsa: the value each side shows there, or ANY.
"""

import fnmatch

ANY = object()
ERR = object()    # some error (not None): the families name errors each their own way


class Diff:
    def __init__(self, id, families, scenarios, path, kafka=ANY, samsa=ANY):
        self.id = id
        self.families = families
        self.scenarios = scenarios
        self.path = path
        self.kafka = kafka
        self.samsa = samsa

    def covers(self, family, scenario):
        def has(sel, name):
            return sel == "*" or name == sel or (isinstance(sel, tuple) and name in sel)
        return has(self.families, family) and has(self.scenarios, scenario)

    def matches(self, family, scenario, path, kv, sv):
        return (self.covers(family, scenario) and fnmatch.fnmatchcase(path, self.path)
                and _is(self.kafka, kv) and _is(self.samsa, sv))


def _is(want, got):
    if want is ANY:
        return True
    if want is ERR:
        return got is not None and got != "<absent>"
    return want == got


LEGACY = ("message.format.version", "message.downconversion.enable", "message.timestamp.difference.max.ms")

DIFFS = [
    # D1: Kafka 4 removed these topic configs; samsa-broker keeps accepting them (issue 9, 3c)
    Diff("D1", "*", "topic_config_names", "message.format.version", kafka=ERR, samsa=None),
    Diff("D1", "*", "topic_config_names", "message.downconversion.enable", kafka=ERR, samsa=None),
    Diff("D1", "*", "topic_config_names", "message.timestamp.difference.max.ms", kafka=ERR, samsa=None),
    # D2: one node: cleanup.policy=compact (no log compaction yet), compression.type other than
    # producer (never recompresses), min.insync.replicas above 1 are refused
    Diff("D2", "*", "invalid_configs", "cleanup.policy=compact", kafka=None, samsa=ERR),
    Diff("D2", "*", "invalid_configs", "compression.type=gzip", kafka=None, samsa=ERR),
    Diff("D2", "*", "invalid_configs", "min.insync.replicas=2", kafka=None, samsa=ERR),
    # D3: segment.bytes below Kafka 4's 1 MiB floor is accepted (tests roll small segments)
    Diff("D3", "*", "invalid_configs", "segment.bytes=1000", kafka=ERR, samsa=None),
    # D4: Kafka 4 sets min.insync.replicas as a cluster-wide dynamic default when it formats
    # its storage (source DYNAMIC_DEFAULT_BROKER_CONFIG, 3); samsa-broker's is the built-in default (5)
    Diff("D4", ("rdkafka-debian", "rdkafka-pypi", "java", "kafkajs", "franz-go", "sarama"), "topic_configs", "described.min.insync.replicas", kafka=ANY, samsa=ANY),
    # D5: committed offsets live in samsa-broker's own store, not in a __consumer_offsets topic,
    # so Metadata lists no internal topic
    # D6: DescribeConfigs v0-v2 only: no config types (v3+); kafka-python shows None, Java UNKNOWN
    Diff("D6", ("kafka-python", "java"), "topic_configs", "described.*", kafka=ANY, samsa=ANY),
    # D7 (fixed, issue 12): topic ids (Metadata v10-v12, KIP-516) are set as on Kafka
    # D8 (compressed batches only, not in these scenarios): ListOffsets v7+ MAX_TIMESTAMP is spoken
    # D11: broker configs are static: an IncrementalAlterConfigs SET of one Kafka can change
    # dynamically (log.retention.ms) is refused
    Diff("D11", "java", "admin_tools", "iac_broker_dynamic", kafka=None, samsa="InvalidRequestException"),
    Diff("D5", ("rdkafka-debian", "rdkafka-pypi", "kafka-python", "java", "kafkajs"), "metadata", "internal_topics_listed", kafka=["__consumer_offsets"], samsa=[]),
]


def match(family, scenario, path, kv, sv):
    for d in DIFFS:
        if d.matches(family, scenario, path, kv, sv):
            return d
    return None


def applicable(family, scenario):
    return [d for d in DIFFS if d.covers(family, scenario)]
