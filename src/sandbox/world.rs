//! The sandbox's data: Razorpay entities and HubSpot objects kept exactly as the providers put them on the wire,
//! plus the sandbox's own credentials. Saved as one JSON file in the data directory after every change.

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
}

/// The sandbox's keys. Random per data directory; they only open the sandbox. (No `Debug`: they are secrets.)
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub razorpay_key_id: String,
    pub razorpay_key_secret: String,
    pub razorpay_webhook_secret: String,
    pub razorpay_account_id: String,
    pub hubspot_token: String,
}

impl Credentials {
    pub fn generate() -> Self {
        Credentials {
            razorpay_key_id: format!("rzp_test_{}", random_id(14)),
            razorpay_key_secret: random_id(24),
            razorpay_webhook_secret: format!("sandbox_whsec_{}", random_id(24)),
            razorpay_account_id: format!("acc_{}", random_id(14)),
            hubspot_token: format!("pat-sandbox-{}", random_id(24)),
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
