// Prints the Kafka protocol API versions the kafka-clients jar on the classpath speaks:
// one line "id name oldest latest" per API key. Run as a single-file program:
//   java -cp '<libs>/*' devstack/java/ClientApiVersions.java
import org.apache.kafka.common.protocol.ApiKeys;

public final class ClientApiVersions {
    public static void main(String[] args) {
        for (ApiKeys key : ApiKeys.values()) {
            System.out.println(key.id + " " + key.name + " " + key.oldestVersion() + " " + key.latestVersion());
        }
    }
}
