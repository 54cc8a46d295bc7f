//! The `warden` binary: parses the command line and runs it.

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = warden_server::cli::Cli::parse();
    // Log lines are written by a background thread through a buffer, so a request pays for
    // formatting its line, not for a write(2) of its own; `flush` writes what is left on exit.
    let (writer, flush) =
        tracing_appender::non_blocking(std::io::BufWriter::new(std::io::stderr()));
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let code = match tokio::runtime::Runtime::new() {
        Ok(runtime) => match runtime.block_on(warden_server::cli::run(cli)) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
        },
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            1
        }
    };
    drop(flush);
    std::process::exit(code);
}
