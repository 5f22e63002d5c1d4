package dev.samsa.clients;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One samsa-broker for a test class: the binary named by the system property
 * samsa.broker (set by tests/java/run.py from the ctest registration), started
 * on 127.0.0.1:0 (the port it chose is read from its ready line) with a
 * temporary data directory, its output in a log file there. stop() sends
 * SIGTERM to its pid, waits, then SIGKILL; it reports whether the broker was
 * still alive, its exit code and any sanitizer report, so a test class can
 * fail when the broker crashed, exited badly or logged ASan/UBSan errors.
 *
 * Kept small and local on purpose; it should later move onto the JUnit 5
 * extension of clients/java/samsa-test (@EmbeddedSamsa).
 */
final class SamsaBroker {
    private static final Pattern READY = Pattern.compile("started in [0-9.]+ ms: listening on ([0-9.]+):([0-9]+)");
    private static final Pattern SANITIZER = Pattern.compile(
        "runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: UndefinedBehaviorSanitizer");

    private final Path dir;
    private final Path log;
    private final Process proc;
    private final int port;
    private final Thread hook;

    private SamsaBroker(Path dir, Path log, Process proc, int port, Thread hook) {
        this.dir = dir;
        this.log = log;
        this.proc = proc;
        this.port = port;
        this.hook = hook;
    }

    /** Starts a broker with these --override properties besides listeners and log.dirs. */
    static SamsaBroker start(Map<String, String> overrides) throws IOException, InterruptedException {
        String bin = System.getProperty("samsa.broker", "");
        if (bin.isEmpty())
            throw new IllegalStateException("no broker binary: run with -Dsamsa.broker=/path/to/samsa-broker (tests/java/run.py)");
        Path dir = Files.createTempDirectory("samsa-java-");
        Path data = Files.createDirectory(dir.resolve("data"));
        Path log = dir.resolve("broker.log");
        List<String> args = new ArrayList<>();
        // setpriv (util-linux) sets PR_SET_PDEATHSIG and execs the broker (same pid): a test JVM
        // killed outright (a ctest timeout) takes its brokers with it. The JVM's shutdown hook
        // below covers an ordinary exit.
        if (Files.isExecutable(Path.of("/usr/bin/setpriv")))
            args.addAll(List.of("/usr/bin/setpriv", "--pdeathsig", "KILL", "--"));
        args.addAll(List.of(bin,
            "--override", "listeners=PLAINTEXT://127.0.0.1:0",
            "--override", "log.dirs=" + data));
        overrides.forEach((k, v) -> {
            args.add("--override");
            args.add(k + "=" + v);
        });
        ProcessBuilder pb = new ProcessBuilder(args).redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p = pb.start();
        // A JVM that ends without @AfterAll (a killed fork) still stops it.
        Thread hook = new Thread(p::destroyForcibly, "samsa-broker-" + p.pid() + "-kill");
        Runtime.getRuntime().addShutdownHook(hook);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            Matcher m = READY.matcher(read(log));
            if (m.find())
                return new SamsaBroker(dir, log, p, Integer.parseInt(m.group(2)), hook);
            if (!p.isAlive())
                throw new IllegalStateException("samsa-broker exited with code " + p.exitValue()
                    + " before its ready line:\n" + tail(read(log)));
            if (System.nanoTime() > deadline) {
                p.destroyForcibly().waitFor();
                throw new IllegalStateException("samsa-broker not ready after 30 s:\n" + tail(read(log)));
            }
            Thread.sleep(20);
        }
    }

    String bootstrap() {
        return "127.0.0.1:" + port;
    }

    Path dataDir() {
        return dir.resolve("data");
    }

    /** cluster.id from the data dir's meta.properties. */
    String clusterId() throws IOException {
        for (String l : Files.readAllLines(dataDir().resolve("meta.properties")))
            if (l.startsWith("cluster.id="))
                return l.substring("cluster.id=".length()).trim();
        throw new IllegalStateException("no cluster.id in meta.properties");
    }

    long pid() {
        return proc.pid();
    }

    String logText() {
        return read(log);
    }

    /**
     * SIGTERM by pid, up to 20 s, then SIGKILL; removes the temp dir unless
     * SAMSA_KEEP_TMP=1. Returns null when the broker was alive, exited 0 and
     * logged no sanitizer report, else what went wrong with the log's tail.
     */
    String stop() throws InterruptedException {
        boolean alive = proc.isAlive();
        proc.destroy();   // SIGTERM
        if (!proc.waitFor(20, TimeUnit.SECONDS)) {
            proc.destroyForcibly();
            proc.waitFor();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // the JVM is shutting down already
        }
        int code = proc.exitValue();
        String text = read(log);
        List<String> reports = text.lines().filter(l -> SANITIZER.matcher(l).find()).toList();
        String problem = null;
        if (!alive || code != 0 || !reports.isEmpty())
            problem = "samsa-broker (pid " + proc.pid() + "): alive at the end " + alive + ", exit code after SIGTERM "
                + code + ", sanitizer reports " + reports.size() + "\n" + tail(text);
        if (!"1".equals(System.getenv("SAMSA_KEEP_TMP")))
            removeTree(dir);
        else
            System.err.println("kept " + dir);
        return problem;
    }

    /** Polls cond every 20 ms until it holds; fails naming what after timeout. */
    static void await(Duration timeout, String what, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline)
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            Thread.sleep(20);
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private static String tail(String text) {
        List<String> lines = text.lines().toList();
        StringBuilder sb = new StringBuilder();
        for (String l : lines.subList(Math.max(0, lines.size() - 40), lines.size()))
            sb.append("  | ").append(l).append('\n');
        return sb.toString();
    }

    private static void removeTree(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: it is a temp dir
        }
    }
}
