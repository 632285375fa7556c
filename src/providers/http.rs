//! The one outbound HTTP client: deadlines, bounded retries with jitter, `Retry-After`, redaction.
//!
//! Every call has a per-attempt timeout and an overall deadline. Only requests that are safe to repeat
//! ([`Retry::Safe`]: GETs, or POSTs that carry a provider idempotency key) are retried, on 408/429/5xx and
//! on connection failures. A POST without a key is sent exactly once. Redirects are never followed.
//!
//! The client holds the configuration's [`Redactor`]; every [`Reply`] carries it, so the error mapping in
//! [`super::api`] ([`Reply::redact`], [`Reply::json`]) and transport errors mask credentials with no code in
//! the provider clients. Provider clients do not call [`HttpClient::send`] themselves: [`super::api::Api`] does.

use super::ProviderError;
use super::redact::{Redacted, Redactor};
use crate::config::OutboundConfig;
use crate::domain::ProviderId;
use crate::metrics::Metrics;
use backon::{ExponentialBuilder, Retryable};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Whether a request may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Repeating it has no additional effect (GET, or POST with an upstream idempotency key).
    Safe,
    /// Send once; an unknown outcome is reported, never re-sent blindly.
    Never,
}

/// A complete HTTP answer (any status), after retries.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: bytes::Bytes,
    pub retry_after: Option<Duration>,
    redactor: Arc<Redactor>,
}

impl Reply {
    /// The body of a success, decoded. serde quotes an offending value ("invalid type: string \"…\", expected
    /// u64"), so its message is redacted: a wrongly typed field must not carry a credential out.
    pub fn json<T: DeserializeOwned>(&self, provider: ProviderId) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ProviderError::Decode { provider, message: self.redact(&e.to_string()) })
    }

    /// Upstream text (say, from the error body) with every credential masked.
    pub fn redact(&self, text: &str) -> Redacted {
        self.redactor.redact(text)
    }
}

/// The request never produced an HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no answer within the deadline")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(Redacted),
    #[error("request failed: {0}")]
    Other(Redacted),
}

/// Shared, lazily built `reqwest` client (TLS roots load on first use, not at start-up).
#[derive(Debug)]
pub struct HttpClient {
    client: OnceLock<Client>,
    policy: OutboundConfig,
    redactor: Arc<Redactor>,
    metrics: Arc<Metrics>,
}

enum Attempt {
    /// An answer worth retrying (408, 429, 5xx).
    Retryable(Reply),
    Failed(TransportError),
}

impl HttpClient {
    /// `redactor` masks the configured credentials in everything upstream sends back
    /// ([`Redactor::from_config`]).
    pub fn new(policy: OutboundConfig, redactor: Arc<Redactor>) -> Self {
        HttpClient { client: OnceLock::new(), policy, redactor, metrics: Arc::default() }
    }

    /// Count calls, retries and durations into `metrics` (the server's `/metrics`).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    fn client(&self) -> Result<&Client, TransportError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let built = Client::builder()
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(self.policy.attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| TransportError::Other(self.redactor.redact(&e.to_string())))?;
        Ok(self.client.get_or_init(|| built))
    }

    /// Send the request `build` makes to `provider`, retrying per `retry`, and return the final answer.
    pub async fn send(
        &self,
        provider: ProviderId,
        retry: Retry,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Reply, TransportError> {
        let client = self.client()?;
        let started = Instant::now();
        let deadline = self.policy.call_deadline;
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let attempt = || async {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match build(client).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(resp.headers());
                    let body = resp.bytes().await.map_err(|e| Attempt::Failed(self.classify(&e)))?;
                    let reply = Reply { status, body, retry_after, redactor: self.redactor.clone() };
                    if is_retryable_status(status) { Err(Attempt::Retryable(reply)) } else { Ok(reply) }
                }
                Err(e) => Err(Attempt::Failed(self.classify(&e))),
            }
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.policy.min_backoff)
            .with_max_delay(Duration::from_secs(8))
            .with_max_times(if retry == Retry::Safe { self.policy.max_retries } else { 0 })
            .with_jitter();
        let run = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|a: &Attempt| match a {
                Attempt::Retryable(_) => true,
                // A connection that never opened cannot have reached the provider; anything else
                // (a timeout mid-request) is only retried when repeating is safe, which `max_times` enforces.
                Attempt::Failed(_) => true,
            })
            .adjust(|a: &Attempt, backoff: Option<Duration>| {
                let wait = match a {
                    Attempt::Retryable(reply) => match (reply.retry_after, backoff) {
                        (Some(ra), Some(b)) => Some(ra.max(b)),
                        (ra, b) => b.map(|b| ra.unwrap_or(b)),
                    },
                    Attempt::Failed(_) => backoff,
                }?;
                // Waiting past the deadline helps nobody: stop and report what we have.
                started.elapsed().checked_add(wait).is_some_and(|end| end < deadline).then_some(wait)
            });
        let result = match tokio::time::timeout(deadline, run).await {
            Err(_) => Err(TransportError::Timeout),
            Ok(Ok(reply)) | Ok(Err(Attempt::Retryable(reply))) => Ok(reply),
            Ok(Err(Attempt::Failed(e))) => Err(e),
        };
        let status = result.as_ref().ok().map(|r| r.status.as_u16());
        let tries = attempts.load(std::sync::atomic::Ordering::Relaxed);
        if tries > 1 {
            tracing::info!(target: "switchboard::notify", %provider, attempts = tries, ?status, "retried a provider call");
        }
        self.metrics.upstream(provider, status, tries, started.elapsed());
        result
    }

    fn classify(&self, e: &reqwest::Error) -> TransportError {
        if e.is_timeout() {
            TransportError::Timeout
        } else if e.is_connect() {
            TransportError::Connect(self.redactor.redact(&without_url(e)))
        } else {
            TransportError::Other(self.redactor.redact(&without_url(e)))
        }
    }
}

/// 409 too: Stripe answers it while an earlier request with the same idempotency key is still running. 529:
/// Notion's "service overloaded", sent with `Retry-After` like a 429.
fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 409 | 429 | 500 | 502 | 503 | 504 | 529)
}

/// reqwest errors embed the URL; query strings may carry customer e-mails, so drop it. Their own words say only
/// "error sending request"; the innermost cause says what happened ("Connection refused", a DNS failure), so it
/// is added.
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut root: Option<&(dyn std::error::Error + 'static)> = None;
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        root = Some(c);
        cause = c.source();
    }
    if let Some(root) = root.map(|r| r.to_string()).filter(|r| !msg.contains(r.as_str())) {
        msg = format!("{msg}: {root}");
    }
    if let Some(url) = e.url() {
        msg = msg.replace(url.as_str(), "<url>");
    }
    msg
}

/// `Retry-After` as delta-seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let secs = (when.timestamp() - chrono::Utc::now().timestamp()).max(0);
    Some(Duration::from_secs(secs.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
