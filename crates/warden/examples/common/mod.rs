//! What every example shares: settings from the environment and serving on 127.0.0.1:$PORT.

#![allow(dead_code)] // each example uses the part it needs

use axum::Router;
use tokio::net::TcpListener;

/// A setting from the environment; a missing or empty one falls back to `default`, with a
/// warning on stderr (the default is public, so it must never reach a real deployment).
pub fn setting(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => {
            eprintln!(
                "warning: {name} is not set; using its public default. Set {name} for any real use."
            );
            default.to_owned()
        }
    }
}

/// Serves `app` on 127.0.0.1 and the port in `PORT` (default 8000) until Ctrl-C or SIGTERM.
pub async fn serve(app: Router) {
    let port = match std::env::var("PORT") {
        Ok(value) => match value.parse::<u16>() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("error: PORT must be a number from 0 to 65535, not {value:?}");
                std::process::exit(2);
            }
        },
        Err(_) => 8000,
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!("listening on http://{address} (Swagger UI: http://{address}/docs)");
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

pub mod users;
