package dev.samsa.test;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs a real samsa-broker for the annotated test class: on a free loopback
 * port, with a data directory of its own that is removed afterwards.
 *
 * <p>Before the first test of the class the broker is started, answered
 * (a metadata request succeeds), and the {@link #topics()} are created with
 * {@link #partitions()} partitions each; the system property named by
 * {@link #bootstrapServersProperty()} (by default
 * {@code spring.kafka.bootstrap-servers}) is set to its address. After the
 * last test, passed or failed, the broker is stopped by its pid and the
 * property restored. Tests get the broker as a {@link SamsaBroker}
 * parameter, or its address from {@link EmbeddedSamsaExtension#bootstrapServers()}.
 *
 * <p>The binary is the system property {@code samsa.broker}, else
 * {@code samsa-broker} on the {@code PATH}.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Inherited
@ExtendWith(EmbeddedSamsaExtension.class)
public @interface EmbeddedSamsa {
    /** Topics created before the first test. */
    String[] topics() default {};

    /** Partitions of each topic in {@link #topics()}. */
    int partitions() default 1;

    /** Broker properties, each {@code key=value}, passed as {@code --override}. */
    String[] brokerProperties() default {};

    /** The system property set to the bootstrap servers ("" for none). */
    String bootstrapServersProperty() default "spring.kafka.bootstrap-servers";
}
