//! `testigo-node`: parses arguments, sets up tracing, binds, runs (STYLE 7).

mod cli;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, RunArgs};
use testigo_node::GenesisParams;

/// The node's allocator. glibc malloc fragments under the state map's many small, short-lived
/// allocations spread over blocking threads (about 30% of map time, and RSS that kept climbing);
/// mimalloc was chosen over jemalloc because it builds in seconds here (one C file through `cc`)
/// where `tikv-jemalloc-sys` runs autoconf and make (about 3 minutes on the shared 2-core box).
/// The binary only: the ledger library leaves the choice to whoever links it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: logs piped to a file or a supervisor stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(cli::operator::exit_code(&error))
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let global = &cli.global;
    match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Init(args) => {
            global.refuse_client_options("init")?;
            let config = args.node.config(global)?;
            let p2p = match args.role {
                cli::InitRole::Operator => {
                    let (key, _) = testigo_node::datadir::init(&config, &args.genesis())
                        .context("cannot initialise the data directory")?;
                    println!("log key: {}", key.public());
                    testigo_node::datadir::p2p_key(&config)?
                }
                cli::InitRole::Witness => {
                    let (key, p2p) = testigo_node::datadir::init_witness(&config)
                        .context("cannot initialise the witness's data directory")?;
                    println!("witness key: {}", key.public());
                    p2p
                }
            };
            println!("peer id: {}", testigo_node::p2p::peer_id(&p2p)?);
            Ok(())
        }
        Command::PeerId(args) => {
            global.refuse_client_options("peer-id")?;
            let config = args.node.config(global)?;
            let key = testigo_node::datadir::p2p_key(&config)?;
            println!("{}", testigo_node::p2p::peer_id(&key)?);
            Ok(())
        }
        Command::Restore(args) => {
            global.refuse_client_options("restore")?;
            let config = args.node.config(global)?;
            let key = testigo_node::KeyFile::load(&args.log_key)
                .with_context(|| format!("log key {}", args.log_key.display()))?;
            let p2p = args
                .p2p_key
                .as_deref()
                .map(testigo_node::KeyFile::load)
                .transpose()
                .context("p2p key")?;
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            let restored = runtime.block_on(testigo_node::restore::restore(
                &config,
                &args.from,
                key,
                p2p,
                |done, total| eprintln!("restore: {done} of {total} leaves"),
            ))?;
            println!(
                "{}: {} leaves, {} checkpoints restored",
                config.data_dir.display(),
                restored.leaves,
                restored.checkpoints
            );
            Ok(())
        }
        Command::TrustFile(args) => args.run(global),
        Command::Ceiling(args) => {
            global.refuse_client_options("ceiling")?;
            if !(0.1..=60.0).contains(&args.seconds) {
                anyhow::bail!("--seconds must be 0.1 to 60, not {}", args.seconds);
            }
            let cores = args.cores.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            });
            let window = std::time::Duration::from_secs_f64(args.seconds);
            let ceiling = testigo_node::loadgen::measure_ceiling(cores, window)?;
            println!(
                "ceiling: {:.0} sig/s on {} cores at once (one core's best batch {:.0}/s)",
                ceiling.total(),
                ceiling.cores,
                ceiling.one_core_best
            );
            Ok(())
        }
        Command::Loadgen(args) => args.run(global),
        Command::Simulate(args) => args.run(global),
        Command::Operator(args) => cli::operator::run(args, global),
        Command::Fsck(args) => {
            global.refuse_client_options("fsck")?;
            let mut config = args.node.config(global)?;
            if let Some(storage) = args.storage {
                config.storage = storage;
            }
            let mut shown = 0;
            let report = testigo_node::fsck::fsck_data_dir(&config, |done, total| {
                if done - shown >= 100_000 || done == total {
                    eprintln!("fsck: {done} of {total} leaves");
                    shown = done;
                }
            })
            .with_context(|| format!("fsck of {}", config.data_dir.display()))?;
            println!(
                "{}: {} leaves, {} checkpoints, {} account histories: all agree",
                config.data_dir.display(),
                report.leaves,
                report.checkpoints,
                report.accounts
            );
            Ok(())
        }
        Command::Export(args) => {
            global.refuse_client_options("export")?;
            let mut config = args.node.config(global)?;
            if let Some(storage) = args.storage {
                config.storage = storage;
            }
            let done = testigo_node::export::export_data_dir(&config, &args.out, |done, total| {
                if done % 1_000_000 < 4_096 || done == total {
                    eprintln!("export: {done} of {total} leaves");
                }
            })
            .with_context(|| format!("export of {}", config.data_dir.display()))?;
            println!(
                "{}: {} leaves, {} checkpoints",
                args.out.display(),
                done.leaves,
                done.checkpoints
            );
            Ok(())
        }
        Command::Run(args) => {
            global.refuse_client_options("run")?;
            let config = args.config(global)?;
            if args.creates_log(global, &config) {
                testigo_node::datadir::init(&config, &GenesisParams::default())
                    .context("cannot create the default data directory")?;
            }
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(config.http_listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", config.http_listen))?;
                // One line on stdout with the bound address, so `--http 127.0.0.1:0` is usable
                // by scripts and tests (tracing goes to stderr). Printed only once the store
                // is open, recovery done and the router about to serve: a request sent after
                // it is answered, and a node that fails to start never prints it.
                testigo_node::run_announced(config, listener, shutdown_signal(), |url| {
                    println!("listening on {url}");
                })
                .await
                .context(
                    "node failed (if its store is damaged, `testigo-node fsck` names the first \
                     bad leaf)",
                )
            })
        }
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what service managers and container runtimes send):
/// both stop the node the same clean way, closing the open batch with a checkpoint.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    result = tokio::signal::ctrl_c() => {
                        if let Err(e) = result {
                            tracing::warn!(error = %e, "cannot listen for Ctrl-C; SIGTERM still stops the node");
                            terminate.recv().await;
                        }
                    }
                    _ = terminate.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C still stops the node");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("signal received");
}
