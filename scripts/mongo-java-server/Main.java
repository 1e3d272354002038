import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.ServerVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

import java.util.Locale;
import java.util.concurrent.CountDownLatch;

/**
 * Runs mongo-java-server with its in-memory backend as a standalone process for the test suites
 * (scripts/services.sh starts it). Everything is lost when the process ends.
 *
 * Usage: java -jar crm-mongo-java-server.jar [--host 127.0.0.1] [--port 27017] [--server-version 5.0]
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws InterruptedException {
    // Before any logger exists: slf4j-simple writes to stderr by default; the service log wants one stream.
    setDefault("org.slf4j.simpleLogger.logFile", "System.out");
    setDefault("org.slf4j.simpleLogger.showDateTime", "true");
    setDefault("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
    setDefault("org.slf4j.simpleLogger.defaultLogLevel", "info");
    setDefault("org.slf4j.simpleLogger.log.io.netty", "warn");
    // one INFO line per connection open/close would drown the log under the test suites' pools
    setDefault("org.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire.MongoWireProtocolHandler", "warn");
    // The Node driver ends pooled connections with a TCP reset, which this handler logs as an ERROR with a
    // stack trace per connection; turn it back on with -Dorg.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire.MongoExceptionHandler=error
    setDefault("org.slf4j.simpleLogger.log.de.bwaldvogel.mongo.wire.MongoExceptionHandler", "off");
    String host = "127.0.0.1";
    int port = 27017;
    String version = "5.0";
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (arg) {
        case "--host" -> { host = require(arg, value); i++; }
        case "--port" -> { port = Integer.parseInt(require(arg, value)); i++; }
        case "--server-version" -> { version = require(arg, value); i++; }
        default -> fail("unknown argument " + arg);
      }
    }

    // The library's default (3.6, wire version 6) is older than the Node driver 6.x accepts
    // (wire version 8+), so the version is part of the command line.
    ServerVersion serverVersion = parseVersion(version);
    MongoServer server = new MongoServer(new MemoryBackend().version(serverVersion));
    server.bind(host, port);
    System.out.printf(Locale.ROOT, "mongo-java-server listening on %s:%d (in-memory backend, reports MongoDB %s, wire version %d)%n",
        host, port, version, serverVersion.getWireVersion());
    System.out.flush();

    CountDownLatch stopped = new CountDownLatch(1);
    // SIGTERM/SIGINT run the shutdown hooks: close the listener and client connections, then exit 0.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.out.println("mongo-java-server shutting down");
      server.shutdownNow();
      stopped.countDown();
      System.out.println("mongo-java-server stopped");
      System.out.flush();
    }, "shutdown"));
    stopped.await();
  }

  private static ServerVersion parseVersion(String version) {
    return switch (version) {
      case "3.6" -> ServerVersion.MONGO_3_6;
      case "4.0" -> ServerVersion.MONGO_4_0;
      case "5.0" -> ServerVersion.MONGO_5_0;
      default -> { fail("unsupported --server-version " + version + " (3.6, 4.0 or 5.0)"); yield null; }
    };
  }

  private static void setDefault(String key, String value) {
    if (System.getProperty(key) == null) System.setProperty(key, value);
  }

  private static String require(String arg, String value) {
    if (value == null) fail(arg + " needs a value");
    return value;
  }

  private static void fail(String message) {
    System.err.println("mongo-java-server launcher: " + message);
    System.exit(2);
  }
}
