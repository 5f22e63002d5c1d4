package dev.samsa.test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * The broker's life around a test class: stopped by its pid after the
 * class, passed or failed, or when the JVM exits; a clear error when there
 * is no binary. Each scenario class runs through the JUnit launcher.
 */
class LifecycleTest {
    private static final String PROP = "spring.kafka.bootstrap-servers";

    /** Every failure the launcher reported: (display name, throwable). */
    static List<Throwable> run(Class<?> c) {
        List<Throwable> failures = new ArrayList<>();
        Launcher l = LauncherFactory.create();
        l.execute(LauncherDiscoveryRequestBuilder.request().selectors(selectClass(c)).build(),
                new TestExecutionListener() {
                    @Override
                    public void executionFinished(TestIdentifier id, TestExecutionResult r) {
                        if (r.getStatus() != TestExecutionResult.Status.SUCCESSFUL)
                            failures.add(r.getThrowable().orElse(new AssertionError(id + ": " + r)));
                    }
                });
        return failures;
    }

    static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    @BeforeEach
    void clean() {
        System.clearProperty(PROP);
    }

    @Test
    void stoppedAfterAPassingClass() {
        ScenarioPassing.seen = null;
        assertEquals(List.of(), run(ScenarioPassing.class));
        SamsaBroker b = ScenarioPassing.seen;
        assertNotNull(b, "the scenario did not run");
        assertEquals(b.bootstrapServers(), ScenarioPassing.property, "the Spring property during the class");
        assertFalse(alive(b.pid()), "broker pid " + b.pid() + " still runs after the class");
        assertEquals(0, b.exitCode(), "stopped by SIGTERM (exit 0), not killed");
        assertFalse(Files.exists(b.directory()), b.directory() + " left behind");
        assertNull(System.getProperty(PROP), "the Spring property is cleared after the class");
    }

    @Test
    void stoppedAfterAFailingClass() {
        ScenarioFailing.seen = null;
        List<Throwable> f = run(ScenarioFailing.class);
        assertEquals(1, f.size(), "the scenario's one failure: " + f);
        assertTrue(f.get(0).getMessage().contains("failing on purpose"), f.get(0).toString());
        SamsaBroker b = ScenarioFailing.seen;
        assertNotNull(b, "the scenario did not run");
        assertFalse(alive(b.pid()), "broker pid " + b.pid() + " still runs after a failed class");
        assertFalse(Files.exists(b.directory()), b.directory() + " left behind");
        assertNull(System.getProperty(PROP));
    }

    @Test
    void aNestedClassSharesTheBrokerAndLeavesItRunning() {
        ScenarioNested.outer = null;
        assertEquals(List.of(), run(ScenarioNested.class));
        assertNotNull(ScenarioNested.outer, "the scenario did not run");
        assertFalse(alive(ScenarioNested.outer.pid()), "broker still runs after the class");
    }

    @Test
    void stoppedWhenStartFailsHalfway() {
        List<Long> before = brokerPids();
        List<Throwable> f = run(ScenarioBadTopic.class);
        assertEquals(1, f.size(), "one class-level failure: " + f);
        assertTrue(f.get(0).getMessage().contains("no spaces allowed"), f.get(0).toString());
        List<Long> after = brokerPids();
        after.removeAll(before);
        assertEquals(List.of(), after, "brokers left running by the failed class");
        assertNull(System.getProperty(PROP));
    }

    @Test
    void aMissingBinaryIsAClearError() {
        String old = System.getProperty(SamsaBroker.BINARY_PROPERTY);
        System.setProperty(SamsaBroker.BINARY_PROPERTY, "/nonexistent/samsa-broker");
        List<Throwable> f;
        try {
            f = run(ScenarioPassing.class);
        } finally {
            if (old == null)
                System.clearProperty(SamsaBroker.BINARY_PROPERTY);
            else
                System.setProperty(SamsaBroker.BINARY_PROPERTY, old);
        }
        assertEquals(1, f.size(), "one class-level failure: " + f);
        String m = f.get(0).getMessage();
        assertTrue(m.contains("samsa.broker") && m.contains("/nonexistent/samsa-broker"), m);

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> SamsaBroker.findBinary(null, "/nonexistent-a:/nonexistent-b"));
        assertTrue(e.getMessage().contains("samsa.broker"), e.getMessage());
        assertTrue(e.getMessage().contains("PATH") && e.getMessage().contains("/nonexistent-a"), e.getMessage());
    }

    @Test
    void theShutdownHookStopsABrokerLeftRunning() throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>(List.of(java.toString(), "-cp", cp));
        String bin = System.getProperty(SamsaBroker.BINARY_PROPERTY);
        if (bin != null)
            cmd.add(1, "-D" + SamsaBroker.BINARY_PROPERTY + "=" + bin);
        cmd.add(HookMain.class.getName());
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuilder out = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; )
                out.append(line).append('\n');
        }
        assertTrue(child.waitFor(120, TimeUnit.SECONDS), "the child JVM did not exit:\n" + out);
        assertEquals(3, child.exitValue(), out.toString());
        Matcher m = Pattern.compile("pid ([0-9]+) dir (\\S+)").matcher(out);
        assertTrue(m.find(), "no pid line:\n" + out);
        long pid = Long.parseLong(m.group(1));
        // the hook waits for the broker before the child JVM ends: gone now, not a zombie of ours
        assertFalse(alive(pid), "broker pid " + pid + " outlived its JVM");
        assertFalse(Files.exists(Path.of(m.group(2))), m.group(2) + " left behind");
    }

    /** Pids of samsa-broker processes that are children of this JVM. */
    static List<Long> brokerPids() {
        List<Long> out = new ArrayList<>();
        ProcessHandle.current().children().forEach(p -> {
            if (p.isAlive() && p.info().command().map(c -> c.endsWith("samsa-broker")).orElse(false))
                out.add(p.pid());
        });
        return out;
    }
}
