//! The bot against a fake GitHub (wiremock, GitHub's documented request
//! and response shapes): the exact requests each event makes, and that a
//! repeated event updates instead of duplicating.

use crate::bot_support;

use std::sync::Arc;
use std::time::Duration;

use bot_support::*;
use kseries::bot::auth::{AppAuth, AppClaims, Auth};
use kseries::bot::check_runs::Conclusion;
use kseries::bot::github::{GhError, GitHub, RetryPolicy};
use kseries::bot::webhook::{Event, Parsed, RepoId, parse_event};
use kseries::bot::{Bot, CollectOptions, Secret, collect_once};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn event(name: &str, payload: &Value) -> Event {
    match parse_event(name, payload.to_string().as_bytes()).unwrap() {
        Parsed::Event(e) => e,
        Parsed::Ignored(why) => panic!("ignored: {why}"),
    }
}

fn bot(gh: &FakeGitHub, runner: Arc<FakeRunner>, r: &Repos) -> Bot {
    options(gh, TestClock::new(), Some(&r.bare))
        .bot(runner)
        .unwrap()
}

fn repo() -> RepoId {
    RepoId::parse(&format!("{OWNER}/{REPO}")).unwrap()
}

/// A request as the mock records it: `METHOD /repos/OWNER/REPO<path>`.
fn req(method: &str, path: &str) -> String {
    format!("{method} {}", repo_path(path))
}

/// The first page (of 100) of a listing.
fn list(path: &str) -> String {
    format!("GET {}?per_page=100", repo_path(path))
}

/// The search for the series branch's open pull request.
fn open_pulls() -> String {
    format!(
        "GET {}?head={OWNER}:kseries/master&state=open&per_page=100",
        repo_path("/pulls")
    )
}

/// The check runs of commit `sha`.
fn check_runs_of(sha: &str) -> String {
    list(&format!("/commits/{sha}/check-runs"))
}

/// An update of check run `id`.
fn patch_run(id: u64) -> String {
    req("PATCH", &format!("/check-runs/{id}"))
}

