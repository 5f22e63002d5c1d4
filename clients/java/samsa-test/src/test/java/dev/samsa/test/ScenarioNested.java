package dev.samsa.test;

import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Run by LifecycleTest: a @Nested class shares the broker and does not stop it. */
@EmbeddedSamsa
class ScenarioNested {
    static volatile SamsaBroker outer;
    static volatile SamsaBroker inner;

    @Test
    void outerTest(SamsaBroker broker) {
        outer = broker;
    }

    @Nested
    class Inner {
        @Test
        void innerTest(SamsaBroker broker) {
            inner = broker;
        }
    }

    @AfterAll
    static void stillRunningAfterTheNestedClass() {
        assertSame(outer, inner, "the nested class got another broker");
        assertTrue(outer.isAlive(), "the broker was stopped after the nested class");
    }
}
