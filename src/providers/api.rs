//! The one outbound call path every provider client uses: base URL, auth, query, a JSON or form body, the
//! provider's error envelope, and "not found" naming the object asked for. A client keeps only its endpoints
//! and its [`ErrorBody`] type.
//!
//! Requests go through the shared [`HttpClient`] (deadlines, retry policy, redaction); every upstream text that
//! reaches a [`ProviderError`] passes the [`Reply`]'s redactor on the way.

use super::ProviderError;
use super::http::{HttpClient, Reply, Retry};
use super::redact::Redacted;
use crate::domain::ProviderId;
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::Arc;

/// How a provider authenticates Switchboard.
pub enum Auth {
    /// HTTP Basic: Razorpay's `key_id:key_secret`.
    Basic { user: String, password: SecretString },
    /// A bearer token: Stripe's API key, HubSpot's private app token, Notion's integration token.
    Bearer(SecretString),
}

/// A provider's error body, read once per provider: its words, and what it means when the status alone does
/// not say (Razorpay reports a missing object as 400).
pub trait ErrorBody: DeserializeOwned {
    /// What the error means beyond its HTTP status.
    fn meaning(&self, _status: StatusCode) -> Meaning {
        Meaning::Status
    }

    /// The provider's message, with whatever makes it actionable (the offending field, the missing scope).
    fn into_message(self) -> Option<String>;
}

/// What an error answer means, as far as its body tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// Whatever the HTTP status says (404 is "not found" for every provider).
    Status,
    /// No such object.
    NotFound,
    /// Too many requests.
    RateLimited,
    /// A conflicting request is in flight or was already made.
    Conflict,
    /// A definite refusal whose words say what to do, whatever the status (Meta's coded errors).
    Rejected,
    /// An error that does not say whether the request was carried out (Meta's "unknown" / "temporary" codes).
    Uncertain,
}

/// The object a call reads or changes, so that "no such object" can name it ("Razorpay has no invoice with id
/// 'inv_…'"). A call without one (a listing, a create) maps a "not found" answer by its status.
#[derive(Debug, Clone, Copy)]
pub struct Object<'a> {
    pub kind: &'static str,
    pub id: &'a str,
}

impl<'a> Object<'a> {
    pub fn new(kind: &'static str, id: &'a str) -> Self {
        Object { kind, id }
    }
}

/// A request body.
pub enum Body<'a, B: ?Sized> {
    None,
    Json(&'a B),
    /// `application/x-www-form-urlencoded` (Stripe).
    Form(&'a B),
}

/// One call: what to send, whether it may be repeated, and what it is about.
pub struct Call<'a, B: ?Sized = ()> {
    method: Method,
    path: &'a str,
    query: &'a [(&'a str, String)],
    body: Body<'a, B>,
    retry: Retry,
    object: Option<Object<'a>>,
    idempotency_key: Option<&'a str>,
}

impl<'a> Call<'a> {
    /// A GET: safe to repeat.
    pub fn get(path: &'a str) -> Self {
        Call::new(Method::GET, path, Body::None, Retry::Safe)
    }

    /// A POST without a body: sent once unless [`Call::retry`] says otherwise.
    pub fn post_empty(path: &'a str) -> Self {
        Call::new(Method::POST, path, Body::None, Retry::Never)
    }
}

impl<'a, B: Serialize + ?Sized> Call<'a, B> {
    /// A POST with a body: sent once unless it carries an idempotency key or [`Call::retry`] says otherwise.
    pub fn post(path: &'a str, body: Body<'a, B>) -> Self {
        Call::new(Method::POST, path, body, Retry::Never)
    }

    /// A PATCH that sets fields to given values: repeating it changes nothing more, so it may be retried.
    pub fn patch(path: &'a str, body: Body<'a, B>) -> Self {
        Call::new(Method::PATCH, path, body, Retry::Safe)
    }

    fn new(method: Method, path: &'a str, body: Body<'a, B>, retry: Retry) -> Self {
        Call { method, path, query: &[], body, retry, object: None, idempotency_key: None }
    }

