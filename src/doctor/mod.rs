//! `switchboard doctor`: checks the configuration a person has, without serving anything, and says what works
//! and what to fix. Each configured provider's credentials with one harmless read (nothing is created or
//! changed), the webhook sources' secrets, the data directory, the listener addresses. Secrets are never printed,
//! only the setting to change.

mod providers;

use crate::config::{Config, ConfigError, WebhookSource, env};
use crate::domain::source::{Format, Scheme};
use crate::providers::redact::{MIN_SECRET_LEN, Redactor};
use crate::webhooks::verify::usable_secret;
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Works.
    Ok,
    /// Works, but something will not (a provider's payments are never heard of): worth a look.
    Warn,
    /// Does not work; the detail says what to change. The command exits non-zero.
    Fix,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fix => "FIX",
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What was checked: "Razorpay API", "Webhooks: stripe", "Data directory".
    pub check: String,
    pub status: Status,
    /// What was found, and for anything not ok, what to do.
    pub detail: String,
}

impl Row {
    fn new(check: impl Into<String>, status: Status, detail: impl Into<String>) -> Self {
        Row { check: check.into(), status, detail: detail.into() }
    }
}

/// Everything checked, in the order it is printed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub rows: Vec<Row>,
}

impl Report {
    /// Whether any row says FIX.
    pub fn needs_fixing(&self) -> bool {
        self.rows.iter().any(|r| r.status == Status::Fix)
    }

    /// The table, then a one-line verdict.
    pub fn render(&self) -> String {
        let width = self.rows.iter().map(|r| r.check.chars().count()).chain([5]).max().unwrap_or(5);
        let mut out = format!("{:<width$}  {:<6}  DETAIL\n", "CHECK", "RESULT");
        for row in &self.rows {
            out.push_str(&format!("{:<width$}  {:<6}  {}\n", row.check, row.status.as_str(), row.detail));
        }
        let count = |status| self.rows.iter().filter(|r| r.status == status).count();
        let verdict = match (count(Status::Fix), count(Status::Warn)) {
            (0, 0) => "Everything checked works.".to_string(),
            (0, warnings) => format!("Nothing to fix; {} worth a look.", plural(warnings, "warning")),
            (fixes, _) => format!("{} to fix before Switchboard works as configured.", plural(fixes, "problem")),
        };
        out.push('\n');
        out.push_str(&verdict);
        out.push('\n');
        out
    }
}

/// "1 secret is" / "2 secrets are".
fn secrets_are(n: usize) -> String {
    if n == 1 { "1 secret is".to_string() } else { format!("{n} secrets are") }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// What to check besides the configuration's own contents.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The config file that was read, if any (for the first row).
    pub config_file: Option<PathBuf>,
    /// The address `serve --http` will be given, to check it is free and allowed.
    pub http: Option<SocketAddr>,
}

/// The report when the configuration itself does not load: one row saying why (credential-shaped text masked).
pub fn unloadable(e: &ConfigError) -> Report {
    let detail = Redactor::default().redact(&e.to_string()).to_string();
    Report { rows: vec![Row::new("Configuration", Status::Fix, detail)] }
}

/// Check `config`: providers (concurrently, each one read), webhook sources, the data directory, listeners.
pub async fn check(config: &Config, options: &Options) -> Report {
    let source = match &options.config_file {
        Some(path) => format!("loaded from {} and the environment", path.display()),
        None => "loaded from the environment (no config file)".to_string(),
    };
    let mut rows = vec![Row::new("Configuration", Status::Ok, source)];
    rows.extend(providers::providers(config).await);
    rows.extend(webhooks(config));
    rows.push(data_dir(&config.data_dir));
    if let Some(addr) = config.webhooks.listen {
        rows.push(listener("Webhook listener", addr, None));
    }
    if let Some(addr) = options.http {
        let refused = crate::transport::http::check_bind(addr, config.http.token.as_ref()).err();
        rows.push(listener("HTTP address", addr, refused));
    }
    Report { rows }
}

