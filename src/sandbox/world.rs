//! The sandbox's data: Razorpay entities, HubSpot objects, WhatsApp messages and the Notion invoices database kept
//! exactly as the providers put them on the wire, plus the sandbox's own credentials. Saved as one JSON file in the data directory after every
//! change.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Everything the sandbox knows. Entities are stored in their wire shape, so what the API returns is what a
/// real provider would have sent.
#[derive(Clone, Serialize, Deserialize)]
pub struct World {
    pub credentials: Credentials,
    /// Razorpay invoices, newest first.
    pub invoices: Vec<Value>,
    /// Razorpay payment links, newest first.
    pub payment_links: Vec<Value>,
    /// Razorpay payments.
    pub payments: Vec<Value>,
    /// Razorpay orders (one per paid link).
    pub orders: Vec<Value>,
    /// HubSpot contacts (with their association lists), companies and deals.
    pub contacts: Vec<Value>,
    pub companies: Vec<Value>,
    pub deals: Vec<Value>,
    /// Webhook deliveries not yet acknowledged by the receiver.
    #[serde(default)]
    pub pending: Vec<super::deliver::Pending>,
    /// The WhatsApp side: customers, messages either way, and the webhooks owed for them. (Absent from a world
    /// saved before the sandbox spoke WhatsApp: it is seeded when such a world is opened.)
    #[serde(default)]
    pub whatsapp: WhatsApp,
    /// The Notion side: the "Invoices" database the demo uses as its invoice book. (Absent from a world saved
    /// before the sandbox spoke Notion: it is seeded when such a world is opened.)
    #[serde(default)]
    pub notion: Notion,
}

/// The sandbox's Notion workspace: one "Invoices" database with one data source, and its rows (pages), each in
/// the shape `GET /v1/…` returns (without the per-response `request_id`, and with the page `url` filled in when
/// it is served).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Notion {
    /// False only in a world saved before the sandbox spoke Notion.
    #[serde(default)]
    pub seeded: bool,
    /// The database object (`object: "database"`), listing its one data source.
    pub database: Value,
    /// The data source object (`object: "data_source"`): the schema, `properties` by name.
    pub data_source: Value,
    /// The rows, oldest first.
    pub pages: Vec<Value>,
}

impl Notion {
    /// The database's id (dashed UUID).
    pub fn database_id(&self) -> &str {
        self.database["id"].as_str().unwrap_or_default()
    }

    /// The data source's id (dashed UUID).
    pub fn data_source_id(&self) -> &str {
        self.data_source["id"].as_str().unwrap_or_default()
    }

    /// The index of the page with this id (dashed UUID).
    pub fn page(&self, id: &str) -> Option<usize> {
        self.pages.iter().position(|p| p["id"].as_str() == Some(id))
    }
}

/// The sandbox's WhatsApp Business number: who is on WhatsApp, every message either way, and the webhooks the
/// receiver is still owed for them, in the order they are to be sent.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct WhatsApp {
    /// False only in a world saved before the sandbox spoke WhatsApp.
    #[serde(default)]
    pub seeded: bool,
    /// The people who have WhatsApp in the sandbox (any other number is "not on WhatsApp": error 131026).
    pub customers: Vec<WaCustomer>,
    /// Every message, oldest first.
    pub messages: Vec<WaMessage>,
    /// Signed webhooks not yet acknowledged, in sending order.
    #[serde(default)]
    pub pending: Vec<WaPending>,
}

/// A person on WhatsApp.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaCustomer {
    /// Their WhatsApp id: the phone's digits without `+`, e.g. `919876500001`.
    pub wa_id: String,
    /// Their WhatsApp profile name (sent as `contacts[].profile.name`).
    pub name: String,
}

/// Which way a message went, seen from the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaDirection {
    /// Typed by the customer on the phone page.
    Inbound,
    /// Sent by the business through the Graph API.
    Outbound,
}

