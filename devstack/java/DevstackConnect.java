// Launcher for a devstack Kafka Connect worker with a Jolokia agent in the same JVM.
//
// Usage: java DevstackConnect <jolokia-port> <control-file> <worker.properties>
//
// Starts an embedded Jetty 9 server on 127.0.0.1:<jolokia-port> serving Jolokia's AgentServlet
// at /jolokia/*, then hands over to ConnectDistributed.main. A daemon thread watches
// <control-file>: while it exists the Jolokia listener is closed (connections refused), so the
// devstack can make Jolokia unreachable while the Connect REST API keeps answering.
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;
import org.jolokia.http.AgentServlet;

public final class DevstackConnect {
    private DevstackConnect() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: DevstackConnect <jolokia-port> <control-file> <worker.properties>");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        Path control = Paths.get(args[1]);

        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(port);
        server.addConnector(connector);
        ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
        context.setContextPath("/");
        context.addServlet(new ServletHolder(new AgentServlet()), "/jolokia/*");
        server.setHandler(context);
        server.start();
        System.err.println("devstack: jolokia listening on 127.0.0.1:" + port);

        Thread watcher = new Thread(() -> watch(connector, control), "devstack-jolokia-control");
        watcher.setDaemon(true);
        watcher.start();

        String[] rest = new String[args.length - 2];
        System.arraycopy(args, 2, rest, 0, rest.length);
        org.apache.kafka.connect.cli.ConnectDistributed.main(rest);
    }

    private static void watch(ServerConnector connector, Path control) {
        boolean open = true;
        while (true) {
            try {
                boolean wantClosed = Files.exists(control);
                if (wantClosed && open) {
                    connector.stop();
                    open = false;
                    System.err.println("devstack: jolokia listener closed (" + control + " present)");
                } else if (!wantClosed && !open) {
                    connector.start();
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
