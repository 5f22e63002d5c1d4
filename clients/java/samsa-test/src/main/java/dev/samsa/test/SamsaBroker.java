package dev.samsa.test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;

/**
 * One samsa-broker process: started on 127.0.0.1 port 0 (the kernel picks a
 * free port, the broker's ready line tells which) with a temp data
 * directory, stopped by its pid (SIGTERM, then SIGKILL) by {@link #close()}
 * or, if the JVM ends first, by a shutdown hook.
 */
public final class SamsaBroker implements AutoCloseable {
    /** The system property that names the broker binary. */
    public static final String BINARY_PROPERTY = "samsa.broker";
    /** The binary looked for on the PATH when the property is not set. */
    public static final String BINARY_NAME = "samsa-broker";

    private static final Pattern READY =
            Pattern.compile("started in [0-9.]+ ms: listening on ([0-9.]+):([0-9]+)");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    private final Process process;
    private final Path dir;
    private final Path log;
    private final String host;
    private final int port;
    private final Thread hook;
    private boolean closed;

    private SamsaBroker(Process process, Path dir, Path log, String host, int port, Thread hook) {
        this.process = process;
        this.dir = dir;
        this.log = log;
        this.host = host;
        this.port = port;
        this.hook = hook;
    }

    /**
     * The broker binary: the system property {@code samsa.broker}, else
     * {@code samsa-broker} in a directory of {@code path} (the PATH).
     *
     * @throws IllegalStateException naming both places when neither has it
     */
    public static Path findBinary(String property, String path) {
        if (property != null && !property.isBlank()) {
            Path p = Path.of(property);
            if (!Files.isRegularFile(p) || !Files.isExecutable(p))
                throw new IllegalStateException("samsa-broker not found: the system property "
                        + BINARY_PROPERTY + " names " + p + ", which is not an executable file");
            return p;
        }
        if (path != null) {
            for (String d : path.split(File.pathSeparator)) {
                if (d.isEmpty())
                    continue;
                Path p = Path.of(d, BINARY_NAME);
                if (Files.isRegularFile(p) && Files.isExecutable(p))
                    return p;
            }
        }
        throw new IllegalStateException("samsa-broker not found: set the system property "
                + BINARY_PROPERTY + " to the binary (-D" + BINARY_PROPERTY
                + "=/path/to/samsa-broker) or put " + BINARY_NAME + " on the PATH (PATH="
                + path + ")");
    }

    /** Starts a broker from the binary that {@link #findBinary} finds. */
    public static SamsaBroker start(List<String> overrides) throws IOException {
        return start(findBinary(System.getProperty(BINARY_PROPERTY), System.getenv("PATH")), overrides);
    }

    /**
     * Starts {@code binary} with {@code listeners=PLAINTEXT://127.0.0.1:0},
     * a temp {@code log.dirs} and the given {@code key=value} overrides,
     * waits for its ready line and then for a metadata answer.
     */
    public static SamsaBroker start(Path binary, List<String> overrides) throws IOException {
        Path dir = Files.createTempDirectory("samsa-embedded-");
        Path data = Files.createDirectory(dir.resolve("data"));
        Path log = dir.resolve("broker.log");
        List<String> cmd = new ArrayList<>();
        cmd.add(binary.toString());
        cmd.add("--override");
        cmd.add("listeners=PLAINTEXT://127.0.0.1:0");
        cmd.add("--override");
        cmd.add("log.dirs=" + data);
        for (String o : overrides) {
            if (o.indexOf('=') < 1)
                throw new IllegalArgumentException("broker property '" + o + "': key=value expected");
            cmd.add("--override");
            cmd.add(o);
        }
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        } catch (IOException e) {
            deleteTree(dir);
            throw e;
        }
        Thread hook = new Thread(() -> {
            kill(p);
            if (!Boolean.getBoolean("samsa.keepTmp"))
                deleteTree(dir);
        }, "samsa-broker-" + p.pid() + "-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        SamsaBroker b = null;
        try {
            Matcher m = awaitReady(p, log);
            b = new SamsaBroker(p, dir, log, m.group(1), Integer.parseInt(m.group(2)), hook);
            b.awaitAnswer();
            return b;
        } catch (IOException | RuntimeException e) {
            if (b != null) {
                b.close();
            } else {
                String tail = tail(log);
                kill(p);
                removeHook(hook);
                deleteTree(dir);
                throw new IllegalStateException(e.getMessage() + "\nbroker log:\n" + tail, e);
            }
            throw e;
        }
    }

