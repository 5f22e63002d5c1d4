package dev.samsa.compat;

import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.acl.*;
import org.apache.kafka.common.resource.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The differential suite's runner for the Apache Kafka Java client (tests/compat/driver.py):
 * runs scenarios against one broker and prints one JSON line per scenario of what the client
 * observed, normalized (no broker ids, member ids, clock values). The scenario names and their
 * meaning follow tests/compat/runners/py_runner.py.
 *
 *   Runner --bootstrap H:P --prefix P [--scenarios a,b,...]
 */
public final class Runner {
    static final List<String> NAMES = List.of("produce_consume", "metadata", "unknown_topic_partition",
        "topic_configs", "topic_config_names", "invalid_configs", "create_topic_errors", "list_offsets_by_time",
        "delete_records", "too_large", "offset_out_of_range", "group_basic", "subscription_change",
        "static_leader_restart", "member_leaves_mid_rebalance", "describe_groups", "admin_tools");

    static final Map<String, String> LEGACY = new TreeMap<>(Map.of("message.format.version", "2.8-IV1",
        "message.downconversion.enable", "false", "message.timestamp.difference.max.ms", "60000"));
    static final Map<String, String> NEW = new TreeMap<>(Map.of("compression.gzip.level", "5",
        "compression.zstd.level", "-5", "local.retention.ms", "-1", "remote.log.copy.disable", "true",
        "follower.replication.throttled.replicas", "0:1", "segment.index.bytes", "4096",
        "min.cleanable.dirty.ratio", "0.25"));
    static final String[][] BAD = {{"flush.messages", "0"}, {"preallocate", "yes"}, {"compression.gzip.level", "0"},
        {"compression.zstd.level", "23"}, {"min.cleanable.dirty.ratio", "1.5"}, {"retention.ms", "-2"},
        {"segment.ms", "0"}, {"message.timestamp.type", "Foo"}, {"cleanup.policy", "bogus"},
        {"compression.type", "bogus"}, {"remote.storage.enable", "true"}, {"no.such.config", "1"},
        {"retention.ms", "abc"}, {"segment.bytes", "1000"}, {"min.insync.replicas", "2"},
        {"cleanup.policy", "compact"}, {"compression.type", "gzip"}};
    static final List<String> DESCRIBED = List.of("cleanup.policy", "compression.type", "delete.retention.ms",
        "file.delete.delay.ms", "flush.messages", "flush.ms", "index.interval.bytes", "max.compaction.lag.ms",
        "max.message.bytes", "message.timestamp.after.max.ms", "message.timestamp.before.max.ms",
        "message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas",
        "preallocate", "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes",
        "segment.jitter.ms", "segment.ms", "unclean.leader.election.enable", "compression.gzip.level",
        "compression.lz4.level", "compression.zstd.level", "local.retention.bytes", "local.retention.ms",
        "remote.storage.enable");

    final String bs;
    final String prefix;
    final Admin admin;

