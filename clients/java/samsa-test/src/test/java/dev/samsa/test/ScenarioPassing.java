package dev.samsa.test;

import org.junit.jupiter.api.Test;

/** Run by LifecycleTest through the JUnit launcher (not by Surefire: no Test in its name). */
@EmbeddedSamsa(topics = "x")
class ScenarioPassing {
    static volatile SamsaBroker seen;
    static volatile String property;

    @Test
    void records(SamsaBroker broker) {
        seen = broker;
        property = System.getProperty("spring.kafka.bootstrap-servers");
    }
}