/// The webhook sources: usable secrets for each, and a source for each configured provider that sends webhooks.
fn webhooks(config: &Config) -> Vec<Row> {
    let sources = &config.webhooks.sources;
    let mut rows: Vec<Row> = sources.iter().map(|(name, source)| source_row(name, source)).collect();
    let has = |scheme: Scheme| sources.values().any(|s| s.scheme == scheme);
    if config.razorpay.is_some() && !has(Scheme::Razorpay) {
        rows.push(Row::new(
            "Webhooks: razorpay",
            Status::Warn,
            format!(
                "no webhook secret, so payments are never heard of (waits for a payment only time out). Set {} to the secret of a Razorpay webhook pointing at /webhooks/razorpay.",
                env::RAZORPAY_WEBHOOK_SECRET
            ),
        ));
    }
    if config.stripe.is_some() && !has(Scheme::Stripe) {
        rows.push(Row::new(
            "Webhooks: stripe",
            Status::Warn,
            format!(
                "no webhook secret, so payments are never heard of (waits for a payment only time out). Set {} to the signing secret of a Stripe endpoint pointing at /webhooks/stripe.",
                env::STRIPE_WEBHOOK_SECRET
            ),
        ));
    }
    if config.whatsapp.is_some() && !sources.values().any(|s| s.format == Format::WhatsApp) {
        rows.push(Row::new(
            "Webhooks: whatsapp",
            Status::Warn,
            format!(
                "no app secret, so customers' messages and delivery ticks never arrive. Set {} (App settings → Basic → App secret).",
                env::WHATSAPP_APP_SECRET
            ),
        ));
    }
    rows
}

/// One source: its secrets long enough and usable by its scheme, a Stripe secret shaped like one, WhatsApp's
/// handshake token.
fn source_row(name: &str, source: &WebhookSource) -> Row {
    let secrets: Vec<&str> = source.secrets.iter().map(|s| s.expose_secret()).collect();
    let short = secrets.iter().filter(|s| s.len() < MIN_SECRET_LEN).count();
    let unusable = secrets.iter().filter(|s| !usable_secret(source.scheme, s)).count();
    let (status, detail) = if short > 0 {
        let detail = format!(
            "{} shorter than {MIN_SECRET_LEN} characters: guessable, and too short to be masked in output. Use the secret the provider generated.",
            secrets_are(short)
        );
        (Status::Fix, detail)
    } else if unusable > 0 {
        let detail = format!(
            "{} not base64 (after whsec_): no delivery can ever verify against it. Copy the signing secret again.",
            secrets_are(unusable)
        );
        (Status::Fix, detail)
    } else if source.scheme == Scheme::Stripe && secrets.iter().any(|s| !s.starts_with("whsec_")) {
        let detail = "Stripe's signing secrets start with whsec_; one here does not (is it the API key?). Copy it from the webhook endpoint's page.";
        (Status::Warn, detail.to_string())
    } else if source.format == Format::WhatsApp && source.verify_token.is_none() {
        let detail = format!(
            "{} set, but no verify token: Meta's subscription check (GET /webhooks/{name}) will be refused. Set {}.",
            plural(secrets.len(), "secret"),
            env::WHATSAPP_VERIFY_TOKEN
        );
        (Status::Warn, detail)
    } else {
        let detail = format!(
            "{} for {} signatures; deliveries go to /webhooks/{name}",
            plural(secrets.len(), "secret"),
            scheme_name(source.scheme)
        );
        (Status::Ok, detail)
    };
    Row::new(format!("Webhooks: {name}"), status, detail)
}

fn scheme_name(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Razorpay => "Razorpay",
        Scheme::Stripe => "Stripe",
        Scheme::StandardWebhooks => "Standard Webhooks",
        Scheme::HubSignature256 => "X-Hub-Signature-256",
    }
}

