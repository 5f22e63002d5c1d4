package dev.samsa.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** The measured step, the same for both brokers: one record produced and read back. */
final class FirstRecord {
    static final String TOPIC = "startup";

    private FirstRecord() {}

    /**
     * Produces one record (acks=all, idempotent: the client defaults), reads
     * it back from the start of partition 0, then appends one JSON line to
     * the file named by -Dbench.out: the time since the test plan started,
     * since the JVM started, the JVM's heap and RSS, and the broker process's
     * RSS when it is a process of its own (brokerPid > 0).
     */
    static void measure(String target, String bootstrap, long brokerPid) throws IOException {
        String value = "first-" + System.nanoTime();
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>(TOPIC, 0, "k", value)).get();
        } catch (Exception e) {
            throw new IOException("produce to " + bootstrap + " failed", e);
        }
        Properties c = new Properties();
        c.put("bootstrap.servers", bootstrap);
        String seen = null;
        try (KafkaConsumer<String, String> consumer =
                new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(TOPIC, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (seen == null && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                    seen = r.value();
                }
            }
        }
        long now = System.nanoTime();
        assertEquals(value, seen, "the record produced is the record consumed");
        long jvmStartMs = ManagementFactory.getRuntimeMXBean().getStartTime();
        String line = String.format(
                "{\"target\":\"%s\",\"plan_to_first_record_ms\":%.1f,\"jvm_to_first_record_ms\":%d,"
                        + "\"heap_used_mb\":%.1f,\"jvm_rss_mb\":%.1f,\"jvm_hwm_mb\":%.1f,\"broker_rss_mb\":%.1f}%n",
                target, (now - PlanClock.startNanos) / 1e6, System.currentTimeMillis() - jvmStartMs,
                ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() / 1048576.0,
                statusKb("self", "VmRSS") / 1024.0, statusKb("self", "VmHWM") / 1024.0,
                brokerPid > 0 ? statusKb(Long.toString(brokerPid), "VmRSS") / 1024.0 : 0.0);
        String out = System.getProperty("bench.out", "");
        if (out.isEmpty()) {
            System.out.print(line);
        } else {
            Files.writeString(Path.of(out), line, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
    }

    /** A field of /proc/PID/status in kB (-1 when it cannot be read). */
    private static long statusKb(String pid, String key) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc", pid, "status"))) {
                if (l.startsWith(key + ":")) {
                    return Long.parseLong(l.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
