//! Typed configuration: built-in defaults < TOML file < environment variables.
//!
//! Secrets are [`SecretString`]s: their `Debug` prints `[REDACTED]` and nothing here serialises them.
//! A bad configuration fails at start-up with a sentence naming the key, never mid-conversation.

use crate::domain::source::{Format, Scheme};
use crate::domain::{Provider, text};
use reqwest::Url;
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod notion;
pub use notion::{NOTION_DEFAULT_BASE_URL, NotionConfig, NotionProperties, notion_id};

/// Environment variables Switchboard reads, for docs and error messages.
pub mod env {
    pub const CONFIG: &str = "SWITCHBOARD_CONFIG";
    pub const DATA_DIR: &str = "SWITCHBOARD_DATA_DIR";
    pub const HTTP_TOKEN: &str = "SWITCHBOARD_HTTP_TOKEN";
    pub const DEFAULT_PROVIDER: &str = "SWITCHBOARD_DEFAULT_PROVIDER";
    pub const CONFIRM: &str = "SWITCHBOARD_CONFIRM";
    pub const APPROVAL_TTL_SECS: &str = "SWITCHBOARD_APPROVAL_TTL_SECS";
    pub const APPROVAL_WAIT_SECS: &str = "SWITCHBOARD_APPROVAL_WAIT_SECS";
    pub const PUBLIC_URL: &str = "SWITCHBOARD_PUBLIC_URL";
    pub const WEBHOOK_LISTEN: &str = "SWITCHBOARD_WEBHOOK_LISTEN";
    pub const WHATSAPP_APP_SECRET: &str = "WHATSAPP_APP_SECRET";
    pub const WHATSAPP_ACCESS_TOKEN: &str = "WHATSAPP_ACCESS_TOKEN";
    pub const WHATSAPP_PHONE_NUMBER_ID: &str = "WHATSAPP_PHONE_NUMBER_ID";
    pub const WHATSAPP_API_VERSION: &str = "WHATSAPP_API_VERSION";
    pub const WHATSAPP_BASE_URL: &str = "WHATSAPP_BASE_URL";
    pub const WHATSAPP_VERIFY_TOKEN: &str = "WHATSAPP_VERIFY_TOKEN";
    pub const READ_ONLY: &str = "SWITCHBOARD_READ_ONLY";
    pub const RAZORPAY_KEY_ID: &str = "RAZORPAY_KEY_ID";
    pub const RAZORPAY_KEY_SECRET: &str = "RAZORPAY_KEY_SECRET";
    pub const RAZORPAY_BASE_URL: &str = "RAZORPAY_BASE_URL";
    pub const STRIPE_API_KEY: &str = "STRIPE_API_KEY";
    pub const STRIPE_BASE_URL: &str = "STRIPE_BASE_URL";
    pub const HUBSPOT_ACCESS_TOKEN: &str = "HUBSPOT_ACCESS_TOKEN";
    pub const RAZORPAY_WEBHOOK_SECRET: &str = "RAZORPAY_WEBHOOK_SECRET";
    pub const STRIPE_WEBHOOK_SECRET: &str = "STRIPE_WEBHOOK_SECRET";
    pub const HUBSPOT_BASE_URL: &str = "HUBSPOT_BASE_URL";
    pub const NOTION_TOKEN: &str = "NOTION_TOKEN";
    pub const NOTION_INVOICES_DATABASE_ID: &str = "NOTION_INVOICES_DATABASE_ID";
    pub const NOTION_BASE_URL: &str = "NOTION_BASE_URL";
    pub const HTTP_MAX_CONNECTIONS: &str = "SWITCHBOARD_HTTP_MAX_CONNECTIONS";
    pub const HTTP_MAX_SESSIONS: &str = "SWITCHBOARD_HTTP_MAX_SESSIONS";
    pub const HTTP_SESSION_IDLE_SECS: &str = "SWITCHBOARD_HTTP_SESSION_IDLE_SECS";
    pub const HTTP_HEADER_READ_TIMEOUT_SECS: &str = "SWITCHBOARD_HTTP_HEADER_READ_TIMEOUT_SECS";
    pub const HTTP_BODY_TIMEOUT_SECS: &str = "SWITCHBOARD_HTTP_BODY_TIMEOUT_SECS";
    pub const HTTP_MAX_HEADER_BYTES: &str = "SWITCHBOARD_HTTP_MAX_HEADER_BYTES";
    pub const HTTP_MAX_BODY_BYTES: &str = "SWITCHBOARD_HTTP_MAX_BODY_BYTES";
}

/// A `postgres://` URL here selects the PostgreSQL store (any other value is left to the other tools that read
/// this common variable). Not in [`env`]: a shared database is set where a server fleet is deployed, so
/// `switchboard setup` and the desktop bundle do not offer it to a client's config.
pub const DATABASE_URL: &str = "DATABASE_URL";

/// Hosts that always mean this machine (in a `Host` header, any port).
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The whole configuration, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub razorpay: Option<RazorpayConfig>,
    pub stripe: Option<StripeConfig>,
    pub hubspot: Option<HubSpotConfig>,
    pub whatsapp: Option<WhatsAppConfig>,
    /// A Notion database used as the invoice book.
    pub notion: Option<NotionConfig>,
    /// Provider used when a tool call does not name one and it cannot be inferred.
    pub default_provider: Option<Provider>,
    pub http: HttpConfig,
    pub webhooks: WebhookConfig,
    pub outbound: OutboundConfig,
    /// Where durable state lives (idempotency ledger, event log).
    pub data_dir: PathBuf,
    /// Which database holds the durable state: SQLite in `data_dir` unless a PostgreSQL URL is set.
    pub store: StoreConfig,
    /// How a person approves tools that move money, message a customer or write to a CRM.
    pub confirm: ConfirmMode,
    /// The approval page: how long an approval waits for a person, how long a call waits for it, its address.
    pub approvals: ApprovalConfig,
    /// Serve only tools whose annotations say they are read-only.
    pub read_only: bool,
    /// Set by `switchboard demo` (never from a file or the environment): every provider is the local sandbox,
    /// tool results say `"mode": "sandbox"` and the instructions tell the model no real money moves.
    pub sandbox: bool,
}

