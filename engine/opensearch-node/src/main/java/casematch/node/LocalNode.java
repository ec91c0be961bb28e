package casematch.node;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * casematch's local OpenSearch node: one real OpenSearch 2.19 server in this JVM.
 *
 * <p>Usage: {@code java -cp 'opensearch-node.jar:lib/*' casematch.node.LocalNode HOME [key=value ...]}.
 * HOME holds {@code config/} (log4j2.properties is written there when missing), {@code data/}
 * and {@code logs/}. Every {@code key=value} argument is a node setting and wins over the
 * defaults below (casematch passes {@code http.port}, for instance). The node writes
 * {@code logs/http.ports} once its REST interface listens ({@code node.portsfile}); that file is
 * what the caller waits for.
 *
 * <p>What the distribution's bootstrap would do and this launcher leaves out: the root, JNA and
 * jar-hell checks, the security manager and the production bootstrap checks. What it keeps: a
 * fail-fast plugin list (the classes are linked at compile time, so a missing module is a build
 * error, never a node silently started without HTTP), log4j configured from the config
 * directory, and an orderly close on SIGTERM.
 */
public final class LocalNode {

    /** The modules a REST client of casematch needs; exactly one network plugin (Netty4). */
    static final List<Class<? extends Plugin>> MODULES = List.of(
            Netty4Plugin.class,
            CommonAnalysisPlugin.class,
            MapperExtrasPlugin.class,
            ReindexPlugin.class,
            PainlessPlugin.class);

    private LocalNode() {}

    /** The protected 2.x constructor that takes classpath plugins, made reachable. */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    static Settings settings(Path home, String[] overrides) {
        Settings.Builder builder = Settings.builder()
                .put("cluster.name", "casematch")
                .put("node.name", "casematch-local")
                .put("discovery.type", "single-node")
                .put("network.host", "127.0.0.1")
                .put("http.port", "9200-9299")
                .put("transport.port", "9300-9399")
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("path.logs", home.resolve("logs").toString())
                .put("node.portsfile", true)
                // Small and nearly full disks are common here: never turn indices read-only.
                .put("cluster.routing.allocation.disk.threshold_enabled", false);
        for (String arg : overrides) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("a node setting must be key=value, not: " + arg);
            }
            builder.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        return builder.build();
    }

    static void writeLoggingConfig(Path configDir) throws IOException {
        Files.createDirectories(configDir);
        Path target = configDir.resolve("log4j2.properties");
        if (Files.exists(target)) {
            return;
        }
        try (InputStream in = LocalNode.class.getResourceAsStream("log4j2.properties")) {
            if (in == null) {
                throw new IOException("log4j2.properties is missing from the launcher jar");
            }
            Files.copy(in, target);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: LocalNode HOME [setting=value ...]");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath().normalize();
        String[] overrides = java.util.Arrays.copyOfRange(args, 1, args.length);
        Path configDir = home.resolve("config");
        writeLoggingConfig(configDir);
        Files.createDirectories(home.resolve("logs"));
        Files.deleteIfExists(home.resolve("logs").resolve("http.ports"));

        Settings settings = settings(home, overrides);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
                settings, Collections.emptyMap(), configDir, () -> "casematch-local");
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        LogConfigurator.configure(environment);

        Node node = new ClasspathNode(environment, MODULES);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "casematch-node-shutdown"));
        node.start();
        // OpenSearch's threads are daemons: keep the JVM alive until the shutdown hook ran.
        closed.await();
    }
}
