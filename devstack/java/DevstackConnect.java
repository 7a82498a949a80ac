// Launcher for a devstack Kafka Connect worker with a Jolokia agent in the same JVM.
//
// Usage: java DevstackConnect <jolokia-port> <control-file> <worker.properties>
//
// Jolokia 1.7.1 (Debian's jolokia-core) is served from the JDK's own HTTP server
// (com.sun.net.httpserver), through jolokia-core's HttpRequestHandler, the way Jolokia's JVM
// agent serves it. No servlet container is involved, so the same launcher works whatever Jetty
// the Connect version brings (Jetty 9 javax on 3.9, Jetty 12 ee10 jakarta on 4.x).
//
// A daemon thread watches <control-file>: while it exists the Jolokia listener is closed
// (connections refused), so the devstack can make Jolokia unreachable while the Connect REST API
// keeps answering. Then ConnectDistributed.main takes over the main thread.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.jolokia.backend.BackendManager;
import org.jolokia.config.ConfigKey;
import org.jolokia.config.Configuration;
import org.jolokia.http.HttpRequestHandler;
import org.jolokia.restrictor.AllowAllRestrictor;
import org.jolokia.util.LogHandler;
import org.json.simple.JSONAware;

public final class DevstackConnect {
    private static final String CONTEXT = "/jolokia";

    private final int port;
    private final HttpRequestHandler handler;
    private final ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "devstack-jolokia-http");
        t.setDaemon(true);
        return t;
    });
    private HttpServer server;

    private DevstackConnect(int port) {
        this.port = port;
        LogHandler log = new LogHandler() {
            public void debug(String message) {}

            public void info(String message) {
                System.err.println("devstack: jolokia: " + message);
            }

            public void error(String message, Throwable t) {
                System.err.println("devstack: jolokia error: " + message + (t == null ? "" : " " + t));
            }
        };
        // Jolokia's own defaults (stack traces in errors included), as the servlet had them.
        Configuration config = new Configuration(ConfigKey.AGENT_ID, "devstack-" + port,
                ConfigKey.AGENT_TYPE, "jvm", ConfigKey.AGENT_CONTEXT, CONTEXT);
        BackendManager backend = new BackendManager(config, log, new AllowAllRestrictor());
        this.handler = new HttpRequestHandler(config, backend, log);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: DevstackConnect <jolokia-port> <control-file> <worker.properties>");
            System.exit(2);
        }
        DevstackConnect agent = new DevstackConnect(Integer.parseInt(args[0]));
        agent.open();
        Path control = Paths.get(args[1]);
        Thread watcher = new Thread(() -> agent.watch(control), "devstack-jolokia-control");
        watcher.setDaemon(true);
        watcher.start();

        String[] rest = new String[args.length - 2];
        System.arraycopy(args, 2, rest, 0, rest.length);
        org.apache.kafka.connect.cli.ConnectDistributed.main(rest);
    }

    private synchronized void open() throws IOException {
        // A stopped HttpServer cannot be started again: every reopen binds a new one.
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 16);
        s.createContext(CONTEXT, this::serve);
        s.setExecutor(executor);
        s.start();
        server = s;
        System.err.println("devstack: jolokia listening on 127.0.0.1:" + port + CONTEXT);
    }

    private synchronized void close() {
        if (server != null) {
            server.stop(0);
            server = null;
        }
    }

    private void serve(HttpExchange exchange) throws IOException {
        JSONAware json;
        try {
            String path = exchange.getRequestURI().getRawPath();
            String pathInfo = path.length() > CONTEXT.length() ? path.substring(CONTEXT.length()) : "/";
            Map<String, String[]> params = queryParameters(exchange.getRequestURI().getRawQuery());
            String method = exchange.getRequestMethod();
            if ("POST".equals(method)) {
                try (InputStream body = exchange.getRequestBody()) {
                    json = handler.handlePostRequest(exchange.getRequestURI().toString(), body, "UTF-8", params);
                }
            } else if ("GET".equals(method)) {
                json = handler.handleGetRequest(exchange.getRequestURI().toString(), decode(pathInfo), params);
            } else {
                exchange.getResponseHeaders().set("Allow", "GET, POST");
                exchange.sendResponseHeaders(405, -1);
                exchange.close();
                return;
            }
        } catch (Throwable t) {
            json = handler.handleThrowable(t);
        }
        // Jolokia 1.x answers HTTP 200 and carries the request's own status in the body.
        byte[] bytes = json.toJSONString().getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain;charset=utf-8");
        exchange.getResponseHeaders().set("Cache-Control", "no-cache");
        exchange.sendResponseHeaders(200, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static Map<String, String[]> queryParameters(String rawQuery) {
        Map<String, List<String>> collected = new HashMap<>();
        if (rawQuery != null && !rawQuery.isEmpty()) {
            for (String pair : rawQuery.split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String key = decodeQuery(eq < 0 ? pair : pair.substring(0, eq));
                String value = eq < 0 ? "" : decodeQuery(pair.substring(eq + 1));
                collected.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
            }
        }
        Map<String, String[]> params = new HashMap<>();
        collected.forEach((k, v) -> params.put(k, v.toArray(new String[0])));
        return params;
    }

    private static String decodeQuery(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    private static String decode(String path) {  // a path keeps its '+' (only a query means space by it)
        return URLDecoder.decode(path.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    private void watch(Path control) {
        boolean open = true;
        while (true) {
            try {
                boolean wantClosed = Files.exists(control);
                if (wantClosed && open) {
                    close();
                    open = false;
                    System.err.println("devstack: jolokia listener closed (" + control + " present)");
                } else if (!wantClosed && !open) {
                    open();
                    open = true;
                    System.err.println("devstack: jolokia listener reopened");
                }
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                System.err.println("devstack: jolokia control error: " + e);
                try {
                    Thread.sleep(500);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }
}