#[tokio::test]
async fn a_push_pushes_the_series_opens_a_pr_and_completes_one_check_run_per_commit_and_check() {
    let gh = FakeGitHub::start().await;
    let r = repos(2);
    let runner = FakeRunner::new(&r, 120);
    let bot = bot(&gh, runner.clone(), &r);
    let (c1, c2) = (r.commits[0].sha.clone(), r.commits[1].sha.clone());

    let report = bot
        .handle(&event("push", &push_payload("master", &r.base)))
        .await
        .unwrap();

    // The series branch is in the fork.
    assert_eq!(
        git(&r.bare, &["rev-parse", "refs/heads/kseries/master"]),
        c2
    );
    assert_eq!(report.pull, Some(1));
    assert!(report.pull_created);
    assert_eq!(
        runner.calls(),
        [
            format!("build_series master {}", r.base),
            format!("run_check build {}", &c1[..7]),
            format!("run_check boot {}", &c1[..7]),
            format!("run_check build {}", &c2[..7]),
            format!("run_check boot {}", &c2[..7]),
        ]
    );
    // Exactly these requests, in this order: check runs are all started
    // before the first check runs, the failing one is completed in three
    // PATCHes (50 + 50 + 20 annotations).
    assert_eq!(
        gh.requests().await,
        [
            open_pulls(),
            req("POST", "/pulls"),
            check_runs_of(&c1),
            req("POST", "/check-runs"),
            req("POST", "/check-runs"),
            check_runs_of(&c2),
            req("POST", "/check-runs"),
            req("POST", "/check-runs"),
            patch_run(1002),
            patch_run(1003),
            patch_run(1004),
            patch_run(1004),
            patch_run(1004),
            patch_run(1005),
        ]
    );
    assert_eq!(
        gh.bodies("POST", &repo_path("/pulls")).await,
        [json!({
            "title": runner.series.title,
            "head": "kseries/master",
            "base": "master",
            "body": runner.series.cover_letter,
        })]
    );
    assert_eq!(
        gh.bodies("POST", &repo_path("/check-runs")).await,
        [
            json!({"name": "kseries/build", "head_sha": c1, "status": "in_progress", "external_id": format!("kseries:build:{c1}")}),
            json!({"name": "kseries/boot", "head_sha": c1, "status": "in_progress", "external_id": format!("kseries:boot:{c1}")}),
            json!({"name": "kseries/build", "head_sha": c2, "status": "in_progress", "external_id": format!("kseries:build:{c2}")}),
            json!({"name": "kseries/boot", "head_sha": c2, "status": "in_progress", "external_id": format!("kseries:boot:{c2}")}),
        ]
    );
    let ok = gh.bodies("PATCH", &repo_path("/check-runs/1002")).await;
    assert_eq!(
        ok,
        [json!({
            "status": "completed",
            "conclusion": "success",
            "output": {
                "title": "build: success",
                "summary": "| file | result |\n| --- | --- |\n| `mm/rmap.c` | ok |\n",
                "annotations": [],
            }
        })]
    );
    let failing = gh.bodies("PATCH", &repo_path("/check-runs/1004")).await;
    assert_eq!(failing.len(), 3);
    assert_eq!(failing[0]["status"], "completed");
    assert_eq!(failing[0]["conclusion"], "failure");
    assert_eq!(failing[0]["output"]["title"], "build: failure");
    assert_eq!(
        failing[0]["output"]["annotations"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    assert_eq!(
        failing[0]["output"]["annotations"][0],
        json!({"path": "mm/rmap.c", "start_line": 1, "end_line": 1, "annotation_level": "failure", "message": "finding 1"})
    );
    for later in &failing[1..] {
        assert!(later.get("status").is_none() && later.get("conclusion").is_none());
        assert_eq!(later["output"]["title"], "build: failure");
    }
    assert_eq!(failing[1]["output"]["annotations"][0]["start_line"], 51);
    assert_eq!(
        failing[2]["output"]["annotations"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert_eq!(failing[2]["output"]["annotations"][19]["start_line"], 120);
    {
        let st = gh.state.lock().unwrap();
        let run = st.check_runs.iter().find(|c| c["id"] == 1004).unwrap();
        assert_eq!(run["annotations"].as_array().unwrap().len(), 120);
        assert!(st.check_runs.iter().all(|c| c["status"] == "completed"));
    }
    // Every request carried the token and the API version.
    for req in gh.server.received_requests().await.unwrap() {
        assert_eq!(
            req.headers["authorization"],
            format!("Bearer {TOKEN}").as_str()
        );
        assert_eq!(req.headers["x-github-api-version"], "2022-11-28");
        assert_eq!(req.headers["accept"], "application/vnd.github+json");
    }
}

#[tokio::test]
async fn a_repeated_push_updates_and_never_duplicates() {
    let gh = FakeGitHub::start().await;
    let r = repos(2);
    let runner = FakeRunner::new(&r, 60);
    let bot = bot(&gh, runner.clone(), &r);
    let ev = event("push", &push_payload("master", &r.base));
    bot.handle(&ev).await.unwrap();
    gh.reset_log().await;

    let report = bot.handle(&ev).await.unwrap();
    let (c1, c2) = (r.commits[0].sha.clone(), r.commits[1].sha.clone());
    assert_eq!(report.pull, Some(1));
    assert!(!report.pull_created && !report.pull_updated);
    assert!(report.check_runs.iter().all(|c| c.reused));
    let reqs = gh.requests().await;
    assert!(
        reqs.iter().all(|r| !r.starts_with("POST")),
        "nothing is created twice: {reqs:#?}"
    );
    assert_eq!(
        reqs,
        [
            open_pulls(),
            check_runs_of(&c1),
            patch_run(1002),
            patch_run(1003),
            check_runs_of(&c2),
            patch_run(1004),
            patch_run(1005),
            patch_run(1002),
            patch_run(1003),
            patch_run(1004),
            patch_run(1004),
            patch_run(1005),
        ]
    );
    // The first PATCH of each run sets it back in progress.
    assert_eq!(
        gh.bodies("PATCH", &repo_path("/check-runs/1002")).await[0],
        json!({"status": "in_progress"})
    );
    assert_eq!(gh.count(|s| s.pulls.len()), 1);
    assert_eq!(gh.count(|s| s.check_runs.len()), 4);
    let st = gh.state.lock().unwrap();
    let run = st.check_runs.iter().find(|c| c["id"] == 1004).unwrap();
    assert_eq!(run["status"], "completed");
    assert_eq!(run["annotations"].as_array().unwrap().len(), 60);
}

#[tokio::test]
async fn with_checks_in_the_workflow_a_push_makes_the_pr_and_no_check_run() {
    let gh = FakeGitHub::start().await;
    let r = repos(2);
    let runner = FakeRunner::new(&r, 0);
    let mut opts = options(&gh, TestClock::new(), Some(&r.bare));
    opts.checks_in_workflow = true;
    let bot = opts.bot(runner.clone()).unwrap();

    let report = bot
        .handle(&event("push", &push_payload("master", &r.base)))
        .await
        .unwrap();
    assert!(report.pull_created && report.checks_left_to_workflow);
    assert!(report.check_runs.is_empty());
    assert_eq!(runner.calls(), [format!("build_series master {}", r.base)]);
    assert_eq!(gh.requests().await, [open_pulls(), req("POST", "/pulls"),]);
    assert_eq!(
        git(&r.bare, &["rev-parse", "refs/heads/kseries/master"]),
        r.commits[1].sha
    );
}

#[tokio::test]
async fn an_open_pr_with_an_old_cover_letter_is_updated() {
    let gh = FakeGitHub::start().await;
    let r = repos(2);
    let runner = FakeRunner::new(&r, 0);
    gh.state.lock().unwrap().pulls.push(pull_json(
        9,
        "old title",
        "old cover letter",
        "kseries/master",
        "master",
        &r.commits[0].sha,
    ));
    let bot = bot(&gh, runner.clone(), &r);
    let report = bot
        .handle(&event("push", &push_payload("master", &r.base)))
        .await
        .unwrap();
    assert_eq!(report.pull, Some(9));
    assert!(report.pull_updated && !report.pull_created);
    assert_eq!(
        gh.bodies("PATCH", &repo_path("/pulls/9")).await,
        [json!({"title": runner.series.title, "body": runner.series.cover_letter})]
    );
    assert!(gh.bodies("POST", &repo_path("/pulls")).await.is_empty());
    assert_eq!(gh.count(|s| s.pulls.len()), 1);
}

#[tokio::test]
async fn pushes_to_other_branches_and_to_series_branches_are_ignored() {
    let gh = FakeGitHub::start().await;
    let r = repos(1);
    let runner = FakeRunner::new(&r, 0);
    let bot = bot(&gh, runner.clone(), &r);
    for b in ["topic", "kseries/master"] {
        let rep = bot
            .handle(&event("push", &push_payload(b, &r.base)))
            .await
            .unwrap();
        assert!(rep.ignored.is_some(), "{b}");
    }
    assert!(gh.requests().await.is_empty());
    assert!(runner.calls().is_empty());
}

fn pull_commit(sha: &str, msg: &str) -> Value {
    json!({"sha": sha, "commit": {"message": msg, "author": {"name": "a"}}, "parents": []})
}

#[tokio::test]
async fn retest_by_a_writer_reruns_the_checks_of_the_pr_commits() {
    let gh = FakeGitHub::start().await;
    let r = repos(2);
    let runner = FakeRunner::new(&r, 0);
    let (c1, c2) = (r.commits[0].sha.clone(), r.commits[1].sha.clone());
    {
        let mut st = gh.state.lock().unwrap();
        st.pulls
            .push(pull_json(7, "t", "b", "topic", "master", &c2));
        st.pull_commits.insert(
            7,
            vec![
                pull_commit(&c1, "mm: change 1\n\nbody"),
                pull_commit(&c2, "mm: change 2"),
            ],
        );
        st.permissions.insert("alice".into(), "write".into());
    }
    let bot = bot(&gh, runner.clone(), &r);
    let ev = event(
        "issue_comment",
        &comment_payload(7, 555, "alice", "/kseries retest\n"),
    );
    let report = bot.handle(&ev).await.unwrap();
    assert_eq!(report.check_runs.len(), 4);
    let reqs = gh.requests().await;
    assert_eq!(
        reqs[..3],
        [
            req("GET", "/collaborators/alice/permission"),
            req("GET", "/pulls/7"),
            list("/pulls/7/commits"),
        ]
    );
    assert_eq!(runner.calls()[0], "pull_series 7 2");
    assert_eq!(gh.count(|s| s.check_runs.len()), 4);
    // Again: the same four check runs, re-run.
    let report = bot.handle(&ev).await.unwrap();
    assert!(report.check_runs.iter().all(|c| c.reused));
    assert_eq!(gh.count(|s| s.check_runs.len()), 4);
    assert!(gh.count(|s| s.comments.len()) == 0);
}

#[tokio::test]
async fn retest_by_anyone_else_gets_one_reply_and_no_checks() {
    let gh = FakeGitHub::start().await;
    let r = repos(1);
    let runner = FakeRunner::new(&r, 0);
    gh.state
        .lock()
        .unwrap()
        .permissions
        .insert("mallory".into(), "read".into());
    let bot = bot(&gh, runner.clone(), &r);
    let ev = event(
        "issue_comment",
        &comment_payload(7, 556, "mallory", "/kseries retest"),
    );
    let report = bot.handle(&ev).await.unwrap();
    assert_eq!(report.comments_posted, 1);
    assert_eq!(
        gh.requests().await,
        [
            req("GET", "/collaborators/mallory/permission"),
            list("/issues/7/comments"),
            req("POST", "/issues/7/comments"),
        ]
    );
    assert_eq!(
        gh.bodies("POST", &repo_path("/issues/7/comments")).await,
        [
            json!({"body": "@mallory: `/kseries retest` needs write access to this repository; ignored.\n\n<!-- kseries:retest-denied:556 -->"})
        ]
    );
    // The same comment delivered again: no second reply.
    gh.reset_log().await;
    let report = bot.handle(&ev).await.unwrap();
    assert_eq!(report.comments_posted, 0);
    assert_eq!(
        gh.requests().await,
        [
            req("GET", "/collaborators/mallory/permission"),
            list("/issues/7/comments"),
        ]
    );
    // A user GitHub does not know (404) is refused too.
    let ev = event(
        "issue_comment",
        &comment_payload(7, 557, "stranger", "/kseries retest"),
    );
    assert_eq!(bot.handle(&ev).await.unwrap().comments_posted, 1);
    assert_eq!(gh.count(|s| s.comments[&7].len()), 2);
    assert!(runner.calls().is_empty());
    assert_eq!(gh.count(|s| s.check_runs.len()), 0);
    // Other comments cost no request at all.
    gh.reset_log().await;
    for (user, text) in [("mallory", "LGTM"), ("dependabot[bot]", "/kseries retest")] {
        let ev = event("issue_comment", &comment_payload(7, 600, user, text));
        assert!(bot.handle(&ev).await.unwrap().ignored.is_some());
    }
    assert!(gh.requests().await.is_empty());
}

#[tokio::test]
async fn a_pull_request_takes_its_commits_as_the_series() {
    let gh = FakeGitHub::start().await;
    let r = repos(2);
    let runner = FakeRunner::new(&r, 0);
    let (c1, c2) = (r.commits[0].sha.clone(), r.commits[1].sha.clone());
    {
        let mut st = gh.state.lock().unwrap();
        st.pulls
            .push(pull_json(3, "t", "b", "topic", "master", &c2));
        st.pulls
            .push(pull_json(4, "t", "b", "kseries/master", "master", &c2));
        st.pull_commits.insert(
            3,
            vec![
                pull_commit(&c1, "mm: change 1"),
                pull_commit(&c2, "mm: change 2"),
            ],
        );
    }
    let bot = bot(&gh, runner.clone(), &r);
    let report = bot
        .handle(&event(
            "pull_request",
            &pull_request_payload("opened", 3, "master", &c2),
        ))
        .await
        .unwrap();
    assert_eq!(report.check_runs.len(), 4);
    let shas: Vec<&str> = report.check_runs.iter().map(|c| c.sha.as_str()).collect();
    assert_eq!(shas, [c1.as_str(), c1.as_str(), c2.as_str(), c2.as_str()]);
    assert!(gh.bodies("POST", &repo_path("/pulls")).await.is_empty());
    // The bot's own series PR was checked on push; a PR into a branch
    // kseries.toml does not name is none of its business.
    gh.reset_log().await;
    let own = bot
        .handle(&event(
            "pull_request",
            &pull_request_payload("synchronize", 4, "master", &c2),
        ))
        .await
        .unwrap();
    assert!(own.ignored.is_some());
    let other = bot
        .handle(&event(
            "pull_request",
            &pull_request_payload("opened", 3, "stable", &c2),
        ))
        .await
        .unwrap();
    assert!(other.ignored.is_some());
    assert_eq!(gh.requests().await, [req("GET", "/pulls/4")]);
}

#[tokio::test]
async fn the_collector_merges_matrix_results_into_the_check_runs() {
    let gh = FakeGitHub::start().await;
    let r = repos(1);
    let runner = FakeRunner::new(&r, 0);
    let c1 = r.commits[0].sha.clone();
    // The build check run exists already (started by the push).
    gh.state.lock().unwrap().check_runs.push(json!({
        "id": 77, "name": "kseries/build", "head_sha": c1, "status": "in_progress",
        "external_id": format!("kseries:build:{c1}"), "annotations": [], "output": {}
    }));
    let dir = tempfile::tempdir().unwrap();
    let job = |name: &str, v: Value| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("kseries-result.json"), v.to_string()).unwrap();
    };
    job(
        "result-x86_64-build",
        json!({"sha": c1, "check": "build", "arch": "x86_64", "conclusion": "success",
        "files": [{"path": "mm/rmap.c", "status": "ok"}]}),
    );
    job(
        "result-arm64-build",
        json!({"sha": c1, "check": "build", "arch": "arm64", "conclusion": "failure",
        "files": [{"path": "mm/rmap.c", "status": "failed", "detail": "error: x"}],
        "annotations": [{"path": "mm/rmap.c", "start_line": 3, "end_line": 3, "annotation_level": "failure", "message": "error: x"}]}),
    );
    job(
        "result-x86_64-boot",
        json!({"sha": c1, "check": "boot", "arch": "x86_64", "conclusion": "success"}),
    );
    let mut opts = options(&gh, TestClock::new(), None);
    opts.config = config();
    let report = collect_once(
        CollectOptions {
            repository: format!("{OWNER}/{REPO}"),
            results_dir: dir.path().to_path_buf(),
            bot: opts,
        },
        runner,
    )
    .await
    .unwrap();
    assert_eq!(report.check_runs.len(), 2);
    assert_eq!(report.check_runs[0].id, 77);
    assert!(report.check_runs[0].reused);
    assert_eq!(report.check_runs[0].conclusion, Conclusion::Failure);
    assert_eq!(
        gh.bodies("PATCH", &repo_path("/check-runs/77")).await,
        [json!({
            "status": "completed",
            "conclusion": "failure",
            "output": {
                "title": "build: failure (arm64, x86_64)",
                "summary": "| arch | file | result | detail |\n| --- | --- | --- | --- |\n\
                            | arm64 | `mm/rmap.c` | failed | error: x |\n\
                            | x86_64 | `mm/rmap.c` | ok |  |\n",
                "annotations": [{"path": "mm/rmap.c", "start_line": 3, "end_line": 3, "annotation_level": "failure", "message": "error: x"}],
            }
        })]
    );
    // The boot check run did not exist: created, then completed.
    assert_eq!(gh.bodies("POST", &repo_path("/check-runs")).await.len(), 1);
    assert_eq!(gh.count(|s| s.check_runs.len()), 2);
    // A malformed result file is an error, not a silent pass.
    job(
        "bad",
        json!({"sha": "HEAD", "check": "build", "arch": "x", "conclusion": "success"}),
    );
    let err = kseries::bot::check_runs::read_job_results(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not a commit id"), "{err}");
}

// ---------------------------------------------------------------- client

fn client(server: &MockServer, auth: Auth, clock: Arc<TestClock>) -> GitHub {
    GitHub::new(
        &server.uri(),
        auth,
        clock,
        RetryPolicy {
            max_retries: 3,
            max_wait: Duration::from_secs(120),
            secondary_wait: Duration::from_secs(60),
            server_error_wait: Duration::from_secs(1),
        },
    )
    .unwrap()
}

fn token() -> Auth {
    Auth::Token(Secret::new(TOKEN))
}

const PERM: &str = "/repos/kfork/linux/collaborators/alice/permission";

fn perm_ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"permission": "write", "user": {"login": "alice"}}))
}

