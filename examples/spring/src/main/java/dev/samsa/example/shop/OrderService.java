package dev.samsa.example.shop;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.springframework.dao.EmptyResultDataAccessException;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.databind.json.JsonMapper;

/**
 * Places orders: the order, its items, the catalogue stock and the
 * order.created event on shop.orders in one database transaction. The
 * event is the reference shop's (docs/shop.md, shop-orders): key = order id,
 * payload = the order with "event":"order.created", so the C shop-stock
 * applies it like one of its own.
 */
@Service
public class OrderService {
    public static final String TOPIC = "shop.orders";

    private final JdbcTemplate jdbc;
    private final Outbox outbox;
    private final JsonMapper json;

    public OrderService(JdbcTemplate jdbc, Outbox outbox, JsonMapper json) {
        this.jdbc = jdbc;
        this.outbox = outbox;
        this.json = json;
    }

    public record Item(String product, int quantity) {
    }

    public record Order(String id, String user, long total, UUID eventId) {
    }

    public static class OrderRefused extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public OrderRefused(String message) {
            super(message);
        }
    }

    @Transactional
    public Order placeOrder(String user, List<Item> items) {
        if (items.isEmpty() || items.size() > 50)
            throw new OrderRefused("items: 1 to 50 expected");
        Integer known = jdbc.queryForObject("SELECT count(*) FROM users WHERE id = ?", Integer.class, user);
        if (known == null || known == 0)
            throw new OrderRefused("unknown user " + user);
        Map<String, Long> quantities = new TreeMap<>();
        for (Item it : items) {
            if (it.quantity() < 1 || it.quantity() > 1000)
                throw new OrderRefused("quantity of " + it.product() + ": 1 to 1000 expected");
            quantities.merge(it.product(), (long) it.quantity(), Long::sum);
        }
        String id = UUID.randomUUID().toString();
        long now = System.currentTimeMillis();
        long total = 0;
        List<Map<String, Object>> lines = new ArrayList<>();
        jdbc.update("INSERT INTO orders (id, user_id, status, total, created_at) VALUES (?, ?, 'CREATED', 0, ?)",
                id, user, now);
        for (Map.Entry<String, Long> e : quantities.entrySet()) {
            long price;
            try {
                price = jdbc.queryForObject("UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ? RETURNING price",
                        Long.class, e.getValue(), e.getKey(), e.getValue());
            } catch (EmptyResultDataAccessException none) {
                throw new OrderRefused("unknown product or out of stock: " + e.getKey());
            }
            jdbc.update("INSERT INTO order_items (order_id, product, quantity, price) VALUES (?, ?, ?, ?)",
                    id, e.getKey(), e.getValue(), price);
            total += price * e.getValue();
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("product", e.getKey());
            line.put("quantity", e.getValue());
            line.put("price", price);
            lines.add(line);
        }
        jdbc.update("UPDATE orders SET total = ? WHERE id = ?", total, id);
        Map<String, Object> ev = new LinkedHashMap<>();
        ev.put("id", id);
        ev.put("user", user);
        ev.put("status", "CREATED");
        ev.put("total", total);
        ev.put("items", lines);
        ev.put("created_at", now);
        ev.put("event", "order.created");
        UUID eventId = outbox.enqueue(TOPIC, id, "order.created", json.writeValueAsBytes(ev));
        return new Order(id, user, total, eventId);
    }
}
