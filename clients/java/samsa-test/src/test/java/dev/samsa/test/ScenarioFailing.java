package dev.samsa.test;

import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Test;

/** Run by LifecycleTest through the JUnit launcher: a test class that fails. */
@EmbeddedSamsa
class ScenarioFailing {
    static volatile SamsaBroker seen;

    @Test
    void fails(SamsaBroker broker) {
        seen = broker;
        fail("failing on purpose");
    }
}
