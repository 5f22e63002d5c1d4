package dev.samsa.test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** What a test class under @EmbeddedSamsa gets: a broker that works, its topics, its address. */
@EmbeddedSamsa(topics = {"orders", "payments"}, partitions = 3)
class EmbeddedSamsaTest {

    @Test
    void aRecordProducedIsConsumed(SamsaBroker broker) throws Exception {
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        RecordMetadata md;
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            ProducerRecord<String, String> r = new ProducerRecord<>("orders", "order-1", "{\"total\":600}");
            r.headers().add("h", "v".getBytes(StandardCharsets.UTF_8));
            md = p.send(r).get(60, TimeUnit.SECONDS);
        }
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition("orders", md.partition());
            c.assign(List.of(tp));
            c.seek(tp, md.offset());
            ConsumerRecord<String, String> got = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (got == null && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500)))
                    if (got == null)
                        got = r;
            }
            assertTrue(got != null, "the record produced at " + tp + "@" + md.offset() + " was not consumed");
            assertEquals("order-1", got.key());
            assertEquals("{\"total\":600}", got.value());
            assertEquals(md.offset(), got.offset());
            assertEquals("v", new String(got.headers().lastHeader("h").value(), StandardCharsets.UTF_8));
        }
    }

    @Test
    void topicsHaveTheRequestedPartitions(SamsaBroker broker) throws Exception {
        try (Admin admin = broker.admin()) {
            Map<String, TopicDescription> d =
                    admin.describeTopics(List.of("orders", "payments")).allTopicNames().get(60, TimeUnit.SECONDS);
            assertEquals(3, d.get("orders").partitions().size(), "orders: " + d.get("orders"));
            assertEquals(3, d.get("payments").partitions().size(), "payments: " + d.get("payments"));
        }
    }

    @Test
    void springPropertyAndAccessorNameTheBroker(SamsaBroker broker) {
        assertTrue(broker.isAlive(), broker.toString());
        assertTrue(broker.bootstrapServers().matches("127\\.0\\.0\\.1:[1-9][0-9]*"), broker.bootstrapServers());
        assertEquals(broker.bootstrapServers(), System.getProperty("spring.kafka.bootstrap-servers"));
        assertEquals(broker.bootstrapServers(), EmbeddedSamsaExtension.bootstrapServers());
    }

    @Nested
    class NestedClass {
        @Test
        void usesTheEnclosingBroker(SamsaBroker broker) {
            assertEquals(System.getProperty("spring.kafka.bootstrap-servers"), broker.bootstrapServers());
        }
    }
}