/// One message of a chat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaMessage {
    /// `wamid.…`
    pub id: String,
    /// The customer's WhatsApp id.
    pub wa_id: String,
    pub direction: WaDirection,
    /// Unix seconds.
    pub timestamp: i64,
    /// Inbound: the message object exactly as its webhook carries it. Outbound: the send request as received.
    pub wire: Value,
    /// How far it got: `accepted` (outbound, no status announced yet), `sent`, `delivered`, `read`. Outbound:
    /// the furthest status webhook the receiver acknowledged. Inbound: `sent` when typed, `delivered` once its
    /// webhook was acknowledged, `read` once the business marked it read.
    pub status: String,
    /// Outbound: a `read` status is owed or was sent (viewing the chat again queues no second one).
    #[serde(default)]
    pub read_queued: bool,
}

/// A signed WhatsApp webhook the sandbox still owes the receiver.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaPending {
    /// The sandbox's own id for this delivery (not sent: Meta sends no delivery id).
    pub id: String,
    /// Not before this moment (unix milliseconds).
    pub due_ms: i64,
    /// The exact body that is signed and sent.
    pub body: String,
    /// The message it is about, and the status that message reaches once the receiver acknowledges it.
    pub message_id: String,
    pub status: String,
}

/// The sandbox's keys. Random per data directory; they only open the sandbox. (No `Debug`: they are secrets.)
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub razorpay_key_id: String,
    pub razorpay_key_secret: String,
    pub razorpay_webhook_secret: String,
    pub razorpay_account_id: String,
    pub hubspot_token: String,
    /// The WhatsApp Graph API access token (`Authorization: Bearer …`).
    #[serde(default = "whatsapp_token")]
    pub whatsapp_token: String,
    /// The WhatsApp app secret: the key of `X-Hub-Signature-256` on the sandbox's WhatsApp webhooks.
    #[serde(default = "whatsapp_app_secret")]
    pub whatsapp_app_secret: String,
    /// The token Meta's GET handshake carries (`hub.verify_token`).
    #[serde(default = "whatsapp_verify_token")]
    pub whatsapp_verify_token: String,
    /// The Notion internal integration token (`Authorization: Bearer ntn_…`).
    #[serde(default = "notion_token")]
    pub notion_token: String,
}

fn notion_token() -> String {
    format!("ntn_{}", random_id(46))
}

fn whatsapp_token() -> String {
    format!("EAASandbox{}", random_id(40))
}

fn whatsapp_app_secret() -> String {
    format!("sandbox_app_secret_{}", random_id(24))
}

fn whatsapp_verify_token() -> String {
    format!("sandbox_verify_{}", random_id(16))
}

impl Credentials {
    pub fn generate() -> Self {
        Credentials {
            razorpay_key_id: format!("rzp_test_{}", random_id(14)),
            razorpay_key_secret: random_id(24),
            razorpay_webhook_secret: format!("sandbox_whsec_{}", random_id(24)),
            razorpay_account_id: format!("acc_{}", random_id(14)),
            hubspot_token: format!("pat-sandbox-{}", random_id(24)),
            whatsapp_token: whatsapp_token(),
            whatsapp_app_secret: whatsapp_app_secret(),
            whatsapp_verify_token: whatsapp_verify_token(),
            notion_token: notion_token(),
        }
    }
}

/// The file the world lives in, inside the sandbox's data directory.
pub fn file(dir: &Path) -> PathBuf {
    dir.join("sandbox.json")
}

impl World {
    /// Read the saved world, if there is one.
    pub fn load(dir: &Path) -> std::io::Result<Option<World>> {
        match std::fs::read(file(dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Write the world atomically (off the async threads).
    pub async fn save(&self, dir: &Path) -> std::io::Result<()> {
        let (world, dir) = (self.clone(), dir.to_path_buf());
        tokio::task::spawn_blocking(move || world.save_blocking(&dir)).await.map_err(std::io::Error::other)?
    }

    /// Write the world atomically: a temporary file readable only by its owner (it holds the sandbox's keys),
    /// synced, renamed over the old one, and the directory synced so the rename itself survives a crash.
    pub fn save_blocking(&self, dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("sandbox.json.{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file(dir))?;
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }

    pub fn find(list: &[Value], id: &str) -> Option<usize> {
        list.iter().position(|v| v["id"].as_str() == Some(id))
    }
}

/// A Razorpay-style id body: 14 (or `len`) case-sensitive alphanumerics.
pub fn random_id(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A random version 4 UUID, dashed and lower-case, as Notion writes ids: `1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d`.
pub fn uuid() -> String {
    use rand::Rng;
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
