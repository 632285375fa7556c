//! Logging: `tracing` to **stderr**, always. In stdio mode stdout is the protocol channel.

use std::io::{self, Write};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The longest log event written, in bytes; a longer one is cut there and says how much was left out. Peers
/// choose some of what gets logged (method names, client info, error text): a 10 MB method name must not become
/// a 10 MB log line.
pub const MAX_EVENT_BYTES: usize = 4 * 1024;

/// Install the global subscriber. `RUST_LOG` overrides the default level (`info` for Switchboard, `warn` otherwise).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,switchboard=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(ClippedStderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
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