/// How a person approves every tool call that moves money, messages a customer or writes to a CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmMode {
    /// Ask in the client (MCP elicitation) when it can; otherwise on the approval page. `require` is its older
    /// name.
    #[default]
    #[serde(alias = "require")]
    Elicit,
    /// Always on the approval page, even when the client could ask.
    Page,
    /// Never ask: the operator accepts that agents act alone (logged as a warning at start-up).
    Never,
}

/// The approval page's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalConfig {
    /// An approval nobody decides within this long expires, and nothing is done.
    pub ttl: Duration,
    /// How long a tool call waits for the decision before answering "pending" (the agent then calls again).
    pub wait: Duration,
    /// The address people reach the page at (e.g. behind a proxy); by default the listener's own address.
    pub public_url: Option<Url>,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        ApprovalConfig { ttl: Duration::from_secs(15 * 60), wait: Duration::from_secs(40), public_url: None }
    }
}

#[derive(Debug, Clone)]
pub struct RazorpayConfig {
    pub key_id: String,
    pub key_secret: SecretString,
    pub base_url: Url,
}

#[derive(Debug, Clone)]
pub struct HubSpotConfig {
    /// Private app access token (`pat-…`).
    pub access_token: SecretString,
    pub base_url: Url,
    /// Client-side cap on CRM search requests per second (HubSpot allows a few per second per account).
    pub search_per_second: u32,
}

/// WhatsApp Business Cloud API (Meta Graph API).
#[derive(Debug, Clone)]
pub struct WhatsAppConfig {
    /// System-user or business access token (`EAA…`).
    pub access_token: SecretString,
    /// The business phone number's id: the path segment messages are sent from.
    pub phone_number_id: String,
    /// Graph API version, e.g. "v26.0".
    pub api_version: String,
    pub base_url: Url,
}

pub const WHATSAPP_DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// The Graph API version Switchboard is written against (Meta's latest listed, 2026-07-29).
pub const WHATSAPP_DEFAULT_API_VERSION: &str = "v26.0";

/// HubSpot's search API allows about 4 requests per second per token; stay at or under it.
pub const HUBSPOT_DEFAULT_SEARCH_PER_SECOND: u32 = 4;

#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub api_key: SecretString,
    pub base_url: Url,
}

/// Webhook receiving.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Sources by name (the `{source}` in `POST /webhooks/{source}`).
    pub sources: BTreeMap<String, WebhookSource>,
    /// Where the stdio server also listens for deliveries (the HTTP server always serves `/webhooks/…`).
    pub listen: Option<SocketAddr>,
    /// Larger bodies are refused with 413.
    pub max_body_bytes: usize,
    /// Events (and their dedupe keys) are kept this long.
    pub retention_days: u32,
    /// The longest `wait_for_event` / `wait_for_payment` may wait.
    pub max_wait_secs: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            sources: BTreeMap::new(),
            listen: None,
            max_body_bytes: 1 << 20,
            retention_days: 30,
            max_wait_secs: 300,
        }
    }
}

/// One sender: its signature scheme, its payload format and its secrets (several while rotating).
#[derive(Debug, Clone)]
pub struct WebhookSource {
    pub scheme: Scheme,
    pub format: Format,
    pub secrets: Vec<SecretString>,
    /// The string the sender's dashboard echoes in a subscription handshake (`GET /webhooks/{source}?hub.mode=
    /// subscribe&hub.verify_token=…&hub.challenge=…`, Meta / WhatsApp). Not a signing key.
    pub verify_token: Option<SecretString>,
    /// Larger bodies are refused with 413: `[webhooks] max_body_bytes`, but at least 3 MiB for WhatsApp, whose
    /// batches may be that large.
    pub max_body_bytes: usize,
}

/// The body limit a WhatsApp source has at least (Meta: "payloads can be up to 3 MB").
pub const WHATSAPP_MIN_BODY_BYTES: usize = 3 << 20;

impl WebhookSource {
    /// A source with no handshake token and the given body limit.
    pub fn new(scheme: Scheme, format: Format, secrets: Vec<SecretString>, max_body_bytes: usize) -> Self {
        WebhookSource { scheme, format, secrets, verify_token: None, max_body_bytes }
    }
}

/// The store's database: `url` set means PostgreSQL, shared by every instance that names it.
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {
    /// `postgres://user:password@host:port/database`; it may hold a password.
    pub url: Option<SecretString>,
}

/// Streamable HTTP transport settings.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// Bearer token every HTTP request must carry; required when binding a non-loopback address.
    pub token: Option<SecretString>,
    /// Extra `Host` values to accept besides loopback (e.g. "mcp.example.com").
    pub allowed_hosts: Vec<String>,
    /// Extra browser `Origin`s to accept besides loopback (e.g. "https://app.example.com").
    pub allowed_origins: Vec<String>,
    /// What one HTTP server (`serve --http`, the stdio-mode webhook listener, `demo`) holds for strangers.
    pub limits: HttpLimits,
}

/// Bounds on what clients can make an HTTP server hold: connections, MCP sessions, time and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections served at once; more wait in the listen backlog. `None`: derived from the open-file limit.
    pub max_connections: Option<usize>,
    /// Concurrent MCP sessions; one more `initialize` gets 503 with `Retry-After`.
    pub max_sessions: usize,
    /// An MCP session with no request in flight, no open stream and no message for this long is closed.
    pub session_idle: Duration,
    /// Time a connection has to deliver a complete request head, counted from when it is ready for one (just
    /// accepted, or its previous response sent): so it is also how long an idle keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// Time a request body has to arrive in full, from the end of its head.
    pub body_timeout: Duration,
    /// Largest request head (request line and headers); larger gets 431.
    pub max_header_bytes: usize,
    /// Largest MCP request body; a larger declared `Content-Length` gets 413 before the body is read.
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: None,
            max_sessions: 1000,
            session_idle: Duration::from_secs(120),
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_header_bytes: 32 << 10,
            max_body_bytes: 4 << 20,
        }
    }
}