#[tokio::test]
async fn github_app_jwt_is_exchanged_for_an_installation_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/app/installations/42/access_tokens"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "token": "ghs_installation", "expires_at": "2023-11-14T23:13:20Z",
            "permissions": {"checks": "write"}, "repository_selection": "selected"
        })))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PERM))
        .and(header("authorization", "Bearer ghs_installation"))
        .respond_with(perm_ok())
        .expect(3)
        .mount(&server)
        .await;
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/bot_support/test-app-key.pem"
    ))
    .unwrap();
    let app = AppAuth::new(123, 42, &pem).unwrap();
    assert!(
        !format!("{app:?}").contains("BEGIN"),
        "the key is not in Debug"
    );
    let clock = TestClock::new();
    let gh = client(&server, Auth::App(Box::new(app)), clock.clone());
    let repo = repo();
    assert_eq!(gh.permission(&repo, "alice").await.unwrap(), "write");
    assert_eq!(gh.permission(&repo, "alice").await.unwrap(), "write");
    // Cached for 50 minutes, then renewed.
    *clock.now.lock().unwrap() += Duration::from_secs(51 * 60);
    assert_eq!(gh.permission(&repo, "alice").await.unwrap(), "write");

    let reqs = server.received_requests().await.unwrap();
    let exchange = reqs.iter().find(|r| r.method.as_str() == "POST").unwrap();
    let auth = exchange.headers["authorization"].to_str().unwrap();
    let jwt = auth.strip_prefix("Bearer ").unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let public = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/bot_support/test-app-key.pub.pem"
    ))
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false; // the test clock is in 2023
    validation.set_issuer(&["123"]);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    let claims = jsonwebtoken::decode::<AppClaims>(
        jwt,
        &jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    let t0 = 1_700_000_000;
    assert_eq!(
        claims,
        AppClaims {
            iat: t0 - 60,
            exp: t0 + 540,
            iss: "123".into()
        }
    );
    assert_eq!(exchange.headers["accept"], "application/vnd.github+json");
}

