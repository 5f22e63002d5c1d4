package dev.samsa.example.shop;

import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.stereotype.Component;

/**
 * Reads shop.orders as the group spring-payments; each record goes to
 * PaymentService in its own transaction, then its offset is committed
 * (ack-mode record). A record without samsa's event id header was not
 * published by samsa-relay and is skipped, saying so.
 */
@Component
public class PaymentListener {
    private static final Logger log = LoggerFactory.getLogger(PaymentListener.class);

    private final PaymentService payments;
    private final Map<PaymentService.Outcome, AtomicLong> counts = new EnumMap<>(PaymentService.Outcome.class);

    public PaymentListener(PaymentService payments) {
        this.payments = payments;
        for (PaymentService.Outcome o : PaymentService.Outcome.values())
            counts.put(o, new AtomicLong());
    }

    @KafkaListener(topics = OrderService.TOPIC, groupId = PaymentService.CONSUMER)
    public void onOrder(ConsumerRecord<String, byte[]> rec) {
        Header h = rec.headers().lastHeader("samsa.event_id");
        if (h == null) {
            log.warn("{}-{}@{}: no samsa.event_id header, skipped", rec.topic(), rec.partition(), rec.offset());
            return;
        }
        PaymentService.Outcome o = payments.apply(new String(h.value(), StandardCharsets.UTF_8), rec.value());
        counts.get(o).incrementAndGet();
    }

    /** Records handled since start, by outcome (in memory, for tests and metrics). */
    public long count(PaymentService.Outcome o) {
        return counts.get(o).get();
    }
}
