//! End to end on the real Linux 4.12 tree: a signed `push` webhook to the
//! real server → the real pipeline (`scan` + `rewrite::plan`, one git
//! commit per plan unit, `verify::compile_check` of the touched files on
//! x86_64) → the series branch pushed to a local bare "fork" → a pull
//! request and one completed `kseries/build` check run per commit on the
//! fake GitHub.

use crate::bot_support;
use crate::common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bot_support::*;
use kseries::bot::config::Config;
use kseries::bot::runner::GitSeriesRunner;
use kseries::bot::webhook::signature_header;
use kseries::bot::{Secret, ServeOptions, start};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_push_becomes_a_pr_with_compile_checked_commits_on_linux_4_12() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    // A clone at a stable path, so the compile check's build directory
    // (configured per tree path) is reused between runs.
    let base = common::cache_dir().join("bot-e2e");
    std::fs::create_dir_all(&base).unwrap();
    // Two runs at once (two checkouts' CI, a developer's run) take turns.
    let lock = std::fs::File::create(base.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let work = base.join("linux");
    if work.exists() {
        std::fs::remove_dir_all(&work).unwrap();
    }
    std::fs::create_dir_all(&base).unwrap();
    common::git(
        &base,
        &[
            "clone",
            "-q",
            "--shared",
            tree.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    )
    .unwrap();
    let head = git(&work, &["rev-parse", "HEAD"]);
    let fork = tempfile::tempdir().unwrap();
    let bare: PathBuf = fork.path().join("fork.git");
    git(fork.path(), &["init", "-q", "--bare", "fork.git"]);

    let mut runner = GitSeriesRunner::new(&work);
    runner.build_dir = base.join("build-x86_64");
    runner.max_files_per_commit = Some(1);
    let runner = Arc::new(runner);

    let gh = FakeGitHub::start().await;
    let mut bot = options(&gh, TestClock::new(), Some(&bare));
    bot.config = Config::parse("branches = [\"master\"]\nchecks = [\"build\"]\n").unwrap();
    let secret = Secret::new("e2e-secret");
    let opts = ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        secret: secret.clone(),
        body_limit: 1024 * 1024,
        replay_capacity: 100,
        limits: Default::default(),
        bot,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut handle = start(listener, opts, runner).await.unwrap();

    let body = push_payload("master", &head).to_string();
    let resp = reqwest::Client::new()
        .post(format!("http://{}/", handle.addr))
        .header("X-GitHub-Event", "push")
        .header("X-GitHub-Delivery", "e2e-1")
        .header(
            "X-Hub-Signature-256",
            signature_header(&secret, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let t = Instant::now();
    tokio::time::timeout(Duration::from_secs(60 * 60), handle.wait_handled(1))
        .await
        .expect("the push is handled within an hour");
    eprintln!("handled in {:?}", t.elapsed());

    // The series: one commit per plan unit (callers, then the API removed
    // last), on top of the 4.12 base, pushed to the fork.
    let series_head = git(&bare, &["rev-parse", "refs/heads/kseries/master"]);
    let commits: Vec<String> = git(
        &bare,
        &["rev-list", "--reverse", &format!("{head}..{series_head}")],
    )
    .lines()
    .map(String::from)
    .collect();
    assert!(commits.len() >= 2, "a real series: {commits:?}");
    assert_eq!(
        git(&bare, &["rev-parse", &format!("{}^", commits[0])]),
        head
    );
    eprintln!(
        "{}",
        git(&work, &["log", "--oneline", &format!("{head}..HEAD")])
    );

    // One pull request with the cover letter listing every commit.
    let st = gh.state.lock().unwrap();
    assert_eq!(st.pulls.len(), 1);
    let pr = &st.pulls[0];
    assert_eq!(pr["head"]["ref"], "kseries/master");
    assert_eq!(pr["base"]["ref"], "master");
    let cover = pr["body"].as_str().unwrap();
    eprintln!("{}\n{cover}", pr["title"]);
    // git's shortlog in the cover letter lists every commit (and wraps a
    // long subject).
    let flat = cover.split_whitespace().collect::<Vec<_>>().join(" ");
    for sha in &commits {
        let subject = git(&work, &["log", "-1", "--format=%s", sha]);
        assert!(
            flat.contains(subject.trim()),
            "cover letter lists {subject}:\n{cover}"
        );
    }
    // One completed kseries/build check run per commit, with a table.
    assert_eq!(st.check_runs.len(), commits.len());
    let mut compiled = 0;
    for (run, sha) in st.check_runs.iter().zip(&commits) {
        assert_eq!(run["head_sha"], sha.as_str());
        assert_eq!(run["name"], "kseries/build");
        assert_eq!(run["external_id"], format!("kseries:build:{sha}"));
        assert_eq!(run["status"], "completed");
        let conclusion = run["conclusion"].as_str().unwrap();
        let summary = run["output"]["summary"].as_str().unwrap();
        eprintln!(
            "{} {conclusion}: {}\n{summary}",
            &sha[..12],
            run["output"]["title"].as_str().unwrap()
        );
        assert!(summary.starts_with("| file | result | detail | time |\n"));
        assert!(
            ["success", "neutral", "failure"].contains(&conclusion),
            "{conclusion}"
        );
        if conclusion == "failure" {
            assert!(!run["annotations"].as_array().unwrap().is_empty());
        }
        if summary.contains("| ok |") {
            compiled += 1;
        }
    }
    assert!(compiled > 0, "at least one commit's file really compiled");
    drop(st);
    handle.stop();
}
