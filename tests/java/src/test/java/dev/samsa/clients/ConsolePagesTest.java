package dev.samsa.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.SecurityDisabledException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * kafka-ui (kafbat/kafka-ui, formerly provectus/kafka-ui) page by page against
 * samsa-broker: each test makes the AdminClient and consumer calls that one
 * page's load makes in kafka-ui's backend (api/src/main/java/io/kafbat/ui/...),
 * in the same order and with the same options, and checks that every call
 * completes (no UnsupportedVersionException, no timeout) and returns what the
 * page would show. kafka-ui itself is not run (it is not on Maven Central and
 * there is no Docker here); its source was read for the calls, none of it is
 * copied. docs/java.md has the page to calls table.
 *
 * The data every page looks at, made once: topic ORDERS (3 partitions,
 * retention.ms set) with 10 records in partition 0, 5 in partition 1 and none
 * in partition 2, written by one idempotent producer; topic AUDIT (1
 * partition, 2 records); group BILLING (a consumer that subscribed to ORDERS,
 * committed 4 on partition 0 and 5 on partition 1, and left: Empty, lag 6).
 */
class ConsolePagesTest extends BrokerTest {
    private static final Duration WAIT = Duration.ofSeconds(60);
    static String orders;
    static String audit;
    static String billing;
    static long producerId;

    @BeforeAll
    static void data() throws Exception {
        orders = unique("orders");
        audit = unique("audit");
        billing = unique("billing");
        admin.createTopics(List.of(new NewTopic(orders, 3, (short) 1).configs(Map.of("retention.ms", "86400000")),
            new NewTopic(audit, 1, (short) 1))).all().get();
        try (KafkaProducer<String, String> p = producer(Map.of(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.ACKS_CONFIG, "all"))) {
            for (int i = 0; i < 10; i++)
                assertEquals(i, p.send(new ProducerRecord<>(orders, 0, "k" + i, "order-" + i)).get().offset());
            for (int i = 0; i < 5; i++)
                assertEquals(i, p.send(new ProducerRecord<>(orders, 1, "k" + i, "order-" + (10 + i))).get().offset());
        }
        List<int[]> batches = batchesOnDisk(orders, 0);
        producerId = ((long) batches.get(0)[1] << 32) | (batches.get(0)[2] & 0xffffffffL);
        assertTrue(producerId >= 0, "the idempotent producer's batches carry its id");
        produce(audit, 0, 2, "a");

        // BILLING: a member that consumed, committed and left (an Empty group)
        try (KafkaConsumer<String, String> c = consumer(billing, Map.of(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic",
                ConsumerConfig.CLIENT_ID_CONFIG, "billing-service"))) {
            c.subscribe(List.of(orders));
            int seen = 0;
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (seen < 15) {
                if (System.nanoTime() > deadline)
                    fail("billing read " + seen + " of 15 records");
                seen += c.poll(Duration.ofMillis(100)).count();
            }
            c.commitSync(Map.of(new TopicPartition(orders, 0), new OffsetAndMetadata(4),
                new TopicPartition(orders, 1), new OffsetAndMetadata(5)));
        }
    }

    // ---- the calls, each failing with the call named ---------------------------------------

