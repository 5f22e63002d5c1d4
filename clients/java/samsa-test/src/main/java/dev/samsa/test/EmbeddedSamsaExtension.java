package dev.samsa.test;

import java.util.Arrays;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * The JUnit 5 extension behind {@link EmbeddedSamsa}: one samsa-broker per
 * test class (a {@code @Nested} class uses its enclosing class's broker).
 * Registered by the annotation; see there.
 */
public final class EmbeddedSamsaExtension implements BeforeAllCallback, AfterAllCallback, ParameterResolver {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(EmbeddedSamsaExtension.class);
    private static final String BROKER = "broker";
    private static final String PREVIOUS = "previous-property";
    private static final String OWNER = "owner";

    private static volatile SamsaBroker current;

    /**
     * The bootstrap servers of the broker of the running test class (the
     * most recently started one still running).
     *
     * @throws IllegalStateException when no @EmbeddedSamsa broker runs
     */
    public static String bootstrapServers() {
        SamsaBroker b = current;
        if (b == null || !b.isAlive())
            throw new IllegalStateException("no @EmbeddedSamsa broker is running");
        return b.bootstrapServers();
    }

    @Override
    public void beforeAll(ExtensionContext ctx) throws Exception {
        if (find(ctx) != null)
            return; // a @Nested class: the enclosing class's broker serves it
        EmbeddedSamsa cfg = ctx.getRequiredTestClass().getAnnotation(EmbeddedSamsa.class);
        if (cfg == null)
            throw new IllegalStateException(ctx.getRequiredTestClass().getName()
                    + ": EmbeddedSamsaExtension needs @EmbeddedSamsa on the class");
        SamsaBroker b = SamsaBroker.start(Arrays.asList(cfg.brokerProperties()));
        ExtensionContext.Store store = ctx.getStore(NS);
        store.put(OWNER, ctx.getUniqueId());
        store.put(BROKER, new Holder(b)); // closed by JUnit after the class, even on failure
        b.createTopics(cfg.partitions(), Arrays.asList(cfg.topics()));
        String prop = cfg.bootstrapServersProperty();
        if (!prop.isEmpty()) {
            store.put(PREVIOUS, new Previous(prop, System.getProperty(prop)));
            System.setProperty(prop, b.bootstrapServers());
        }
        current = b;
    }

    @Override
    public void afterAll(ExtensionContext ctx) {
        ExtensionContext.Store store = ctx.getStore(NS);
        if (!ctx.getUniqueId().equals(store.get(OWNER, String.class)))
            return; // a @Nested class: its enclosing class stops the broker
        Previous prev = store.remove(PREVIOUS, Previous.class);
        if (prev != null) {
            if (prev.value == null)
                System.clearProperty(prev.name);
            else
                System.setProperty(prev.name, prev.value);
        }
        Holder h = store.remove(BROKER, Holder.class);
        if (h != null) {
            if (current == h.broker)
                current = null;
            h.broker.close();
        }
    }

    @Override
    public boolean supportsParameter(ParameterContext pc, ExtensionContext ec) {
        return pc.getParameter().getType() == SamsaBroker.class;
    }

    @Override
    public Object resolveParameter(ParameterContext pc, ExtensionContext ec) {
        SamsaBroker b = find(ec);
        if (b == null)
            throw new ParameterResolutionException("no @EmbeddedSamsa broker for " + ec.getDisplayName());
        return b;
    }

    /** The broker of this context or the nearest enclosing one. */
    private static SamsaBroker find(ExtensionContext ctx) {
        for (ExtensionContext c = ctx; c != null; c = c.getParent().orElse(null)) {
            Holder h = c.getStore(NS).get(BROKER, Holder.class);
            if (h != null)
                return h.broker;
        }
        return null;
    }

    /** Closes the broker when JUnit closes the class's store (also when beforeAll failed halfway). */
    @SuppressWarnings("deprecation")
    private static final class Holder implements ExtensionContext.Store.CloseableResource {
        final SamsaBroker broker;

        Holder(SamsaBroker broker) {
            this.broker = broker;
        }

        @Override
        public void close() {
            broker.close();
        }
    }

    private static final class Previous {
        final String name;
        final String value;

        Previous(String name, String value) {
            this.name = name;
            this.value = value;
        }
    }
}