/// Outbound provider calls.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Deadline for one HTTP attempt.
    pub attempt_timeout: Duration,
    /// Deadline for a whole call, retries included.
    pub call_deadline: Duration,
    /// Retries after the first attempt for safe (GET) requests.
    pub max_retries: usize,
    /// Smallest backoff between retries.
    pub min_backoff: Duration,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            attempt_timeout: Duration::from_secs(15),
            call_deadline: Duration::from_secs(30),
            max_retries: 3,
            min_backoff: Duration::from_millis(250),
        }
    }
}

pub const RAZORPAY_DEFAULT_BASE_URL: &str = "https://api.razorpay.com";
pub const STRIPE_DEFAULT_BASE_URL: &str = "https://api.stripe.com";
pub const HUBSPOT_DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

// ---- the TOML file, exactly as written by a person ----

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    default_provider: Option<Provider>,
    razorpay: Option<FileRazorpay>,
    stripe: Option<FileStripe>,
    hubspot: Option<FileHubSpot>,
    whatsapp: Option<FileWhatsApp>,
    notion: Option<notion::FileNotion>,
    webhooks: Option<FileWebhooks>,
    http: Option<FileHttp>,
    outbound: Option<FileOutbound>,
    confirm: Option<ConfirmMode>,
    approvals: Option<FileApprovals>,
    read_only: Option<bool>,
    store: Option<FileStore>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStore {
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApprovals {
    ttl_secs: Option<u64>,
    wait_secs: Option<u64>,
    public_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRazorpay {
    key_id: Option<String>,
    key_secret: Option<String>,
    base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStripe {
    api_key: Option<String>,
    base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWebhooks {
    listen: Option<SocketAddr>,
    max_body_bytes: Option<usize>,
    retention_days: Option<u32>,
    max_wait_secs: Option<u64>,
    #[serde(default)]
    sources: BTreeMap<String, FileWebhookSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWebhookSource {
    /// Required for names other than "razorpay" and "stripe".
    scheme: Option<Scheme>,
    /// Defaults to the scheme's provider format for the Razorpay and Stripe schemes, "generic" for others.
    format: Option<Format>,
    #[serde(default)]
    secrets: Vec<String>,
    /// Meta's subscription handshake token (the "Verify token" typed into the dashboard).
    verify_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHubSpot {
    access_token: Option<String>,
    base_url: Option<String>,
    search_per_second: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWhatsApp {
    access_token: Option<String>,
    phone_number_id: Option<String>,
    api_version: Option<String>,
    base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHttp {
    token: Option<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    max_connections: Option<usize>,
    max_sessions: Option<usize>,
    session_idle_secs: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    max_header_bytes: Option<usize>,
    max_body_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOutbound {
    timeout_secs: Option<u64>,
    deadline_secs: Option<u64>,
    max_retries: Option<usize>,
}

impl Config {
    /// Load from an optional file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_with(file, &|key| std::env::var(key).ok())
    }

    /// Load from an optional file and an injected environment (tests pass a map).
    pub fn load_with(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = |key: &str| env(key).map(|v| v.trim().to_string()).filter(|v| is_set(key, v));
        let file_path = file.map(Path::to_path_buf).or_else(|| env(env::CONFIG).map(PathBuf::from));
        let file = match &file_path {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let rz = file.razorpay.unwrap_or_default();
        let st = file.stripe.unwrap_or_default();
        let hs = file.hubspot.unwrap_or_default();
        let http = file.http.unwrap_or_default();
        let out = file.outbound.unwrap_or_default();

        // File values get the same treatment as the environment: empty or "${VAR}" means unset.
        let from_file = |key: &str, v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| is_set(key, v));
        let razorpay = match (
            env(env::RAZORPAY_KEY_ID).or(from_file("razorpay.key_id", rz.key_id)),
            env(env::RAZORPAY_KEY_SECRET).or(from_file("razorpay.key_secret", rz.key_secret)),
        ) {
            (Some(key_id), Some(secret)) => Some(RazorpayConfig {
                key_id,
                key_secret: SecretString::from(secret),
                base_url: base_url(
                    env::RAZORPAY_BASE_URL,
                    env(env::RAZORPAY_BASE_URL).or(rz.base_url),
                    RAZORPAY_DEFAULT_BASE_URL,
                )?,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(missing_pair(env::RAZORPAY_KEY_SECRET, env::RAZORPAY_KEY_ID));
            }
            (None, Some(_)) => {
                return Err(missing_pair(env::RAZORPAY_KEY_ID, env::RAZORPAY_KEY_SECRET));
            }
        };
        let stripe = match env(env::STRIPE_API_KEY).or(from_file("stripe.api_key", st.api_key)) {
            Some(key) => Some(StripeConfig {
                api_key: SecretString::from(key),
                base_url: base_url(
                    env::STRIPE_BASE_URL,
                    env(env::STRIPE_BASE_URL).or(st.base_url),
                    STRIPE_DEFAULT_BASE_URL,
                )?,
            }),
            None => None,
        };
        let hubspot = match env(env::HUBSPOT_ACCESS_TOKEN).or(from_file("hubspot.access_token", hs.access_token)) {
            Some(token) => Some(HubSpotConfig {
                access_token: SecretString::from(token),
                base_url: base_url(
                    env::HUBSPOT_BASE_URL,
                    env(env::HUBSPOT_BASE_URL).or(hs.base_url),
                    HUBSPOT_DEFAULT_BASE_URL,
                )?,
                search_per_second: hs.search_per_second.unwrap_or(HUBSPOT_DEFAULT_SEARCH_PER_SECOND).clamp(1, 100),
            }),
            None => None,
        };
        let wa = file.whatsapp.unwrap_or_default();
        let whatsapp = match (
            env(env::WHATSAPP_ACCESS_TOKEN).or(from_file("whatsapp.access_token", wa.access_token)),
            env(env::WHATSAPP_PHONE_NUMBER_ID).or(from_file("whatsapp.phone_number_id", wa.phone_number_id)),
        ) {
            (Some(token), Some(phone_number_id)) => {
                if !phone_number_id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ConfigError::Invalid(format!(
                        "{} must be the phone number's id (digits, from WhatsApp Manager → API Setup), not '{}'",
                        env::WHATSAPP_PHONE_NUMBER_ID,
                        text::clip(&phone_number_id, 40)
                    )));
                }
                let api_version = env(env::WHATSAPP_API_VERSION)
                    .or(wa.api_version)
                    .unwrap_or_else(|| WHATSAPP_DEFAULT_API_VERSION.to_string());
                let version_ok = api_version.strip_prefix('v').is_some_and(|v| {
                    v.split('.').count() == 2
                        && v.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                });
                if !version_ok {
                    return Err(ConfigError::Invalid(format!(
                        "{} must look like \"{WHATSAPP_DEFAULT_API_VERSION}\", not '{}'",
                        env::WHATSAPP_API_VERSION,
                        text::clip(&api_version, 20)
                    )));
                }
                Some(WhatsAppConfig {
                    access_token: SecretString::from(token),
                    phone_number_id,
                    api_version,
                    base_url: base_url(
                        env::WHATSAPP_BASE_URL,
                        env(env::WHATSAPP_BASE_URL).or(wa.base_url),
                        WHATSAPP_DEFAULT_BASE_URL,
                    )?,
                })
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::Invalid(format!(
                    "{} is set but {} is not; sending needs both (WhatsApp Manager → API Setup shows the phone number id)",
                    env::WHATSAPP_ACCESS_TOKEN,
                    env::WHATSAPP_PHONE_NUMBER_ID
                )));
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid(format!(
                    "{} is set but {} is not; sending needs both",
                    env::WHATSAPP_PHONE_NUMBER_ID,
                    env::WHATSAPP_ACCESS_TOKEN
                )));
            }
        };
        let notion = notion::load(file.notion.unwrap_or_default(), &env)?;
        let webhooks = webhook_config(file.webhooks.unwrap_or_default(), &env)?;
        let default_provider = match env(env::DEFAULT_PROVIDER) {
            Some(p) => Some(parse_provider(&p)?),
            None => file.default_provider,
        };
        let defaults = OutboundConfig::default();
        let outbound = OutboundConfig {
            attempt_timeout: out.timeout_secs.map(Duration::from_secs).unwrap_or(defaults.attempt_timeout),
            // Capped so a provider call always ends well inside the idempotency ledger's claim lock.
            call_deadline: out.deadline_secs.map(|s| Duration::from_secs(s.min(60))).unwrap_or(defaults.call_deadline),
            max_retries: out.max_retries.unwrap_or(defaults.max_retries).min(10),
            min_backoff: defaults.min_backoff,
        };
        let data_dir = env(env::DATA_DIR).map(PathBuf::from).or(file.data_dir).unwrap_or_else(default_data_dir);
        let store = store_config(env(DATABASE_URL), from_file("store.url", file.store.and_then(|s| s.url)))?;
        let limits = http_limits(&http, &env)?;
        let token = http_token(env(env::HTTP_TOKEN).or(from_file("http.token", http.token)))?;
        let http_token_set = token.is_some();
        Ok(Config {
            razorpay,
            stripe,
            hubspot,
            whatsapp,
            notion,
            default_provider,
            webhooks,
            http: HttpConfig {
                token,
                allowed_hosts: http.allowed_hosts,
                allowed_origins: http.allowed_origins,
                limits,
            },
            outbound,
            data_dir,
            store,
            confirm: match env(env::CONFIRM) {
                Some(v) => parse_confirm(&v)?,
                None => file.confirm.unwrap_or_default(),
            },
            approvals: approval_config(file.approvals.unwrap_or_default(), &env, http_token_set)?,
            read_only: match env(env::READ_ONLY) {
                Some(v) => matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"),
                None => file.read_only.unwrap_or(false),
            },
            sandbox: false,
        })
    }
}

/// The PostgreSQL URL from `DATABASE_URL` (only when it is a `postgres://` URL: the variable is common, and other
/// tools put other databases in it) or else from `[store] url` (which must be one).
fn store_config(env_url: Option<String>, file_url: Option<String>) -> Result<StoreConfig, ConfigError> {
    let is_postgres = |url: &str| url.starts_with("postgres://") || url.starts_with("postgresql://");
    let env_url = env_url.filter(|url| {
        let chosen = is_postgres(url);
        if !chosen {
            tracing::info!("DATABASE_URL is not a postgres:// URL; keeping the SQLite store");
        }
        chosen
    });
    let url = match (env_url, file_url) {
        (Some(url), _) => url,
        (None, Some(url)) if is_postgres(&url) => url,
        (None, Some(_)) => {
            return Err(ConfigError::Invalid(
                "[store] url must be a postgres:// URL (leave it unset for the SQLite store in data_dir)".into(),
            ));
        }
        (None, None) => return Ok(StoreConfig::default()),
    };
    Ok(StoreConfig { url: Some(SecretString::from(url)) })
}

/// Empty values and unexpanded placeholders ("${STRIPE_API_KEY}", left by a client config that does not
/// expand variables) count as unset, so they never reach a provider as a credential.
pub(super) fn is_set(key: &str, value: &str) -> bool {
    let placeholder = value.starts_with("${") && value.ends_with('}');
    if placeholder {
        tracing::warn!("{key} holds the unexpanded placeholder {value}; treating it as unset");
    }
    !value.is_empty() && !placeholder
}

/// `$XDG_DATA_HOME/switchboard` (e.g. ~/.local/share/switchboard), else `./.switchboard`.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().map(|d| d.join("switchboard")).unwrap_or_else(|| PathBuf::from(".switchboard"))
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.message().to_string() })
}

fn missing_pair(missing: &str, present: &str) -> ConfigError {
    ConfigError::Invalid(format!(
        "{present} is set but {missing} is not; Razorpay needs both (find them under Account & Settings → API Keys)"
    ))
}

/// Webhook sources from the file plus `RAZORPAY_WEBHOOK_SECRET` / `STRIPE_WEBHOOK_SECRET` (comma-separated to
/// rotate). "razorpay" and "stripe" imply their scheme; other sources must name one.
fn webhook_config(file: FileWebhooks, env: &dyn Fn(&str) -> Option<String>) -> Result<WebhookConfig, ConfigError> {
    let defaults = WebhookConfig::default();
    let mut sources = BTreeMap::new();
    let mut named = file.sources;
    for (name, var) in [
        ("razorpay", env::RAZORPAY_WEBHOOK_SECRET),
        ("stripe", env::STRIPE_WEBHOOK_SECRET),
        ("whatsapp", env::WHATSAPP_APP_SECRET),
    ] {
        if let Some(value) = env(var) {
            let entry = named.entry(name.to_string()).or_default();
            entry.secrets.extend(value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
        }
    }
    if let Some(token) = env(env::WHATSAPP_VERIFY_TOKEN) {
        named.entry("whatsapp".to_string()).or_default().verify_token = Some(token);
    }
    let global_limit = file.max_body_bytes.unwrap_or(defaults.max_body_bytes).clamp(1024, 16 << 20);
    for (name, source) in named {
        let scheme = match (source.scheme, name.as_str()) {
            (Some(s), _) => s,
            (None, "razorpay") => Scheme::Razorpay,
            (None, "stripe") => Scheme::Stripe,
            (None, "whatsapp") => Scheme::HubSignature256,
            (None, _) => {
                return Err(ConfigError::Invalid(format!(
                    "[webhooks.sources.{name}] needs scheme = \"razorpay\", \"stripe\", \"standard_webhooks\" or \"hub_signature_256\""
                )));
            }
        };
        let secrets: Vec<String> =
            source.secrets.iter().map(|s| s.trim().to_string()).filter(|s| is_set("webhook secret", s)).collect();
        let valid_name = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_name || secrets.is_empty() || secrets.len() != source.secrets.len() {
            return Err(ConfigError::Invalid(format!(
                "webhook source '{name}' needs a lower-case name ([a-z0-9_-]) and non-empty secrets (no blanks or unexpanded ${{VAR}})"
            )));
        }
        let format = match (source.format, name.as_str()) {
            (Some(format), _) => format,
            (None, "whatsapp") => Format::WhatsApp,
            (None, _) => Format::for_scheme(scheme),
        };
        let verify_token = match source.verify_token.map(|t| t.trim().to_string()) {
            Some(t) if is_set("verify_token", &t) => Some(SecretString::from(t)),
            Some(_) => {
                return Err(ConfigError::Invalid(format!(
                    "[webhooks.sources.{name}] verify_token (or {}) is empty; set the token typed into Meta's dashboard",
                    env::WHATSAPP_VERIFY_TOKEN
                )));
            }
            None => None,
        };
        let max_body_bytes =
            if format == Format::WhatsApp { global_limit.max(WHATSAPP_MIN_BODY_BYTES) } else { global_limit };
        let secrets = secrets.into_iter().map(SecretString::from).collect();
        sources.insert(name, WebhookSource { scheme, format, secrets, verify_token, max_body_bytes });
    }
    let listen = match env(env::WEBHOOK_LISTEN) {
        Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
            ConfigError::Invalid(format!(
                "{} must be an address and port such as 127.0.0.1:8787, not '{text}'",
                env::WEBHOOK_LISTEN
            ))
        })?),
        None => file.listen,
    };
    Ok(WebhookConfig {
        sources,
        listen,
        max_body_bytes: global_limit,
        retention_days: file.retention_days.unwrap_or(defaults.retention_days).max(30),
        max_wait_secs: file.max_wait_secs.unwrap_or(defaults.max_wait_secs).clamp(1, 3600),
    })
}

