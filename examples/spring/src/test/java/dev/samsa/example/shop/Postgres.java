package dev.samsa.example.shop;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A PostgreSQL server of the test's own, like tests/integration/pg.py:
 * initdb in a temp dir (as the postgres system user when run as root:
 * initdb refuses root), trust auth, on 127.0.0.1 and a free port (JDBC has
 * no Unix sockets), stopped by its postmaster's pid (SIGINT: fast
 * shutdown) whatever happens.
 */
final class Postgres implements AutoCloseable {
    static final String USER = "samsa";

    final Path dir;
    final int port;
    private final Path bin;
    private final Path data;
    private final String runAs;
    private Child server;

    Postgres() throws IOException {
        bin = findBin();
        dir = Files.createTempDirectory("samsa-spring-pg-");
        data = dir.resolve("data");
        runAs = "root".equals(System.getProperty("user.name")) ? "postgres" : null;
        if (runAs != null) {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            UserPrincipalLookupService lu = dir.getFileSystem().getUserPrincipalLookupService();
            Files.setOwner(dir, lu.lookupPrincipalByName(runAs));
        }
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
    }

    private static Path findBin() {
        String env = System.getenv("SAMSA_PG_BIN");
        if (env != null && Files.isExecutable(Path.of(env, "initdb")))
            return Path.of(env);
        for (String v : List.of("17", "16", "15", "14", "13")) {
            Path p = Path.of("/usr/lib/postgresql", v, "bin");
            if (Files.isExecutable(p.resolve("initdb")))
                return p;
        }
        throw new IllegalStateException("no PostgreSQL server (/usr/lib/postgresql/*/bin/initdb or SAMSA_PG_BIN); "
                + "scripts/deps.sh test installs it");
    }

    private List<String> as(List<String> cmd) {
        List<String> out = new ArrayList<>();
        if (runAs != null)
            out.addAll(List.of("runuser", "-u", runAs, "--"));
        out.addAll(cmd);
        return out;
    }

    Postgres start(String database) throws Exception {
        Process init = new ProcessBuilder(as(List.of(bin.resolve("initdb").toString(), "-D", data.toString(),
                "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync")))
                .redirectErrorStream(true).redirectOutput(dir.resolve("initdb.log").toFile()).start();
        if (!init.waitFor(120, TimeUnit.SECONDS) || init.exitValue() != 0)
            throw new IllegalStateException("initdb failed:\n" + Files.readString(dir.resolve("initdb.log"), StandardCharsets.UTF_8));
        Path log = dir.resolve("postgres.log");
        Files.createFile(log);
        if (runAs != null)
            Files.setOwner(log, log.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(runAs));
        server = Child.start("postgres", log, as(List.of(bin.resolve("postgres").toString(), "-D", data.toString(),
                "-p", String.valueOf(port), "-c", "listen_addresses=127.0.0.1", "-k", dir.toString(),
                "-c", "fsync=off")));
        server.awaitReady(java.util.regex.Pattern.compile("database system is ready to accept connections"));
        try (Connection c = DriverManager.getConnection(jdbcUrl("postgres"), USER, "");
             Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + database);
        }
        return this;
    }

    String jdbcUrl(String db) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + db;
    }

    /** The libpq URL samsa-relay takes. */
    String libpqUrl(String db) {
        return "postgresql://" + USER + "@127.0.0.1:" + port + "/" + db;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (server != null && server.alive()) {
            // under runuser the postmaster is runuser's child: signal it by its pid file
            Path pidFile = data.resolve("postmaster.pid");
            if (Files.exists(pidFile)) {
                String pid = Files.readAllLines(pidFile).get(0).trim();
                new ProcessBuilder("kill", "-INT", pid).start().waitFor(10, TimeUnit.SECONDS);
            }
            server.stop();
        }
        if (!Boolean.getBoolean("samsa.keepTmp"))
            new ProcessBuilder("rm", "-rf", dir.toString()).start().waitFor(60, TimeUnit.SECONDS);
    }

    static void exec(String url, String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection(url, USER, ""); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
