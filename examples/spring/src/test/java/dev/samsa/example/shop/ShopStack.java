package dev.samsa.example.shop;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Everything around the Spring service for a test class but the broker:
 * PostgreSQL and samsa's tables ({@code samsa-relay --init-schema}) before
 * the class; samsa-relay on that outbox and the reference shop's C
 * shop-stock once the broker's address is known (startKafkaSide). Declared before
 * {@code @SpringBootTest}, so its afterAll runs after Spring closed the
 * context: the relay, shop-stock and PostgreSQL are stopped by their pids
 * (newest first) once nothing uses them.
 */
final class ShopStack implements BeforeAllCallback, AfterAllCallback {
    static final String DB = "shop";

    static Postgres pg;
    static Child relay;
    static Child stock;
    static String stockUrl;
    static String bootstrap;
    private static String relayBin;
    private static String stockBin;

    static String binary(String property) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank() || !Files.isExecutable(Path.of(v)))
            throw new IllegalStateException("set the system property " + property
                    + " to the binary (ctest java.spring_example does: -D" + property + "=...), not " + v);
        return v;
    }

    @Override
    public void beforeAll(ExtensionContext ctx) throws Exception {
        relayBin = binary("samsa.relay");
        stockBin = binary("samsa.shop.stock");
        pg = new Postgres(); // set first: afterAll stops it even if start fails halfway
        pg.start(DB);
        Path dir = pg.dir;
        // samsa's tables, as the database owner would create them once
        Process init = new ProcessBuilder(relayBin, "--init-schema", "--override", "outbox.db=" + pg.libpqUrl(DB),
                "--override", "bootstrap.servers=127.0.0.1:9").redirectErrorStream(true)
                .redirectOutput(dir.resolve("init-schema.log").toFile()).start();
        if (init.waitFor() != 0)
            throw new IllegalStateException("samsa-relay --init-schema failed:\n" + Files.readString(dir.resolve("init-schema.log")));
    }

    /**
     * The processes that need the Kafka side's address: samsa-relay on the
     * PostgreSQL outbox and shop-stock. Once per class (the broker may only
     * be known once the Spring context runs, as with @EmbeddedKafka).
     */
    static synchronized void startKafkaSide(String bootstrapServers) throws Exception {
        if (relay != null)
            return;
        bootstrap = bootstrapServers;
        Path dir = pg.dir;
        Path props = dir.resolve("relay.properties");
        Files.writeString(props, "outbox.db=" + pg.libpqUrl(DB) + "\nbootstrap.servers=" + bootstrap
                + "\nmetrics.listen=127.0.0.1:0\n");
        relay = Child.start("samsa-relay", dir.resolve("relay.log"), List.of(relayBin, props.toString()));
        relay.awaitReady(Pattern.compile("samsa-relay [^ ]+ started: .*metrics on http://"));
        stock = Child.start("shop-stock", dir.resolve("stock.log"), new ArrayList<>(List.of(stockBin,
                "--listen", "127.0.0.1:0", "--db", "sqlite:" + dir.resolve("stock.db"), "--brokers", bootstrap)));
        Matcher m = stock.awaitReady(Pattern.compile("shop-stock listening on (http://[0-9.]+:[0-9]+)"));
        stockUrl = m.group(1);
    }

    @Override
    public void afterAll(ExtensionContext ctx) throws Exception {
        try {
            if (stock != null)
                stock.stop();
            if (relay != null)
                relay.stop();
        } finally {
            stock = null;
            relay = null;
            if (pg != null)
                pg.close();
            pg = null;
        }
    }

    static String logs() {
        StringBuilder b = new StringBuilder();
        for (Child c : new Child[] {relay, stock})
            if (c != null)
                b.append(c.name).append(" log:\n").append(c.tail()).append('\n');
        return b.toString();
    }
}
