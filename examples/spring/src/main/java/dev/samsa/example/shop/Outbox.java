package dev.samsa.example.shop;

import java.util.UUID;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

/**
 * samsa's table contract (docs/outbox.md), nothing else: one INSERT into
 * samsa_outbox inside the caller's transaction, naming its columns. The id
 * and every relay column are left to the database; samsa-relay publishes
 * the row once the transaction commits, and never if it rolls back.
 */
@Component
public class Outbox {
    private final JdbcTemplate jdbc;

    public Outbox(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    /** Enqueues one event; returns its event id (the samsa.event_id header). */
    @Transactional(propagation = Propagation.MANDATORY)
    public UUID enqueue(String topic, String key, String type, byte[] payload) {
        UUID eventId = UUID.randomUUID();
        jdbc.update("INSERT INTO samsa_outbox (event_id, topic, key, type, payload) VALUES (?, ?, ?, ?, ?)",
                eventId, topic, key, type, payload);
        return eventId;
    }
}
