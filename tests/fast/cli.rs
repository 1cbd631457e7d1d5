//! The command line's own behaviour: help, and clear errors on bad input.

use assert_cmd::Command;

fn kseries() -> Command {
    Command::cargo_bin("kseries").unwrap()
}

#[test]
fn help_lists_every_subcommand() {
    let out = kseries().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in ["scan", "rewrite", "check", "send", "trailers"] {
        assert!(text.contains(sub), "`{sub}` missing from --help:\n{text}");
    }
}

#[test]
fn send_of_an_empty_directory_fails_and_says_how_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = kseries().arg("send").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no patches") && err.contains("format-patch"),
        "{err}"
    );
}

#[test]
fn send_rejects_an_unknown_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let out = kseries()
        .arg("send")
        .arg(dir.path())
        .args(["--smtp-encryption", "rot13"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rot13"));
}

#[test]
fn check_of_a_missing_path_fails_with_exit_2() {
    let out = kseries()
        .args(["check", "/nonexistent/kseries/tree"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/kseries/tree"));
}

/// `kseries bot run` outside Actions: every missing piece is named, and no
/// request is made before the event is known to be about this repository.
#[test]
fn bot_run_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let bare = || {
        let mut c = kseries();
        c.args(["bot", "run", "--workdir"]).arg(dir.path());
        for k in [
            "GITHUB_TOKEN",
            "KSERIES_APP_ID",
            "KSERIES_APP_INSTALLATION_ID",
            "KSERIES_APP_KEY_FILE",
            "GITHUB_EVENT_NAME",
            "GITHUB_EVENT_PATH",
            "GITHUB_REPOSITORY",
            "GITHUB_API_URL",
        ] {
            c.env_remove(k);
        }
        c.env("GITHUB_WORKSPACE", dir.path());
        c
    };
    let stderr = |c: &mut Command| {
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let err = stderr(&mut bare());
    assert!(
        err.contains("GITHUB_EVENT_NAME is not set (not inside GitHub Actions?)"),
        "{err}"
    );
    let actions = |c: &mut Command| {
        c.env("GITHUB_EVENT_NAME", "push")
            .env("GITHUB_EVENT_PATH", dir.path().join("event.json"))
            .env("GITHUB_REPOSITORY", "kfork/linux");
    };

    let mut c = bare();
    actions(&mut c);
    let err = stderr(&mut c);
    let toml = dir.path().join("kseries.toml");
    assert!(
        err.contains(&format!("{}: No such file", toml.display())),
        "{err}"
    );
    assert_eq!(err.matches("No such file").count(), 1, "said once: {err}");
    std::fs::write(&toml, "branches = [\"master\"]\n").unwrap();

    let mut c = bare();
    actions(&mut c);
    let err = stderr(&mut c);
    assert!(err.contains("no credentials: set GITHUB_TOKEN"), "{err}");

    let mut c = bare();
    actions(&mut c);
    c.env("KSERIES_APP_ID", "12")
        .env("KSERIES_APP_INSTALLATION_ID", "1")
        .env("KSERIES_APP_KEY_FILE", dir.path().join("key.pem"));
    let err = stderr(&mut c);
    assert!(
        err.contains("KSERIES_APP_KEY_FILE /") && err.contains("key.pem: No such file"),
        "{err}"
    );
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    c.env("KSERIES_APP_ID", "twelve");
    let err = stderr(&mut c);
    assert!(
        err.contains("KSERIES_APP_ID=\"twelve\" is not a number"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("event.json"),
        r#"{"ref": "refs/heads/master", "before": "0000000000000000000000000000000000000000",
            "after": "1111111111111111111111111111111111111111", "deleted": false,
            "repository": {"full_name": "someone/else", "name": "else", "owner": {"login": "someone"}},
            "sender": {"login": "alice"}}"#,
    )
    .unwrap();
    let mut c = bare();
    actions(&mut c);
    // Nothing listens here: an attempted request would fail differently.
    c.env("GITHUB_TOKEN", "ghp_secret_cli")
        .env("GITHUB_API_URL", "http://127.0.0.1:9");
    let err = stderr(&mut c);
    assert!(
        err.contains("the event is about someone/else, GITHUB_REPOSITORY is kfork/linux"),
        "{err}"
    );
    assert!(!err.contains("ghp_secret_cli"), "{err}");
}

#[test]
fn completions_and_the_manual_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = kseries().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for word in ["kseries", "series", "subject-prefix", "no-dry-run"] {
            assert!(text.contains(word), "{shell}: {word} missing");
        }
    }
    let out = kseries().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    let out = kseries().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH kseries 1"), "{page}");
    assert!(page.contains("completions"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let out = kseries()
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let series = std::fs::read_to_string(dir.path().join("kseries-series.1")).unwrap();
    assert!(series.contains("subject\\-prefix"), "{series}");
    assert!(dir.path().join("kseries.1").is_file());
}

/// `kseries scan --format json | head`: the reader goes away, kseries
/// stops quietly.
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kseries"))
        .args(["scan", "--format", "json"])
        .arg(env!("CARGO_MANIFEST_DIR").to_string() + "/corpus")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before kseries writes anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(err.is_empty(), "{err}");
}

/// Every subcommand takes the tree the same way, and says what is wrong
/// with it in words (no libgit2 codes).
#[test]
fn the_tree_argument_and_what_is_wrong_with_it() {
    let empty = tempfile::tempdir().unwrap();
    let p = empty.path().to_str().unwrap();
    for args in [
        vec!["series", p],
        vec!["verify", p],
        vec!["trailers", p, "--replies", p],
        vec!["bot", "matrix", p, "--range", "a..b"],
    ] {
        let out = kseries().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("not a git repository: {p}")) && err.contains("git init"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("class=") && !err.contains("code="), "{err}");
    }
    for sub in ["scan", "check", "rewrite"] {
        let out = kseries().args([sub, p]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("no kernel source in {p}")),
            "{sub}: {err}"
        );
    }
    // A git repository that is not a kernel tree.
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(empty.path())
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap()
    };
    git(&["init", "-q"]);
    std::fs::write(empty.path().join("a.c"), "int a;\n").unwrap();
    git(&["add", "."]);
    git(&["config", "user.name", "A"]);
    git(&["config", "user.email", "a@b"]);
    git(&["commit", "-qm", "x"]);
    // trailers takes the branch as --branch, like verify and series.
    let mbox = empty.path().join("replies.mbox");
    std::fs::write(&mbox, "").unwrap();
    let out = kseries()
        .args([
            "trailers",
            p,
            "--dry-run",
            "--base",
            "HEAD",
            "--branch",
            "no-such-series",
        ])
        .arg("--replies")
        .arg(&mbox)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no-such-series"), "{err}");
    let plan = empty.path().join("plan.json");
    std::fs::write(
        &plan,
        r#"{"recipe":"invalidate-page","tree":".","units":[{"stage":"callers","subsystem":"a","summary":"x","rationale":[],"review_notes":[],"files":[{"path":"a.c","base_blob":"7f8a1d7cd5ec3b4a0a5a1a0e94e7a37ac16a8a8d","edits":[]}]}],"needs_review":[]}"#,
    )
    .unwrap();
    let out = kseries()
        .args(["series", "--maintainers", "native", "--plan"])
        .arg(&plan)
        .arg(p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{p} has no MAINTAINERS file: not the top of a kernel tree"
        )),
        "{err}"
    );
}

