//! The webhook receiver, for real on 127.0.0.1 (port 0): signatures, size
//! limit, malformed and unknown events, replayed deliveries.

use crate::bot_support;

use std::sync::Arc;

use bot_support::*;
use kseries::bot::webhook::signature_header;
use kseries::bot::{Secret, ServeOptions, ServerHandle, ServerLimits, start};
use reqwest::StatusCode;

const SECRET: &str = "webhook-secret-for-tests";

struct Harness {
    gh: FakeGitHub,
    handle: ServerHandle,
    runner: Arc<FakeRunner>,
    repos: Repos,
    http: reqwest::Client,
}

async fn harness() -> Harness {
    harness_with(ServerLimits::default()).await
}

async fn harness_with(limits: ServerLimits) -> Harness {
    let gh = FakeGitHub::start().await;
    let repos = repos(2);
    let runner = FakeRunner::new(&repos, 0);
    let opts = ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        secret: Secret::new(SECRET),
        body_limit: 1024 * 1024,
        replay_capacity: 100,
        limits,
        bot: options(&gh, TestClock::new(), Some(&repos.bare)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = start(listener, opts, runner.clone()).await.unwrap();
    Harness {
        gh,
        handle,
        runner,
        repos,
        http: reqwest::Client::new(),
    }
}

impl Harness {
    async fn post(
        &self,
        event: &str,
        delivery: &str,
        body: &[u8],
        signature: Option<String>,
    ) -> (StatusCode, String) {
        let mut req = self
            .http
            .post(format!("http://{}/", self.handle.addr))
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", delivery)
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            req = req.header("X-Hub-Signature-256", s);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.text().await.unwrap())
    }

    async fn signed(&self, event: &str, delivery: &str, body: &[u8]) -> (StatusCode, String) {
        let sig = signature_header(&Secret::new(SECRET), body);
        self.post(event, delivery, body, Some(sig)).await
    }

    fn handled(&self) -> u64 {
        *self.handle.handled.borrow()
    }
}