/// The data directory exists (made if missing, as `serve` would) and a file can be written in it.
fn data_dir(dir: &Path) -> Row {
    let check = "Data directory";
    let existed = dir.is_dir();
    let fix = |what: &str, e: std::io::Error| {
        Row::new(
            check,
            Status::Fix,
            format!("cannot {what} {}: {e}. Set {} to a directory this user can write.", dir.display(), env::DATA_DIR),
        )
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        return fix("create", e);
    }
    let probe = dir.join(format!(".switchboard-doctor-{}", std::process::id()));
    if let Err(e) = std::fs::write(&probe, b"probe") {
        return fix("write in", e);
    }
    let _ = std::fs::remove_file(&probe);
    let made = if existed { "" } else { " (created it)" };
    Row::new(check, Status::Ok, format!("{} is writable{made}", dir.display()))
}

/// Whether `addr` can be listened on now (and, for the HTTP address, is allowed: `refused` says why not).
fn listener(check: &str, addr: SocketAddr, refused: Option<String>) -> Row {
    if let Some(refused) = refused {
        return Row::new(check, Status::Fix, refused);
    }
    match std::net::TcpListener::bind(addr) {
        Ok(_) => Row::new(check, Status::Ok, format!("{addr} is free")),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Row::new(
            check,
            Status::Fix,
            format!(
                "{addr} is in use: another program (a Switchboard already running?) listens there. Stop it, or choose another address."
            ),
        ),
        Err(e) => Row::new(check, Status::Fix, format!("cannot listen on {addr}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn the_table_aligns_and_ends_with_a_verdict() {
        let report = Report {
            rows: vec![
                Row::new("Configuration", Status::Ok, "loaded"),
                Row::new("Stripe API", Status::Fix, "rejected"),
                Row::new("Webhooks: stripe", Status::Warn, "no secret"),
            ],
        };
        assert!(report.needs_fixing());
        assert_eq!(
            report.render(),
            "CHECK             RESULT  DETAIL\n\
             Configuration     ok      loaded\n\
             Stripe API        FIX     rejected\n\
             Webhooks: stripe  warn    no secret\n\
             \n1 problem to fix before Switchboard works as configured.\n"
        );
        let fine = Report { rows: vec![Row::new("Configuration", Status::Warn, "x")] };
        assert!(!fine.needs_fixing());
        assert!(fine.render().ends_with("Nothing to fix; 1 warning worth a look.\n"));
    }

    #[test]
    fn webhook_secrets_too_short_unusable_or_misplaced_are_named_never_shown() {
        let source = |scheme, secrets: &[&str]| {
            let format = Format::for_scheme(scheme);
            WebhookSource::new(scheme, format, secrets.iter().map(|s| SecretString::from(s.to_string())).collect(), 1)
        };
        let row = |scheme, secrets: &[&str]| source_row("s", &source(scheme, secrets));
        let short = row(Scheme::Razorpay, &["long-enough-secret", "short"]);
        assert_eq!((short.status, short.detail.starts_with("1 secret is shorter than 8")), (Status::Fix, true));
        let not_base64 = row(Scheme::StandardWebhooks, &["whsec_not*base64*at*all"]);
        assert_eq!(not_base64.status, Status::Fix, "{}", not_base64.detail);
        let api_key = row(Scheme::Stripe, &["sk_test_looks_like_an_api_key"]);
        assert_eq!(api_key.status, Status::Warn, "{}", api_key.detail);
        let fine = row(Scheme::Stripe, &["whsec_abcdefghijkl", "whsec_mnopqrstuvwx"]);
        assert_eq!(
            (fine.status, fine.detail.as_str()),
            (Status::Ok, "2 secrets for Stripe signatures; deliveries go to /webhooks/s")
        );
        for r in [short, not_base64, api_key, fine] {
            assert!(
                !r.detail.contains("long-enough") && !r.detail.contains("sk_test") && !r.detail.contains("whsec_a"),
                "{}",
                r.detail
            );
        }
    }
}
