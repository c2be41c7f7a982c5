package devmatrix;

import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/**
 * Starts an in-process Neo4j (the official test harness) for the Python test suite.
 *
 * <p>Protocol: exactly one line {@code BOLT_URI=bolt://127.0.0.1:PORT} on stdout once Bolt
 * accepts connections; everything else goes to stderr. The server stops when stdin closes (the
 * parent died or finished) or on SIGTERM, so no orphaned JVM outlives a test run.
 */
public final class Neo4jLauncher {

    private Neo4jLauncher() {}

    public static void main(String[] args) throws Exception {
        // Port 0 lets the OS pick a free port, so parallel test runs never collide.
        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder()
                .withDisabledServer()
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", 0))
                .withConfig(GraphDatabaseSettings.auth_enabled, false)
                .build();

        AtomicBoolean closed = new AtomicBoolean(false);
        CountDownLatch stop = new CountDownLatch(1);
        Runnable shutdown = () -> {
            if (closed.compareAndSet(false, true)) {
                try {
                    neo4j.close();
                } catch (RuntimeException e) {
                    System.err.println("neo4j shutdown failed: " + e);
                }
            }
            stop.countDown();
        };
        Runtime.getRuntime().addShutdownHook(new Thread(shutdown, "neo4j-shutdown"));

        int port = neo4j.boltURI().getPort();
        System.out.println("BOLT_URI=bolt://127.0.0.1:" + port);
        System.out.flush();

        Thread stdinWatcher = new Thread(() -> {
            InputStream in = System.in;
            byte[] buffer = new byte[256];
            try {
                while (in.read(buffer) >= 0) {
                    // Input is ignored; only end-of-stream matters.
                }
            } catch (IOException e) {
                // A broken stdin means the parent is gone: treat it like EOF.
            }
            stop.countDown();
        }, "stdin-watcher");
        stdinWatcher.setDaemon(true);
        stdinWatcher.start();

        stop.await();
        shutdown.run();
        System.exit(0);
    }
}
