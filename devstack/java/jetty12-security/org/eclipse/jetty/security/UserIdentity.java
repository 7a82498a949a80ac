// devstack stand-in (see ../../../../README.md).
package org.eclipse.jetty.security;

import java.security.Principal;

public interface UserIdentity {
    Principal getUserPrincipal();
}
