package dev.samsa.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.AlterConfigsOptions;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListConsumerGroupsOptions;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.GroupSubscribedToTopicException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.SecurityDisabledException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The AdminClient surface against samsa-broker, each call checked by what it
 * reads back. Tests tagged needs-* use an API samsa-broker gained with issue
 * 12 (tests/java/CMakeLists.txt can leave a tag out while it is missing).
 */
class AdminTest extends BrokerTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    /** The exception inside an ExecutionException of f.get(). */
    static Throwable failure(Future<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, f::get);
        return e.getCause();
    }

    static TopicDescription describe(String topic) throws Exception {
        return admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
    }

    static Map<String, ConfigEntry> topicConfig(String topic) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config c = admin.describeConfigs(List.of(r)).all().get().get(r);
        Map<String, ConfigEntry> m = new TreeMap<>();
        c.entries().forEach(e -> m.put(e.name(), e));
        return m;
    }

    @Test
    void topicsCreateListDescribeGrowDelete() throws Exception {
        String t = unique("admin-topic");
        NewTopic nt = new NewTopic(t, 3, (short) 1).configs(Map.of("retention.ms", "3600000"));
        // validateOnly: checked, not created
        admin.createTopics(List.of(nt), new CreateTopicsOptions().validateOnly(true)).all().get();
        assertFalse(admin.listTopics().names().get().contains(t), "validateOnly created the topic");
        admin.createTopics(List.of(nt)).all().get();
        assertInstanceOf(TopicExistsException.class, failure(admin.createTopics(List.of(nt)).all()));
        assertInstanceOf(InvalidTopicException.class,
            failure(admin.createTopics(List.of(new NewTopic("bad/name", 1, (short) 1))).all()));
        assertTrue(admin.listTopics().names().get().contains(t));
        assertFalse(admin.listTopics().names().get().contains("bad/name"));
        assertTrue(admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get().contains(t));

        TopicDescription d = describe(t);
        assertEquals(t, d.name());
        assertFalse(d.isInternal());
        assertEquals(3, d.partitions().size());
        for (int i = 0; i < 3; i++) {
            TopicPartitionInfo p = d.partitions().get(i);
            assertEquals(i, p.partition());
            assertEquals(0, p.leader().id(), "leader: the broker, node 0");
            assertEquals(List.of(p.leader()), p.replicas());
            assertEquals(List.of(p.leader()), p.isr());
        }
        assertInstanceOf(UnknownTopicOrPartitionException.class,
            failure(admin.describeTopics(List.of(unique("no-such"))).allTopicNames()));

        admin.createPartitions(Map.of(t, NewPartitions.increaseTo(5))).all().get();
        assertEquals(5, describe(t).partitions().size());
        assertInstanceOf(InvalidPartitionsException.class,
            failure(admin.createPartitions(Map.of(t, NewPartitions.increaseTo(2))).all()));
        assertEquals(5, describe(t).partitions().size());
        assertOffsets(produce(t, 4, 3, ""), 0, 3);   // a new partition takes records

        admin.deleteTopics(List.of(t)).all().get();
        assertFalse(admin.listTopics().names().get().contains(t));
        assertInstanceOf(UnknownTopicOrPartitionException.class, failure(admin.describeTopics(List.of(t)).allTopicNames()));
        assertInstanceOf(UnknownTopicOrPartitionException.class, failure(admin.deleteTopics(List.of(t)).all()));
    }

    @Test
    void describeConfigsOfTopicAndBroker() throws Exception {
        String t = unique("cfg");
        admin.createTopics(List.of(new NewTopic(t, 1, (short) 1).configs(Map.of("retention.ms", "123456")))).all().get();
        Map<String, ConfigEntry> c = topicConfig(t);
        ConfigEntry e = c.get("retention.ms");
        assertEquals("123456", e.value());
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, e.source());
        assertFalse(e.isDefault());
        ConfigEntry seg = c.get("segment.bytes");
        assertTrue(seg != null && seg.isDefault(), "segment.bytes a default: " + seg);
        assertEquals("delete", c.get("cleanup.policy").value());

        ConfigResource node = new ConfigResource(ConfigResource.Type.BROKER, "0");
        Config bc = admin.describeConfigs(List.of(node)).all().get().get(node);
        ConfigEntry auto = bc.get("auto.create.topics.enable");
        assertEquals("false", auto.value(), "the broker's --override");
        assertEquals(ConfigEntry.ConfigSource.STATIC_BROKER_CONFIG, auto.source());
        assertEquals("0", bc.get("group.initial.rebalance.delay.ms").value());
    }

    // Admin.alterConfigs (the legacy AlterConfigs API) is gone from kafka-clients 4.x (removed in
    // 4.0 after its deprecation in 2.3): the 4.x client alters configs only incrementally.
    // AlterConfigs itself is exercised through librdkafka and kafka-python (integration.topic_configs).

    @Test
    @Tag("needs-incremental-alter-configs")
    void incrementalAlterConfigs() throws Exception {
        String t = unique("incr");
        admin.createTopics(List.of(new NewTopic(t, 1, (short) 1)
            .configs(Map.of("retention.ms", "123456", "max.message.bytes", "65536")))).all().get();
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, t);
        Map<ConfigResource, Collection<AlterConfigOp>> ops = Map.of(r, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
            new AlterConfigOp(new ConfigEntry("max.message.bytes", ""), AlterConfigOp.OpType.DELETE)));
        admin.incrementalAlterConfigs(ops, new AlterConfigsOptions().validateOnly(true)).all().get();
        assertEquals("123456", topicConfig(t).get("retention.ms").value(), "validateOnly changed the topic");
        admin.incrementalAlterConfigs(ops).all().get();
        Map<String, ConfigEntry> c = topicConfig(t);
        assertEquals("7200000", c.get("retention.ms").value());
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, c.get("retention.ms").source());
        assertTrue(c.get("max.message.bytes").isDefault(), "deleted: back to the default: " + c.get("max.message.bytes"));
        // another SET leaves the rest as it is (unlike AlterConfigs)
        admin.incrementalAlterConfigs(Map.of(r, List.of(
            new AlterConfigOp(new ConfigEntry("segment.ms", "600000"), AlterConfigOp.OpType.SET)))).all().get();
        c = topicConfig(t);
        assertEquals("600000", c.get("segment.ms").value());
        assertEquals("7200000", c.get("retention.ms").value());
        assertInstanceOf(InvalidConfigurationException.class, failure(admin.incrementalAlterConfigs(Map.of(r, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "soon"), AlterConfigOp.OpType.SET)))).all()));
        assertEquals("7200000", topicConfig(t).get("retention.ms").value(), "a refused alter changed the topic");
    }

    @Test
    void deleteRecordsMovesTheLowWatermark() throws Exception {
        String t = createTopic("delrec", 1);
        TopicPartition tp = new TopicPartition(t, 0);
        assertOffsets(produce(t, 0, 10, ""), 0, 10);
        long low = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4))).lowWatermarks().get(tp).get().lowWatermark();
        assertEquals(4, low);
        List<org.apache.kafka.clients.consumer.ConsumerRecord<String, String>> rest = readAll(t, 0);
        assertEquals(6, rest.size());
        assertEquals(4, rest.get(0).offset());
        assertEquals("v4", rest.get(0).value());
        assertInstanceOf(org.apache.kafka.common.errors.OffsetOutOfRangeException.class,
            failure(admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(11))).all()));
    }

    /** DescribeCluster, or Metadata where the broker lacks it (the 4.x client falls back). */
    @Test
    void describeCluster() throws Exception {
        DescribeClusterResult r = admin.describeCluster();
        Collection<Node> nodes = r.nodes().get();
        assertEquals(1, nodes.size());
        Node n = nodes.iterator().next();
        assertEquals(0, n.id());
        assertEquals("127.0.0.1", n.host());
        assertEquals(broker.bootstrap(), n.host() + ":" + n.port());
        assertEquals(n, r.controller().get(), "the broker is its own controller");
        assertEquals(broker.clusterId(), r.clusterId().get(), "cluster.id of meta.properties");
    }

    @Test
    @Tag("needs-describe-log-dirs")
    void describeLogDirs() throws Exception {
        String t = createTopic("logdirs", 2);
        assertOffsets(produce(t, 1, 5, ""), 0, 5);
        Map<Integer, Map<String, LogDirDescription>> all = admin.describeLogDirs(List.of(0)).allDescriptions().get();
        assertEquals(Set.of(0), all.keySet());
        Map<String, LogDirDescription> dirs = all.get(0);
        String dataDir = broker.dataDir().toString();
        assertEquals(Set.of(dataDir), dirs.keySet());
        LogDirDescription d = dirs.get(dataDir);
        assertNull(d.error());
        for (int p = 0; p < 2; p++) {
            TopicPartition tp = new TopicPartition(t, p);
            ReplicaInfo ri = d.replicaInfos().get(tp);
            assertTrue(ri != null, "no replica info for " + tp + " in " + d.replicaInfos().keySet());
            long onDisk;
            try (Stream<Path> s = Files.list(broker.dataDir().resolve(t + "-" + p))) {
                onDisk = s.filter(f -> f.toString().endsWith(".log")).mapToLong(f -> f.toFile().length()).sum();
            }
            assertEquals(onDisk, ri.size(), "size of " + tp + " (its .log files)");
            assertEquals(0, ri.offsetLag());
            assertFalse(ri.isFuture());
        }
        assertTrue(d.replicaInfos().get(new TopicPartition(t, 1)).size() > 0);
        assertTrue(d.totalBytes().isPresent() && d.usableBytes().isPresent(), "total and usable bytes");
        assertTrue(d.usableBytes().getAsLong() <= d.totalBytes().getAsLong());
    }

    @Test
    @Tag("needs-describe-acls")
    void describeAclsSecurityDisabled() {
        assertInstanceOf(SecurityDisabledException.class, failure(admin.describeAcls(AclBindingFilter.ANY).values()));
    }

    @Test
    @Tag("needs-describe-producers")
    void describeProducers() throws Exception {
        String t = createTopic("producers", 1);
        TopicPartition tp = new TopicPartition(t, 0);
        long ts = 1_700_000_000_000L;
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            for (int i = 0; i < 3; i++)   // one batch each: sequences 0, 1, 2
                assertEquals(i, p.send(new ProducerRecord<>(t, 0, ts + i, "k" + i, "v" + i)).get().offset());
        }
        List<int[]> batches = batchesOnDisk(t, 0);
        long pid = ((long) batches.get(0)[1] << 32) | (batches.get(0)[2] & 0xffffffffL);
        List<ProducerState> states = admin.describeProducers(List.of(tp)).partitionResult(tp).get().activeProducers();
        assertEquals(1, states.size(), "active producers: " + states);
        ProducerState s = states.get(0);
        assertEquals(pid, s.producerId(), "the producer id of its batches");
        assertEquals(0, s.producerEpoch());
        assertEquals(2, s.lastSequence());
        assertEquals(ts + 2, s.lastTimestamp());
        assertFalse(s.currentTransactionStartOffset().isPresent());
        // a partition no producer wrote to has none (a partition that does not exist is retried
        // by the client until its timeout, against Kafka too: not checked)
        String other = createTopic("producers-none", 1);
        TopicPartition none = new TopicPartition(other, 0);
        assertEquals(List.of(), admin.describeProducers(List.of(none)).partitionResult(none).get().activeProducers());
    }

    // ---- consumer groups --------------------------------------------------------------------

    /** A group with one member subscribed to topic, polled until it owns both partitions. */
    private static KafkaConsumer<String, String> stableMember(String group, String topic) {
        KafkaConsumer<String, String> c = consumer(group, Map.of(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic",
            ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000, ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500,
            ConsumerConfig.CLIENT_ID_CONFIG, "member-of-" + group));
        c.subscribe(List.of(topic));
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (c.assignment().size() != 2) {
            if (System.nanoTime() > deadline)
                throw new AssertionError("member of " + group + " not assigned: " + c.assignment());
            c.poll(Duration.ofMillis(50));
        }
        return c;
    }

    /** An Empty group: only committed offsets (AlterConsumerGroupOffsets creates it). */
    private static void emptyGroup(String group, String topic, long offset) throws Exception {
        admin.alterConsumerGroupOffsets(group, Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(offset, "m0"),
            new TopicPartition(topic, 1), new OffsetAndMetadata(offset + 1, "m1"))).all().get();
    }

    @Test
    void consumerGroupOffsetsAndDeletion() throws Exception {
        String t = createTopic("groups", 2);
        produceEach(t, 2, 10);
        String stable = unique("g-stable"), empty = unique("g-empty");
        try (KafkaConsumer<String, String> c = stableMember(stable, t)) {
            c.commitSync(Map.of(new TopicPartition(t, 0), new OffsetAndMetadata(3)));

            // describeConsumerGroups
            Map<String, ConsumerGroupDescription> ds = admin.describeConsumerGroups(List.of(stable)).all().get();
            ConsumerGroupDescription d = ds.get(stable);
            assertEquals(GroupState.STABLE, d.groupState());
            assertEquals(0, d.coordinator().id());
            assertEquals("range", d.partitionAssignor(), "the Java consumer's first assignor");
            assertFalse(d.isSimpleConsumerGroup());
            assertEquals(1, d.members().size());
            MemberDescription m = d.members().iterator().next();
            assertEquals("member-of-" + stable, m.clientId());
            assertEquals(c.groupMetadata().memberId(), m.consumerId());
            assertEquals(Set.of(new TopicPartition(t, 0), new TopicPartition(t, 1)), m.assignment().topicPartitions());

            // listConsumerGroupOffsets
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(stable)
                .partitionsToOffsetAndMetadata().get();
            assertEquals(Map.of(new TopicPartition(t, 0), 3L), offsets(committed));

            // alterConsumerGroupOffsets: refused for a group with members (as Kafka: UnknownMemberId), done for an empty one
            assertInstanceOf(UnknownMemberIdException.class, failure(admin.alterConsumerGroupOffsets(stable,
                Map.of(new TopicPartition(t, 1), new OffsetAndMetadata(5))).all()));
            emptyGroup(empty, t, 7);
            committed = admin.listConsumerGroupOffsets(empty).partitionsToOffsetAndMetadata().get();
            assertEquals(Map.of(new TopicPartition(t, 0), 7L, new TopicPartition(t, 1), 8L), offsets(committed));
            assertEquals("m1", committed.get(new TopicPartition(t, 1)).metadata());
            assertEquals(GroupState.EMPTY, admin.describeConsumerGroups(List.of(empty)).all().get().get(empty).groupState());

            // deleteConsumerGroupOffsets: refused while subscribed to the topic, done for the empty group
            assertInstanceOf(GroupSubscribedToTopicException.class, failure(admin.deleteConsumerGroupOffsets(stable,
                Set.of(new TopicPartition(t, 0))).all()));
            admin.deleteConsumerGroupOffsets(empty, Set.of(new TopicPartition(t, 0))).all().get();
            committed = admin.listConsumerGroupOffsets(empty).partitionsToOffsetAndMetadata().get();
            assertEquals(Map.of(new TopicPartition(t, 1), 8L), offsets(committed));

            // deleteConsumerGroups: not while it has members; the empty one goes
            assertInstanceOf(GroupNotEmptyException.class, failure(admin.deleteConsumerGroups(List.of(stable)).all()));
            admin.deleteConsumerGroups(List.of(empty)).all().get();
            assertTrue(admin.listConsumerGroupOffsets(empty).partitionsToOffsetAndMetadata().get().isEmpty());
            assertInstanceOf(GroupIdNotFoundException.class, failure(admin.deleteConsumerGroups(List.of(empty)).all()));
            Set<String> listed = admin.listGroups(ListGroupsOptions.forConsumerGroups()).all().get().stream()
                .map(GroupListing::groupId).collect(Collectors.toSet());
            assertTrue(listed.contains(stable));
            assertFalse(listed.contains(empty), "deleted group still listed");
        }
    }

    /** Kafka 4 (DescribeGroups v6, KIP-1043) answers an unknown group GROUP_ID_NOT_FOUND. */
    @Test
    @Tag("needs-describe-groups-v6")
    void describeUnknownGroup() {
        assertInstanceOf(GroupIdNotFoundException.class,
            failure(admin.describeConsumerGroups(List.of(unique("g-none"))).all()));
    }

    @Test
    @Tag("needs-list-groups-states")
    @SuppressWarnings({"removal", "deprecation"})
    void listConsumerGroupsWithStates() throws Exception {
        String t = createTopic("states", 2);
        String stable = unique("g-st"), empty = unique("g-em");
        emptyGroup(empty, t, 1);
        try (KafkaConsumer<String, String> c = stableMember(stable, t)) {
            Map<String, GroupListing> all = new HashMap<>();
            admin.listGroups(ListGroupsOptions.forConsumerGroups()).all().get().forEach(g -> all.put(g.groupId(), g));
            assertEquals(java.util.Optional.of(GroupState.STABLE), all.get(stable).groupState());
            assertEquals(java.util.Optional.of(GroupState.EMPTY), all.get(empty).groupState());
            assertEquals(java.util.Optional.of(org.apache.kafka.common.GroupType.CLASSIC), all.get(stable).type());
            assertEquals("consumer", all.get(stable).protocol());
            // the state filter is applied by the broker
            Set<String> stableOnly = new TreeSet<>();
            admin.listGroups(ListGroupsOptions.forConsumerGroups().inGroupStates(Set.of(GroupState.STABLE)))
                .all().get().forEach(g -> stableOnly.add(g.groupId()));
            assertTrue(stableOnly.contains(stable));
            assertFalse(stableOnly.contains(empty));
            // the older call the issue names, with its filter
            Set<String> emptyOnly = new TreeSet<>();
            admin.listConsumerGroups(new ListConsumerGroupsOptions().inGroupStates(Set.of(GroupState.EMPTY)))
                .all().get().forEach(g -> emptyOnly.add(g.groupId()));
            assertTrue(emptyOnly.contains(empty));
            assertFalse(emptyOnly.contains(stable));
        }
    }

    private static Map<TopicPartition, Long> offsets(Map<TopicPartition, OffsetAndMetadata> m) {
        Map<TopicPartition, Long> out = new HashMap<>();
        m.forEach((k, v) -> out.put(k, v == null ? null : v.offset()));
        return out;
    }

    private static void produceEach(String topic, int partitions, int perPartition) throws Exception {
        for (int p = 0; p < partitions; p++)
            assertOffsets(produce(topic, p, perPartition, "p" + p + "-"), 0, perPartition);
    }
}
