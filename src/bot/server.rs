//! The webhook HTTP server: `POST /` only.  Order of checks: size (413,
//! before the body is buffered past the limit), signature (401, constant
//! time, before any parsing), delivery id and replay (a replay gets 200
//! and is not handled again), event header and JSON (400).  Accepted
//! events are queued (202) and handled one at a time, so two deliveries
//! for the same branch never race.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::sync::{mpsc, watch};

use super::webhook::{self, Event, Parsed, ReplayCache};
use super::{Bot, EntryError, Secret, SeriesRunner, ServeOptions};

struct AppState {
    secret: Secret,
    replay: Mutex<ReplayCache>,
    queue: mpsc::UnboundedSender<(String, Event)>,
}

/// A running server.
pub struct ServerHandle {
    pub addr: std::net::SocketAddr,
    /// Counts events handled (successfully or not).
    pub handled: watch::Receiver<u64>,
    server: tokio::task::JoinHandle<()>,
    worker: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// Waits until `n` events have been handled in total.
    pub async fn wait_handled(&mut self, n: u64) {
        let _ = self.handled.wait_for(|&c| c >= n).await;
    }

    /// Runs until the server stops.
    pub async fn wait(self) {
        let _ = self.server.await;
        self.worker.abort();
    }

    pub fn stop(self) {
        self.server.abort();
        self.worker.abort();
    }
}

/// Starts the server on `listener` (port 0 is fine) and the worker that
/// handles queued events.
pub async fn start(
    listener: tokio::net::TcpListener,
    opts: ServeOptions,
    runner: Arc<dyn SeriesRunner>,
) -> Result<ServerHandle, EntryError> {
    let bot = opts.bot.bot(runner)?;
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Event)>();
    let (count_tx, count_rx) = watch::channel(0u64);
    let worker = tokio::spawn(async move {
        while let Some((delivery, ev)) = rx.recv().await {
            handle_logged(&bot, &delivery, &ev).await;
            count_tx.send_modify(|c| *c += 1);
        }
    });
    let state = Arc::new(AppState {
        secret: opts.secret,
        replay: Mutex::new(ReplayCache::new(opts.replay_capacity)),
        queue: tx,
    });
    let app = Router::new()
        .route("/", post(receive))
        .layer(DefaultBodyLimit::max(opts.body_limit))
        .with_state(state);
    let addr = listener.local_addr().map_err(|source| EntryError::Listen {
        addr: opts.listen,
        source,
    })?;
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("kseries bot: server error: {e}");
        }
    });
    Ok(ServerHandle {
        addr,
        handled: count_rx,
        server,
        worker,
    })
}

async fn handle_logged(bot: &Bot, delivery: &str, ev: &Event) {
    match bot.handle(ev).await {
        Ok(r) => match &r.ignored {
            Some(why) => eprintln!("kseries bot: delivery {delivery}: ignored: {why}"),
            None => eprintln!(
                "kseries bot: delivery {delivery}: pull request {:?}, {} check runs",
                r.pull,
                r.check_runs.len()
            ),
        },
        Err(e) => eprintln!("kseries bot: delivery {delivery}: error: {e}"),
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn receive(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    if !webhook::verify_signature(&st.secret, &body, header(&headers, "x-hub-signature-256")) {
        return (
            StatusCode::UNAUTHORIZED,
            "bad or missing signature\n".into(),
        );
    }
    let Some(delivery) = header(&headers, "x-github-delivery")
        .filter(|d| !d.is_empty() && d.len() <= 100 && d.bytes().all(|b| b.is_ascii_graphic()))
    else {
        return (
            StatusCode::BAD_REQUEST,
            "missing X-GitHub-Delivery\n".into(),
        );
    };
    let Some(event) = header(&headers, "x-github-event") else {
        return (StatusCode::BAD_REQUEST, "missing X-GitHub-Event\n".into());
    };
    if !st.replay.lock().expect("replay cache").insert(delivery) {
        return (StatusCode::OK, "duplicate delivery, ignored\n".into());
    }
    match webhook::parse_event(event, &body) {
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")),
        Ok(Parsed::Ignored(why)) => (StatusCode::OK, format!("ignored: {why}\n")),
        Ok(Parsed::Event(ev)) => {
            if st.queue.send((delivery.to_string(), ev)).is_err() {
                return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into());
            }
            (StatusCode::ACCEPTED, "queued\n".into())
        }
    }
}