#[tokio::test]
async fn a_signed_push_is_queued_and_handled_once_even_when_replayed() {
    let mut h = harness().await;
    let body = push_payload("master", &h.repos.base).to_string();
    let (status, text) = h.signed("push", "d-1", body.as_bytes()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    h.handle.wait_handled(1).await;
    assert_eq!(h.gh.count(|s| s.pulls.len()), 1);
    assert_eq!(h.gh.count(|s| s.check_runs.len()), 4);
    assert_eq!(
        git(&h.repos.bare, &["rev-parse", "refs/heads/kseries/master"]),
        h.repos.commits[1].sha
    );
    let requests = h.gh.requests().await.len();

    // The same delivery again: acknowledged, not handled.
    let (status, text) = h.signed("push", "d-1", body.as_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("duplicate"), "{text}");
    // A new delivery of the same event is handled, and changes nothing
    // but updates (idempotent core).
    let (status, _) = h.signed("push", "d-2", body.as_bytes()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    h.handle.wait_handled(2).await;
    assert_eq!(h.handled(), 2, "the replay was not handled");
    assert_eq!(
        h.runner
            .calls()
            .iter()
            .filter(|c| c.starts_with("build_series"))
            .count(),
        2
    );
    assert_eq!(h.gh.count(|s| s.pulls.len()), 1);
    assert_eq!(h.gh.count(|s| s.check_runs.len()), 4);
    let after: Vec<String> = h.gh.requests().await[requests..].to_vec();
    assert!(after.iter().all(|r| !r.starts_with("POST")), "{after:#?}");
}

#[tokio::test]
async fn bad_signatures_are_401_and_nothing_is_parsed_or_handled() {
    let h = harness().await;
    let body = push_payload("master", &h.repos.base).to_string();
    let good = signature_header(&Secret::new(SECRET), body.as_bytes());
    let wrong = signature_header(&Secret::new("another secret"), body.as_bytes());
    let truncated = good[..good.len() - 10].to_string();
    let sha1_style = good.replace("sha256=", "sha1=");
    for (name, sig) in [
        ("missing", None),
        ("wrong", Some(wrong)),
        ("truncated", Some(truncated)),
        ("sha1 prefix", Some(sha1_style)),
        ("empty", Some(String::new())),
        ("garbage", Some("sha256=".to_string() + &"zz".repeat(32))),
    ] {
        let (status, _) = h
            .post("push", &format!("bad-{name}"), body.as_bytes(), sig)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
    }
    // A signature of another body (the body was tampered with).
    let mut tampered = body.clone().into_bytes();
    tampered[10] ^= 1;
    let (status, _) = h
        .post("push", "bad-tampered", &tampered, Some(good.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Malformed JSON is only looked at once the signature is right...
    let (status, _) = h
        .post("push", "bad-json-unsigned", b"{not json", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // ...and then it is a 400.
    let (status, text) = h.signed("push", "json", b"{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    // A rejected delivery id was not recorded: the real one still goes through.
    let (status, _) = h.signed("push", "bad-missing", body.as_bytes()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Payload values are validated: a branch git would take for an option.
    let evil = push_payload("--upload-pack=touch x", &h.repos.base).to_string();
    let (status, text) = h.signed("push", "evil", evil.as_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let h = harness().await;
    let big = vec![b' '; 1024 * 1024 + 1];
    let sig = signature_header(&Secret::new(SECRET), &big);
    let (status, _) = h.post("push", "big", &big, Some(sig)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(h.handled(), 0);
}

#[tokio::test]
async fn unknown_events_pings_and_headerless_deliveries() {
    let h = harness().await;
    let (status, text) = h.signed("fork", "u-1", b"{\"forkee\": {}}").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("ignored"), "{text}");
    let (status, text) = h
        .signed("ping", "u-2", b"{\"zen\": \"Keep it logically awesome.\"}")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("ping"), "{text}");
    // No event header.
    let body = b"{}";
    let sig = signature_header(&Secret::new(SECRET), body);
    let resp = h
        .http
        .post(format!("http://{}/", h.handle.addr))
        .header("X-GitHub-Delivery", "u-3")
        .header("X-Hub-Signature-256", sig)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Only POST / exists.
    let resp = h
        .http
        .get(format!("http://{}/", h.handle.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h.handled(), 0);
    assert!(h.gh.requests().await.is_empty());
}

/// A delivery refused for its body (not JSON) does not use up its id:
/// GitHub's redelivery with the same id is handled.
#[tokio::test]
async fn a_refused_delivery_does_not_use_up_its_id() {
    let mut h = harness().await;
    let (status, _) = h.signed("push", "retry-1", b"{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = push_payload("master", &h.repos.base).to_string();
    let body = body.as_bytes();
    let (status, text) = h.signed("push", "retry-1", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    h.handle.wait_handled(1).await;
    // Accepted once: now the id is used.
    let (status, text) = h.signed("push", "retry-1", body).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("duplicate"), "{text}");
}

/// Reads from `s` until the server closes it, for at most `bound`;
/// returns what arrived and how long it took.
async fn until_closed(
    s: &mut tokio::net::TcpStream,
    bound: std::time::Duration,
) -> (Vec<u8>, std::time::Duration) {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(bound, read)
        .await
        .unwrap_or_else(|_| panic!("still open after {bound:?}"));
    (got, started.elapsed())
}

/// Slow and idle clients on 127.0.0.1 are cut off by the timeouts, more
/// connections than the limit are closed at once, and the server keeps
/// serving GitHub all along.
#[tokio::test]
async fn slow_idle_and_surplus_connections_are_closed() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let limits = ServerLimits {
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        max_connections: 8,
    };
    let h = harness_with(limits).await;
    let addr = h.handle.addr;
    let bound = Duration::from_secs(5);

    // Idle: connects and says nothing.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let (_, took) = until_closed(&mut idle, bound).await;
    assert!(took >= Duration::from_millis(400), "{took:?}");

    // Idle after a first request on a kept-alive connection.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, took) = until_closed(&mut kept, bound).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    assert!(took >= Duration::from_millis(400), "{took:?}");

    // A head that trickles in, a byte every 100 ms, never complete.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = async {
        for _ in 0..100 {
            if slow.write_all(b"X").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let started = std::time::Instant::now();
    tokio::time::timeout(bound, trickle).await.expect("cut off");
    assert!(started.elapsed() < Duration::from_secs(3));

    // A complete head, then a body that stalls.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: s-1\r\nContent-Length: 100\r\n\r\n{\"ref\"",
        )
        .await
        .unwrap();
    let (answer, _) = until_closed(&mut stalled, bound).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // Twenty slow clients at once: all gone within the timeout.
    let mut many = Vec::new();
    for _ in 0..20 {
        many.push(TcpStream::connect(addr).await.unwrap());
    }
    let started = std::time::Instant::now();
    for s in &mut many {
        until_closed(s, bound).await;
    }
    assert!(started.elapsed() < Duration::from_secs(3));

    // The limit: eight held connections, and the ninth is closed at once.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut ninth = TcpStream::connect(addr).await.unwrap();
    let (_, took) = until_closed(&mut ninth, bound).await;
    assert!(took < Duration::from_millis(300), "{took:?}");
    drop(held);

    // And GitHub is served all along.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, text) = h.signed("ping", "after-1", b"{\"zen\": \"ok\"}").await;
    assert_eq!(status, StatusCode::OK, "{text}");
}