#[tokio::test]
async fn lists_follow_link_headers_on_the_api_host_only() {
    let server = MockServer::start().await;
    let sha = "a".repeat(40);
    let p = format!("/repos/kfork/linux/commits/{sha}/check-runs");
    let run = |id: u64| json!({"id": id, "name": "kseries/build", "head_sha": sha, "status": "completed", "external_id": null});
    Mock::given(method("GET"))
        .and(path(p.clone()))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 3, "check_runs": [run(3)]})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(p.clone()))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!("<{}{p}?per_page=100&page=2>; rel=\"next\", <{}{p}?per_page=100&page=2>; rel=\"last\"", server.uri(), server.uri()).as_str(),
                )
                .set_body_json(json!({"total_count": 3, "check_runs": [run(1), run(2)]})),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let gh = client(&server, token(), TestClock::new());
    let runs = gh.check_runs_for(&repo(), &sha).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);

    // A next link to another host is not followed with the token.
    let evil = MockServer::start().await;
    let sha2 = "b".repeat(40);
    Mock::given(method("GET"))
        .and(path(format!(
            "/repos/kfork/linux/commits/{sha2}/check-runs"
        )))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!("<{}/steal?page=2>; rel=\"next\"", evil.uri()).as_str(),
                )
                .set_body_json(json!({"total_count": 2, "check_runs": [run(1)]})),
        )
        .mount(&server)
        .await;
    let err = gh.check_runs_for(&repo(), &sha2).await.unwrap_err();
    assert!(matches!(err, GhError::ForeignLink(_)), "{err}");
    assert!(evil.received_requests().await.unwrap().is_empty());
}

