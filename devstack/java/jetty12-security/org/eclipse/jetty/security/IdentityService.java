// devstack stand-in (see ../../../../README.md).
package org.eclipse.jetty.security;

public interface IdentityService {
    RunAsToken newRunAsToken(String roleName);

    UserIdentity getSystemUserIdentity();

    Association associate(UserIdentity user, RunAsToken runAsToken);

    interface RunAsToken {
    }

    interface Association extends AutoCloseable {
        @Override
        void close();
    }
}