/// A number from the environment variable `var`, else from the file.
fn pick<T: std::str::FromStr>(
    env: &dyn Fn(&str) -> Option<String>,
    var: &str,
    file: Option<T>,
) -> Result<Option<T>, ConfigError> {
    match env(var) {
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::Invalid(format!("{var} must be a whole number, not '{text}'"))),
        None => Ok(file),
    }
}

/// `[approvals]`: an approval lives 1 minute to 7 days (default 15 minutes); a call waits 0–300 s for it
/// (default 40 s, inside common clients' 60 s request timeout).
/// A public URL puts the page beyond this machine (through a proxy or tunnel, whose requests arrive from
/// loopback), so it needs the HTTP token.
fn approval_config(
    file: FileApprovals,
    env: &dyn Fn(&str) -> Option<String>,
    http_token_set: bool,
) -> Result<ApprovalConfig, ConfigError> {
    let d = ApprovalConfig::default();
    let public_url = match env(env::PUBLIC_URL).or(file.public_url) {
        Some(text) => {
            let url = Url::parse(&text).map_err(|e| {
                ConfigError::Invalid(format!("{} (approvals.public_url) '{text}' is not a URL: {e}", env::PUBLIC_URL))
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid(format!("{} must be an http or https URL", env::PUBLIC_URL)));
            }
            if !http_token_set {
                return Err(ConfigError::Invalid(format!(
                    "{} (approvals.public_url) serves the approval page beyond this machine, so {} must be set too (at least 16 random characters, e.g. `openssl rand -hex 24`)",
                    env::PUBLIC_URL,
                    env::HTTP_TOKEN
                )));
            }
            Some(url)
        }
        None => None,
    };
    Ok(ApprovalConfig {
        ttl: pick(env, env::APPROVAL_TTL_SECS, file.ttl_secs)?
            .map_or(d.ttl, |s| Duration::from_secs(s.clamp(60, 7 * 86_400))),
        wait: pick(env, env::APPROVAL_WAIT_SECS, file.wait_secs)?.map_or(d.wait, |s| Duration::from_secs(s.min(300))),
        public_url,
    })
}

