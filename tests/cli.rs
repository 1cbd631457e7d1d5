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
