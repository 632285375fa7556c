//! The `switchboard` binary: parse the command line, load config, start logging, run.

use anyhow::Context;
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;
use switchboard::cli::{AuditCommand, Cli, Command};
use switchboard::server::Switchboard;
use switchboard::{app, audit, catalog, config::Config, demo, doctor, setup, telemetry};

/// mimalloc instead of glibc's malloc: a tool call or a webhook allocates and frees hundreds of small objects,
/// often on different threads: with glibc, malloc and free were ~20% of server CPU under load. Measured on 2 cores:
/// HTTP tools/call ~3,450 -> ~4,300/s, stdio get_invoice overhead 157 -> 134 µs. Transparent huge pages are off
/// (`no_thp`): they cost ~7 MiB of resident memory per stdio process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Tools(args) => match args.write {
            Some(dir) => {
                let n = catalog::write(&dir, &Switchboard::catalog())
                    .with_context(|| format!("writing the tool catalog to {}", dir.display()))?;
                eprintln!("wrote {n} tools to {}", dir.display());
            }
            None => {
                let json =
                    serde_json::to_string_pretty(&Switchboard::catalog()).context("rendering the tool catalog")?;
                writeln!(std::io::stdout(), "{json}").context("writing to stdout")?;
            }
        },
        Command::Setup(args) => {
            let exe = std::env::current_exe().context("finding the path of this switchboard binary")?;
            let options = setup::Options { client: args.client, write: args.write, file: args.file, name: args.name };
            let env = |name: &str| std::env::var(name).ok();
            setup::run(&options, &exe, &env, &mut std::io::stdout(), &mut std::io::stderr())?;
        }
        Command::Audit(AuditCommand::Verify(args)) => {
            let config = Config::load(args.config.as_deref()).context("loading configuration")?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let report = runtime.block_on(audit::verify_report(config))?;
            writeln!(std::io::stdout(), "{report}").context("writing to stdout")?;
        }
        Command::Demo(args) => {
            telemetry::init();
            let options = demo::DemoOptions {
                addr: args.http,
                reset: args.reset,
                webhook_delay: std::time::Duration::from_millis(args.webhook_delay_ms),
                duplicate_webhooks: args.duplicate_webhooks,
                allow_remote: args.allow_remote,
                data_dir: args.data_dir,
            };
            let config = demo::demo_config(&options).context("loading configuration")?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?
                .block_on(demo::run(config, options))?;
        }
        Command::Doctor(args) => {
            telemetry::init();
            let report = match Config::load(args.config.as_deref()) {
                Ok(config) => {
                    let options = doctor::Options { config_file: args.config, http: args.http };
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .context("starting the async runtime")?
                        .block_on(doctor::check(&config, &options))
                }
                Err(e) => doctor::unloadable(&e),
            };
            write!(std::io::stdout(), "{}", report.render()).context("writing to stdout")?;
            if report.needs_fixing() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Serve(args) => {
            telemetry::init();
            let mut config = Config::load(args.config.as_deref()).context("loading configuration")?;
            config.read_only |= args.read_only;
            if args.webhooks.is_some() {
                config.webhooks.listen = args.webhooks;
            }
            let transport = match args.http {
                Some(addr) => app::Transport::Http(addr),
                None => app::Transport::Stdio,
            };
            // One stdio client needs no worker pool; HTTP serves many clients at once.
            let mut runtime = match transport {
                app::Transport::Stdio => tokio::runtime::Builder::new_current_thread(),
                app::Transport::Http(_) => tokio::runtime::Builder::new_multi_thread(),
            };
            runtime
                .enable_all()
                .build()
                .context("starting the async runtime")?
                .block_on(app::run(config, transport))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
