package dev.samsa.test;

import org.junit.jupiter.api.Test;

/** Run by LifecycleTest: the broker starts but a topic cannot be created (a name Kafka refuses). */
@EmbeddedSamsa(topics = "no spaces allowed")
class ScenarioBadTopic {
    @Test
    void neverRuns() {
    }
}
