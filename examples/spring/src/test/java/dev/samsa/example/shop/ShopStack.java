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
 * services that consume the Spring service's events once the broker's
 * address is known (startKafkaSide): shop-stock (order.created) and
 * shop-sink (payment.completed), which POSTs each to shop-receiver. Declared before
 * {@code @SpringBootTest}, so its afterAll runs after Spring closed the
 * context: the relay, shop-stock and PostgreSQL are stopped by their pids
 * (newest first) once nothing uses them.
 */
final class ShopStack implements BeforeAllCallback, AfterAllCallback {
    static final String DB = "shop";

    static Postgres pg;
    static Child relay;
    static Child stock;
    static Child receiver;
    static Child sink;
    static String stockUrl;
    static String receiverUrl;
    static String bootstrap;
    private static String relayBin;

    static String binary(String property) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank() || !Files.isExecutable(Path.of(v)))
            throw new IllegalStateException("set the system property " + property
                    + " to the binary (ctest java.spring_example does: -D" + property + "=...), not " + v);
        return v;
    }

    /** A binary in the directory that the system property names. */
    static String binary(String dirProperty, String name) {
        String v = System.getProperty(dirProperty);
        if (v == null || v.isBlank() || !Files.isExecutable(Path.of(v, name)))
            throw new IllegalStateException("set the system property " + dirProperty
                    + " to the directory of the shop's binaries, with " + name + " (ctest java.spring_example does: -D"
                    + dirProperty + "=build-test/examples/shop), not " + v);
        return Path.of(v, name).toString();
    }

    /** One shop service on 127.0.0.1:0 with a SQLite database in the temp dir; returns it once ready. */
    private static Child service(String name, List<String> extra, String[] url) throws Exception {
        Path dir = pg.dir;
        List<String> cmd = new ArrayList<>(List.of(binary("samsa.shop.dir", "shop-" + name), "--listen", "127.0.0.1:0",
                "--db", "sqlite:" + dir.resolve(name + ".db"), "--brokers", bootstrap));
        cmd.addAll(extra);
        Child c = Child.start("shop-" + name, dir.resolve(name + ".log"), cmd);
        Matcher m = c.awaitReady(Pattern.compile("shop-" + name + " listening on (http://[0-9.]+:[0-9]+)"));
        url[0] = m.group(1);
        return c;
    }

    @Override
    public void beforeAll(ExtensionContext ctx) throws Exception {
        relayBin = binary("samsa.relay");
        binary("samsa.shop.dir", "shop-stock"); // fail early, naming the property
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
        String[] url = new String[1];
        stock = service("stock", List.of(), url);
        stockUrl = url[0];
        receiver = service("receiver", List.of(), url);
        receiverUrl = url[0];
        sink = service("sink", List.of("--sink-url", receiverUrl + "/events"), url);
    }

    @Override
    public void afterAll(ExtensionContext ctx) throws Exception {
        try {
            for (Child c : new Child[] {sink, receiver, stock, relay})
                if (c != null)
                    c.stop();
        } finally {
            sink = null;
            receiver = null;
            stock = null;
            relay = null;
            if (pg != null)
                pg.close();
            pg = null;
        }
    }

    static String logs() {
        StringBuilder b = new StringBuilder();
        for (Child c : new Child[] {relay, stock, sink, receiver})
            if (c != null)
                b.append(c.name).append(" log:\n").append(c.tail()).append('\n');
        return b.toString();
    }
}
