//! The `warden` binary: parses the command line and runs it.

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = warden_server::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(warden_server::cli::run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
