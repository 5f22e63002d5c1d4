package dev.samsa.example.shop;

import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The payment side: applies each order.created once. In one transaction:
 * the inbox row, the user's balance charged, the payment recorded and
 * payment.completed enqueued on shop.payments (the reference shop's format:
 * key = user id). A redelivered event finds its inbox row and changes
 * nothing.
 */
@Service
public class PaymentService {
    public static final String CONSUMER = "spring-payments";
    public static final String TOPIC = "shop.payments";

    public enum Outcome { APPLIED, DUPLICATE, IGNORED, REFUSED }

    private final JdbcTemplate jdbc;
    private final Inbox inbox;
    private final Outbox outbox;
    private final JsonMapper json;

    public PaymentService(JdbcTemplate jdbc, Inbox inbox, Outbox outbox, JsonMapper json) {
        this.jdbc = jdbc;
        this.inbox = inbox;
        this.outbox = outbox;
        this.json = json;
    }

    @Transactional
    public Outcome apply(String eventId, byte[] payload) {
        if (!inbox.firstTime(CONSUMER, eventId))
            return Outcome.DUPLICATE;
        JsonNode ev = json.readTree(payload);
        if (!"order.created".equals(ev.path("event").asString("")))
            return Outcome.IGNORED; // not ours; the inbox row marks it seen
        String order = ev.path("id").asString("");
        String user = ev.path("user").asString("");
        long amount = ev.path("total").asLong(-1);
        if (order.isEmpty() || user.isEmpty() || amount < 0)
            return Outcome.REFUSED; // malformed: recorded, never retried
        int charged = jdbc.update("UPDATE users SET balance = balance - ? WHERE id = ? AND balance >= ?",
                amount, user, amount);
        if (charged != 1)
            return Outcome.REFUSED; // unknown user or balance too low: no payment, no event
        long now = System.currentTimeMillis();
        jdbc.update("INSERT INTO payments (order_id, user_id, amount, paid_at) VALUES (?, ?, ?, ?)",
                order, user, amount, now);
        jdbc.update("UPDATE orders SET status = 'PAID' WHERE id = ?", order);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("event", "payment.completed");
        out.put("order", order);
        out.put("user", user);
        out.put("amount", amount);
        out.put("paid_at", now);
        outbox.enqueue(TOPIC, user, "payment.completed", json.writeValueAsBytes(out));
        return Outcome.APPLIED;
    }
}