async fn limited_then_ok(
    first: ResponseTemplate,
    times: u64,
) -> (MockServer, GitHub, Arc<TestClock>) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PERM))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PERM))
        .respond_with(perm_ok())
        .with_priority(2)
        .mount(&server)
        .await;
    let clock = TestClock::new();
    let gh = client(&server, token(), clock.clone());
    (server, gh, clock)
}

#[tokio::test]
async fn primary_rate_limit_waits_until_the_reset() {
    let reset = 1_700_000_000u64 + 30;
    let (server, gh, clock) = limited_then_ok(
        ResponseTemplate::new(403)
            .insert_header("x-ratelimit-limit", "5000")
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", reset.to_string().as_str())
            .set_body_json(json!({"message": "API rate limit exceeded for installation ID 42.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"})),
        1,
    )
    .await;
    assert_eq!(gh.permission(&repo(), "alice").await.unwrap(), "write");
    assert_eq!(clock.sleeps(), [Duration::from_secs(31)]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn retry_after_is_obeyed() {
    let (server, gh, clock) = limited_then_ok(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "5")
            .set_body_json(json!({"message": "Too Many Requests"})),
        1,
    )
    .await;
    assert_eq!(gh.permission(&repo(), "alice").await.unwrap(), "write");
    assert_eq!(clock.sleeps(), [Duration::from_secs(5)]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

fn secondary() -> ResponseTemplate {
    ResponseTemplate::new(403).set_body_json(json!({
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
    }))
}

#[tokio::test]
async fn secondary_rate_limits_back_off_and_the_backoff_is_bounded() {
    let (server, gh, clock) = limited_then_ok(secondary(), 2).await;
    assert_eq!(gh.permission(&repo(), "alice").await.unwrap(), "write");
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(60), Duration::from_secs(120)]
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    // Always limited: gives up once the next wait would pass max_wait.
    let (server, gh, clock) = limited_then_ok(secondary(), 100).await;
    let err = gh.permission(&repo(), "alice").await.unwrap_err();
    assert!(matches!(err, GhError::RateLimited { .. }), "{err}");
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(60), Duration::from_secs(120)]
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    // A wait longer than max_wait is not attempted at all.
    let (server, gh, clock) = limited_then_ok(
        ResponseTemplate::new(403)
            .insert_header("retry-after", "3600")
            .set_body_json(json!({"message": "x"})),
        1,
    )
    .await;
    assert!(matches!(
        gh.permission(&repo(), "alice").await.unwrap_err(),
        GhError::RateLimited { .. }
    ));
    assert!(clock.sleeps().is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_plain_403_is_an_error_without_retry() {
    let (server, gh, clock) = limited_then_ok(
        ResponseTemplate::new(403)
            .set_body_json(json!({"message": "Resource not accessible by integration"})),
        1,
    )
    .await;
    let err = gh.permission(&repo(), "alice").await.unwrap_err();
    assert_eq!(err.status(), Some(reqwest::StatusCode::FORBIDDEN));
    assert!(
        err.to_string()
            .contains("Resource not accessible by integration")
    );
    assert!(!err.to_string().contains(TOKEN));
    assert!(clock.sleeps().is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    // To another host: that server sees nothing, so neither the request
    // nor its Authorization header travels.
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PERM))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}{PERM}", elsewhere.uri()).as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(perm_ok())
        .mount(&elsewhere)
        .await;
    let clock = TestClock::new();
    let gh = client(&server, token(), clock.clone());
    let err = gh.permission(&repo(), "alice").await.unwrap_err();
    assert_eq!(err.status(), Some(reqwest::StatusCode::FOUND), "{err}");
    assert!(!err.to_string().contains(TOKEN));
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert!(clock.sleeps().is_empty());

    // On the same host, to another path: not followed either.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PERM))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/moved"))
        .mount(&server)
        .await;
    Mock::given(path("/moved"))
        .respond_with(perm_ok())
        .mount(&server)
        .await;
    let gh = client(&server, token(), TestClock::new());
    let err = gh.permission(&repo(), "alice").await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(reqwest::StatusCode::TEMPORARY_REDIRECT),
        "{err}"
    );
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        reqs.iter().map(|r| r.url.path()).collect::<Vec<_>>(),
        [PERM]
    );
}

