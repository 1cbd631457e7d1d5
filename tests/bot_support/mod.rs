//! Helpers for the bot tests: a stateful fake of GitHub's REST API on
//! wiremock (the documented request and response shapes), a test clock
//! that records sleeps instead of sleeping, a fake pipeline with real git
//! commits, and git helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kseries::bot::check_runs::{Annotation, CheckKind, CheckOutcome, Conclusion};
use kseries::bot::config::Config;
use kseries::bot::github::{Clock, RetryPolicy};
use kseries::bot::{
    AuthOptions, BotOptions, BuiltSeries, Commit, PullSeriesRequest, Secret, SeriesRequest,
    SeriesRunner,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const OWNER: &str = "kfork";
pub const REPO: &str = "linux";
pub const TOKEN: &str = "ghp_testtoken0123456789";

// ---------------------------------------------------------------- clock

#[derive(Debug)]
pub struct TestClock {
    pub now: Mutex<SystemTime>,
    pub sleeps: Mutex<Vec<Duration>>,
}

impl TestClock {
    pub fn new() -> Arc<TestClock> {
        Arc::new(TestClock {
            now: Mutex::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            sleeps: Mutex::new(Vec::new()),
        })
    }
    pub fn unix(&self) -> u64 {
        self.now
            .lock()
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.sleeps.lock().unwrap().push(d);
        *self.now.lock().unwrap() += d;
        Box::pin(async {})
    }
}

// ---------------------------------------------------------------- fake GitHub

#[derive(Debug, Default)]
pub struct State {
    pub pulls: Vec<Value>,
    pub check_runs: Vec<Value>,
    pub comments: BTreeMap<u64, Vec<Value>>,
    pub permissions: BTreeMap<String, String>,
    /// Commits of each pull request, as `GET .../pulls/{n}/commits` lists them.
    pub pull_commits: BTreeMap<u64, Vec<Value>>,
    /// `kseries.toml` in the repository, when there is one.
    pub config_file: Option<String>,
    next_id: u64,
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// A stateful fake GitHub: what the bot creates, it finds again.
#[derive(Clone)]
pub struct FakeGitHub {
    pub server: Arc<MockServer>,
    pub state: Arc<Mutex<State>>,
}

struct Handler<F>(Arc<Mutex<State>>, F);

impl<F> Respond for Handler<F>
where
    F: Fn(&mut State, &Request) -> ResponseTemplate + Send + Sync,
{
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = self.0.lock().unwrap();
        (self.1)(&mut st, req)
    }
}

fn body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap_or(Value::Null)
}

fn seg(req: &Request, i: usize) -> String {
    req.url.path_segments().unwrap().nth(i).unwrap().to_string()
}

pub fn pull_json(number: u64, title: &str, body: &str, head: &str, base: &str, sha: &str) -> Value {
    json!({
        "url": format!("https://api.github.com/repos/{OWNER}/{REPO}/pulls/{number}"),
        "number": number,
        "state": "open",
        "title": title,
        "body": body,
        "head": {"ref": head, "sha": sha, "label": format!("{OWNER}:{head}")},
        "base": {"ref": base, "sha": "0".repeat(40), "label": format!("{OWNER}:{base}")},
    })
}

impl FakeGitHub {
    pub async fn start() -> FakeGitHub {
        let server = Arc::new(MockServer::start().await);
        let state = Arc::new(Mutex::new(State::default()));
        let fake = FakeGitHub { server, state };
        fake.mount_all().await;
        fake
    }

    async fn mount<F>(&self, verb: &str, re: &str, f: F)
    where
        F: Fn(&mut State, &Request) -> ResponseTemplate + Send + Sync + 'static,
    {
        Mock::given(method(verb))
            .and(path_regex(re))
            .respond_with(Handler(self.state.clone(), f))
            .mount(&self.server)
            .await;
    }

