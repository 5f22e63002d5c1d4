package dev.samsa.example.shop;

import dev.samsa.test.EmbeddedSamsa;
import dev.samsa.test.EmbeddedSamsaExtension;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;

/**
 * ShopFlowChecks against samsa-broker: @EmbeddedSamsa starts it before the
 * class (and sets spring.kafka.bootstrap-servers), ShopStack brings
 * PostgreSQL, samsa-relay and shop-stock; Spring's context is closed after
 * the class, then ShopStack's processes, then the broker.
 */
@EmbeddedSamsa(topics = {OrderService.TOPIC, PaymentService.TOPIC}, partitions = 4)
@ExtendWith(ShopStack.class)
@SpringBootTest
@DirtiesContext
class ShopFlowTest extends ShopFlowChecks {
    @Override
    String bootstrap() {
        return EmbeddedSamsaExtension.bootstrapServers();
    }
}