#[test]
fn colour_only_on_a_terminal_or_when_asked() {
    let corpus = env!("CARGO_MANIFEST_DIR").to_string() + "/corpus";
    let plain = kseries().args(["check", &corpus]).output().unwrap();
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(text.contains(": error[E1]: "), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour into a pipe");
    let coloured = kseries()
        .args(["--color", "always", "check", &corpus])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&coloured.stdout);
    assert!(text.contains("\u{1b}["), "colour when asked");
    let err = kseries()
        .args(["--color", "always", "scan", "/nonexistent/kseries"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&err.stderr).contains("\u{1b}["));
    let err = kseries()
        .args(["scan", "/nonexistent/kseries"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&err.stderr).contains('\u{1b}'));
}

/// `kseries recipes` names every recipe the library has, a line each, and
/// every subcommand that depends on the migration refuses an unknown one
/// by naming the known ones.
#[test]
fn recipes_are_listed_and_an_unknown_one_is_refused_everywhere() {
    let out = kseries().arg("recipes").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let all = kseries::recipe::all();
    assert_eq!(text.lines().count(), all.len(), "{text}");
    for (line, r) in text.lines().zip(&all) {
        assert!(line.starts_with(r.id), "{line}");
        assert!(line.contains(r.messages.what), "{line}");
    }

    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().to_str().unwrap();
    // A repository, so the subcommands that need one get to the recipe.
    let git = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .args([
                "-C",
                tree,
                "-c",
                "user.name=T",
                "-c",
                "user.email=t@example.org",
            ])
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "base"]);
    for sub in [
        &["scan", tree][..],
        &["rewrite", tree],
        &["check", tree],
        &["series", tree],
        &["verify", tree],
        &["trailers", tree, "--replies", tree],
    ] {
        let out = kseries()
            .args(sub)
            .args(["--recipe", "no-such-recipe"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{sub:?}: {err}");
        assert!(
            err.contains("no-such-recipe") && err.contains(kseries::recipe::DEFAULT),
            "{sub:?}: {err}"
        );
    }

    // A plan carries its recipe: a different --recipe is a mistake.
    let plan = dir.path().join("plan.json");
    std::fs::write(
        &plan,
        r#"{"recipe":"invalidate-page","tree":".","units":[],"needs_review":[]}"#,
    )
    .unwrap();
    let out = kseries()
        .args(["series", tree, "--plan", plan.to_str().unwrap()])
        .args(["--recipe", "another-recipe"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("plan of recipe `invalidate-page`, not `another-recipe`"),
        "{err}"
    );
}