    async fn mount_all(&self) {
        let r = format!("^/repos/{OWNER}/{REPO}");
        self.mount("GET", &format!("{r}/pulls$"), |st, req| {
            let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
            let head = q.get("head").cloned().unwrap_or_default();
            let list: Vec<Value> = st
                .pulls
                .iter()
                .filter(|p| p["state"] == "open")
                .filter(|p| {
                    head.is_empty()
                        || format!("{OWNER}:{}", p["head"]["ref"].as_str().unwrap()) == head
                })
                .cloned()
                .collect();
            ResponseTemplate::new(200).set_body_json(list)
        })
        .await;
        self.mount("POST", &format!("{r}/pulls$"), |st, req| {
            let b = body(req);
            let n = st.id();
            let p = pull_json(
                n,
                b["title"].as_str().unwrap(),
                b["body"].as_str().unwrap(),
                b["head"].as_str().unwrap(),
                b["base"].as_str().unwrap(),
                &"f".repeat(40),
            );
            st.pulls.push(p.clone());
            ResponseTemplate::new(201).set_body_json(p)
        })
        .await;
        self.mount("PATCH", &format!("{r}/pulls/[0-9]+$"), |st, req| {
            let n: u64 = seg(req, 4).parse().unwrap();
            let b = body(req);
            let Some(p) = st.pulls.iter_mut().find(|p| p["number"] == n) else {
                return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
            };
            for k in ["title", "body"] {
                if let Some(v) = b.get(k) {
                    p[k] = v.clone();
                }
            }
            ResponseTemplate::new(200).set_body_json(p.clone())
        })
        .await;
        self.mount("GET", &format!("{r}/pulls/[0-9]+$"), |st, req| {
            let n: u64 = seg(req, 4).parse().unwrap();
            match st.pulls.iter().find(|p| p["number"] == n) {
                Some(p) => ResponseTemplate::new(200).set_body_json(p.clone()),
                None => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
            }
        })
        .await;
        self.mount("GET", &format!("{r}/pulls/[0-9]+/commits$"), |st, req| {
            let n: u64 = seg(req, 4).parse().unwrap();
            ResponseTemplate::new(200)
                .set_body_json(st.pull_commits.get(&n).cloned().unwrap_or_default())
        })
        .await;
        self.mount(
            "GET",
            &format!("{r}/commits/[0-9a-f]+/check-runs$"),
            |st, req| {
                let sha = seg(req, 4);
                let runs: Vec<Value> = st
                    .check_runs
                    .iter()
                    .filter(|c| c["head_sha"] == sha.as_str())
                    .cloned()
                    .collect();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"total_count": runs.len(), "check_runs": runs}))
            },
        )
        .await;
        self.mount("POST", &format!("{r}/check-runs$"), |st, req| {
            let b = body(req);
            let id = st.id() + 1000;
            let run = json!({
                "id": id,
                "name": b["name"],
                "head_sha": b["head_sha"],
                "external_id": b["external_id"],
                "status": b["status"],
                "conclusion": null,
                "output": {"title": null, "summary": null, "annotations_count": 0},
                "annotations": [],
            });
            st.check_runs.push(run.clone());
            ResponseTemplate::new(201).set_body_json(run)
        })
        .await;
        self.mount("PATCH", &format!("{r}/check-runs/[0-9]+$"), |st, req| {
            let id: u64 = seg(req, 4).parse().unwrap();
            let b = body(req);
            let Some(run) = st.check_runs.iter_mut().find(|c| c["id"] == id) else {
                return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
            };
            if let Some(s) = b.get("status") {
                run["status"] = s.clone();
                if s == "in_progress" {
                    run["conclusion"] = Value::Null;
                    run["annotations"] = json!([]);
                }
            }
            if let Some(c) = b.get("conclusion") {
                run["conclusion"] = c.clone();
            }
            if let Some(o) = b.get("output") {
                run["output"]["title"] = o["title"].clone();
                run["output"]["summary"] = o["summary"].clone();
                if let Some(a) = o.get("annotations").and_then(Value::as_array) {
                    run["annotations"]
                        .as_array_mut()
                        .unwrap()
                        .extend(a.iter().cloned());
                }
            }
            ResponseTemplate::new(200).set_body_json(run.clone())
        })
        .await;
        self.mount("GET", &format!("{r}/contents/kseries.toml$"), |st, _req| {
            use base64::Engine;
            match &st.config_file {
                Some(text) => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
                    // GitHub wraps the base64 content at 60 columns.
                    let wrapped: Vec<String> = b64
                        .as_bytes()
                        .chunks(60)
                        .map(|c| String::from_utf8(c.to_vec()).unwrap())
                        .collect();
                    ResponseTemplate::new(200).set_body_json(json!({
                        "type": "file", "encoding": "base64", "name": "kseries.toml",
                        "path": "kseries.toml", "size": text.len(),
                        "content": wrapped.join("\n") + "\n",
                    }))
                }
                None => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
            }
        })
        .await;
        self.mount(
            "GET",
            &format!("{r}/collaborators/[^/]+/permission$"),
            |st, req| {
                let user = seg(req, 4);
                match st.permissions.get(&user) {
                    Some(p) => ResponseTemplate::new(200).set_body_json(json!({
                        "permission": p, "role_name": p, "user": {"login": user}
                    })),
                    None => {
                        ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}))
                    }
                }
            },
        )
        .await;
        self.mount("GET", &format!("{r}/issues/[0-9]+/comments$"), |st, req| {
            let n: u64 = seg(req, 4).parse().unwrap();
            ResponseTemplate::new(200)
                .set_body_json(st.comments.get(&n).cloned().unwrap_or_default())
        })
        .await;
        self.mount("POST", &format!("{r}/issues/[0-9]+/comments$"), |st, req| {
            let n: u64 = seg(req, 4).parse().unwrap();
            let id = st.id() + 5000;
            let c = json!({"id": id, "body": body(req)["body"], "user": {"login": "kseries-bot[bot]"}});
            st.comments.entry(n).or_default().push(c.clone());
            ResponseTemplate::new(201).set_body_json(c)
        })
        .await;
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Every request the bot made, as `METHOD /path?query`, in order.
    pub async fn requests(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let pairs: Vec<String> = r
                    .url
                    .query_pairs()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let q = if pairs.is_empty() {
                    String::new()
                } else {
                    format!("?{}", pairs.join("&"))
                };
                format!("{} {}{q}", r.method, r.url.path())
            })
            .collect()
    }

    /// The bodies of the requests matching `METHOD path` exactly.
    pub async fn bodies(&self, verb: &str, path: &str) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method.as_str() == verb && r.url.path() == path)
            .map(body)
            .collect()
    }

    pub async fn reset_log(&self) {
        self.server.reset().await;
        self.mount_all().await;
    }

    pub fn count(&self, f: impl Fn(&State) -> usize) -> usize {
        f(&self.state.lock().unwrap())
    }
}

