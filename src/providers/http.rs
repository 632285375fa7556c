//! The one outbound HTTP client: deadlines, bounded retries with jitter, `Retry-After`, redaction.
//!
//! Every call has a per-attempt timeout and an overall deadline. Only requests that are safe to repeat
//! ([`Retry::Safe`]: GETs, or POSTs that carry a provider idempotency key) are retried, on 408/429/5xx and
//! on connection failures. A POST without a key is sent exactly once. Redirects are never followed.

use crate::config::OutboundConfig;
use backon::{ExponentialBuilder, Retryable};
use reqwest::{Client, RequestBuilder, StatusCode};
use std::sync::OnceLock;
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
}

/// The request never produced an HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no answer within the deadline")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Other(String),
}

/// Shared, lazily built `reqwest` client (TLS roots load on first use, not at start-up).
#[derive(Debug)]
pub struct HttpClient {
    client: OnceLock<Client>,
    policy: OutboundConfig,
}

enum Attempt {
    /// An answer worth retrying (408, 429, 5xx).
    Retryable(Reply),
    Failed(TransportError),
}

impl HttpClient {
    pub fn new(policy: OutboundConfig) -> Self {
        HttpClient { client: OnceLock::new(), policy }
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
            .map_err(|e| TransportError::Other(e.to_string()))?;
        Ok(self.client.get_or_init(|| built))
    }

    /// Send the request `build` makes, retrying per `retry`, and return the final answer.
    pub async fn send(&self, retry: Retry, build: impl Fn(&Client) -> RequestBuilder) -> Result<Reply, TransportError> {
        let client = self.client()?;
        let started = Instant::now();
        let deadline = self.policy.call_deadline;
        let attempt = || async {
            match build(client).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(resp.headers());
                    let body = resp.bytes().await.map_err(|e| Attempt::Failed(classify(&e)))?;
                    let reply = Reply { status, body, retry_after };
                    if is_retryable_status(status) { Err(Attempt::Retryable(reply)) } else { Ok(reply) }
                }
                Err(e) => Err(Attempt::Failed(classify(&e))),
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
        match tokio::time::timeout(deadline, run).await {
            Err(_) => Err(TransportError::Timeout),
            Ok(Ok(reply)) | Ok(Err(Attempt::Retryable(reply))) => Ok(reply),
            Ok(Err(Attempt::Failed(e))) => Err(e),
        }
    }
}

/// 409 too: Stripe answers it while an earlier request with the same idempotency key is still running.
fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 409 | 429 | 500 | 502 | 503 | 504)
}

fn classify(e: &reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout
    } else if e.is_connect() {
        TransportError::Connect(redact(&without_url(e)))
    } else {
        TransportError::Other(redact(&without_url(e)))
    }
}

/// reqwest errors embed the URL; query strings may carry customer e-mails, so drop it.
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
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

/// `base` (a configured provider URL, with or without a trailing slash) joined with an absolute API `path`.
pub fn endpoint(base: &reqwest::Url, path: &str) -> String {
    format!("{}{path}", base.as_str().trim_end_matches('/'))
}

/// Mask anything that looks like a credential before text leaves the process (logs, tool results).
pub fn redact(text: &str) -> String {
    const PREFIXES: &[&str] =
        &["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_", "rzp_live_", "rzp_test_", "Bearer ", "Basic "];
    let mut out = text.to_string();
    for prefix in PREFIXES {
        let mut from = 0;
        while let Some(found) = out[from..].find(prefix) {
            let start = from + found + prefix.len();
            let end = out[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*' | '+' | '/' | '=' | '.')))
                .map_or(out.len(), |i| start + i);
            out.replace_range(start..end, "[REDACTED]");
            from = start + "[REDACTED]".len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked() {
        assert_eq!(redact("Invalid API Key provided: sk_test_abc123"), "Invalid API Key provided: sk_test_[REDACTED]");
        assert_eq!(redact("Bearer abc.def and whsec_xyz="), "Bearer [REDACTED] and whsec_[REDACTED]");
        assert_eq!(redact("nothing here"), "nothing here");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