#[tokio::test]
async fn every_request_names_the_api_version_and_the_bot_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PERM))
        .respond_with(perm_ok())
        .mount(&server)
        .await;
    let gh = client(&server, token(), TestClock::new());
    gh.permission(&repo(), "alice").await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    let values = |name: &str| -> Vec<String> {
        reqs[0]
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(values("x-github-api-version"), ["2022-11-28"]);
    assert_eq!(values("accept"), ["application/vnd.github+json"]);
    assert_eq!(values("authorization"), [format!("Bearer {TOKEN}")]);
    assert_eq!(
        values("user-agent"),
        [concat!("kseries-bot/", env!("CARGO_PKG_VERSION"))]
    );
}

#[test]
fn secrets_are_redacted_in_debug() {
    let s = Secret::new(TOKEN);
    assert_eq!(format!("{s:?}"), "Secret(***)");
    let gh = FakeGitHubless::options();
    let dbg = format!("{gh:?}");
    assert!(!dbg.contains(TOKEN), "{dbg}");
}

struct FakeGitHubless;
impl FakeGitHubless {
    fn options() -> kseries::bot::ServeOptions {
        let mut bot = kseries::bot::BotOptions::new(
            kseries::bot::AuthOptions::Token(Secret::new(TOKEN)),
            config(),
        );
        bot.api_url = "http://127.0.0.1:9".into();
        kseries::bot::ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            secret: Secret::new("webhook-secret-value"),
            body_limit: 1024,
            replay_capacity: 10,
            limits: Default::default(),
            bot,
        }
    }
}