    private static Matcher awaitReady(Process p, Path log) throws IOException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            String text = Files.readString(log, StandardCharsets.UTF_8);
            Matcher m = READY.matcher(text);
            if (m.find())
                return m;
            if (!p.isAlive())
                throw new IllegalStateException("samsa-broker (pid " + p.pid() + ") exited with code "
                        + p.exitValue() + " before its ready line");
            if (System.nanoTime() > deadline)
                throw new IllegalStateException("samsa-broker (pid " + p.pid() + ") printed no ready line in "
                        + START_TIMEOUT.toSeconds() + " s");
            try {
                p.waitFor(20, TimeUnit.MILLISECONDS); // wakes at once if it exits
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for samsa-broker", e);
            }
        }
    }

    /** Waits until the broker answers a metadata request (describeCluster). */
    private void awaitAnswer() {
        try (Admin admin = admin()) {
            String id = admin.describeCluster().clusterId().get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            if (admin.describeCluster().nodes().get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS).isEmpty())
                throw new IllegalStateException("samsa-broker at " + bootstrapServers() + " (cluster " + id
                        + ") reports no node");
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("samsa-broker at " + bootstrapServers() + " does not answer: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for samsa-broker", e);
        }
    }

    /** An AdminClient on this broker; the caller closes it. */
    public Admin admin() {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 30000);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 60000);
        return Admin.create(props);
    }

    /** Creates topics with the given partition count (replication 1). */
    public void createTopics(int partitions, Collection<String> topics) {
        if (topics.isEmpty())
            return;
        if (partitions < 1)
            throw new IllegalArgumentException("partitions must be at least 1, not " + partitions);
        List<NewTopic> nt = topics.stream().map(t -> new NewTopic(t, partitions, (short) 1))
                .collect(Collectors.toList());
        try (Admin admin = admin()) {
            admin.createTopics(nt).all().get(60, TimeUnit.SECONDS);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("creating topics " + topics + " on " + bootstrapServers() + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        }
    }

    /** {@code 127.0.0.1:PORT}. */
    public String bootstrapServers() {
        return host + ":" + port;
    }

    public int port() {
        return port;
    }

    public long pid() {
        return process.pid();
    }

    /** The broker's temp directory (data and log); removed by close(). */
    public Path directory() {
        return dir;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** The broker's output so far (its last lines, for failure messages). */
    public String logTail() {
        return tail(log);
    }

    /**
     * Stops the broker by its pid: SIGTERM, up to 20 s, then SIGKILL; then
     * removes its directory (kept when the system property samsa.keepTmp is
     * true). Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed)
            return;
        closed = true;
        kill(process);
        removeHook(hook);
        if (!Boolean.getBoolean("samsa.keepTmp"))
            deleteTree(dir);
    }

    /** The exit code once closed (143 or 0 after SIGTERM, 137 after SIGKILL). */
    public int exitCode() {
        return process.exitValue();
    }

    private static void kill(Process p) {
        if (!p.isAlive())
            return;
        p.destroy(); // SIGTERM to the pid
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly(); // SIGKILL
                p.waitFor(20, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs (or ran) anyway
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return lines.subList(Math.max(0, lines.size() - 30), lines.size()).stream()
                    .map(l -> "  | " + l).collect(Collectors.joining("\n"));
        } catch (IOException e) {
            return "  | (no log: " + e.getMessage() + ")";
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).collect(Collectors.toList()))
                Files.deleteIfExists(p);
        } catch (IOException e) {
            // a leftover temp dir is not worth failing a test for
        }
    }

    @Override
    public String toString() {
        return "samsa-broker pid " + pid() + " on " + bootstrapServers();
    }

}
