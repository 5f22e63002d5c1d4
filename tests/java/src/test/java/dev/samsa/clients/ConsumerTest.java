package dev.samsa.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * The consumer (classic group protocol, Kafka 4.x's default): groups with the
 * range and cooperative-sticky assignors and static membership, subscription
 * changes, pause/resume, seek, offsetsForTimes, commitSync and commitAsync.
 * Several consumers of one group are polled in turn from this thread.
 */
class ConsumerTest extends BrokerTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    /** A group member: its consumer, the records it got, the rebalance callbacks it saw. */
    static final class Member implements ConsumerRebalanceListener {
        final KafkaConsumer<String, String> c;
        final List<ConsumerRecord<String, String>> records = new ArrayList<>();
        final List<Set<TopicPartition>> revoked = new ArrayList<>();
        final List<Set<TopicPartition>> assigned = new ArrayList<>();
        final List<Set<TopicPartition>> lost = new ArrayList<>();

        Member(String group, Map<String, Object> extra) {
            Map<String, Object> p = new HashMap<>(Map.of(
                ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic",
                ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000,
                ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500));
            p.putAll(extra);
            c = consumer(group, p);
        }

        void subscribe(Collection<String> topics) {
            c.subscribe(topics, this);
        }

        void poll() {
            c.poll(Duration.ofMillis(50)).forEach(records::add);
        }

        Set<TopicPartition> assignment() {
            return c.assignment();
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            revoked.add(new HashSet<>(partitions));
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            assigned.add(new HashSet<>(partitions));
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            lost.add(new HashSet<>(partitions));
        }
    }

    /** Polls every member in turn until cond holds. */
    static void pollUntil(List<Member> members, String what, BooleanSupplier cond) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                StringBuilder sb = new StringBuilder();
                for (Member m : members)
                    sb.append("\n  member: assignment ").append(m.assignment()).append(", records ").append(m.records.size());
                fail("timed out after " + WAIT.toSeconds() + " s waiting for " + what + sb);
            }
            for (Member m : members)
                m.poll();
        }
    }

    static Set<TopicPartition> partitions(String topic, int... ps) {
        Set<TopicPartition> s = new HashSet<>();
        for (int p : ps)
            s.add(new TopicPartition(topic, p));
        return s;
    }

    static void closeAll(List<Member> members) {
        for (Member m : members)
            m.c.close();
    }

    static void produceEach(String topic, int partitions, int perPartition) throws Exception {
        for (int p = 0; p < partitions; p++)
            assertOffsets(produce(topic, p, perPartition, "p" + p + "-"), 0, perPartition);
    }

    @Test
    void rangeGroupConsumesEveryRecordOnceAndCommits() throws Exception {
        String topic = createTopic("range", 4);
        String group = unique("g-range");
        Map<String, Object> range = Map.of(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, RangeAssignor.class.getName());
        Member a = new Member(group, range), b = new Member(group, range);
        List<Member> ms = List.of(a, b);
        try {
            a.subscribe(List.of(topic));
            b.subscribe(List.of(topic));
            pollUntil(ms, "two members with 2 partitions each",
                () -> a.assignment().size() == 2 && b.assignment().size() == 2);
            produceEach(topic, 4, 10);
            pollUntil(ms, "40 records", () -> a.records.size() + b.records.size() >= 40);
            // range: each member a contiguous half, together all four
            Set<Set<TopicPartition>> halves = Set.of(partitions(topic, 0, 1), partitions(topic, 2, 3));
            assertTrue(halves.contains(a.assignment()), "a's range: " + a.assignment());
            assertTrue(halves.contains(b.assignment()), "b's range: " + b.assignment());
            assertTrue(!a.assignment().equals(b.assignment()));
            // every record exactly once, from its member's partitions
            Set<String> seen = new TreeSet<>();
            for (Member m : ms)
                for (ConsumerRecord<String, String> r : m.records) {
                    assertTrue(m.assignment().contains(new TopicPartition(r.topic(), r.partition())));
                    assertTrue(seen.add(r.partition() + "@" + r.offset()), "twice: " + r);
                    assertEquals("p" + r.partition() + "-v" + r.offset(), r.value());
                }
            assertEquals(40, seen.size());
            a.c.commitSync();
            b.c.commitSync();
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata().get();
            assertEquals(4, committed.size());
            for (int p = 0; p < 4; p++)
                assertEquals(10, committed.get(new TopicPartition(topic, p)).offset(), "committed offset of " + p);
        } finally {
            closeAll(ms);
        }
    }

    @Test
    void cooperativeStickyRevokesOnlyWhatMoves() throws Exception {
        String topic = createTopic("coop", 4);
        String group = unique("g-coop");
        Map<String, Object> coop = Map.of(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
            CooperativeStickyAssignor.class.getName());
        Member a = new Member(group, coop);
        Member b = new Member(group, coop);
        try {
            a.subscribe(List.of(topic));
            pollUntil(List.of(a), "a alone owning all 4 partitions", () -> a.assignment().size() == 4);
            int revokedBefore = a.revoked.size();
            b.subscribe(List.of(topic));
            pollUntil(List.of(a, b), "2 partitions each",
                () -> a.assignment().size() == 2 && b.assignment().size() == 2);
            Set<TopicPartition> all = new HashSet<>(a.assignment());
            all.addAll(b.assignment());
            assertEquals(partitions(topic, 0, 1, 2, 3), all);
            // incremental: a gave up exactly the two partitions b got, never all four, lost none
            Set<TopicPartition> gaveUp = new HashSet<>();
            for (Set<TopicPartition> r : a.revoked.subList(revokedBefore, a.revoked.size()))
                gaveUp.addAll(r);
            assertEquals(b.assignment(), gaveUp, "a's revocations");
            assertTrue(a.lost.isEmpty(), "a lost " + a.lost);
            // and the group is consumed as one: records produced now reach their owner
            produceEach(topic, 4, 5);
            pollUntil(List.of(a, b), "20 records", () -> a.records.size() + b.records.size() >= 20);
            for (Member m : List.of(a, b))
                for (ConsumerRecord<String, String> r : m.records)
                    assertTrue(m.assignment().contains(new TopicPartition(r.topic(), r.partition())));
            assertEquals(20, a.records.size() + b.records.size());
        } finally {
            closeAll(List.of(a, b));
        }
    }

    @Test
    void staticMemberReturnsWithoutRebalance() throws Exception {
        String topic = createTopic("static", 2);
        String group = unique("g-static");
        Map<String, Object> range = Map.of(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, RangeAssignor.class.getName(),
            ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "instance-a");
        Member a = new Member(group, range);
        Member b = new Member(group, Map.of(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, RangeAssignor.class.getName(),
            ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "instance-b"));
        Member a2 = null;
        try {
            // a first, alone: it leads the group (and keeps leading when b joins), so its
            // return is a static leader's, the case Kafka takes most care of
            a.subscribe(List.of(topic));
            pollUntil(List.of(a), "a alone with both partitions", () -> a.assignment().size() == 2);
            b.subscribe(List.of(topic));
            pollUntil(List.of(a, b), "one partition each", () -> a.assignment().size() == 1 && b.assignment().size() == 1);
            Set<TopicPartition> aHad = a.assignment();
            int generation = b.c.groupMetadata().generationId();
            int bAssigned = b.assigned.size();
            int bRevoked = b.revoked.size();
            // a static member's close sends no LeaveGroup: the group keeps its place
            a.c.close();
            Member back = new Member(group, range);
            a2 = back;
            back.subscribe(List.of(topic));
            pollUntil(List.of(back, b), "instance-a back with its partition", () -> back.assignment().equals(aHad));
            // b saw nothing: same generation, no callback
            for (int i = 0; i < 10; i++)
                b.poll();
            assertEquals(generation, b.c.groupMetadata().generationId(), "b's generation");
            assertEquals(bAssigned, b.assigned.size(), "b's onPartitionsAssigned calls");
            assertEquals(bRevoked, b.revoked.size(), "b's onPartitionsRevoked calls");
            var desc = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            Set<String> instances = new TreeSet<>();
            desc.members().forEach(m -> instances.add(m.groupInstanceId().orElse("-")));
            assertEquals(Set.of("instance-a", "instance-b"), instances);
        } finally {
            if (a2 != null)
                a2.c.close();
            b.c.close();
        }
    }

    @Test
    void subscriptionChanges() throws Exception {
        String t1 = createTopic("sub1", 2);
        String t2 = createTopic("sub2", 1);
        String group = unique("g-sub");
        Member a = new Member(group, Map.of());
        try {
            a.subscribe(List.of(t1));
            pollUntil(List.of(a), "t1's partitions", () -> a.assignment().equals(partitions(t1, 0, 1)));
            a.subscribe(List.of(t1, t2));
            pollUntil(List.of(a), "t1's and t2's partitions", () -> {
                Set<TopicPartition> want = partitions(t1, 0, 1);
                want.addAll(partitions(t2, 0));
                return a.assignment().equals(want);
            });
            a.subscribe(List.of(t2));
            pollUntil(List.of(a), "t2's partition only", () -> a.assignment().equals(partitions(t2, 0)));
            assertEquals(Set.of(t2), a.c.subscription());
            assertOffsets(produce(t2, 0, 3, "s"), 0, 3);
            pollUntil(List.of(a), "t2's 3 records", () -> a.records.size() >= 3);
            assertEquals(3, a.records.size());
            for (ConsumerRecord<String, String> r : a.records)
                assertEquals(t2, r.topic());
            a.c.unsubscribe();
            assertTrue(a.c.assignment().isEmpty());
        } finally {
            a.c.close();
        }
    }

    @Test
    void pauseAndResume() throws Exception {
        String topic = createTopic("pause", 2);
        TopicPartition p0 = new TopicPartition(topic, 0), p1 = new TopicPartition(topic, 1);
        try (KafkaConsumer<String, String> c = consumer(null, Map.of())) {
            c.assign(List.of(p0, p1));
            c.seekToBeginning(List.of(p0, p1));
            c.pause(List.of(p0));
            assertEquals(Set.of(p0), c.paused());
            produceEach(topic, 2, 5);
            // p1's records arrive; none of paused p0's in the meantime
            List<ConsumerRecord<String, String>> got = pollCount(c, 5, WAIT);
            for (ConsumerRecord<String, String> r : got)
                assertEquals(1, r.partition(), "a record of paused p0: " + r);
            assertEquals(0, c.position(p0));
            c.resume(List.of(p0));
            assertTrue(c.paused().isEmpty());
            List<ConsumerRecord<String, String>> rest = pollCount(c, 5, WAIT);
            for (ConsumerRecord<String, String> r : rest)
                assertEquals(0, r.partition());
            assertEquals(5, c.position(p0));
            assertEquals(5, c.position(p1));
        }
    }

    @Test
    void seek() throws Exception {
        String topic = createTopic("seek", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        assertOffsets(produce(topic, 0, 20, ""), 0, 20);
        try (KafkaConsumer<String, String> c = consumer(null, Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1))) {
            c.assign(List.of(tp));
            c.seek(tp, 7);
            ConsumerRecord<String, String> r = pollCount(c, 1, WAIT).get(0);
            assertEquals(7, r.offset());
            assertEquals("v7", r.value());
            c.seekToEnd(List.of(tp));
            assertEquals(20, c.position(tp));
            c.seekToBeginning(List.of(tp));
            assertEquals(0, c.position(tp));
            assertEquals("k0", pollCount(c, 1, WAIT).get(0).key());
            c.seek(tp, new OffsetAndMetadata(19, "meta"));
            r = pollCount(c, 1, WAIT).get(0);
            assertEquals(19, r.offset());
            assertEquals(Map.of(tp, 0L), c.beginningOffsets(List.of(tp)));
            assertEquals(Map.of(tp, 20L), c.endOffsets(List.of(tp)));
        }
    }

    @Test
    void offsetsForTimes() throws Exception {
        String topic = createTopic("times", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        long t0 = 1_600_000_000_000L;
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            for (int i = 0; i < 10; i++)   // timestamps t0, t0+100, ..., t0+900
                assertEquals(i, p.send(new ProducerRecord<>(topic, 0, t0 + 100L * i, "k" + i, "v" + i)).get().offset());
        }
        try (KafkaConsumer<String, String> c = consumer(null, Map.of())) {
            Map<TopicPartition, OffsetAndTimestamp> r = c.offsetsForTimes(Map.of(tp, t0 + 450));
            assertEquals(5, r.get(tp).offset());
            assertEquals(t0 + 500, r.get(tp).timestamp());
            assertEquals(0, c.offsetsForTimes(Map.of(tp, 0L)).get(tp).offset());
            assertEquals(3, c.offsetsForTimes(Map.of(tp, t0 + 300)).get(tp).offset());
            assertNull(c.offsetsForTimes(Map.of(tp, t0 + 901)).get(tp), "past the last timestamp");
        }
    }

    @Test
    void commitSyncAndAsync() throws Exception {
        String topic = createTopic("commit", 2);
        TopicPartition p0 = new TopicPartition(topic, 0), p1 = new TopicPartition(topic, 1);
        produceEach(topic, 2, 4);
        String group = unique("g-commit");
        try (KafkaConsumer<String, String> c = consumer(group, Map.of())) {
            c.assign(List.of(p0, p1));
            assertEquals(8, pollCount(c, 8, WAIT).size());
            // sync: explicit offsets with metadata, read back by the consumer and the admin client
            c.commitSync(Map.of(p0, new OffsetAndMetadata(3, "three"), p1, new OffsetAndMetadata(4, "four")));
            Map<TopicPartition, OffsetAndMetadata> got = c.committed(Set.of(p0, p1));
            assertEquals(3, got.get(p0).offset());
            assertEquals("three", got.get(p0).metadata());
            assertEquals(4, got.get(p1).offset());
            assertEquals("four", got.get(p1).metadata());
            // async: the consumer's positions (4 and 4), the callback told of success
            AtomicReference<Object> done = new AtomicReference<>();
            c.commitAsync((offsets, e) -> done.set(e != null ? e : offsets));
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (done.get() == null) {
                if (System.nanoTime() > deadline)
                    fail("commitAsync's callback not called");
                c.poll(Duration.ofMillis(50));
            }
            assertTrue(done.get() instanceof Map, "commitAsync failed: " + done.get());
            @SuppressWarnings("unchecked")
            Map<TopicPartition, OffsetAndMetadata> asyncCommitted = (Map<TopicPartition, OffsetAndMetadata>) done.get();
            assertEquals(Set.of(p0, p1), asyncCommitted.keySet());
            assertEquals(4, asyncCommitted.get(p0).offset());
            assertEquals(4, asyncCommitted.get(p1).offset());
            got = c.committed(Set.of(p0, p1));
            assertEquals(4, got.get(p0).offset());
            assertEquals(4, got.get(p1).offset());
        }
        // a new consumer of the group starts at the committed offsets
        try (KafkaConsumer<String, String> c = consumer(group, Map.of())) {
            c.assign(List.of(p0));
            assertEquals(4, c.position(p0));
        }
        Map<TopicPartition, OffsetAndMetadata> viaAdmin = admin.listConsumerGroupOffsets(
            Map.of(group, new ListConsumerGroupOffsetsSpec())).partitionsToOffsetAndMetadata(group).get();
        assertEquals(4, viaAdmin.get(p0).offset());
        assertEquals(4, viaAdmin.get(p1).offset());
    }
}
