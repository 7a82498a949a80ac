// devstack stand-in (see ../../../../README.md): constraints can be described, none is enforced.
package org.eclipse.jetty.security;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

public interface Constraint {
    String getName();

    Transport getTransport();

    Authorization getAuthorization();

    Set<String> getRoles();

    enum Authorization { ALLOWED, FORBIDDEN, ANY_USER, KNOWN_ROLE, SPECIFIC_ROLE, INHERIT }

    enum Transport { SECURE, ANY, INHERIT }

    Constraint FORBIDDEN = from("FORBIDDEN", Transport.INHERIT, Authorization.FORBIDDEN, null);

    Constraint ALLOWED_ANY_TRANSPORT = from("ALLOWED_ANY_TRANSPORT", Transport.ANY, Authorization.ALLOWED, null);

    static Constraint from(String name, Transport transport, Authorization authorization, Set<String> roles) {
        Set<String> fixed = roles == null ? Collections.emptySet()
                : Collections.unmodifiableSet(new LinkedHashSet<>(roles));
        return new Constraint() {
            public String getName() {
                return name;
            }

            public Transport getTransport() {
                return transport == null ? Transport.INHERIT : transport;
            }

            public Authorization getAuthorization() {
                return authorization == null ? Authorization.INHERIT : authorization;
            }

            public Set<String> getRoles() {
                return fixed;
            }
        };
    }

    class Builder {
        private String name;
        private Transport transport;
        private Authorization authorization;
        private final Set<String> roles = new LinkedHashSet<>();

        public Builder() {
        }

        public Builder name(String value) {
            name = value;
            return this;
        }

        public Builder transport(Transport value) {
            transport = value;
            return this;
        }

        public Builder authorization(Authorization value) {
            authorization = value;
            return this;
        }

        public Builder roles(String... values) {
            if (values != null) {
                Collections.addAll(roles, values);
            }
            return this;
        }

        public Constraint build() {
            return from(name, transport, authorization, roles);
        }
    }
}
