//! The webhook HTTP server: `POST /` only.  Order of checks: size (413,
//! before the body is buffered past the limit), signature (401, constant
//! time, before any parsing), delivery id and replay (a replay gets 200
//! and is not handled again), event header and JSON (400).  A delivery
//! id is recorded only once its delivery is accepted, so GitHub's retry
//! of a rejected one is handled.  Accepted events are queued (202) and
//! handled one at a time, so two deliveries for the same branch never
//! race.
//!
//! Connections are served by hyper's HTTP/1 server under our own accept
//! loop ([`ServerLimits`]): a head not complete in time, a connection
//! idle that long between requests, a body not complete in time, and any
//! connection beyond the limit are closed, so slow clients cannot hold
//! the server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::sync::{Semaphore, mpsc, watch};

use super::webhook::{self, Event, Parsed, ReplayCache};
use super::{Bot, EntryError, Secret, SeriesRunner, ServeOptions, ServerLimits};

struct AppState {
    secret: Secret,
    replay: Mutex<ReplayCache>,
    queue: mpsc::UnboundedSender<(String, Event)>,
    body_limit: usize,
    body_timeout: Duration,
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
        body_limit: opts.body_limit,
        body_timeout: opts.limits.body_timeout,
    });
    let app = Router::new().route("/", post(receive)).with_state(state);
    let addr = listener.local_addr().map_err(|source| EntryError::Listen {
        addr: opts.listen,
        source,
    })?;
    let server = tokio::spawn(accept_loop(listener, app, opts.limits));
    Ok(ServerHandle {
        addr,
        handled: count_rx,
        server,
        worker,
    })
}

/// Accepts connections and serves each on its own task, at most
/// `max_connections` at once (one more is closed at once); the tasks end
/// with this loop.
async fn accept_loop(listener: tokio::net::TcpListener, app: Router, limits: ServerLimits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait, go on.
                eprintln!("kseries bot: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        connections.spawn(async move {
            let _slot = slot;
            let io = hyper_util::rt::TokioIo::new(stream);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            // An error here is the client's (timeout, reset): nothing to do.
            let _ = http.serve_connection(io, service).await;
        });
    }
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

/// The body, within the size limit and the body timeout.
async fn read_body(st: &AppState, body: axum::body::Body) -> Result<Bytes, (StatusCode, String)> {
    match tokio::time::timeout(st.body_timeout, axum::body::to_bytes(body, st.body_limit)).await {
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            "the body did not arrive in time\n".into(),
        )),
        Ok(Err(e)) => {
            let too_large =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                    e.source()
                })
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            Err(if too_large {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body larger than {} bytes\n", st.body_limit),
                )
            } else {
                (StatusCode::BAD_REQUEST, format!("reading the body: {e}\n"))
            })
        }
        Ok(Ok(b)) => Ok(b),
    }
}

async fn receive(State(st): State<Arc<AppState>>, req: Request) -> (StatusCode, String) {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let body = match read_body(&st, body).await {
        Ok(b) => b,
        Err(answer) => return answer,
    };
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
    let duplicate = || (StatusCode::OK, "duplicate delivery, ignored\n".into());
    if st.replay.lock().expect("replay cache").contains(delivery) {
        return duplicate();
    }
    // Recorded only once accepted: a delivery refused here (bad JSON)
    // may come again with the same id, and must be handled then.
    let parsed = match webhook::parse_event(event, &body) {
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")),
        Ok(p) => p,
    };
    if !st.replay.lock().expect("replay cache").insert(delivery) {
        return duplicate();
    }
    match parsed {
        Parsed::Ignored(why) => (StatusCode::OK, format!("ignored: {why}\n")),
        Parsed::Event(ev) => {
            if st.queue.send((delivery.to_string(), ev)).is_err() {
                return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into());
            }
            (StatusCode::ACCEPTED, "queued\n".into())
        }
    }
}
