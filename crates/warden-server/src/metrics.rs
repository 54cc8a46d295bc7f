//! `/metrics` in Prometheus' text format (version 0.0.4): requests by route and status, request
//! latency, logins by outcome, tokens issued by grant, and password hashing time.
//!
//! Routes are the matched templates (`/items/{id}`), never raw paths, so the number of series is
//! bounded by the routes, whatever clients send.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;

use crate::app::App;

const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];
const HASH_BUCKETS: [f64; 8] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// A histogram with fixed buckets.
struct Histogram<const N: usize> {
    bounds: [f64; N],
    counts: [AtomicU64; N],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new(bounds: [f64; N]) -> Self {
        Self {
            bounds,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            if seconds <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Requests of one route: (method, status) → count.
type RouteCounts = BTreeMap<(&'static str, u16), u64>;

/// The server's counters.
pub struct Metrics {
    /// route template → (method, status) → count; looked up by `&str`, so a request allocates
    /// nothing once its route has been seen.
    requests: Mutex<HashMap<String, RouteCounts>>,
    latency: Histogram<12>,
    logins_succeeded: AtomicU64,
    logins_failed: AtomicU64,
    tokens: [AtomicU64; 3],
    hashing: Histogram<8>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Mutex::default(),
            latency: Histogram::new(LATENCY_BUCKETS),
            logins_succeeded: AtomicU64::new(0),
            logins_failed: AtomicU64::new(0),
            tokens: std::array::from_fn(|_| AtomicU64::new(0)),
            hashing: Histogram::new(HASH_BUCKETS),
        }
    }
}

const GRANTS: [&str; 3] = ["password", "refresh_token", "client_credentials"];

impl Metrics {
    pub fn login(&self, succeeded: bool) {
        let counter = if succeeded {
            &self.logins_succeeded
        } else {
            &self.logins_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn token_issued(&self, grant: &str) {
        if let Some(i) = GRANTS.iter().position(|g| *g == grant) {
            self.tokens[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn password_hashed(&self, elapsed: Duration) {
        self.hashing.observe(elapsed);
    }

    fn request(&self, route: &str, method: &'static str, status: u16, elapsed: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            let counts = match requests.get_mut(route) {
                Some(counts) => counts,
                None => requests.entry(route.to_owned()).or_default(),
            };
            *counts.entry((method, status)).or_default() += 1;
        }
        self.latency.observe(elapsed);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP warden_http_requests_total HTTP requests by route template, method and status.\n");
        out.push_str("# TYPE warden_http_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            let mut routes: Vec<_> = requests.iter().collect();
            routes.sort_by(|a, b| a.0.cmp(b.0));
            for (route, counts) in routes {
                let route = route.replace('\\', "\\\\").replace('"', "\\\"");
                for ((method, status), count) in counts {
                    let _ = writeln!(
                        out,
                        "warden_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {count}"
                    );
                }
            }
        }
        self.latency.write(
            &mut out,
            "warden_http_request_duration_seconds",
            "Time to answer a request.",
        );
        out.push_str("# HELP warden_logins_total Password logins by outcome.\n# TYPE warden_logins_total counter\n");
        let _ = writeln!(
            out,
            "warden_logins_total{{outcome=\"success\"}} {}",
            self.logins_succeeded.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "warden_logins_total{{outcome=\"failure\"}} {}",
            self.logins_failed.load(Ordering::Relaxed)
        );
        out.push_str("# HELP warden_tokens_issued_total Access tokens issued by grant type.\n");
        out.push_str("# TYPE warden_tokens_issued_total counter\n");
        for (grant, count) in GRANTS.iter().zip(&self.tokens) {
            let _ = writeln!(
                out,
                "warden_tokens_issued_total{{grant=\"{grant}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        self.hashing.write(
            &mut out,
            "warden_password_hash_seconds",
            "Time to check a password at login (argon2id or bcrypt).",
        );
        out
    }
}

/// Counts every request by its route template.
pub async fn track(State(app): State<App>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    // A fixed set: a client inventing methods must not invent series.
    let method: &'static str = match *request.method() {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    app.metrics
        .request(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// `GET /metrics`.
pub async fn metrics(State(app): State<App>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        app.metrics.render(),
    )
        .into_response()
}
