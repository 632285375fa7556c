//! Logging: `tracing` to **stderr**, always. In stdio mode stdout is the protocol channel.
//!
//! A few of Switchboard's events — a webhook stored, a provider call retried, an approval asked for, decided or
//! performed, an invoice updated in Notion — are logged with the target [`NOTIFY`] and also offered to MCP clients
//! that asked for log messages (`logging/setLevel`): [`notes`] hears them, whatever `RUST_LOG` says about stderr.
//! Only those: other log lines can hold what a client must not read (a stranger's request path, an internal
//! error's detail). Approval ids are left out (they open the approval page).

use std::io::{self, Write};
use std::sync::LazyLock;
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The longest log event written, in bytes; a longer one is cut there and says how much was left out. Peers
/// choose some of what gets logged (method names, client info, error text): a 10 MB method name must not become
/// a 10 MB log line.
pub const MAX_EVENT_BYTES: usize = 4 * 1024;

/// Install the global subscriber. `RUST_LOG` overrides the default level (`info` for Switchboard, `warn` otherwise).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,switchboard=info"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(ClippedStderr)
        .with_ansi(false)
        .with_target(false)
        .with_filter(filter);
    let notes = NoteLayer.with_filter(tracing_subscriber::filter::Targets::new().with_target(NOTIFY, Level::INFO));
    let _ = tracing_subscriber::registry().with(stderr).with(notes).try_init();
}

/// The target of the events offered to MCP clients: `tracing::info!(target: "switchboard::notify", …)`.
pub const NOTIFY: &str = "switchboard::notify";

/// One of Switchboard's events, as offered to MCP clients.
#[derive(Debug, Clone)]
pub struct Note {
    pub level: Level,
    /// The event's message and fields, e.g. `{"message": "stored a webhook event", "source": "razorpay", …}`.
    pub data: serde_json::Value,
}

static NOTES: LazyLock<broadcast::Sender<Note>> = LazyLock::new(|| broadcast::channel(256).0);

/// Hear Switchboard's events at info and above from now on (a slow listener misses the oldest).
pub fn notes() -> broadcast::Receiver<Note> {
    NOTES.subscribe()
}

/// Offers Switchboard's info-and-above events to [`notes`] listeners; costs nothing while nobody listens.
struct NoteLayer;

impl<S: Subscriber> Layer<S> for NoteLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if NOTES.receiver_count() == 0 || *meta.level() > Level::INFO || meta.target() != NOTIFY {
            return;
        }
        let mut fields = Fields(serde_json::Map::new());
        event.record(&mut fields);
        fields.0.remove("approval");
        let _ = NOTES.send(Note { level: *meta.level(), data: serde_json::Value::Object(fields.0) });
    }
}

struct Fields(serde_json::Map<String, serde_json::Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = crate::domain::text::clip(&format!("{value:?}"), 1024);
        self.0.insert(field.name().to_string(), serde_json::Value::String(text));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), crate::domain::text::clip(value, 1024).into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

/// stderr, at most [`MAX_EVENT_BYTES`] per event (the fmt layer writes each event with one `write_all`).
struct ClippedStderr;

impl<'a> MakeWriter<'a> for ClippedStderr {
    type Writer = Clipped;

    fn make_writer(&'a self) -> Clipped {
        Clipped(io::stderr())
    }
}

struct Clipped(io::Stderr);

impl Write for Clipped {
    fn write(&mut self, event: &[u8]) -> io::Result<usize> {
        if event.len() <= MAX_EVENT_BYTES {
            self.0.write_all(event)?;
            return Ok(event.len());
        }
        let mut cut = MAX_EVENT_BYTES;
        // Back up to a character boundary (a UTF-8 continuation byte is 0b10xx_xxxx).
        while cut > 0 && event.get(cut).is_some_and(|b| b & 0xC0 == 0x80) {
            cut -= 1;
        }
        let mut stderr = self.0.lock();
        stderr.write_all(event.get(..cut).unwrap_or_default())?;
        writeln!(stderr, " … [{} more bytes not logged]", event.len() - cut)?;
        Ok(event.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
