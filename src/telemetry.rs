//! Logging: `tracing` to **stderr**, always. In stdio mode stdout is the protocol channel.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber. `RUST_LOG` overrides the default level (`info` for Switchboard, `warn` otherwise).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,switchboard=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