/// `[http]` limits: the environment over the file over the defaults, each clamped to a range that still works.
fn http_limits(file: &FileHttp, env: &dyn Fn(&str) -> Option<String>) -> Result<HttpLimits, ConfigError> {
    let d = HttpLimits::default();
    let secs =
        |v: Option<u64>, default: Duration, max: u64| v.map_or(default, |s| Duration::from_secs(s.clamp(1, max)));
    Ok(HttpLimits {
        max_connections: pick(env, env::HTTP_MAX_CONNECTIONS, file.max_connections)?.map(|n| n.max(1)),
        max_sessions: pick(env, env::HTTP_MAX_SESSIONS, file.max_sessions)?.map_or(d.max_sessions, |n| n.max(1)),
        session_idle: secs(pick(env, env::HTTP_SESSION_IDLE_SECS, file.session_idle_secs)?, d.session_idle, 86_400),
        header_read_timeout: secs(
            pick(env, env::HTTP_HEADER_READ_TIMEOUT_SECS, file.header_read_timeout_secs)?,
            d.header_read_timeout,
            300,
        ),
        body_timeout: secs(pick(env, env::HTTP_BODY_TIMEOUT_SECS, file.body_timeout_secs)?, d.body_timeout, 3600),
        max_header_bytes: pick(env, env::HTTP_MAX_HEADER_BYTES, file.max_header_bytes)?
            .map_or(d.max_header_bytes, |n| n.clamp(4 << 10, 1 << 20)),
        max_body_bytes: pick(env, env::HTTP_MAX_BODY_BYTES, file.max_body_bytes)?
            .map_or(d.max_body_bytes, |n| n.clamp(1 << 10, 64 << 20)),
    })
}

