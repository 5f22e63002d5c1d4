package dev.samsa.example.shop;

import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;

/**
 * samsa's inbox (docs/outbox.md "The inbox"): inside the consumer's
 * transaction, record (consumer, event id); true when the row is new
 * (apply the event), false when it was already there (a redelivery: skip).
 */
@Component
public class Inbox {
    private final JdbcTemplate jdbc;

    public Inbox(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    @Transactional(propagation = Propagation.MANDATORY)
    public boolean firstTime(String consumer, String eventId) {
        return jdbc.update("INSERT INTO samsa_inbox (consumer, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                consumer, eventId) == 1;
    }
}
