package dev.samsa.bench;

import dev.samsa.test.EmbeddedSamsa;
import dev.samsa.test.SamsaBroker;
import org.junit.jupiter.api.Test;

/** samsa-broker as a process of its own, started by @EmbeddedSamsa. */
@EmbeddedSamsa(topics = FirstRecord.TOPIC)
class SamsaStartupTest {
    @Test
    void firstRecord(SamsaBroker broker) throws Exception {
        FirstRecord.measure("embedded-samsa", broker.bootstrapServers(), broker.pid());
    }
}
