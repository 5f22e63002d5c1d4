package dev.samsa.example.shop;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A child process of the test (samsa-relay, shop-stock, PostgreSQL): output
 * appended to a log file, started and awaited by its ready line, stopped by
 * its pid (SIGTERM, then SIGKILL) by stop() or a JVM shutdown hook.
 */
final class Child {
    final String name;
    final Path log;
    private final Process proc;
    private final Thread hook;

    private Child(String name, Path log, Process proc) {
        this.name = name;
        this.log = log;
        this.proc = proc;
        this.hook = new Thread(this::stopQuietly, name + "-stop");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    static Child start(String name, Path log, List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        return new Child(name, log, p);
    }

    /** Waits for ready in the output; fails (and stops the child) if it exits first or after 60 s. */
    Matcher awaitReady(Pattern ready) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            Matcher m = ready.matcher(Files.readString(log, StandardCharsets.UTF_8));
            if (m.find())
                return m;
            if (!proc.isAlive() || System.nanoTime() > deadline) {
                String why = proc.isAlive() ? "not ready after 60 s" : "exited with code " + proc.exitValue();
                stop();
                throw new IllegalStateException(name + " " + why + ":\n" + tail());
            }
            proc.waitFor(20, TimeUnit.MILLISECONDS);
        }
    }

    long pid() {
        return proc.pid();
    }

    boolean alive() {
        return proc.isAlive();
    }

    /** SIGTERM, up to 20 s, then SIGKILL; returns the exit code. */
    int stop() {
        stopQuietly();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // shutting down
        }
        return proc.exitValue();
    }

    private void stopQuietly() {
        if (!proc.isAlive())
            return;
        proc.destroy();
        try {
            if (!proc.waitFor(20, TimeUnit.SECONDS)) {
                proc.destroyForcibly();
                proc.waitFor(20, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            proc.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    String tail() {
        try {
            List<String> l = Files.readAllLines(log, StandardCharsets.UTF_8);
            return l.subList(Math.max(0, l.size() - 40), l.size()).stream().map(s -> "  | " + s)
                    .collect(Collectors.joining("\n"));
        } catch (IOException e) {
            return "  | (no log)";
        }
    }
}
