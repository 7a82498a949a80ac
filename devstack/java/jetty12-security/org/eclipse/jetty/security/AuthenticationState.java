// devstack stand-in (see ../../../../README.md): a request is never authenticated.
package org.eclipse.jetty.security;

import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;

public interface AuthenticationState {
    String ATTRIBUTE = AuthenticationState.class.getName();

    static AuthenticationState getAuthenticationState(Request request) {
        Object value = request == null ? null : request.getAttribute(ATTRIBUTE);
        return value instanceof AuthenticationState ? (AuthenticationState) value : null;
    }

    static void setAuthenticationState(Request request, AuthenticationState state) {
        request.setAttribute(ATTRIBUTE, state);
    }

    /** Login is refused: there is no login service. */
    static Succeeded login(String username, String password, Request request, Response response) {
        return null;
    }

    static boolean logout(Request request, Response response) {
        return false;
    }

    interface Succeeded extends AuthenticationState {
        UserIdentity getUserIdentity();

        String getAuthenticationType();

        boolean isUserInRole(String role);
    }

    interface Deferred extends AuthenticationState {
        Succeeded authenticate(Request request);
    }

    interface ResponseSent extends AuthenticationState {
    }
}
