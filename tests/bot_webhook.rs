//! The webhook receiver, for real on 127.0.0.1 (port 0): signatures, size
//! limit, malformed and unknown events, replayed deliveries.

mod bot_support;

use std::sync::Arc;

use bot_support::*;
use kseries::bot::webhook::signature_header;
use kseries::bot::{Secret, ServeOptions, ServerHandle, start};
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
    let gh = FakeGitHub::start().await;
    let repos = repos(2);
    let runner = FakeRunner::new(&repos, 0);
    let opts = ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        secret: Secret::new(SECRET),
        body_limit: 1024 * 1024,
        replay_capacity: 100,
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
