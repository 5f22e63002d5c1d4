package dev.samsa.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * One samsa-broker per test class (JUnit runs the classes one after another),
 * started before its first test and stopped by pid after its last, also when
 * a test failed; the class fails when the broker did not survive, did not
 * exit 0 on SIGTERM or logged a sanitizer report. The broker runs as the
 * differential suite runs it: no auto-created topics, no initial rebalance
 * delay, sessions down to 1 s.
 */
abstract class BrokerTest {
    static SamsaBroker broker;
    static Admin admin;
    private static final AtomicInteger SEQ = new AtomicInteger();

    static final Map<String, String> BROKER_PROPS = Map.of(
        "auto.create.topics.enable", "false",
        "group.initial.rebalance.delay.ms", "0",
        "group.min.session.timeout.ms", "1000");

    @BeforeAll
    static void startBroker() throws Exception {
        broker = SamsaBroker.start(BROKER_PROPS);
        admin = Admin.create(adminProps());
    }

    @AfterAll
    static void stopBroker() throws Exception {
        try {
            if (admin != null)
                admin.close(Duration.ofSeconds(10));
        } finally {
            admin = null;
            String problem = broker == null ? null : broker.stop();
            broker = null;
            if (problem != null)
                fail(problem);
        }
    }

    /** A topic name no other test of the class uses. */
    static String unique(String prefix) {
        return prefix + "-" + SEQ.incrementAndGet() + "-" + Long.toHexString(System.nanoTime() & 0xffffff);
    }

    static String createTopic(String prefix, int partitions) throws Exception {
        String name = unique(prefix);
        admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get();
        return name;
    }

    static Properties adminProps() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        return p;
    }

    static Properties producerProps() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return p;
    }

    static KafkaProducer<String, String> producer(Map<String, Object> extra) {
        Properties p = producerProps();
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    static Properties consumerProps(String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        if (group != null)
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        return p;
    }

    static KafkaConsumer<String, String> consumer(String group, Map<String, Object> extra) {
        Properties p = consumerProps(group);
        p.putAll(extra);
        return new KafkaConsumer<>(p);
    }

    /** count records "k<i>" -> "v<i>" to one partition, acknowledged; returns their offsets. */
    static List<Long> produce(String topic, int partition, int count, String tag) throws Exception {
        List<Long> offsets = new ArrayList<>();
        try (KafkaProducer<String, String> p = producer(Map.of(ProducerConfig.LINGER_MS_CONFIG, 5))) {
            List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < count; i++)
                fs.add(p.send(new ProducerRecord<>(topic, partition, tag + "k" + i, tag + "v" + i)));
            for (var f : fs)
                offsets.add(f.get().offset());
        }
        return offsets;
    }

    /** Polls an assigned (not subscribed) consumer until it has count records, in order of arrival. */
    static List<ConsumerRecord<String, String>> pollCount(KafkaConsumer<String, String> c, int count, Duration timeout) {
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (got.size() < count) {
            if (System.nanoTime() > deadline)
                fail("timed out after " + timeout.toSeconds() + " s with " + got.size() + " of " + count + " records");
            c.poll(Duration.ofMillis(100)).forEach(got::add);
        }
        return got;
    }

    /** Reads a whole partition from offset 0 to its end (no group). */
    static List<ConsumerRecord<String, String>> readAll(String topic, int partition) {
        TopicPartition tp = new TopicPartition(topic, partition);
        try (KafkaConsumer<String, String> c = consumer(null, Map.of())) {
            c.assign(List.of(tp));
            long end = c.endOffsets(List.of(tp)).get(tp);
            c.seekToBeginning(List.of(tp));
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (c.position(tp) < end) {
                if (System.nanoTime() > deadline)
                    fail("timed out reading " + tp + " up to " + end + " at " + c.position(tp));
                c.poll(Duration.ofMillis(100)).forEach(got::add);
            }
            return got;
        }
    }

    static void assertOffsets(List<Long> got, long first, int count) {
        List<Long> want = new ArrayList<>();
        for (long o = first; o < first + count; o++)
            want.add(o);
        assertEquals(want, got, "offsets acknowledged");
    }

    static Map<String, String> map(String... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2)
            m.put(kv[i], kv[i + 1]);
        return m;
    }

    /**
     * Each batch of a partition's segment files: {attributes, producer id
     * high, low, epoch, base sequence, record count} (Kafka's record batch v2
     * layout, which samsa-broker stores unchanged).
     */
    static List<int[]> batchesOnDisk(String topic, int partition) throws Exception {
        Path dir = broker.dataDir().resolve(topic + "-" + partition);
        List<Path> logs;
        try (Stream<Path> s = Files.list(dir)) {
            logs = s.filter(p -> p.toString().endsWith(".log")).sorted().toList();
        }
        List<int[]> out = new ArrayList<>();
        for (Path log : logs) {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(log));
            while (b.remaining() >= 61) {
                int start = b.position();
                int len = b.getInt(start + 8);
                if (len <= 0 || start + 12 + len > b.limit())
                    break;
                out.add(new int[] {b.getShort(start + 21), b.getInt(start + 43), b.getInt(start + 47),
                    b.getShort(start + 51), b.getInt(start + 53), b.getInt(start + 57)});
                b.position(start + 12 + len);
            }
        }
        return out;
    }

}