#[tokio::test]
async fn kseries_toml_is_read_from_the_repository_at_the_pushed_commit() {
    let gh = FakeGitHub::start().await;
    let r = repos(2);
    let runner = FakeRunner::new(&r, 0);
    gh.state.lock().unwrap().config_file =
        Some("branches = [\"master\"]\nchecks = [\"build\"]\n".into());
    let mut opts = options(&gh, TestClock::new(), Some(&r.bare));
    opts.config_from_repository = true;
    let bot = opts.bot(runner.clone()).unwrap();
    let report = bot
        .handle(&event("push", &push_payload("master", &r.base)))
        .await
        .unwrap();
    // Only the check the repository's kseries.toml names.
    assert_eq!(report.check_runs.len(), 2);
    assert!(report.check_runs.iter().all(|c| c.name == "kseries/build"));
    assert_eq!(
        gh.requests().await[0],
        format!("GET {}?ref={}", repo_path("/contents/kseries.toml"), r.base)
    );
    // A pull request's configuration comes from its base branch.
    gh.reset_log().await;
    let c2 = r.commits[1].sha.clone();
    bot.handle(&event(
        "pull_request",
        &pull_request_payload("opened", 3, "master", &c2),
    ))
    .await
    .unwrap_err(); // no PR 3 in the fake: the GET of the PR fails
    assert_eq!(
        gh.requests().await[0],
        format!("GET {}?ref=master", repo_path("/contents/kseries.toml"))
    );
    // No kseries.toml: nothing to do, one request.
    gh.state.lock().unwrap().config_file = None;
    gh.reset_log().await;
    let report = bot
        .handle(&event("push", &push_payload("master", &r.base)))
        .await
        .unwrap();
    assert!(report.ignored.unwrap().contains("no kseries.toml"));
    assert_eq!(gh.requests().await.len(), 1);
    // A broken kseries.toml is an error, not a guess.
    gh.state.lock().unwrap().config_file = Some("branches = [\"-x\"]".into());
    let err = bot
        .handle(&event("push", &push_payload("master", &r.base)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("kseries.toml"), "{err}");
}

#[tokio::test]
async fn run_once_handles_the_actions_event_file() {
    let gh = FakeGitHub::start().await;
    let r = repos(2);
    let runner = FakeRunner::new(&r, 0);
    let dir = tempfile::tempdir().unwrap();
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, push_payload("master", &r.base).to_string()).unwrap();
    let run = |repository: &str, event_name: &str| kseries::bot::RunOptions {
        event_name: event_name.into(),
        event_path: event_path.clone(),
        repository: repository.into(),
        bot: options(&gh, TestClock::new(), Some(&r.bare)),
    };
    let report = kseries::bot::run_once(run(&format!("{OWNER}/{REPO}"), "push"), runner.clone())
        .await
        .unwrap();
    assert_eq!(report.pull, Some(1));
    assert_eq!(report.check_runs.len(), 4);
    // Again (a re-run of the workflow): nothing duplicated.
    let report = kseries::bot::run_once(run(&format!("{OWNER}/{REPO}"), "push"), runner.clone())
        .await
        .unwrap();
    assert!(!report.pull_created);
    assert_eq!(gh.count(|s| s.pulls.len()), 1);
    assert_eq!(gh.count(|s| s.check_runs.len()), 4);
    // An event about another repository is refused.
    let err = kseries::bot::run_once(run("someone/else", "push"), runner.clone())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("GITHUB_REPOSITORY"), "{err}");
    // An event the bot does not handle is ignored.
    let report =
        kseries::bot::run_once(run(&format!("{OWNER}/{REPO}"), "workflow_dispatch"), runner)
            .await
            .unwrap();
    assert!(report.ignored.is_some());
}

#[test]
fn pull_requests_from_forks_are_not_built_unasked() {
    let sha = "c".repeat(40);
    let mut payload = pull_request_payload("opened", 5, "master", &sha);
    payload["pull_request"]["head"]["repo"] = json!({"full_name": "stranger/linux"});
    let parsed = parse_event("pull_request", payload.to_string().as_bytes()).unwrap();
    assert!(matches!(parsed, Parsed::Ignored(why) if why.contains("another repository")));
    // A deleted fork (head.repo is null) too.
    payload["pull_request"]["head"]["repo"] = Value::Null;
    let parsed = parse_event("pull_request", payload.to_string().as_bytes()).unwrap();
    assert!(matches!(parsed, Parsed::Ignored(_)));
}
