package dev.samsa.example.shop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.transaction.support.TransactionTemplate;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * End to end, every part real: the Spring service on PostgreSQL, samsa-relay
 * publishing its outbox to the broker, its {@code @KafkaListener} applying
 * order.created through samsa_inbox, and the reference shop's C shop-stock
 * consuming the same events. The broker is the subclass's: samsa-broker
 * through @EmbeddedSamsa (ShopFlowTest) or Apache Kafka in the JVM through
 * spring-kafka-test's @EmbeddedKafka (ShopFlowEmbeddedKafkaTest, profile
 * embedded-kafka), the same checks on both.
 */
abstract class ShopFlowChecks {
    static final int N = 20;
    static final Duration WAIT = Duration.ofSeconds(120);

    /** The broker's bootstrap servers. */
    abstract String bootstrap();

    @BeforeEach
    void kafkaSide() throws Exception {
        ShopStack.startKafkaSide(bootstrap());
    }

    @DynamicPropertySource
    static void database(DynamicPropertyRegistry r) {
        r.add("spring.datasource.url", () -> ShopStack.pg.jdbcUrl(ShopStack.DB));
    }

    @Autowired
    OrderService orders;
    @Autowired
    PaymentListener listener;
    @Autowired
    JdbcTemplate jdbc;
    @Autowired
    TransactionTemplate tx;
    @Autowired
    JsonMapper json;

    @Test
    void ordersArePublishedOnceAppliedOnceAndJoinTheShopsBooks() throws Exception {
        Random rnd = new Random(42);
        Map<String, OrderService.Order> placed = new HashMap<>();
        Map<String, Long> ordered = new TreeMap<>(); // product -> quantity over all committed orders
        for (int i = 0; i < N; i++) {
            List<OrderService.Item> items = new ArrayList<>();
            for (int k = 0, n = 1 + rnd.nextInt(3); k < n; k++)
                items.add(new OrderService.Item("p" + (1 + rnd.nextInt(20)), 1 + rnd.nextInt(5)));
            OrderService.Order o = orders.placeOrder("u" + (1 + rnd.nextInt(10)), items);
            placed.put(o.id(), o);
            for (OrderService.Item it : items)
                ordered.merge(it.product(), (long) it.quantity(), Long::sum);
        }

        // a transaction that placed an order (its outbox row was there) and rolled back
        String[] rolledBack = new String[1];
        tx.executeWithoutResult(st -> {
            OrderService.Order o = orders.placeOrder("u1", List.of(new OrderService.Item("p1", 7)));
            rolledBack[0] = o.id();
            assertEquals(1, jdbc.queryForObject("SELECT count(*) FROM samsa_outbox WHERE key = ?", Integer.class, o.id()),
                    "the outbox row inside the transaction");
            st.setRollbackOnly();
        });
        assertEquals(0, jdbc.queryForObject("SELECT count(*) FROM samsa_outbox WHERE key = ?", Integer.class, rolledBack[0]));
        assertEquals(0, jdbc.queryForObject("SELECT count(*) FROM orders WHERE id = ?", Integer.class, rolledBack[0]));

        // every committed order published by the relay, and applied once by the listener
        await("the relay publishes every order.created", () -> count(
                "SELECT count(*) FROM samsa_outbox WHERE topic = 'shop.orders' AND status <> 'INIT'") == N);
        await("the listener applies " + N + " orders", () -> count("SELECT count(*) FROM payments") == N);
        assertEquals(0, count("SELECT count(*) FROM samsa_outbox WHERE status = 'DEAD'"), "DEAD rows");

        // the topic holds each committed order exactly once, with its outbox event id, and not the rolled-back one
        List<ConsumerRecord<String, byte[]>> recs = readAll(bootstrap(), OrderService.TOPIC);
        assertEquals(N, recs.size(), "records on shop.orders");
        Set<String> seen = new HashSet<>();
        for (ConsumerRecord<String, byte[]> r : recs) {
            OrderService.Order o = placed.get(r.key());
            assertNotNull(o, "a record for an order never committed: " + r.key());
            assertTrue(seen.add(r.key()), "order " + r.key() + " published twice");
            assertEquals(o.eventId().toString(), header(r, "samsa.event_id"));
            assertEquals("order.created", header(r, "samsa.type"));
            JsonNode ev = json.readTree(r.value());
            assertEquals("order.created", ev.path("event").asString());
            assertEquals(o.total(), ev.path("total").asLong());
        }
        assertFalse(seen.contains(rolledBack[0]), "the rolled-back order was published");

        // the payments: balances charged once per order, payment.completed published once per order
        Map<String, Long> spent = new HashMap<>();
        for (OrderService.Order o : placed.values())
            spent.merge(o.user(), o.total(), Long::sum);
        for (Map.Entry<String, Long> e : spent.entrySet())
            assertEquals(10_000_000L - e.getValue(),
                    jdbc.queryForObject("SELECT balance FROM users WHERE id = ?", Long.class, e.getKey()), e.getKey());
        await("payment.completed published", () -> count(
                "SELECT count(*) FROM samsa_outbox WHERE topic = 'shop.payments' AND status <> 'INIT'") == N);
        List<ConsumerRecord<String, byte[]>> pays = readAll(bootstrap(), PaymentService.TOPIC);
        assertEquals(N, pays.size(), "records on shop.payments");
        assertEquals(placed.keySet(), pays.stream().map(r -> json.readTree(r.value()).path("order").asString())
                .collect(Collectors.toSet()));

        // redeliver one order.created (same headers): the inbox drops it, nothing changes
        ConsumerRecord<String, byte[]> again = recs.get(0);
        long dupsBefore = listener.count(PaymentService.Outcome.DUPLICATE);
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(pp, new StringSerializer(), new ByteArraySerializer())) {
            p.send(new ProducerRecord<>(again.topic(), again.partition(), again.key(), again.value(), again.headers()))
                    .get(60, TimeUnit.SECONDS);
        }
        await("the listener sees the redelivery", () -> listener.count(PaymentService.Outcome.DUPLICATE) == dupsBefore + 1);
        assertEquals(N, count("SELECT count(*) FROM payments"), "payments after the redelivery");
        assertEquals(N, listener.count(PaymentService.Outcome.APPLIED), "applied");
        assertEquals(N, count("SELECT count(*) FROM samsa_outbox WHERE topic = 'shop.payments'"),
                "payment.completed rows after the redelivery");

