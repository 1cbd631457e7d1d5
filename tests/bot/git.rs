//! Git for the bot, for real: pushes to a local bare repository, and the
//! token's way to an HTTP server (through the environment, exactly one
//! `Authorization` header even when the checkout left one configured).

use crate::bot_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

use bot_support::*;
use kseries::bot::Secret;
use kseries::bot::git::{self, BranchName, PushUrl, auth_env, auth_header};

#[test]
fn pushes_force_the_series_branch_into_a_bare_repository() {
    let r = repos(2);
    let branch = BranchName::new("kseries/master").unwrap();
    for url in [r.bare.display().to_string(), git::file_url(&r.bare)] {
        let url = PushUrl::parse(&url).unwrap();
        git::push(&r.work, &r.commits[1].sha, &url, &branch, None).unwrap();
        assert_eq!(
            git(&r.bare, &["rev-parse", "refs/heads/kseries/master"]),
            r.commits[1].sha
        );
        // A regenerated series replaces the branch (force), and pushing
        // the same commit again is a no-op.
        git::push(&r.work, &r.commits[0].sha, &url, &branch, None).unwrap();
        git::push(&r.work, &r.commits[0].sha, &url, &branch, None).unwrap();
        assert_eq!(
            git(&r.bare, &["rev-parse", "refs/heads/kseries/master"]),
            r.commits[0].sha
        );
    }
    // Only that branch was written.
    assert_eq!(
        git(&r.bare, &["for-each-ref", "--format=%(refname)"]),
        "refs/heads/kseries/master"
    );
    // Errors name what failed, without a token.
    let missing = PushUrl::parse("/nonexistent/fork.git").unwrap();
    let token = Secret::new("ghs_never_shown");
    let err = git::push(&r.work, &r.commits[0].sha, &missing, &branch, Some(&token)).unwrap_err();
    assert!(!err.to_string().contains("ghs_never_shown"), "{err}");
}

#[test]
fn the_token_reaches_the_server_as_exactly_one_authorization_header() {
    let r = repos(1);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        conn.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    });
    // What actions/checkout leaves behind: a header for the whole host.
    let base = format!("http://127.0.0.1:{port}/");
    git(
        &r.work,
        &[
            "config",
            &format!("http.{base}.extraheader"),
            "AUTHORIZATION: basic b2xkOm9sZA==",
        ],
    );
    let url = format!("{base}kfork/linux.git");
    let token = Secret::new("ghs_the_real_token");
    let out = Command::new("git")
        .arg("-C")
        .arg(&r.work)
        .args(["ls-remote", "--", &url])
        .envs(auth_env(&url, &token))
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let request = server.join().unwrap();
    let auth: Vec<&str> = request
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .collect();
    assert_eq!(auth, [auth_header(&token).as_str()], "{request}");
    assert!(
        request.starts_with("GET /kfork/linux.git/info/refs"),
        "{request}"
    );
}
