package dev.samsa.bench;

import org.junit.jupiter.api.Test;
import org.springframework.kafka.test.EmbeddedKafkaBroker;
import org.springframework.kafka.test.context.EmbeddedKafka;

/** Apache Kafka (KRaft) inside the test JVM, started by spring-kafka-test's @EmbeddedKafka. */
@EmbeddedKafka(topics = FirstRecord.TOPIC)
class KafkaStartupTest {
    @Test
    void firstRecord(EmbeddedKafkaBroker broker) throws Exception {
        FirstRecord.measure("embedded-kafka", broker.getBrokersAsString(), 0);
    }
}