pub fn repo_path(rest: &str) -> String {
    format!("/repos/{OWNER}/{REPO}{rest}")
}

// ---------------------------------------------------------------- git

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A work repository with a base commit and `n` series commits, and an
/// empty bare repository as the fork's remote.
pub struct Repos {
    pub tmp: tempfile::TempDir,
    pub work: PathBuf,
    pub bare: PathBuf,
    pub base: String,
    pub commits: Vec<Commit>,
}

pub fn repos(n: usize) -> Repos {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let bare = tmp.path().join("fork.git");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "master"]);
    std::fs::write(work.join("README"), "base\n").unwrap();
    git(&work, &["add", "README"]);
    git(&work, &["commit", "-q", "-m", "base"]);
    let base = git(&work, &["rev-parse", "HEAD"]);
    let mut commits = Vec::new();
    for i in 1..=n {
        std::fs::write(work.join(format!("f{i}.c")), format!("int x{i};\n")).unwrap();
        git(&work, &["add", "."]);
        let subject = format!("mm: change {i}");
        git(&work, &["commit", "-q", "-m", &subject]);
        commits.push(Commit {
            sha: git(&work, &["rev-parse", "HEAD"]),
            subject,
        });
    }
    git(tmp.path(), &["init", "-q", "--bare", "fork.git"]);
    Repos {
        tmp,
        work,
        bare,
        base,
        commits,
    }
}

// ---------------------------------------------------------------- fake pipeline

pub fn annotations(n: u64) -> Vec<Annotation> {
    (1..=n)
        .map(|i| Annotation {
            path: "mm/rmap.c".into(),
            start_line: i,
            end_line: i,
            annotation_level: "failure".into(),
            message: format!("finding {i}"),
        })
        .collect()
}

/// Returns a fixed series (real commits in a real repository) and fixed
/// outcomes: the last commit's build fails with `failing_annotations`
/// annotations, everything else succeeds.
pub struct FakeRunner {
    pub series: BuiltSeries,
    pub failing_annotations: u64,
    pub calls: Mutex<Vec<String>>,
}

