//! Who may open Switchboard's own pages (the approval page, the webhook inspector): the rules they share.
//!
//! A request carrying the HTTP token (`Authorization: Bearer …`) may open any page. Any other request must name
//! a host this server answers to (loopback names, `[http] allowed_hosts`, the public URL's host), whatever its
//! peer: a DNS-rebinding page, or a tunnel or proxy on this machine, arrives from a loopback address too. What
//! else a page asks of such a request (a loopback peer, its own unguessable link) is the page's to say.

use crate::config::LOOPBACK_HOSTS;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, header};
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

/// Whether the request carries the configured HTTP token (compared in constant time); false when none is set.
pub fn has_token(headers: &HeaderMap, state: &AppState) -> bool {
    state.config.http.token.as_ref().is_some_and(|token| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .is_some_and(|(_, t)| bool::from(t.trim().as_bytes().ct_eq(token.expose_secret().as_bytes())))
    })
}

/// Whether the `Host` is a loopback name, one the operator allowed, or the public URL's host.
pub fn allowed_host(headers: &HeaderMap, state: &AppState) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return false };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    LOOPBACK_HOSTS.contains(&name)
        || state.config.http.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
        || state.config.approvals.public_url.as_ref().and_then(|u| u.host_str()).is_some_and(|h| h == name)
}

/// Whether the connection comes from this machine (the listener records each connection's peer).
pub fn loopback_peer(request: &Request) -> bool {
    request.extensions().get::<ConnectInfo<SocketAddr>>().is_some_and(|c| c.0.ip().to_canonical().is_loopback())
}
