package dev.samsa.clients;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.TransactionalIdAuthorizationException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * The producer as Kafka 4.x configures it by default: idempotent
 * (enable.idempotence=true), acks=all, with each codec; headers; and a
 * transactional producer refused at once.
 */
class ProducerTest extends BrokerTest {

    /** compression.type -> the codec id of a record batch's attributes (Kafka's). */
    private static int codecId(String codec) {
        return switch (codec) {
            case "none" -> 0;
            case "gzip" -> 1;
            case "snappy" -> 2;
            case "lz4" -> 3;
            case "zstd" -> 4;
            default -> throw new IllegalArgumentException(codec);
        };
    }

    @ParameterizedTest(name = "compression.type={0}")
    @ValueSource(strings = {"none", "gzip", "snappy", "lz4", "zstd"})
    void idempotentAcksAllEveryCodec(String codec) throws Exception {
        String topic = createTopic("codec-" + codec, 2);
        // what the producer below runs with when nothing is set: Kafka 4.x's defaults
        ProducerConfig defaults = new ProducerConfig(producerProps());
        assertEquals("-1", defaults.getString(ProducerConfig.ACKS_CONFIG), "acks=all by default");
        assertTrue(defaults.getBoolean(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG), "idempotence by default");
        int n = 200;
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<String, String> p = producer(Map.of(
                ProducerConfig.COMPRESSION_TYPE_CONFIG, codec,
                ProducerConfig.LINGER_MS_CONFIG, 20))) {
            for (int i = 0; i < n; i++) {
                // values long and repetitive enough that each codec really compresses
                String v = ("value " + i + " ").repeat(20);
                sent.add(p.send(new ProducerRecord<>(topic, i % 2, "key-" + i, v,
                    List.of(new RecordHeader("i", Integer.toString(i).getBytes(StandardCharsets.UTF_8))))));
            }
            p.flush();
        }
        long[] next = new long[2];
        for (int i = 0; i < n; i++) {
            RecordMetadata md = sent.get(i).get();
            assertEquals(i % 2, md.partition(), "partition of record " + i);
            assertEquals(next[i % 2]++, md.offset(), "offset of record " + i);
        }
        for (int part = 0; part < 2; part++) {
            List<ConsumerRecord<String, String>> got = readAll(topic, part);
            assertEquals(n / 2, got.size(), "records in partition " + part);
            for (int j = 0; j < got.size(); j++) {
                int i = 2 * j + part;
                ConsumerRecord<String, String> r = got.get(j);
                assertEquals(j, r.offset());
                assertEquals("key-" + i, r.key());
                assertEquals(("value " + i + " ").repeat(20), r.value());
                assertArrayEquals(Integer.toString(i).getBytes(StandardCharsets.UTF_8), r.headers().lastHeader("i").value());
            }
            // The batches as stored (samsa-broker keeps them as the producer sent
            // them): the codec in the attributes, an idempotent producer's id,
            // epoch 0 and sequences from 0 without a gap.
            List<int[]> batches = batchesOnDisk(topic, part);
            assertTrue(batches.size() >= 1, "batches on disk");
            long pid = -2;
            int seq = 0;
            for (int[] b : batches) {
                assertEquals(codecId(codec), b[0] & 7, "codec of a batch");
                long batchPid = ((long) b[1] << 32) | (b[2] & 0xffffffffL);
                assertTrue(batchPid >= 0, "producer id of an idempotent batch: " + batchPid);
                if (pid == -2)
                    pid = batchPid;
                assertEquals(pid, batchPid, "one producer id");
                assertEquals(0, b[3], "producer epoch");
                assertEquals(seq, b[4], "base sequence");
                seq += b[5];
            }
            assertEquals(n / 2, seq, "records in the stored batches");
        }
    }

    @Test
    void headersNullsAndTimestamps() throws Exception {
        String topic = createTopic("headers", 1);
        List<Header> headers = List.of(
            new RecordHeader("a", "1".getBytes(StandardCharsets.UTF_8)),
            new RecordHeader("a", "2".getBytes(StandardCharsets.UTF_8)),   // repeated key, order kept
            new RecordHeader("empty", new byte[0]),
            new RecordHeader("null", null));
        long ts = 1_700_000_000_123L;
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            assertEquals(0, p.send(new ProducerRecord<>(topic, 0, ts, "k", "v", headers)).get().offset());
            assertEquals(1, p.send(new ProducerRecord<String, String>(topic, 0, ts + 1, null, null)).get().offset());
        }
        List<ConsumerRecord<String, String>> got = readAll(topic, 0);
        assertEquals(2, got.size());
        ConsumerRecord<String, String> r = got.get(0);
        assertEquals("k", r.key());
        assertEquals("v", r.value());
        assertEquals(ts, r.timestamp());
        Header[] h = r.headers().toArray();
        assertEquals(4, h.length);
        assertEquals("a", h[0].key());
        assertArrayEquals("1".getBytes(StandardCharsets.UTF_8), h[0].value());
        assertEquals("a", h[1].key());
        assertArrayEquals("2".getBytes(StandardCharsets.UTF_8), h[1].value());
        assertEquals("empty", h[2].key());
        assertArrayEquals(new byte[0], h[2].value());
        assertEquals("null", h[3].key());
        assertNull(h[3].value());
        ConsumerRecord<String, String> t = got.get(1);
        assertNull(t.key());
        assertNull(t.value());
        assertEquals(ts + 1, t.timestamp());
        assertEquals(0, t.headers().toArray().length);
    }

    /**
     * samsa-broker has no transactions. A producer with a transactional.id
     * must learn that from the broker's answer at once: initTransactions
     * fails with Kafka's fatal TransactionalIdAuthorizationException (what a
     * Kafka broker answers FindCoordinator and InitProducerId for a
     * transactional id the producer may not use), not a TimeoutException
     * after max.block.ms of retried coordinator look-ups.
     */
    @Test
    void transactionsRefusedAtOnce() throws Exception {
        int requestTimeout = 30000;
        try (KafkaProducer<String, String> p = producer(Map.of(
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, unique("tx"),
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, requestTimeout))) {   // max.block.ms: 60 s
            long t0 = System.nanoTime();
            KafkaException e = assertThrows(KafkaException.class, p::initTransactions);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            System.out.println("MEASURED initTransactions refused after " + ms + " ms: " + e);
            assertInstanceOf(TransactionalIdAuthorizationException.class, e,
                "initTransactions' exception (a TimeoutException means the refusal was retried until max.block.ms)");
            assertTrue(ms < requestTimeout, "refused within the client's request timeout, not after it: " + ms + " ms");
            // the producer is unusable for transactions afterwards, as with Kafka
            assertThrows(KafkaException.class, p::beginTransaction);
        }
    }
}
