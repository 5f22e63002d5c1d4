package dev.samsa.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.kafka.common.utils.AppInfoParser;
import org.junit.jupiter.api.Test;

/**
 * No broker: the kafka-clients jar on the test classpath is the version
 * pom.xml pins. java.clients_setup runs this class alone, which also makes Surefire
 * fetch its JUnit provider, so that java.clients can run offline.
 */
class ClientVersionTest {
    @Test
    void pinnedKafkaClients() {
        assertEquals(System.getProperty("kafka.clients.version"), AppInfoParser.getVersion());
    }
}