/// The HTTP bearer token must be long enough not to be guessed.
fn http_token(token: Option<String>) -> Result<Option<SecretString>, ConfigError> {
    match token {
        Some(t) if t.chars().count() < 16 => Err(ConfigError::Invalid(format!(
            "{} is too short ({} characters); use at least 16 random characters, e.g. `openssl rand -hex 24`",
            env::HTTP_TOKEN,
            t.chars().count()
        ))),
        token => Ok(token.map(SecretString::from)),
    }
}

fn parse_confirm(text: &str) -> Result<ConfirmMode, ConfigError> {
    match text.to_ascii_lowercase().as_str() {
        "elicit" | "require" => Ok(ConfirmMode::Elicit),
        "page" => Ok(ConfirmMode::Page),
        "never" => Ok(ConfirmMode::Never),
        _ => Err(ConfigError::Invalid(format!("{} must be 'elicit', 'page' or 'never', not '{text}'", env::CONFIRM))),
    }
}

fn parse_provider(text: &str) -> Result<Provider, ConfigError> {
    match text.to_ascii_lowercase().as_str() {
        "razorpay" => Ok(Provider::Razorpay),
        "stripe" => Ok(Provider::Stripe),
        "notion" => Ok(Provider::Notion),
        _ => Err(ConfigError::Invalid(format!(
            "{} must be 'razorpay', 'stripe' or 'notion', not '{text}'",
            env::DEFAULT_PROVIDER
        ))),
    }
}

