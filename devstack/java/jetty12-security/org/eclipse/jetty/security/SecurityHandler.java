// devstack stand-in (see ../../../../README.md): wraps a handler and passes every request through.
package org.eclipse.jetty.security;

import org.eclipse.jetty.server.Handler;

public abstract class SecurityHandler extends Handler.Wrapper {
    protected SecurityHandler() {
        super();
    }

    /** No identity service: nothing runs as another user. */
    public IdentityService getIdentityService() {
        return null;
    }
}