    pub fn query(mut self, query: &'a [(&'a str, String)]) -> Self {
        self.query = query;
        self
    }

    /// Override whether the call may be repeated (a search sent as POST changes nothing).
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The object the call is about: a "not found" answer becomes [`ProviderError::NotFound`] naming it.
    pub fn about(mut self, object: Object<'a>) -> Self {
        self.object = Some(object);
        self
    }

    /// Send `key` as the `Idempotency-Key` header. The provider then answers a repeat with the first answer, so
    /// the call may be retried.
    pub fn idempotency_key(mut self, key: &'a str) -> Self {
        self.idempotency_key = Some(key);
        self.retry = Retry::Safe;
        self
    }
}

/// One provider's API: where it is, how to authenticate, and how to read its errors (`E`).
pub struct Api<E> {
    provider: ProviderId,
    base: Url,
    auth: Auth,
    /// Headers every request carries (Stripe's pinned API version).
    headers: &'static [(&'static str, &'static str)],
    http: Arc<HttpClient>,
    envelope: PhantomData<fn() -> E>,
}

impl<E: ErrorBody> Api<E> {
    pub fn new(provider: ProviderId, base: Url, auth: Auth, http: Arc<HttpClient>) -> Self {
        Api { provider, base, auth, headers: &[], http, envelope: PhantomData }
    }

    /// Headers to send with every request.
    pub fn with_headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Self {
        self.headers = headers;
        self
    }

    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// Send `call` and decode a success as `T`; map anything else to a [`ProviderError`].
    pub async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        call: Call<'_, B>,
    ) -> Result<T, ProviderError> {
        let url = endpoint(&self.base, call.path);
        let reply = self
            .http
            .send(self.provider, call.retry, |client| {
                let mut request = client.request(call.method.clone(), &url).query(call.query);
                request = match &self.auth {
                    Auth::Basic { user, password } => request.basic_auth(user, Some(password.expose_secret())),
                    Auth::Bearer(token) => request.bearer_auth(token.expose_secret()),
                };
                for (name, value) in self.headers {
                    request = request.header(*name, *value);
                }
                if let Some(key) = call.idempotency_key {
                    request = request.header("Idempotency-Key", key);
                }
                match call.body {
                    Body::None => request,
                    Body::Json(body) => request.json(body),
                    Body::Form(body) => request.form(body),
                }
            })
            .await
            .map_err(|e| ProviderError::transport(self.provider, e))?;
        self.decode(reply, call.object)
    }

    fn decode<T: DeserializeOwned>(&self, reply: Reply, object: Option<Object<'_>>) -> Result<T, ProviderError> {
        let provider = self.provider;
        if reply.status.is_success() {
            return reply.json(provider);
        }
        let body = serde_json::from_slice::<E>(&reply.body).ok();
        let meaning = body.as_ref().map_or(Meaning::Status, |b| b.meaning(reply.status));
        let message = match body.and_then(ErrorBody::into_message) {
            Some(text) => reply.redact(&text),
            None => Redacted::own(format!("HTTP {}", reply.status.as_u16())),
        };
        let missing = reply.status == StatusCode::NOT_FOUND || meaning == Meaning::NotFound;
        Err(match (meaning, object) {
            (_, Some(object)) if missing => {
                ProviderError::NotFound { provider, what: object.kind, id: object.id.to_string() }
            }
            (Meaning::RateLimited, _) => ProviderError::RateLimited { provider, retry_after: reply.retry_after },
            (Meaning::Conflict, _) => ProviderError::Conflict { provider, message },
            (Meaning::Rejected, _) => ProviderError::Rejected { provider, message },
            (Meaning::Uncertain, _) => ProviderError::Uncertain { provider, message },
            _ => ProviderError::from_status(provider, &reply, message),
        })
    }
}

/// `base` (a configured provider URL, with or without a trailing slash) joined with an absolute API `path`.
fn endpoint(base: &Url, path: &str) -> String {
    format!("{}{path}", base.as_str().trim_end_matches('/'))
}