/// A provider base URL: https anywhere, plain http only on loopback (tests, local proxies, the sandbox).
pub(super) fn base_url(key: &str, value: Option<String>, default: &str) -> Result<Url, ConfigError> {
    let text = value.unwrap_or_else(|| default.to_string());
    let url = Url::parse(&text)
        .map_err(|e| ConfigError::Invalid(format!("{key} '{text}' is not a URL ({e}); use e.g. {default}")))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]" | "::1"));
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(ConfigError::Invalid(format!(
            "{key} '{text}' must use https (plain http is allowed only for localhost)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn load(file: Option<&Path>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::load_with(file, &move |k| map.get(k).cloned())
    }

    #[test]
    fn a_postgres_url_selects_the_shared_store_and_anything_else_keeps_sqlite() {
        assert!(load(None, &[]).unwrap().store.url.is_none());
        let url = "postgres://sb:pw@db:5432/sb";
        let cfg = load(None, &[("DATABASE_URL", url)]).unwrap();
        assert_eq!(cfg.store.url.as_ref().map(|u| u.expose_secret().to_string()), Some(url.to_string()));
        assert!(!format!("{cfg:?}").contains("pw@"), "the URL is a secret in Debug");
        // Another tool's DATABASE_URL is not ours to use.
        assert!(load(None, &[("DATABASE_URL", "sqlite://x.db")]).unwrap().store.url.is_none());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.toml");
        std::fs::write(&path, "[store]\nurl = \"postgresql://db/sb\"\n").unwrap();
        let cfg = load(Some(&path), &[]).unwrap();
        assert_eq!(cfg.store.url.as_ref().map(|u| u.expose_secret().to_string()), Some("postgresql://db/sb".into()));
        let cfg = load(Some(&path), &[("DATABASE_URL", url)]).unwrap();
        assert_eq!(cfg.store.url.map(|u| u.expose_secret().to_string()), Some(url.to_string()), "env wins");
        std::fs::write(&path, "[store]\nurl = \"mysql://db/sb\"\n").unwrap();
        let err = load(Some(&path), &[]).unwrap_err().to_string();
        assert!(err.contains("[store] url must be a postgres:// URL"), "{err}");
    }

    #[test]
    fn notion_reads_its_token_database_and_property_map_from_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.toml");
        std::fs::write(
            &path,
            "[notion]\ndatabase_id = \"https://www.notion.so/acme/Invoices-9b1c0f3e2d4a4f5b8c6d7e8f9a0b1c2d?v=1\"\n\
             paid_status = \"Settled\"\ndefault_currency = \"inr\"\n[notion.properties]\namount = \"Total (₹)\"\n",
        )
        .unwrap();
        let cfg = load(Some(&path), &[("NOTION_TOKEN", "ntn_env_token")]).unwrap();
        let notion = cfg.notion.unwrap();
        assert_eq!(notion.token.expose_secret(), "ntn_env_token");
        assert_eq!(notion.database_id, "9b1c0f3e-2d4a-4f5b-8c6d-7e8f9a0b1c2d");
        assert_eq!(notion.base_url.as_str(), "https://api.notion.com/");
        assert_eq!(notion.properties.amount, "Total (₹)");
        assert_eq!(notion.properties.status, "Status", "unmapped properties keep their default names");
        assert_eq!((notion.paid_status.as_str(), notion.default_currency.map(|c| c.code())), ("Settled", Some("INR")));

        let half = load(None, &[("NOTION_TOKEN", "ntn_env_token")]).unwrap_err().to_string();
        assert!(half.contains("NOTION_INVOICES_DATABASE_ID is not"), "{half}");
        let bad =
            load(None, &[("NOTION_TOKEN", "t"), ("NOTION_INVOICES_DATABASE_ID", "Invoices")]).unwrap_err().to_string();
        assert!(bad.contains("is not a Notion id"), "{bad}");
        std::fs::write(&path, "[notion.properties]\nammount = \"Total\"\n").unwrap();
        let typo = load(Some(&path), &[]).unwrap_err().to_string();
        assert!(typo.contains("ammount"), "a misspelt property key is named: {typo}");
        assert!(load(None, &[]).unwrap().notion.is_none());
    }

    #[test]
    fn environment_overrides_the_file_and_empty_values_count_as_unset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.toml");
        std::fs::write(
            &path,
            "default_provider = \"stripe\"\n[razorpay]\nkey_id = \"rzp_test_file\"\nkey_secret = \"file-secret\"\n[stripe]\napi_key = \"sk_test_file\"\n",
        )
        .unwrap();
        let cfg = load(
            Some(&path),
            &[
                ("RAZORPAY_KEY_ID", "rzp_test_env"),
                ("STRIPE_API_KEY", "  "),
                ("SWITCHBOARD_HTTP_TOKEN", "${SWITCHBOARD_HTTP_TOKEN}"),
            ],
        )
        .unwrap();
        assert!(cfg.http.token.is_none(), "an unexpanded placeholder is not a token");
        let rz = cfg.razorpay.unwrap();
        assert_eq!(rz.key_id, "rzp_test_env");
        assert_eq!(rz.key_secret.expose_secret(), "file-secret");
        assert_eq!(cfg.stripe.unwrap().api_key.expose_secret(), "sk_test_file");
        assert_eq!(cfg.default_provider, Some(Provider::Stripe));
    }

    #[test]
    fn the_hub_signature_scheme_loads_as_documented_and_in_its_old_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        for spelling in ["hub_signature_256", "hub_signature256"] {
            std::fs::write(&path, format!("[webhooks.sources.gh]\nscheme = \"{spelling}\"\nsecrets = [\"s3cret\"]\n"))
                .unwrap();
            let cfg = load(Some(&path), &[]).unwrap();
            assert_eq!(cfg.webhooks.sources["gh"].scheme, Scheme::HubSignature256, "{spelling}");
        }
    }

    #[test]
    fn a_source_reads_its_schemes_payloads_whatever_its_name_unless_told_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let file = "[webhooks.sources.stripe_eu]\nscheme = \"stripe\"\nsecrets = [\"whsec_abcdefgh\"]\n\
                    [webhooks.sources.razorpay_b]\nscheme = \"razorpay\"\nsecrets = [\"secret-b-12345\"]\n\
                    [webhooks.sources.gh]\nscheme = \"hub_signature_256\"\nsecrets = [\"secret-gh-1234\"]\n\
                    [webhooks.sources.relay]\nscheme = \"standard_webhooks\"\nformat = \"stripe\"\n\
                    secrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n";
        std::fs::write(&path, file).unwrap();
        let sources = load(Some(&path), &[]).unwrap().webhooks.sources;
        let formats: Vec<_> = sources.iter().map(|(name, s)| (name.as_str(), s.format)).collect();
        assert_eq!(
            formats,
            [
                ("gh", Format::Generic),
                ("razorpay_b", Format::Razorpay),
                ("relay", Format::Stripe),
                ("stripe_eu", Format::Stripe)
            ]
        );
    }

    #[test]
    fn unknown_keys_in_the_file_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[stripe]\napi_kee = \"sk_test_x\"\n").unwrap();
        let err = load(Some(&path), &[]).unwrap_err().to_string();
        assert!(err.contains("api_kee"), "{err}");
    }

    #[test]
    fn half_configured_razorpay_and_insecure_base_urls_fail_fast() {
        let err = load(None, &[("RAZORPAY_KEY_ID", "rzp_test_x")]).unwrap_err().to_string();
        assert!(err.contains("RAZORPAY_KEY_SECRET"), "{err}");
        let err = load(None, &[("STRIPE_API_KEY", "sk_test_x"), ("STRIPE_BASE_URL", "http://proxy.example.com")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("https"), "{err}");
        assert!(load(None, &[("STRIPE_API_KEY", "sk_test_x"), ("STRIPE_BASE_URL", "http://127.0.0.1:9")]).is_ok());
    }

    #[test]
    fn a_blank_webhook_secret_in_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[webhooks.sources.razorpay]\nsecrets = [\"\"]\n").unwrap();
        let err = load(Some(&path), &[]).unwrap_err().to_string();
        assert!(err.contains("non-empty secrets"), "{err}");
    }

    #[test]
    fn a_short_http_token_is_refused() {
        let err = load(None, &[("SWITCHBOARD_HTTP_TOKEN", "secret")]).unwrap_err().to_string();
        assert!(err.contains("at least 16"), "{err}");
    }

    #[test]
    fn whatsapp_is_received_with_its_app_secret_its_verify_token_and_a_three_mebibyte_limit() {
        let env = [("WHATSAPP_APP_SECRET", "app-secret-1, app-secret-0"), ("WHATSAPP_VERIFY_TOKEN", "vibecoding")];
        let config = load(None, &env).unwrap();
        let source = &config.webhooks.sources["whatsapp"];
        assert_eq!((source.scheme, source.format), (Scheme::HubSignature256, Format::WhatsApp));
        assert_eq!((source.secrets.len(), source.max_body_bytes), (2, WHATSAPP_MIN_BODY_BYTES));
        assert_eq!(source.verify_token.as_ref().map(|t| t.expose_secret().to_string()).as_deref(), Some("vibecoding"));
        assert_eq!(config.webhooks.max_body_bytes, 1 << 20, "other sources keep the general limit");
        let err = load(None, &[("WHATSAPP_VERIFY_TOKEN", "vibecoding")]).unwrap_err().to_string();
        assert!(err.contains("whatsapp") && err.contains("secrets"), "a handshake without an App Secret: {err}");
    }

    #[test]
    fn approval_settings_come_from_the_file_and_the_environment_and_are_clamped() {
        let defaults = load(None, &[]).unwrap();
        assert_eq!((defaults.confirm, defaults.approvals.clone()), (ConfirmMode::Elicit, ApprovalConfig::default()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "confirm = \"require\"\n[approvals]\nttl_secs = 5\nwait_secs = 9000\npublic_url = \"https://ops.example.com/\"\n",
        )
        .unwrap();
        let err = load(Some(&path), &[]).unwrap_err().to_string();
        assert!(err.contains("SWITCHBOARD_PUBLIC_URL") && err.contains("SWITCHBOARD_HTTP_TOKEN"), "{err}");
        let token = ("SWITCHBOARD_HTTP_TOKEN", "0123456789abcdef0123");
        let config = load(Some(&path), &[("SWITCHBOARD_WEBHOOK_LISTEN", "127.0.0.1:8787"), token]).unwrap();
        assert_eq!(config.confirm, ConfirmMode::Elicit, "require is elicit's older name");
        assert_eq!((config.approvals.ttl, config.approvals.wait), (Duration::from_secs(60), Duration::from_secs(300)));
        assert_eq!(config.approvals.public_url.unwrap().as_str(), "https://ops.example.com/");
        assert_eq!(config.webhooks.listen, Some("127.0.0.1:8787".parse().unwrap()));
        let env = [("SWITCHBOARD_CONFIRM", "PAGE"), ("SWITCHBOARD_APPROVAL_TTL_SECS", "3600"), token];
        let config = load(Some(&path), &env).unwrap();
        assert_eq!((config.confirm, config.approvals.ttl), (ConfirmMode::Page, Duration::from_secs(3600)));
        for (var, value) in [
            ("SWITCHBOARD_CONFIRM", "sometimes"),
            ("SWITCHBOARD_WEBHOOK_LISTEN", "8787"),
            ("SWITCHBOARD_PUBLIC_URL", "ftp://x"),
            ("SWITCHBOARD_APPROVAL_WAIT_SECS", "soon"),
        ] {
            let err = load(None, &[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn http_limits_come_from_the_file_and_the_environment_and_are_clamped() {
        assert_eq!(load(None, &[]).unwrap().http.limits, HttpLimits::default());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[http]\nmax_connections = 300\nmax_sessions = 50\nsession_idle_secs = 60\nheader_read_timeout_secs = 5\n\
             body_timeout_secs = 0\nmax_header_bytes = 16384\nmax_body_bytes = 10\n",
        )
        .unwrap();
        let limits = load(Some(&path), &[("SWITCHBOARD_HTTP_MAX_SESSIONS", "7")]).unwrap().http.limits;
        assert_eq!(
            limits,
            HttpLimits {
                max_connections: Some(300),
                max_sessions: 7,
                session_idle: Duration::from_secs(60),
                header_read_timeout: Duration::from_secs(5),
                body_timeout: Duration::from_secs(1),
                max_header_bytes: 16384,
                max_body_bytes: 1024,
            }
        );
        let err = load(None, &[("SWITCHBOARD_HTTP_MAX_CONNECTIONS", "lots")]).unwrap_err().to_string();
        assert!(err.contains("SWITCHBOARD_HTTP_MAX_CONNECTIONS"), "{err}");
        std::fs::write(&path, "[http]\nmax_sesions = 5\n").unwrap();
        let err = load(Some(&path), &[]).unwrap_err().to_string();
        assert!(err.contains("max_sesions"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let cfg = load(
            None,
            &[
                ("STRIPE_API_KEY", "sk_test_CANARY123"),
                ("RAZORPAY_KEY_ID", "rzp_test_x"),
                ("RAZORPAY_KEY_SECRET", "CANARY456"),
                ("SWITCHBOARD_HTTP_TOKEN", "CANARY789-long-enough-token"),
            ],
        )
        .unwrap();
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("CANARY"), "{debug}");
    }
}
