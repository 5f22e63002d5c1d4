package dev.samsa.example.shop;

import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.kafka.test.EmbeddedKafkaBroker;
import org.springframework.kafka.test.context.EmbeddedKafka;
import org.springframework.test.annotation.DirtiesContext;

/**
 * The same checks against spring-kafka-test's @EmbeddedKafka (Apache Kafka
 * in KRaft mode inside the test JVM), for comparison: run with
 * {@code mvn verify -Pembedded-kafka} (the default build leaves it out).
 * The broker lives in the Spring context, so samsa-relay and shop-stock
 * start once it runs (ShopFlowChecks.kafkaSide).
 */
@EmbeddedKafka(topics = {OrderService.TOPIC, PaymentService.TOPIC}, partitions = 4)
@ExtendWith(ShopStack.class)
@SpringBootTest(properties = "spring.kafka.bootstrap-servers=${spring.embedded.kafka.brokers}")
@DirtiesContext
class ShopFlowEmbeddedKafkaTest extends ShopFlowChecks {
    @Autowired
    EmbeddedKafkaBroker kafka;

    @Override
    String bootstrap() {
        return kafka.getBrokersAsString();
    }
}