        // the reference shop's books: C shop-stock applied the Spring service's events (and dropped the
        // redelivery) so its stock equals the Spring catalogue's, product by product
        Map<String, Long> expected = new TreeMap<>();
        jdbc.query("SELECT id, stock FROM products", rs -> {
            expected.put(rs.getString(1), rs.getLong(2));
        });
        for (Map.Entry<String, Long> e : ordered.entrySet())
            assertEquals(1_000_000L - e.getValue(), expected.get(e.getKey()), "Spring catalogue " + e.getKey());
        await("shop-stock applies " + N + " orders and drops the redelivery", () -> {
            JsonNode s = get(ShopStack.stockUrl + "/stats");
            return s.path("applied").asLong() == N && s.path("duplicates").asLong() == 1;
        });
        JsonNode cstock = get(ShopStack.stockUrl + "/stock");
        Map<String, Long> got = new TreeMap<>();
        for (String p : expected.keySet())
            got.put(p, cstock.path(p).asLong(-1));
        assertEquals(expected, got, "shop-stock's quantities vs the Spring catalogue");
        assertEquals(0, get(ShopStack.stockUrl + "/stats").path("rejected").asLong(), "shop-stock rejected events");

        // ... and its payments side: C shop-sink POSTs each Spring payment.completed to shop-receiver,
        // which stores exactly one per paid order, for the amount charged
        long revenue = placed.values().stream().mapToLong(OrderService.Order::total).sum();
        await("shop-receiver stores " + N + " payments", () -> get(ShopStack.receiverUrl + "/stats").path("stored").asLong() == N);
        JsonNode rs = get(ShopStack.receiverUrl + "/stats");
        assertEquals(revenue, rs.path("amount_total").asLong(), "receiver amount_total vs the orders' totals");
        Set<String> stored = new HashSet<>();
        rs.path("orders").forEach(o -> stored.add(o.asString()));
        assertEquals(placed.keySet(), stored, "orders the receiver stored");
        assertEquals(0, rs.path("refused").asLong(), "payments the receiver refused");
        // the seed: u1..u90 with 10,000,000 cents each, u91..u100 with 0
        assertEquals(revenue, 90 * 10_000_000L - count("SELECT sum(balance) FROM users"), "initial total - balances vs revenue");
    }

    long count(String sql) {
        Long n = jdbc.queryForObject(sql, Long.class);
        return n == null ? -1 : n;
    }

    static String header(ConsumerRecord<?, ?> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    JsonNode get(String url) throws Exception {
        HttpResponse<byte[]> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, r.statusCode(), url);
        return json.readTree(r.body());
    }

    static void await(String what, CheckedCondition c) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!c.holds()) {
            if (System.nanoTime() > deadline)
                throw new AssertionError("not within " + WAIT.toSeconds() + " s: " + what + "\n" + ShopStack.logs());
            Thread.sleep(50); // polling a condition: the step between looks
        }
    }

    interface CheckedCondition {
        boolean holds() throws Exception;
    }

    /** Every record of a topic, read with assign() from offset 0 to the end offsets (no group). */
    static List<ConsumerRecord<String, byte[]>> readAll(String bootstrap, String topic) {
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(cp, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> tps = c.partitionsFor(topic, Duration.ofSeconds(60)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).collect(Collectors.toList());
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(60));
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline)
                    throw new AssertionError("could not read " + topic + " to its end offsets " + end);
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

}