    /** f.get(); a failure (UnsupportedVersionException, TimeoutException, ...) fails the test naming the call. */
    static <T> T call(String what, KafkaFuture<T> f) throws InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            throw new AssertionError(what + " failed: " + e.getCause(), e.getCause());
        }
    }

    /** ClusterDescription of ReactiveAdminClient.describeClusterImpl: all four futures. */
    record Cluster(Node controller, String clusterId, Collection<Node> nodes, Set<AclOperation> authorizedOperations) {
    }

    static Cluster describeCluster(boolean includeAuthorizedOperations) throws InterruptedException {
        DescribeClusterResult r = admin.describeCluster(
            new DescribeClusterOptions().includeAuthorizedOperations(includeAuthorizedOperations));
        call("describeCluster", KafkaFuture.allOf(r.controller(), r.clusterId(), r.nodes(), r.authorizedOperations()));
        return new Cluster(call("controller", r.controller()), call("clusterId", r.clusterId()), call("nodes", r.nodes()),
            call("authorizedOperations", r.authorizedOperations()));
    }

    /** ReactiveAdminClient.loadBrokersConfig: describeConfigs of BROKER resources, default options. */
    static Map<Integer, Map<String, ConfigEntry>> brokerConfigs(List<Integer> ids) throws InterruptedException {
        List<ConfigResource> rs = ids.stream().map(id -> new ConfigResource(ConfigResource.Type.BROKER, "" + id)).toList();
        Map<ConfigResource, Config> all = call("describeConfigs(BROKER)", admin.describeConfigs(rs).all());
        Map<Integer, Map<String, ConfigEntry>> out = new TreeMap<>();
        all.forEach((r, c) -> out.put(Integer.valueOf(r.name()), entries(c)));
        return out;
    }

    static Map<String, ConfigEntry> entries(Config c) {
        Map<String, ConfigEntry> m = new TreeMap<>();
        c.entries().forEach(e -> m.put(e.name(), e));
        return m;
    }

    /** ReactiveAdminClient.getTopicsConfig(names, includeDoc): describeConfigs of TOPIC resources with synonyms. */
    static Map<String, Map<String, ConfigEntry>> topicConfigs(Collection<String> topics, boolean includeDoc)
            throws InterruptedException {
        List<ConfigResource> rs = topics.stream().map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).toList();
        Map<ConfigResource, KafkaFuture<Config>> values = admin.describeConfigs(rs,
            new DescribeConfigsOptions().includeSynonyms(true).includeDocumentation(includeDoc)).values();
        Map<String, Map<String, ConfigEntry>> out = new TreeMap<>();
        for (var e : values.entrySet())
            out.put(e.getKey().name(), entries(call("describeConfigs(TOPIC " + e.getKey().name() + ")", e.getValue())));
        return out;
    }

    /** ReactiveAdminClient.listTopics(true). */
    static Set<String> listTopics() throws InterruptedException {
        return call("listTopics(listInternal)", admin.listTopics(new ListTopicsOptions().listInternal(true)).names());
    }

    /** ReactiveAdminClient.describeTopics(names): describeTopics(...).topicNameValues(), each future. */
    static Map<String, TopicDescription> describeTopics(Collection<String> topics) throws InterruptedException {
        Map<String, TopicDescription> out = new TreeMap<>();
        for (var e : admin.describeTopics(topics).topicNameValues().entrySet())
            out.put(e.getKey(), call("describeTopics(" + e.getKey() + ")", e.getValue()));
        return out;
    }

    /** ReactiveAdminClient.listOffsets(descriptions, spec): every partition with a leader, offsets >= 0 kept. */
    static Map<TopicPartition, Long> listOffsets(Collection<TopicDescription> ds, OffsetSpec spec) throws InterruptedException {
        Set<TopicPartition> tps = new HashSet<>();
        for (TopicDescription d : ds)
            for (TopicPartitionInfo p : d.partitions()) {
                assertNotNull(p.leader(), "partition without a leader: kafka-ui leaves its topic out");
                tps.add(new TopicPartition(d.name(), p.partition()));
            }
        return listOffsets(tps, spec);
    }

    static Map<TopicPartition, Long> listOffsets(Set<TopicPartition> tps, OffsetSpec spec) throws InterruptedException {
        Map<TopicPartition, OffsetSpec> req = new HashMap<>();
        tps.forEach(tp -> req.put(tp, spec));
        ListOffsetsResult r = admin.listOffsets(req);
        Map<TopicPartition, Long> out = new HashMap<>();
        for (TopicPartition tp : tps) {
            long o = call("listOffsets(" + tp + ")", r.partitionResult(tp)).offset();
            if (o >= 0)
                out.put(tp, o);
        }
        return out;
    }

    /** ReactiveAdminClient.listConsumerGroups: Admin.listConsumerGroups().all(). */
    @SuppressWarnings({"removal", "deprecation"})
    static Map<String, ConsumerGroupListing> listConsumerGroups() throws InterruptedException {
        Map<String, ConsumerGroupListing> out = new TreeMap<>();
        call("listConsumerGroups", admin.listConsumerGroups().all()).forEach(g -> out.put(g.groupId(), g));
        return out;
    }

    /** ReactiveAdminClient.describeConsumerGroups(ids).all(). */
    static Map<String, ConsumerGroupDescription> describeConsumerGroups(Collection<String> ids) throws InterruptedException {
        return call("describeConsumerGroups", admin.describeConsumerGroups(ids).all());
    }

    /**
     * ReactiveAdminClient.listConsumerGroupOffsets(groups, partitions): one
     * ListConsumerGroupOffsetsSpec per group (partitions null: all), null
     * offsets dropped; group -> partition -> offset.
     */
    static Map<String, Map<TopicPartition, Long>> listGroupOffsets(Collection<String> groups, List<TopicPartition> partitions)
            throws InterruptedException {
        Map<String, ListConsumerGroupOffsetsSpec> specs = new HashMap<>();
        groups.forEach(g -> specs.put(g, new ListConsumerGroupOffsetsSpec().topicPartitions(partitions)));
        Map<String, Map<TopicPartition, Long>> out = new TreeMap<>();
        call("listConsumerGroupOffsets", admin.listConsumerGroupOffsets(specs).all()).forEach((g, m) -> {
            Map<TopicPartition, Long> row = new HashMap<>();
            m.forEach((tp, o) -> {
                if (o != null)
                    row.put(tp, o.offset());
            });
            out.put(g, row);
        });
        return out;
    }

    /** ReactiveAdminClient.describeLogDirs(brokerIds). */
    static Map<Integer, Map<String, LogDirDescription>> describeLogDirs(List<Integer> ids) throws InterruptedException {
        return call("describeLogDirs", admin.describeLogDirs(ids).allDescriptions());
    }

    /** Per partition size over all log dirs (kafka-ui's InternalLogDirStats sums replicas' sizes). */
    static Map<TopicPartition, Long> sizes(Map<Integer, Map<String, LogDirDescription>> dirs) {
        Map<TopicPartition, Long> out = new HashMap<>();
        dirs.values().forEach(byDir -> byDir.values().forEach(d -> {
            assertNull(d.error(), "log dir error");
            d.replicaInfos().forEach((tp, ri) -> out.merge(tp, ri.size(), Long::sum));
        }));
        return out;
    }

    /**
     * ConsumerGroupService.getConsumerGroups: the groups' committed offsets,
     * then the latest offsets of those partitions (their topics described
     * first, ReactiveAdminClient.filterPartitionsWithLeaderCheck); the lag of
     * each group is the sum of end - committed (InternalConsumerGroup).
     */
    static Map<String, Long> lags(Collection<String> groups) throws InterruptedException {
        Map<String, Map<TopicPartition, Long>> committed = listGroupOffsets(groups, null);
        Set<TopicPartition> tps = new HashSet<>();
        committed.values().forEach(m -> tps.addAll(m.keySet()));
        Set<String> topics = tps.stream().map(TopicPartition::topic).collect(Collectors.toSet());
        describeTopics(topics);
        Map<TopicPartition, Long> end = listOffsets(tps, OffsetSpec.latest());
        Map<String, Long> out = new TreeMap<>();
        committed.forEach((g, m) -> {
            long lag = 0;
            for (var e : m.entrySet())
                lag += end.get(e.getKey()) - e.getValue();
            out.put(g, lag);
        });
        return out;
    }

    static TopicPartition tp(String topic, int p) {
        return new TopicPartition(topic, p);
    }

    // ---- the pages ------------------------------------------------------------------------

    /**
     * Cluster start-up, before any page: kafka-ui's feature and version
     * detection. Mirrors api/src/main/java/io/kafbat/ui/service/ReactiveAdminClient.java
     * (ConfigRelatedInfo.extract, SupportedFeature.forVersion,
     * isAuthorizedSecurityEnabled) and .../service/FeatureService.java
     * (getAvailableFeatures): describeCluster without authorized operations,
     * describeConfigs of the controller (else the first node) as a BROKER
     * resource, the version read from an entry named like
     * inter.broker.protocol.version and topic deletion from
     * delete.topic.enable, then describeAcls(ANY): SecurityDisabledException
     * means "ACLs disabled" (no ACL page, no ACL edit).
     */
    @Test
    void clusterStartupFeatureDetection() throws Exception {
        Cluster c = describeCluster(false);
        assertNotNull(c.controller(), "no controller: kafka-ui takes the first node");
        assertEquals(0, c.controller().id());
        assertEquals(broker.clusterId(), c.clusterId());
        assertEquals(1, c.nodes().size());
        assertNull(c.authorizedOperations(), "not asked for: null (kafka-ui: ACL off)");

        Map<String, ConfigEntry> cfg = brokerConfigs(List.of(c.controller().id())).get(c.controller().id());
        assertNotNull(cfg, "no config for the controller");
        assertFalse(cfg.isEmpty(), "the broker's configs: kafka-ui reads its version and delete.topic.enable there");
        // kafka-ui's version: the value of an entry whose name contains inter.broker.protocol.version,
        // else "1.0-UNKNOWN" (Kafka 4, KRaft only, has no such entry either)
        String version = cfg.entrySet().stream().filter(e -> e.getKey().contains("inter.broker.protocol.version"))
            .map(e -> e.getValue().value()).findFirst().orElse("1.0-UNKNOWN");
        System.out.println("kafka-ui would show version " + version);
        ConfigEntry del = cfg.get("delete.topic.enable");
        assertNotNull(del, "delete.topic.enable (kafka-ui's TOPIC_DELETION feature)");
        assertEquals("true", del.value());

        // SupportedFeature.AUTHORIZED_SECURITY_ENABLED
        Throwable acl = null;
        try {
            admin.describeAcls(AclBindingFilter.ANY).values().get();
        } catch (ExecutionException e) {
            acl = e.getCause();
        }
        assertInstanceOf(SecurityDisabledException.class, acl, "describeAcls(ANY): kafka-ui's 'ACLs disabled'");
    }

    /**
     * The statistics scrape behind the dashboard, the brokers list and the
     * topics list (kafka-ui refreshes it every 30 s). Mirrors
     * api/src/main/java/io/kafbat/ui/service/StatisticsService.java (getStatistics)
     * and .../service/metrics/scrape/ScrapedClusterState.java (scrape): describeCluster,
     * then in parallel describeLogDirs(all nodes), listConsumerGroups,
     * listTopics(internal) + describeTopics, listTopics(internal) +
     * describeConfigs(TOPIC, synonyms, no documentation); then listOffsets
     * latest and earliest of every partition, describeConsumerGroups and
     * listConsumerGroupOffsets of every group.
     */
    @Test
    void dashboardStatisticsScrape() throws Exception {
        Cluster c = describeCluster(false);
        List<Integer> ids = c.nodes().stream().map(Node::id).toList();
        Map<TopicPartition, Long> size = sizes(describeLogDirs(ids));
        Set<String> groups = listConsumerGroups().keySet();
        Map<String, TopicDescription> ds = describeTopics(listTopics());
        Map<String, Map<String, ConfigEntry>> cfgs = topicConfigs(listTopics(), false);
        Map<TopicPartition, Long> latest = listOffsets(ds.values(), OffsetSpec.latest());
        Map<TopicPartition, Long> earliest = listOffsets(ds.values(), OffsetSpec.earliest());
        Map<String, ConsumerGroupDescription> gds = describeConsumerGroups(groups);
        Map<String, Map<TopicPartition, Long>> committed = listGroupOffsets(groups, null);

        assertTrue(ds.keySet().containsAll(List.of(orders, audit)), "topics: " + ds.keySet());
        assertEquals(3, ds.get(orders).partitions().size());
        assertEquals(1, ds.get(audit).partitions().size());
        assertEquals("86400000", cfgs.get(orders).get("retention.ms").value());
        assertEquals(10L, latest.get(tp(orders, 0)));
        assertEquals(5L, latest.get(tp(orders, 1)));
        assertEquals(0L, latest.get(tp(orders, 2)));
        assertEquals(2L, latest.get(tp(audit, 0)));
        for (TopicPartition p : latest.keySet())
            assertEquals(0L, earliest.get(p), "earliest of " + p);
        assertTrue(size.get(tp(orders, 0)) > 0, "size of a written partition: " + size.get(tp(orders, 0)));
        assertTrue(size.get(tp(orders, 1)) > 0);
        assertEquals(0L, size.get(tp(orders, 2)), "an empty partition");
        assertTrue(size.get(tp(orders, 0)) > size.get(tp(orders, 1)), "10 records take more than 5");
        assertTrue(groups.contains(billing), "groups: " + groups);
        assertEquals(GroupState.EMPTY, gds.get(billing).groupState());
        assertEquals(Map.of(tp(orders, 0), 4L, tp(orders, 1), 5L), committed.get(billing));
    }

    /**
     * Brokers page and broker detail. Mirrors api/src/main/java/io/kafbat/ui/service/BrokerService.java:
     * getBrokers (describeCluster; partition counts and disk usage per broker come from
     * the scrape), getBrokerConfig (describeConfigs of BROKER "id", default options) and
     * getAllBrokersLogdirs (describeLogDirs of the nodes).
     */
    @Test
    void brokersPage() throws Exception {
        Cluster c = describeCluster(false);
        Node n = c.nodes().iterator().next();
        assertEquals(broker.bootstrap(), n.host() + ":" + n.port());

        Map<String, ConfigEntry> cfg = brokerConfigs(List.of(n.id())).get(n.id());
        assertEquals("false", cfg.get("auto.create.topics.enable").value(), "the broker's --override");
        assertEquals(ConfigEntry.ConfigSource.STATIC_BROKER_CONFIG, cfg.get("auto.create.topics.enable").source());
        assertEquals("0", cfg.get("group.initial.rebalance.delay.ms").value());
        assertTrue(cfg.get("log.dirs").value().contains(broker.dataDir().toString()), "log.dirs: " + cfg.get("log.dirs"));

        Map<Integer, Map<String, LogDirDescription>> dirs = describeLogDirs(List.of(n.id()));
        LogDirDescription d = dirs.get(n.id()).get(broker.dataDir().toString());
        assertNotNull(d, "the data dir: " + dirs);
        ReplicaInfo p0 = d.replicaInfos().get(tp(orders, 0));
        assertNotNull(p0);
        assertTrue(p0.size() > 0);
        long total = d.replicaInfos().values().stream().mapToLong(ReplicaInfo::size).sum();
        assertTrue(total >= p0.size() + d.replicaInfos().get(tp(orders, 1)).size(), "broker's segment size");
    }

    /**
     * Topics list. Mirrors api/src/main/java/io/kafbat/ui/service/TopicsService.java:
     * getTopicsForPagination (listTopics(internal) against the scraped names), then
     * loadTopics for the page: describeTopics and describeConfigs (TOPIC, synonyms,
     * no documentation), then listOffsets earliest and latest of their partitions
     * (getPartitionOffsets): the message counts shown.
     */
    @Test
    void topicsListPage() throws Exception {
        Set<String> names = listTopics();
        List<String> page = names.stream().filter(t -> t.equals(orders) || t.equals(audit)).sorted().toList();
        assertEquals(2, page.size(), "listed: " + names);
        Map<String, TopicDescription> ds = describeTopics(page);
        Map<String, Map<String, ConfigEntry>> cfgs = topicConfigs(page, false);
        Map<TopicPartition, Long> earliest = listOffsets(ds.values(), OffsetSpec.earliest());
        Map<TopicPartition, Long> latest = listOffsets(ds.values(), OffsetSpec.latest());
        Map<String, Long> messages = new TreeMap<>();
        latest.forEach((p, end) -> messages.merge(p.topic(), end - earliest.get(p), Long::sum));
        assertEquals(Map.of(orders, 15L, audit, 2L), messages, "message counts");
        assertEquals(3, ds.get(orders).partitions().size());
        for (TopicPartitionInfo p : ds.get(orders).partitions()) {
            assertEquals(1, p.replicas().size(), "replication factor");
            assertEquals(1, p.isr().size(), "in sync replicas");
        }
        assertFalse(ds.get(orders).isInternal());
        assertEquals("delete", cfgs.get(orders).get("cleanup.policy").value());
    }

    /**
     * Topic overview. Mirrors api/src/main/java/io/kafbat/ui/service/TopicsService.java
     * getTopicDetails (loadTopic: loadTopics of one name), the same calls as the list.
     */
    @Test
    void topicOverviewPage() throws Exception {
        Map<String, TopicDescription> ds = describeTopics(List.of(orders));
        topicConfigs(List.of(orders), false);
        Map<TopicPartition, Long> earliest = listOffsets(ds.values(), OffsetSpec.earliest());
        Map<TopicPartition, Long> latest = listOffsets(ds.values(), OffsetSpec.latest());
        assertEquals(Map.of(tp(orders, 0), 0L, tp(orders, 1), 0L, tp(orders, 2), 0L), earliest);
        assertEquals(Map.of(tp(orders, 0), 10L, tp(orders, 1), 5L, tp(orders, 2), 0L), latest);
        TopicDescription d = ds.get(orders);
        for (int i = 0; i < 3; i++) {
            assertEquals(i, d.partitions().get(i).partition());
            assertEquals(0, d.partitions().get(i).leader().id());
        }
    }

    /**
     * kafka-ui's cluster version (ReactiveAdminClient.ConfigRelatedInfo.extract): the
     * value of the controller's config entry named like inter.broker.protocol.version,
     * else "1.0-UNKNOWN"; its features compare major.minor (io/kafbat/ui/util/KafkaVersion.java).
     */
    static double kafkaUiVersion() throws InterruptedException {
        Cluster c = describeCluster(false);
        String v = brokerConfigs(List.of(c.controller().id())).get(c.controller().id()).entrySet().stream()
            .filter(e -> e.getKey().contains("inter.broker.protocol.version")).map(e -> e.getValue().value())
            .findFirst().orElse("1.0-UNKNOWN");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^([0-9]+)\\.([0-9]+)").matcher(v);
        assertTrue(m.find(), "kafka-ui cannot parse version " + v);
        return Double.parseDouble(m.group(1) + "." + m.group(2));
    }

    /**
     * Topic settings tab (its "default value" column from the synonyms). Mirrors api/src/main/java/io/kafbat/ui/service/TopicsService.java
     * getTopicConfigs: describeTopics of the topic, then describeConfigs (TOPIC,
     * synonyms; documentation only with the CONFIG_DOCUMENTATION_RETRIEVAL feature,
     * a detected version >= 2.6). samsa-broker names no inter.broker.protocol.version,
     * so kafka-ui sees 1.0-UNKNOWN and does not ask for documentation (DescribeConfigs
     * v3, which samsa-broker lacks: v0-2).
     */
    @Test
    void topicSettingsPage() throws Exception {
        boolean doc = kafkaUiVersion() >= 2.6;
        describeTopics(List.of(orders));
        Map<String, ConfigEntry> cfg = topicConfigs(List.of(orders), doc).get(orders);
        ConfigEntry r = cfg.get("retention.ms");
        assertEquals("86400000", r.value());
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, r.source());
        assertFalse(r.isDefault());
        // kafka-ui's "default value" of an overridden config: the first synonym not from the topic
        // (model/InternalTopicConfig.java from); it must be what a topic without the override has
        List<ConfigEntry.ConfigSynonym> syn = r.synonyms();
        assertFalse(syn.isEmpty(), "synonyms asked for: " + r);
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, syn.get(0).source(), "the entry's own source first");
        assertEquals("86400000", syn.get(0).value());
        String shownDefault = syn.stream().filter(x -> x.source() != ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG)
            .map(ConfigEntry.ConfigSynonym::value).findFirst().orElse(null);
        String plain = topicConfigs(List.of(audit), false).get(audit).get("retention.ms").value();
        assertEquals(plain, shownDefault, "default value shown for retention.ms: " + syn);
        ConfigEntry seg = cfg.get("segment.bytes");
        assertTrue(seg.isDefault(), "segment.bytes: " + seg);
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, seg.source(), "kafka-ui's default value: its own value");
        assertEquals(seg.source(), seg.synonyms().get(0).source(), "a default's first synonym is its own source");
        assertEquals(seg.value(), seg.synonyms().get(0).value());
        // without includeSynonyms: none (what the Java client asks by default)
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, orders);
        assertTrue(call("describeConfigs(no synonyms)", admin.describeConfigs(List.of(res)).all()).get(res)
            .get("retention.ms").synonyms().isEmpty());
    }

    /**
     * Topic messages tab (default mode: from the earliest). Mirrors
     * api/src/main/java/io/kafbat/ui/service/MessagesService.java (the topic described first)
     * and .../emitter/OffsetsInfo.java, SeekOperations.java, ForwardEmitter.java: a consumer without a
     * group (auto.offset.reset earliest, no auto commit, no topic auto-creation):
     * partitionsFor, offsetsForTimes(0) for the first offsets (beginningOffsets where
     * a partition has none), endOffsets, beginningOffsets of the non-empty
     * partitions, assign + seek, poll to the end offsets.
     */
    @Test
    void topicMessagesPage() throws Exception {
        describeTopics(List.of(orders));
        try (KafkaConsumer<String, String> c = consumer(null, Map.of(ConsumerConfig.CLIENT_ID_CONFIG, "kafbat-ui-consumer-1",
                ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false))) {
            List<PartitionInfo> parts = c.partitionsFor(orders);
            assertEquals(3, parts.size());
            List<TopicPartition> tps = parts.stream().map(p -> tp(orders, p.partition())).toList();
            Map<TopicPartition, Long> ts = new HashMap<>();
            tps.forEach(p -> ts.put(p, 0L));
            Map<TopicPartition, OffsetAndTimestamp> first = c.offsetsForTimes(ts);
            assertEquals(0L, first.get(tp(orders, 0)).offset());
            assertEquals(0L, first.get(tp(orders, 1)).offset());
            assertNull(first.get(tp(orders, 2)), "an empty partition: no offset for a time");
            Map<TopicPartition, Long> begin = new HashMap<>(c.beginningOffsets(tps));
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            assertEquals(Map.of(tp(orders, 0), 10L, tp(orders, 1), 5L, tp(orders, 2), 0L), end);
            List<TopicPartition> nonEmpty = tps.stream().filter(p -> end.get(p) > begin.get(p)).toList();
            assertEquals(List.of(tp(orders, 0), tp(orders, 1)), nonEmpty);
            Map<TopicPartition, Long> seek = c.beginningOffsets(nonEmpty);
            c.assign(seek.keySet());
            seek.forEach(c::seek);
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (nonEmpty.stream().anyMatch(p -> c.position(p) < end.get(p))) {
                if (System.nanoTime() > deadline)
                    fail("messages page read " + got.size() + " of 15");
                c.poll(Duration.ofMillis(100)).forEach(got::add);
            }
            assertEquals(15, got.size());
            Set<String> values = got.stream().map(ConsumerRecord::value).collect(Collectors.toSet());
            for (int i = 0; i < 15; i++)
                assertTrue(values.contains("order-" + i), "order-" + i + " missing");
        }
    }

    /**
     * Topic consumers tab. Mirrors api/src/main/java/io/kafbat/ui/service/ConsumerGroupService.java
     * getConsumerGroupsForTopic: describeTopics + listOffsets latest of the topic
     * (ReactiveAdminClient.listTopicOffsets), listConsumerGroups + describeConsumerGroups
     * of all groups, listConsumerGroupOffsets of all groups for the topic's partitions;
     * a group belongs to the topic by an assigned member or a committed offset.
     */
    @Test
    void topicConsumersPage() throws Exception {
        Map<String, TopicDescription> ds = describeTopics(List.of(orders));
        Map<TopicPartition, Long> end = listOffsets(ds.values(), OffsetSpec.latest());
        List<String> groups = new ArrayList<>(listConsumerGroups().keySet());
        Map<String, ConsumerGroupDescription> gds = describeConsumerGroups(groups);
        Map<String, Map<TopicPartition, Long>> committed = listGroupOffsets(groups, new ArrayList<>(end.keySet()));
        Map<TopicPartition, Long> mine = committed.get(billing);
        assertEquals(Map.of(tp(orders, 0), 4L, tp(orders, 1), 5L), mine, "partitions asked for without a commit are left out");
        long lag = 0;
        for (var e : mine.entrySet())
            lag += end.get(e.getKey()) - e.getValue();
        assertEquals(6, lag, "messages behind");
        assertEquals(GroupState.EMPTY, gds.get(billing).groupState());
        assertTrue(gds.get(billing).members().isEmpty());
    }

    /**
     * Topic producers tab. Mirrors api/src/main/java/io/kafbat/ui/service/ReactiveAdminClient.java
     * getActiveProducersState (TopicsService.getActiveProducersState): describeTopics,
     * then describeProducers of every partition; partitions without producers left out.
     */
    @Test
    void topicProducersPage() throws Exception {
        TopicDescription d = describeTopics(List.of(orders)).get(orders);
        List<TopicPartition> tps = new ArrayList<>();
        for (int i = 0; i < d.partitions().size(); i++)
            tps.add(tp(orders, i));
        Map<TopicPartition, List<ProducerState>> active = new HashMap<>();
        call("describeProducers", admin.describeProducers(tps).all()).forEach((p, s) -> {
            if (!s.activeProducers().isEmpty())
                active.put(p, s.activeProducers());
        });
        assertEquals(Set.of(tp(orders, 0), tp(orders, 1)), active.keySet());
        ProducerState s0 = active.get(tp(orders, 0)).get(0);
        assertEquals(producerId, s0.producerId());
        assertEquals(9, s0.lastSequence(), "ten single-record batches: sequences 0..9");
        assertEquals(4, active.get(tp(orders, 1)).get(0).lastSequence());
    }

    /**
     * Consumer groups list, with a live group besides BILLING. Mirrors
     * api/src/main/java/io/kafbat/ui/service/ConsumerGroupService.java
     * getConsumerGroupsPage (order by name): listConsumerGroups (listing with its
     * state, the STATE ordering reads it), describeConsumerGroups of the page, then
     * getConsumerGroups: listConsumerGroupOffsets (all partitions) and listOffsets
     * latest of the committed partitions (members, topics, lag).
     */
    @Test
    @SuppressWarnings({"removal", "deprecation"})
    void consumerGroupsListPage() throws Exception {
        String live = unique("live");
        try (KafkaConsumer<String, String> m = liveMember(live, audit)) {
            m.commitSync(Map.of(tp(audit, 0), new OffsetAndMetadata(1)));
            Map<String, ConsumerGroupListing> listing = listConsumerGroups();
            assertEquals(java.util.Optional.of(GroupState.STABLE), listing.get(live).groupState());
            assertEquals(java.util.Optional.of(GroupState.EMPTY), listing.get(billing).groupState());
            List<String> page = listing.keySet().stream().filter(g -> g.equals(live) || g.equals(billing)).sorted().toList();
            Map<String, ConsumerGroupDescription> gds = describeConsumerGroups(page);
            Map<String, Long> lag = lags(page);
            assertEquals(1, gds.get(live).members().size());
            assertEquals(Set.of(tp(audit, 0)), gds.get(live).members().iterator().next().assignment().topicPartitions());
            assertEquals(GroupState.STABLE, gds.get(live).groupState());
            assertEquals(0, gds.get(live).coordinator().id());
            assertEquals(Map.of(billing, 6L, live, 1L), lag);
        }
    }

    /**
     * Consumer group detail. Mirrors api/src/main/java/io/kafbat/ui/service/ConsumerGroupService.java
     * getConsumerGroupDetail: describeConsumerGroups of the one group, then its
     * committed offsets and the latest offsets of those partitions.
     */
    @Test
    void consumerGroupDetailPage() throws Exception {
        ConsumerGroupDescription d = describeConsumerGroups(List.of(billing)).get(billing);
        assertEquals(GroupState.EMPTY, d.groupState());
        assertEquals(0, d.coordinator().id());
        assertFalse(d.isSimpleConsumerGroup(), "protocol type consumer");
        assertEquals(Map.of(billing, 6L), lags(List.of(billing)));
        assertEquals(Map.of(tp(orders, 0), 4L, tp(orders, 1), 5L), listGroupOffsets(List.of(billing), null).get(billing));
    }

    /**
     * Reset offsets of a group (to the earliest, whole topic). Mirrors
     * api/src/main/java/io/kafbat/ui/service/OffsetsResetService.java resetToEarliest
     * (checkGroupCondition: listConsumerGroups to see it exists, describeConsumerGroups:
     * only an Empty or Dead group; listTopicOffsets: describeTopics + listOffsets
     * earliest; alterConsumerGroupOffsets), on a group of its own.
     */
    @Test
    void resetOffsetsPage() throws Exception {
        String g = unique("reset");
        admin.alterConsumerGroupOffsets(g, Map.of(tp(orders, 0), new OffsetAndMetadata(9),
            tp(orders, 1), new OffsetAndMetadata(5))).all().get();
        assertTrue(listConsumerGroups().containsKey(g), "a group with only offsets is listed");
        GroupState st = describeConsumerGroups(List.of(g)).get(g).groupState();
        assertTrue(st == GroupState.EMPTY || st == GroupState.DEAD, "kafka-ui resets only Empty/Dead groups: " + st);
        Map<String, TopicDescription> ds = describeTopics(List.of(orders));
        Map<TopicPartition, Long> earliest = listOffsets(ds.values(), OffsetSpec.earliest());
        Map<TopicPartition, OffsetAndMetadata> to = new HashMap<>();
        earliest.forEach((p, o) -> to.put(p, new OffsetAndMetadata(o)));
        call("alterConsumerGroupOffsets", admin.alterConsumerGroupOffsets(g, to).all());
        assertEquals(Map.of(tp(orders, 0), 0L, tp(orders, 1), 0L, tp(orders, 2), 0L),
            listGroupOffsets(List.of(g), null).get(g));
        assertEquals(Map.of(g, 15L), lags(List.of(g)));
    }

    /**
     * ACLs page. Mirrors api/src/main/java/io/kafbat/ui/service/acl/AclsService.java and
     * ReactiveAdminClient.listAcls: the page exists only with AUTHORIZED_SECURITY_ENABLED,
     * which describeAcls(ANY) answering SecurityDisabledException turns off
     * (ReactiveAdminClient.isAuthorizedSecurityEnabled): kafka-ui then shows no ACL page
     * rather than a failing one. Also the cluster's authorized operations when asked for
     * (describeCluster with includeAuthorizedOperations, FeatureService.aclEdit).
     */
    @Test
    void aclsPage() throws Exception {
        Throwable t = null;
        try {
            admin.describeAcls(AclBindingFilter.ANY).values().get();
        } catch (ExecutionException e) {
            t = e.getCause();
        }
        assertInstanceOf(SecurityDisabledException.class, t);
        Cluster c = describeCluster(true);
        assertNotNull(c.authorizedOperations(), "asked for: the operations this client may do");
        assertTrue(c.authorizedOperations().contains(AclOperation.DESCRIBE), "" + c.authorizedOperations());
    }

    /** A member of group subscribed to topic, polled until it owns topic's one partition (Stable). */
    private static KafkaConsumer<String, String> liveMember(String group, String topic) {
        KafkaConsumer<String, String> c = consumer(group, Map.of(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic",
            ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000, ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500));
        c.subscribe(List.of(topic));
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (c.assignment().size() != 1) {
            if (System.nanoTime() > deadline) {
                c.close();
                throw new AssertionError("member of " + group + " not assigned: " + c.assignment());
            }
            c.poll(Duration.ofMillis(50));
        }
        return c;
    }
}