impl FakeRunner {
    pub fn new(r: &Repos, failing_annotations: u64) -> Arc<FakeRunner> {
        Arc::new(FakeRunner {
            series: BuiltSeries {
                repo: r.work.clone(),
                head: r.commits.last().unwrap().sha.clone(),
                commits: r.commits.clone(),
                title: "[kseries] invalidate-page: 2 patches on master".into(),
                cover_letter: "Cover letter.\n\n1/2 mm: change 1\n2/2 mm: change 2\n".into(),
                recipe: "invalidate-page".into(),
            },
            failing_annotations,
            calls: Mutex::new(Vec::new()),
        })
    }
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl SeriesRunner for FakeRunner {
    fn build_series(&self, req: &SeriesRequest) -> Result<BuiltSeries, kseries::bot::RunnerError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("build_series {} {}", req.base_branch, req.base_sha));
        Ok(self.series.clone())
    }
    fn pull_series(
        &self,
        req: &PullSeriesRequest,
    ) -> Result<BuiltSeries, kseries::bot::RunnerError> {
        self.calls.lock().unwrap().push(format!(
            "pull_series {} {}",
            req.number,
            req.commits.len()
        ));
        Ok(BuiltSeries {
            commits: req.commits.clone(),
            head: req.head_sha.clone(),
            ..self.series.clone()
        })
    }
    fn run_check(
        &self,
        _s: &BuiltSeries,
        c: &Commit,
        check: CheckKind,
    ) -> Result<CheckOutcome, kseries::bot::RunnerError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("run_check {} {}", check.id(), &c.sha[..7]));
        let last = c.sha == self.series.head;
        Ok(
            if last && check == CheckKind::Build && self.failing_annotations > 0 {
                CheckOutcome {
                    conclusion: Conclusion::Failure,
                    title: "build: failure".into(),
                    summary: "| file | result |\n| --- | --- |\n| `mm/rmap.c` | failed |\n".into(),
                    annotations: annotations(self.failing_annotations),
                }
            } else {
                CheckOutcome {
                    conclusion: Conclusion::Success,
                    title: format!("{}: success", check.id()),
                    summary: "| file | result |\n| --- | --- |\n| `mm/rmap.c` | ok |\n".into(),
                    annotations: vec![],
                }
            },
        )
    }
}

// ---------------------------------------------------------------- options

pub fn config() -> Config {
    Config::parse("branches = [\"master\"]\nchecks = [\"build\", \"boot\"]\n").unwrap()
}

pub fn options(gh: &FakeGitHub, clock: Arc<TestClock>, push_url: Option<&Path>) -> BotOptions {
    let mut o = BotOptions::new(AuthOptions::Token(Secret::new(TOKEN)), config());
    o.api_url = gh.uri();
    o.push_url = push_url.map(|p| p.display().to_string());
    o.clock = clock;
    o.retry = RetryPolicy {
        max_retries: 3,
        max_wait: Duration::from_secs(120),
        secondary_wait: Duration::from_secs(60),
        server_error_wait: Duration::from_secs(1),
    };
    o
}

pub fn push_payload(branch: &str, after: &str) -> Value {
    json!({
        "ref": format!("refs/heads/{branch}"),
        "before": "0".repeat(40),
        "after": after,
        "created": false,
        "deleted": false,
        "forced": false,
        "repository": {"id": 1, "name": REPO, "full_name": format!("{OWNER}/{REPO}"),
                       "owner": {"login": OWNER}},
        "pusher": {"name": "dev", "email": "dev@example.org"},
        "sender": {"login": "dev"},
        "commits": [],
    })
}

pub fn comment_payload(number: u64, comment_id: u64, user: &str, text: &str) -> Value {
    json!({
        "action": "created",
        "issue": {"number": number, "title": "t", "pull_request": {"url": "x"}},
        "comment": {"id": comment_id, "body": text, "user": {"login": user}},
        "repository": {"full_name": format!("{OWNER}/{REPO}")},
        "sender": {"login": user},
    })
}

pub fn pull_request_payload(action: &str, number: u64, base: &str, head_sha: &str) -> Value {
    json!({
        "action": action,
        "number": number,
        "pull_request": {"number": number, "head": {"ref": "topic", "sha": head_sha,
                                  "repo": {"full_name": format!("{OWNER}/{REPO}")}},
                         "base": {"ref": base, "sha": "0".repeat(40)}},
        "repository": {"full_name": format!("{OWNER}/{REPO}")},
        "sender": {"login": "dev"},
    })
}