    Runner(String bs, String prefix) {
        this.bs = bs;
        this.prefix = prefix;
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bs);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        this.admin = Admin.create(p);
    }

    String name(String s) { return prefix + "-" + s; }

    static String err(Throwable e) {
        while ((e instanceof ExecutionException || e instanceof KafkaException && !(e instanceof ApiException))
               && e.getCause() != null && e.getCause() != e)
            e = e.getCause();
        return e.getClass().getSimpleName();
    }

    static Object get(KafkaFuture<?> f) {
        try {
            f.get(30, TimeUnit.SECONDS);
            return null;
        } catch (Exception e) {
            return err(e);
        }
    }

    Object create(String topic, int parts, short rf, Map<String, String> config, boolean validateOnly) {
        NewTopic t = new NewTopic(topic, parts, rf).configs(config);
        Object e = get(admin.createTopics(List.of(t), new CreateTopicsOptions().validateOnly(validateOnly)).all());
        if (e == null && !validateOnly) {
            // Kafka answers CreateTopics before its brokers know the topic: wait for its leaders
            waitFor(() -> {
                try {
                    TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                        .get(10, TimeUnit.SECONDS).get(topic);
                    return d.partitions().size() == parts
                        && d.partitions().stream().allMatch(p -> p.leader() != null && p.leader().id() >= 0);
                } catch (Exception x) {
                    return false;
                }
            }, 20000, "topic " + topic);
        }
        return e;
    }

    Object create(String topic, int parts) { return create(topic, parts, (short) 1, Map.of(), false); }

    KafkaProducer<String, String> producer(Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bs);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 10000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 5000);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    /** Each record sent and awaited; [error, offset] per record. */
    List<Object> produce(KafkaProducer<String, String> p, List<ProducerRecord<String, String>> recs) {
        List<Object> out = new ArrayList<>();
        for (ProducerRecord<String, String> r : recs) {
            try {
                RecordMetadata md = p.send(r).get(20, TimeUnit.SECONDS);
                out.add(Arrays.asList(null, md.offset()));
            } catch (Exception e) {
                out.add(Arrays.asList(err(e), null));
            }
        }
        return out;
    }

    KafkaConsumer<String, String> consumer(String group, Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bs);
        if (group != null)
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 6000);
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 300);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.putAll(extra);
        return new KafkaConsumer<>(p);
    }

    List<Object> read(KafkaConsumer<String, String> c, int n, long timeoutMs) {
        List<Object> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (got.size() < n && System.currentTimeMillis() < deadline) {
            try {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    Map<String, Object> m = new TreeMap<>();
                    m.put("p", r.partition());
                    m.put("o", r.offset());
                    m.put("k", r.key());
                    m.put("v", r.value());
                    List<Object> hs = new ArrayList<>();
                    for (Header h : r.headers())
                        hs.add(List.of(h.key(), new String(h.value())));
                    m.put("h", hs);
                    m.put("ts_type", r.timestampType().toString());
                    m.put("ts", r.timestamp() > 0);
                    got.add(m);
                }
            } catch (Exception e) {
                got.add(Map.of("error", err(e)));
                break;
            }
        }
        return got;
    }

    List<Object> assignment(KafkaConsumer<String, String> c) {
        List<Object> out = new ArrayList<>();
        for (TopicPartition tp : c.assignment())
            out.add(List.of(tp.topic().replace(prefix, "<p>"), tp.partition()));
        out.sort(Comparator.comparing(Object::toString));
        return out;
    }

    static void waitFor(BooleanSupplier cond, long timeoutMs, String what) {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() >= deadline)
                throw new IllegalStateException("timed out waiting for " + what);
        }
    }

    /** Polls every member until they hold want partitions between them, each at least one. */
    void settle(List<KafkaConsumer<String, String>> cs, int want) {
        waitFor(() -> {
            Set<String> all = new HashSet<>();
            int n = 0;
            boolean each = true;
            for (KafkaConsumer<String, String> c : cs) {
                c.poll(Duration.ofMillis(50));
                n += c.assignment().size();
                each &= !c.assignment().isEmpty();
                for (TopicPartition tp : c.assignment())
                    all.add(tp.toString());
            }
            return n == want && all.size() == want && each;
        }, 60000, want + " partitions assigned");
    }

    KafkaConsumer<String, String> member(String group, List<String> topics, String clientId, Map<String, Object> extra) {
        Map<String, Object> m = new HashMap<>(extra);
        m.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        m.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, RangeAssignor.class.getName());
        KafkaConsumer<String, String> c = consumer(group, m);
        c.subscribe(topics);
        return c;
    }

    // -- scenarios

    Map<String, Object> produce_consume() {
        String t = name("pc");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 3));
        List<ProducerRecord<String, String>> recs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ProducerRecord<String, String> r = new ProducerRecord<>(t, 0, "k" + i, "v" + i);
            r.headers().add("h", ("x" + i).getBytes());
            recs.add(r);
        }
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            o.put("produce", produce(p, recs));
            o.put("produce_null_value", produce(p, List.of(new ProducerRecord<>(t, 1, "knull", null))));
        }
        try (KafkaConsumer<String, String> c = consumer(null, Map.of())) {
            List<TopicPartition> tps = List.of(new TopicPartition(t, 0), new TopicPartition(t, 1));
            c.assign(tps);
            c.seekToBeginning(tps);
            List<Object> got = read(c, 6, 30000);
            got.sort(Comparator.comparing(Object::toString));
            o.put("consumed", got);
            List<TopicPartition> all = List.of(new TopicPartition(t, 0), new TopicPartition(t, 1), new TopicPartition(t, 2));
            o.put("end_offsets", byPartition(c.endOffsets(all)));
            o.put("beginning_offsets", byPartition(c.beginningOffsets(all)));
        }
        return o;
    }

    static String byPartition(Map<TopicPartition, Long> m) {
        Map<Integer, Long> out = new TreeMap<>();
        for (Map.Entry<TopicPartition, Long> e : m.entrySet())
            out.put(e.getKey().partition(), e.getValue());
        return out.toString();
    }

    Map<String, Object> metadata() throws Exception {
        String t = name("md");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 3));
        DescribeClusterResult d = admin.describeCluster();
        Collection<Node> nodes = d.nodes().get(30, TimeUnit.SECONDS);
        Set<Integer> ids = new HashSet<>();
        for (Node n : nodes)
            ids.add(n.id());
        o.put("brokers", nodes.size());
        o.put("controller_is_a_broker", ids.contains(d.controller().get(30, TimeUnit.SECONDS).id()));
        o.put("cluster_id_set", d.clusterId().get(30, TimeUnit.SECONDS) != null);
        TopicDescription td = admin.describeTopics(List.of(t)).allTopicNames().get(30, TimeUnit.SECONDS).get(t);
        List<Object> parts = new ArrayList<>();
        for (TopicPartitionInfo pi : td.partitions())
            parts.add(List.of(pi.partition(), ids.contains(pi.leader().id()), pi.replicas().size(), pi.isr().size()));
        o.put("partitions", parts);
        o.put("internal", td.isInternal());
        o.put("topic_id_set", td.topicId() != null && !td.topicId().equals(Uuid.ZERO_UUID));
        Set<String> listed = admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get(30, TimeUnit.SECONDS);
        List<String> internal = new ArrayList<>();
        for (String n : listed)
            if (n.startsWith("__"))
                internal.add(n);
        Collections.sort(internal);
        o.put("internal_topics_listed", internal);
        o.put("unknown_topic", get(admin.describeTopics(List.of(name("md-unknown"))).allTopicNames()));
        return o;
    }

    Map<String, Object> unknown_topic_partition() {
        String t = name("utp");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 2));
        try (KafkaProducer<String, String> p = producer(Map.of(ProducerConfig.MAX_BLOCK_MS_CONFIG, 3000))) {
            o.put("produce_unknown_topic", produce(p, List.of(new ProducerRecord<>(name("utp-none"), 0, "k", "v"))));
            o.put("produce_partition_99", produce(p, List.of(new ProducerRecord<>(t, 99, "k", "v"))));
        }
        return o;
    }

    Map<String, Object> topic_configs() throws Exception {
        String t = name("tcfg");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 1, (short) 1, Map.of("retention.ms", "3600000"), false));
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, t);
        Config cfg = admin.describeConfigs(List.of(r)).all().get(30, TimeUnit.SECONDS).get(r);
        Map<String, Object> described = new TreeMap<>();
        List<String> missing = new ArrayList<>();
        for (String k : DESCRIBED) {
            ConfigEntry e = cfg.get(k);
            if (e == null) {
                missing.add(k);
                continue;
            }
            described.put(k, Arrays.asList(e.value(), e.source().toString(), e.isReadOnly(), e.isSensitive(),
                                           e.type().toString()));
        }
        o.put("described", described);
        o.put("missing", missing);
        return o;
    }

    Map<String, Object> topic_config_names() {
        Map<String, Object> o = new TreeMap<>();
        Map<String, String> all = new TreeMap<>(LEGACY);
        all.putAll(NEW);
        for (Map.Entry<String, String> e : all.entrySet())
            o.put(e.getKey(), create(name("tcn"), 1, (short) 1, Map.of(e.getKey(), e.getValue()), true));
        return o;
    }

    Map<String, Object> invalid_configs() {
        Map<String, Object> o = new TreeMap<>();
        for (String[] kv : BAD)
            o.put(kv[0] + "=" + kv[1], create(name("ic"), 1, (short) 1, Map.of(kv[0], kv[1]), true));
        return o;
    }

    Map<String, Object> create_topic_errors() {
        String t = name("cte");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 2));
        o.put("again", create(t, 2));
        o.put("rf3", create(name("cte-rf3"), 1, (short) 3, Map.of(), false));
        o.put("partitions0", create(name("cte-p0"), 0, (short) 1, Map.of(), false));
        o.put("bad_name", create("bad/name", 1, (short) 1, Map.of(), false));
        o.put("rf3_validate_only", create(name("cte-rf3v"), 1, (short) 3, Map.of(), true));
        return o;
    }

    Map<String, Object> list_offsets_by_time() throws Exception {
        String t = name("lot");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 1));
        long base = System.currentTimeMillis() - 60000;
        List<ProducerRecord<String, String>> recs = new ArrayList<>();
        for (int i = 0; i < 3; i++)
            recs.add(new ProducerRecord<>(t, 0, base + 1000L * i, "k", "v" + i));
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            o.put("produce", produce(p, recs));
        }
        TopicPartition tp = new TopicPartition(t, 0);
        Map<String, Object> res = new TreeMap<>();
        Object[][] specs = {{"before", OffsetSpec.forTimestamp(base - 1)}, {"at0", OffsetSpec.forTimestamp(base)},
            {"mid01", OffsetSpec.forTimestamp(base + 500)}, {"at2", OffsetSpec.forTimestamp(base + 2000)},
            {"after", OffsetSpec.forTimestamp(base + 5000)}, {"earliest", OffsetSpec.earliest()},
            {"latest", OffsetSpec.latest()}, {"max_timestamp", OffsetSpec.maxTimestamp()}};
        for (Object[] s : specs) {
            try {
                ListOffsetsResult.ListOffsetsResultInfo i =
                    admin.listOffsets(Map.of(tp, (OffsetSpec) s[1])).partitionResult(tp).get(30, TimeUnit.SECONDS);
                res.put((String) s[0], Arrays.asList(i.offset(), i.timestamp() > 0));
            } catch (Exception e) {
                res.put((String) s[0], err(e));
            }
        }
        o.put("list_offsets", res);
        try (KafkaConsumer<String, String> c = consumer(null, Map.of())) {
            Map<TopicPartition, OffsetAndTimestamp> m = c.offsetsForTimes(Map.of(tp, base + 500));
            o.put("consumer_offsets_for_times", m.get(tp) == null ? null : m.get(tp).offset());
        }
        return o;
    }

    Map<String, Object> delete_records() throws Exception {
        String t = name("dr");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 1));
        List<ProducerRecord<String, String>> recs = new ArrayList<>();
        for (int i = 0; i < 10; i++)
            recs.add(new ProducerRecord<>(t, 0, null, "v" + i));
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            o.put("produce", produce(p, recs));
        }
        TopicPartition tp = new TopicPartition(t, 0);
        try {
            DeletedRecords d = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4))).lowWatermarks()
                .get(tp).get(30, TimeUnit.SECONDS);
            o.put("low_watermark", d.lowWatermark());
        } catch (Exception e) {
            o.put("low_watermark", err(e));
        }
        try (KafkaConsumer<String, String> c = consumer(null, Map.of())) {
            o.put("beginning", c.beginningOffsets(List.of(tp)).get(tp));
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<Object> got = read(c, 1, 20000);
            o.put("first_read", got.isEmpty() ? null : ((Map<?, ?>) got.get(0)).get("o"));
        }
        o.put("beyond_end", get(admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(50))).all()));
        return o;
    }

    Map<String, Object> too_large() {
        String t = name("tl");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 1, (short) 1, Map.of("max.message.bytes", "2000"), false));
        try (KafkaProducer<String, String> p = producer(Map.of(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none"))) {
            o.put("small", produce(p, List.of(new ProducerRecord<>(t, 0, null, "x".repeat(100)))));
            o.put("large", produce(p, List.of(new ProducerRecord<>(t, 0, null, "x".repeat(6000)))));
            o.put("after", produce(p, List.of(new ProducerRecord<>(t, 0, null, "y".repeat(100)))));
        }
        return o;
    }

    Map<String, Object> offset_out_of_range() {
        String t = name("oor");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 1));
        List<ProducerRecord<String, String>> recs = new ArrayList<>();
        for (int i = 0; i < 3; i++)
            recs.add(new ProducerRecord<>(t, 0, null, "v" + i));
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            o.put("produce", produce(p, recs));
        }
        TopicPartition tp = new TopicPartition(t, 0);
        try (KafkaConsumer<String, String> c = consumer(null, Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"))) {
            c.assign(List.of(tp));
            c.seek(tp, 50);
            List<Object> got = read(c, 1, 20000);
            o.put("reset_earliest", got.isEmpty() ? null : ((Map<?, ?>) got.get(0)).get("o"));
        }
        try (KafkaConsumer<String, String> c = consumer(null, Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none"))) {
            c.assign(List.of(tp));
            c.seek(tp, 50);
            List<Object> got = read(c, 1, 10000);
            o.put("reset_none", got.isEmpty() ? null : got.get(0));
        }
        return o;
    }

    Map<String, Object> group_basic() throws Exception {
        String t = name("gb");
        String g = name("gb-group");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 4));
        List<KafkaConsumer<String, String>> cs = new ArrayList<>();
        for (int i = 1; i <= 2; i++)
            cs.add(member(g, List.of(t), "c" + i, Map.of()));
        try {
            settle(cs, 4);
            List<Object> as = new ArrayList<>();
            for (KafkaConsumer<String, String> c : cs)
                as.add(assignment(c));
            o.put("assignment", as);
            try (KafkaProducer<String, String> p = producer(Map.of())) {
                List<ProducerRecord<String, String>> recs = new ArrayList<>();
                for (int q = 0; q < 4; q++)
                    recs.add(new ProducerRecord<>(t, q, null, "m" + q));
                produce(p, recs);
            }
            List<Object> by = new ArrayList<>();
            for (KafkaConsumer<String, String> c : cs) {
                List<Object> got = read(c, 2, 30000);
                List<Object> po = new ArrayList<>();
                for (Object m : got)
                    po.add(m instanceof Map && ((Map<?, ?>) m).containsKey("p")
                           ? List.of(((Map<?, ?>) m).get("p"), ((Map<?, ?>) m).get("o")) : m);
                po.sort(Comparator.comparing(Object::toString));
                by.add(po);
                c.commitSync();
            }
            o.put("consumed_by", by);
            Set<TopicPartition> tps = new HashSet<>();
            for (int q = 0; q < 4; q++)
                tps.add(new TopicPartition(t, q));
            Map<TopicPartition, OffsetAndMetadata> com = cs.get(0).committed(tps);
            Map<Integer, Long> committed = new TreeMap<>();
            for (Map.Entry<TopicPartition, OffsetAndMetadata> e : com.entrySet())
                committed.put(e.getKey().partition(), e.getValue() == null ? null : e.getValue().offset());
            o.put("committed", committed.toString());
            Map<TopicPartition, OffsetAndMetadata> adm = admin.listConsumerGroupOffsets(g)
                .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            Map<Integer, Long> listed = new TreeMap<>();
            for (Map.Entry<TopicPartition, OffsetAndMetadata> e : adm.entrySet())
                listed.put(e.getKey().partition(), e.getValue().offset());
            o.put("admin_offsets", listed.toString());
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(g)).describedGroups().get(g)
                .get(30, TimeUnit.SECONDS);
            o.put("state", d.groupState().toString());
            o.put("type", d.type().toString());
            o.put("assignor", d.partitionAssignor());
            List<Object> ms = new ArrayList<>();
            for (MemberDescription m : d.members()) {
                List<Object> parts = new ArrayList<>();
                for (TopicPartition tp : m.assignment().topicPartitions())
                    parts.add(tp.partition());
                parts.sort(Comparator.comparing(Object::toString));
                ms.add(List.of(m.clientId(), m.consumerId().startsWith(m.clientId() + "-"), parts,
                               m.host().startsWith("/")));
            }
            ms.sort(Comparator.comparing(Object::toString));
            o.put("members", ms);
        } finally {
            for (KafkaConsumer<String, String> c : cs)
                c.close();
        }
        return o;
    }

    Map<String, Object> describe_groups() throws Exception {
        String g = name("dg-group");
        Map<String, Object> o = new TreeMap<>();
        String t = name("dg");
        o.put("create", create(t, 1));
        try (KafkaConsumer<String, String> c = member(g, List.of(t), "c1", Map.of())) {
            settle(List.of(c), 1);
            c.commitSync(Map.of(new TopicPartition(t, 0), new OffsetAndMetadata(0, "meta")));
        }
        Collection<ConsumerGroupListing> ls = admin.listConsumerGroups().all().get(30, TimeUnit.SECONDS);
        for (ConsumerGroupListing l : ls)
            if (l.groupId().equals(g))
                o.put("listed", Arrays.asList(l.isSimpleConsumerGroup(), l.groupState().map(Object::toString).orElse(null),
                                              l.type().map(Object::toString).orElse(null)));
        ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(g)).describedGroups().get(g)
            .get(30, TimeUnit.SECONDS);
        o.put("state_after_close", d.groupState().toString());
        o.put("members_after_close", d.members().size());
        try {
            o.put("unknown_group", admin.describeConsumerGroups(List.of(name("dg-none"))).describedGroups()
                .get(name("dg-none")).get(30, TimeUnit.SECONDS).groupState().toString());
        } catch (Exception e) {
            o.put("unknown_group", err(e));
        }
        o.put("delete", get(admin.deleteConsumerGroups(List.of(g)).all()));
        o.put("delete_unknown", get(admin.deleteConsumerGroups(List.of(name("dg-none2"))).all()));
        return o;
    }

    Map<String, Object> subscription_change() {
        String ta = name("sc-a"), tb = name("sc-b"), g = name("sc-group");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", Arrays.asList(create(ta, 2), create(tb, 2)));
        List<KafkaConsumer<String, String>> cs = new ArrayList<>();
        for (int i = 1; i <= 2; i++)
            cs.add(member(g, List.of(ta), "c" + i, Map.of()));
        try {
            settle(cs, 2);
            o.put("before", Arrays.asList(assignment(cs.get(0)), assignment(cs.get(1))));
            cs.get(1).subscribe(List.of(ta, tb));
            settle(cs, 4);
            o.put("after", Arrays.asList(assignment(cs.get(0)), assignment(cs.get(1))));
        } finally {
            for (KafkaConsumer<String, String> c : cs)
                c.close();
        }
        return o;
    }

    Map<String, Object> static_leader_restart() {
        String t = name("slr"), g = name("slr-group");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 4));
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        Map<String, Object> s1 = Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "i1",
                                        ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 30000);
        Map<String, Object> s2 = Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "i2",
                                        ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 30000);
        KafkaConsumer<String, String> c1 = member(g, List.of(t), "c1", s1);
        KafkaConsumer<String, String> c2 = null;
        try {
            settle(List.of(c1), 4);
            c2 = consumer(g, new HashMap<>(Map.of(ConsumerConfig.CLIENT_ID_CONFIG, "c2",
                ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, RangeAssignor.class.getName(),
                ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "i2", ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 30000)));
            c2.subscribe(List.of(t), new ConsumerRebalanceListener() {
                public void onPartitionsRevoked(Collection<TopicPartition> ps) { events.add("revoke " + ps.size()); }
                public void onPartitionsAssigned(Collection<TopicPartition> ps) { events.add("assign " + ps.size()); }
            });
            settle(List.of(c1, c2), 4);
            o.put("before", Arrays.asList(assignment(c1), assignment(c2)));
            events.clear();
            c1.close();   // a static member's close sends no LeaveGroup
            c1 = member(g, List.of(t), "c1", s1);
            settle(List.of(c1, c2), 4);
            for (int i = 0; i < 20; i++) {
                c1.poll(Duration.ofMillis(50));
                c2.poll(Duration.ofMillis(50));
            }
            o.put("after", Arrays.asList(assignment(c1), assignment(c2)));
            o.put("c2_events_after_restart", new ArrayList<>(events));
        } finally {
            c1.close();
            if (c2 != null)
                c2.close();
        }
        return o;
    }

    Map<String, Object> member_leaves_mid_rebalance() {
        String t = name("mlr"), g = name("mlr-group");
        Map<String, Object> o = new TreeMap<>();
        o.put("create", create(t, 6));
        List<KafkaConsumer<String, String>> cs = new ArrayList<>();
        for (int i = 1; i <= 2; i++)
            cs.add(member(g, List.of(t), "c" + i, Map.of()));
        KafkaConsumer<String, String> c3 = null;
        try {
            settle(cs, 6);
            c3 = member(g, List.of(t), "c3", Map.of());
            c3.poll(Duration.ofMillis(50));
            cs.get(1).close();
            settle(List.of(cs.get(0), c3), 6);
            o.put("after", Arrays.asList(assignment(cs.get(0)), assignment(c3)));
        } finally {
            cs.get(0).close();
            if (c3 != null)
                c3.close();
        }
        return o;
    }

    // -- JSON out

    /** The describe side the admin tools read (kafka-ui, Redpanda Console, kafka-*.sh): cluster,
     *  log dirs, producers, reassignments, ACLs (no authorizer), incremental config changes, and
     *  groups listed by state. */
    Object admin_tools() throws Exception {
        Map<String, Object> o = new LinkedHashMap<>();
        String t = name("at");
        o.put("create", create(t, 2));
        DescribeClusterResult dc = admin.describeCluster(new DescribeClusterOptions().includeAuthorizedOperations(true));
        Collection<Node> nodes = dc.nodes().get(30, TimeUnit.SECONDS);
        Node ctl = dc.controller().get(30, TimeUnit.SECONDS);
        o.put("cluster_nodes", nodes.size());
        o.put("cluster_controller_is_a_node", nodes.stream().anyMatch(n -> ctl != null && n.id() == ctl.id()));
        o.put("cluster_id_set", dc.clusterId().get(30, TimeUnit.SECONDS) != null);
        Set<AclOperation> ops = dc.authorizedOperations().get(30, TimeUnit.SECONDS);
        o.put("cluster_operations", ops == null ? null : new TreeSet<>(ops.stream().map(Enum::name).toList()));
        int node = nodes.iterator().next().id();

        // an idempotent producer writes 3 records to partition 1
        try (KafkaProducer<String, String> p = producer(Map.of(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true))) {
            o.put("produce", produce(p, List.of(new ProducerRecord<>(t, 1, "k0", "v0"),
                new ProducerRecord<>(t, 1, "k1", "v1"), new ProducerRecord<>(t, 1, "k2", "v2"))));
        }
        TopicPartition p0 = new TopicPartition(t, 0), p1 = new TopicPartition(t, 1);
        Map<String, Object> prods = new TreeMap<>();
        try {
            Map<TopicPartition, DescribeProducersResult.PartitionProducerState> st =
                admin.describeProducers(List.of(p0, p1)).all().get(30, TimeUnit.SECONDS);
            for (Map.Entry<TopicPartition, DescribeProducersResult.PartitionProducerState> e : st.entrySet()) {
                List<Object> ps = new ArrayList<>();
                for (ProducerState s : e.getValue().activeProducers())
                    ps.add(Arrays.asList(s.producerEpoch(), s.lastSequence(), s.lastTimestamp() > 0,
                        s.coordinatorEpoch().isPresent(), s.currentTransactionStartOffset().isPresent()));
                prods.put(String.valueOf(e.getKey().partition()), ps);
            }
            o.put("producers", prods);
        } catch (Exception e) {
            o.put("producers", err(e));
        }

        Map<String, LogDirDescription> dirs = admin.describeLogDirs(List.of(node)).allDescriptions()
            .get(30, TimeUnit.SECONDS).get(node);
        Map<String, Object> parts = new TreeMap<>();
        int dirsWithTopic = 0;
        for (LogDirDescription d : dirs.values()) {
            boolean any = false;
            for (Map.Entry<TopicPartition, ReplicaInfo> e : d.replicaInfos().entrySet()) {
                if (!e.getKey().topic().equals(t))
                    continue;
                any = true;
                ReplicaInfo ri = e.getValue();
                parts.put(String.valueOf(e.getKey().partition()),
                    Arrays.asList(ri.size() > 0, ri.offsetLag(), ri.isFuture()));
            }
            if (any)
                dirsWithTopic++;
            o.put("log_dir_error", d.error() == null ? null : err(d.error()));
            o.put("log_dir_bytes", d.totalBytes().isPresent() && d.usableBytes().isPresent()
                && d.usableBytes().getAsLong() <= d.totalBytes().getAsLong());
        }
        o.put("log_dir_partitions", parts);
        o.put("log_dirs_with_topic", dirsWithTopic);

        o.put("reassignments", admin.listPartitionReassignments().reassignments().get(30, TimeUnit.SECONDS).size());
        o.put("reassignments_of_topic", admin.listPartitionReassignments(Set.of(p0, p1)).reassignments()
            .get(30, TimeUnit.SECONDS).size());

        try {
            o.put("client_quotas", admin.describeClientQuotas(org.apache.kafka.common.quota.ClientQuotaFilter.all())
                .entities().get(30, TimeUnit.SECONDS).size());
        } catch (Exception e) {
            o.put("client_quotas", err(e));
        }
        o.put("client_quotas_bad_entity", get(admin.describeClientQuotas(org.apache.kafka.common.quota.ClientQuotaFilter
            .contains(List.of(org.apache.kafka.common.quota.ClientQuotaFilterComponent.ofEntityType("group")))).entities()));
        try {
            o.put("transactions", admin.listTransactions().all().get(30, TimeUnit.SECONDS).size());
        } catch (Exception e) {
            o.put("transactions", err(e));
        }
        o.put("describe_acls", get(admin.describeAcls(AclBindingFilter.ANY).values()));
        AclBinding acl = new AclBinding(new ResourcePattern(ResourceType.TOPIC, t, PatternType.LITERAL),
            new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW));
        o.put("create_acls", get(admin.createAcls(List.of(acl)).all()));
        o.put("delete_acls", get(admin.deleteAcls(List.of(AclBindingFilter.ANY)).all()));

        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, t);
        o.put("iac_set", get(admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET),
            new AlterConfigOp(new ConfigEntry("max.message.bytes", "2000"), AlterConfigOp.OpType.SET)))).all()));
        o.put("iac_delete", get(admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("max.message.bytes", null), AlterConfigOp.OpType.DELETE)))).all()));
        o.put("iac_append", get(admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("cleanup.policy", "delete"), AlterConfigOp.OpType.APPEND)))).all()));
        o.put("iac_subtract_non_list", get(admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "1"), AlterConfigOp.OpType.SUBTRACT)))).all()));
        o.put("iac_invalid_value", get(admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "abc"), AlterConfigOp.OpType.SET)))).all()));
        o.put("iac_validate_only", get(admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "1000"), AlterConfigOp.OpType.SET))),
            new AlterConfigsOptions().validateOnly(true)).all()));
        o.put("iac_unknown_topic", get(admin.incrementalAlterConfigs(Map.of(
            new ConfigResource(ConfigResource.Type.TOPIC, name("at-none")), List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "1"), AlterConfigOp.OpType.SET)))).all()));
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(node));
        o.put("iac_broker_static", get(admin.incrementalAlterConfigs(Map.of(broker, List.of(
            new AlterConfigOp(new ConfigEntry("log.dirs", "/tmp/x"), AlterConfigOp.OpType.SET)))).all()));
        o.put("iac_broker_dynamic", get(admin.incrementalAlterConfigs(Map.of(broker, List.of(
            new AlterConfigOp(new ConfigEntry("log.retention.ms", "604800000"), AlterConfigOp.OpType.SET)))).all()));
        o.put("iac_broker_delete", get(admin.incrementalAlterConfigs(Map.of(broker, List.of(
            new AlterConfigOp(new ConfigEntry("log.retention.ms", null), AlterConfigOp.OpType.DELETE)))).all()));
        Config c = admin.describeConfigs(List.of(res)).all().get(30, TimeUnit.SECONDS).get(res);
        Map<String, Object> after = new TreeMap<>();
        for (String k : List.of("retention.ms", "max.message.bytes", "cleanup.policy")) {
            ConfigEntry e = c.get(k);
            after.put(k, e == null ? null : Arrays.asList(e.value(), e.source().toString()));
        }
        o.put("configs_after", after);

        // a group with a committed offset and no member: Empty; listed by state
        String g = name("at-group");
        try (KafkaConsumer<String, String> cons = consumer(g, Map.of())) {
            cons.assign(List.of(p1));
            cons.commitSync(Map.of(p1, new OffsetAndMetadata(1)));
        }
        o.put("groups_empty", admin.listConsumerGroups(new ListConsumerGroupsOptions().inGroupStates(Set.of(GroupState.EMPTY)))
            .all().get(30, TimeUnit.SECONDS).stream().filter(x -> x.groupId().equals(g))
            .map(x -> x.groupState().map(Enum::name).orElse("?")).toList());
        o.put("groups_stable", admin.listConsumerGroups(new ListConsumerGroupsOptions().inGroupStates(Set.of(GroupState.STABLE)))
            .all().get(30, TimeUnit.SECONDS).stream().filter(x -> x.groupId().equals(g)).count());
        return o;
    }

    static String json(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v);
        return b.toString();
    }

    static void write(StringBuilder b, Object v) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof String) {
            b.append('"');
            for (char ch : ((String) v).toCharArray()) {
                if (ch == '"' || ch == '\\')
                    b.append('\\').append(ch);
                else if (ch < 0x20)
                    b.append(String.format("\\u%04x", (int) ch));
                else
                    b.append(ch);
            }
            b.append('"');
        } else if (v instanceof Boolean || v instanceof Number) {
            b.append(v);
        } else if (v instanceof Map) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first)
                    b.append(", ");
                first = false;
                write(b, String.valueOf(e.getKey()));
                b.append(": ");
                write(b, e.getValue());
            }
            b.append('}');
        } else if (v instanceof Collection) {
            b.append('[');
            boolean first = true;
            for (Object x : (Collection<?>) v) {
                if (!first)
                    b.append(", ");
                first = false;
                write(b, x);
            }
            b.append(']');
        } else {
            write(b, v.toString());
        }
    }

    public static void main(String[] args) throws Exception {
        String bs = null, prefix = null, scen = String.join(",", NAMES);
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--bootstrap": bs = args[i + 1]; break;
                case "--prefix": prefix = args[i + 1]; break;
                case "--scenarios": scen = args[i + 1]; break;
                default: throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Runner r = new Runner(bs, prefix);
        for (String s : scen.split(",")) {
            long t0 = System.nanoTime();
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("scenario", s);
            try {
                java.lang.reflect.Method m = Runner.class.getDeclaredMethod(s);
                out.put("obs", m.invoke(r));
            } catch (NoSuchMethodException e) {
                out.put("unsupported", "not written for the Java client");
            } catch (java.lang.reflect.InvocationTargetException e) {
                e.getCause().printStackTrace();
                out.put("error", err(e.getCause()) + ": " + e.getCause().getMessage());
            }
            out.put("seconds", Math.round((System.nanoTime() - t0) / 1e7) / 100.0);
            System.out.println(json(out));
            System.out.flush();
        }
        r.admin.close(Duration.ofSeconds(5));
        System.exit(0);
    }
}
