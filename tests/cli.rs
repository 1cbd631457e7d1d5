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
