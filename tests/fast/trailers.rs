//! `kseries trailers` on a real git repository and a thread of replies.

use crate::common;

use std::path::{Path, PathBuf};

use kseries::trailers::{TrailersOptions, trailers};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = common::sender_git(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Fx {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    base: String,
    /// The thread as format-patch --thread --stdout wrote it.
    thread: String,
    /// Message-Ids: cover, patch 1..3.
    ids: Vec<String>,
}

fn fixture() -> Fx {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let repo = root.join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "series"]);
    git(&repo, &["config", "user.name", "Sender Person"]);
    git(&repo, &["config", "user.email", "sender@example.org"]);
    std::fs::write(repo.join("a.c"), "int a;\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]).trim().to_string();
    for (i, (f, c)) in [
        ("a.c", "int a = 1;\n"),
        ("b.c", "int b;\n"),
        ("c.c", "int c;\n"),
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(repo.join(f), c).unwrap();
        git(&repo, &["add", "."]);
        let msg = format!(
            "drv: change {}\n\nPatch number {}.\n\nReported-by: Bug Finder <bugs@example.net>\nSigned-off-by: Sender Person <sender@example.org>\n",
            i + 1,
            i + 1
        );
        git(
            &repo,
            &[
                "commit",
                "-q",
                "--author",
                "Jürgen Groß <jgross@example.com>",
                "-m",
                &msg,
            ],
        );
    }
    let thread = git(
        &repo,
        &[
            "format-patch",
            "--stdout",
            "--thread",
            "--cover-letter",
            "--to",
            "maint@example.org",
            &format!("{base}..series"),
        ],
    );
    let ids: Vec<String> = thread
        .lines()
        .filter_map(|l| {
            l.strip_prefix("Message-ID: ")
                .or_else(|| l.strip_prefix("Message-Id: "))
        })
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 4, "{thread}");
    Fx {
        _tmp: tmp,
        root,
        repo,
        base,
        thread,
        ids,
    }
}

fn reply(id: &str, in_reply_to: Option<&str>, subject: &str, body: &str) -> String {
    let irt = in_reply_to
        .map(|p| format!("In-Reply-To: {p}\nReferences: {p}\n"))
        .unwrap_or_default();
    format!(
        "From mailer@example Mon Sep 17 00:00:00 2001\nFrom: Someone <someone@example.net>\nSubject: {subject}\nMessage-ID: {id}\n{irt}\n{body}\n"
    )
}

fn message(fx: &Fx, rev: &str) -> String {
    git(&fx.repo, &["log", "-1", "--format=%B", rev])
}

#[test]
fn trailers_from_replies_land_before_the_sob() {
    let fx = fixture();
    let tree_before = git(&fx.repo, &["rev-parse", "series^{tree}"]);
    // Patch 2's diff, quoted, for a reply that lost its threading.
    let p2 = git(&fx.repo, &["show", "--format=", "series~1"]);
    let quoted: String = p2.lines().map(|l| format!("> {l}\n")).collect();
    let mut mbox = fx.thread.clone();
    mbox.push('\n');
    mbox.push_str(&reply(
        "<r1@example.net>",
        Some(&fx.ids[0]),
        "Re: [PATCH 0/3] series",
        "For the series:\n\nAcked-by: Maint One <maint@example.org>\n",
    ));
    mbox.push_str(&reply(
        "<r2@example.net>",
        Some(&fx.ids[1]),
        "Re: [PATCH 1/3] drv: change 1",
        "> Reviewed-by: Quoted Person <quoted@example.org>\n\nReviewed-by: Rev One <rev1@example.org>\n",
    ));
    mbox.push_str(&reply(
        "<r3@example.net>",
        Some("<r2@example.net>"),
        "Re: [PATCH 1/3] drv: change 1",
        "Tested-by: Tess Ter <tess@example.org>\n",
    ));
    mbox.push_str(&reply(
        "<r4@example.net>",
        None,
        "Re: drv: change 2",
        &format!("{quoted}\nTested-by: Quote Diff <qd@example.org>\n"),
    ));
    mbox.push_str(&reply(
        "<r5@example.net>",
        Some(&fx.ids[3]),
        "Re: [PATCH 3/3] drv: change 3",
        "Reviewed-by: Someone\n",
    ));
    let replies = fx.root.join("replies.mbox");
    std::fs::write(&replies, &mbox).unwrap();

    let mut opts = TrailersOptions {
        repo: fx.repo.clone(),
        branch: "series".into(),
        base: None,
        replies: replies.clone(),
        series: None,
        dry_run: true,
    };
    let mut out = Vec::new();
    let rep = trailers(&opts, &mut out).unwrap();
    assert!(rep.new_head.is_none());
    assert_eq!(
        git(&fx.repo, &["rev-parse", "series"]).trim(),
        rep.commits[2].old
    );
    assert_eq!(
        rep.commits
            .iter()
            .map(|c| c.added.len())
            .collect::<Vec<_>>(),
        [3, 2, 1]
    );

    opts.dry_run = false;
    let mut out = Vec::new();
    let rep = trailers(&opts, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(rep.new_head.is_some(), "{out}");
    assert_eq!(
        message(&fx, "series~2"),
        "drv: change 1\n\nPatch number 1.\n\nReported-by: Bug Finder <bugs@example.net>\nAcked-by: Maint One <maint@example.org>\nReviewed-by: Rev One <rev1@example.org>\nTested-by: Tess Ter <tess@example.org>\nSigned-off-by: Sender Person <sender@example.org>\n\n"
    );
    let m2 = message(&fx, "series~1");
    assert!(m2.contains("Acked-by: Maint One <maint@example.org>\nTested-by: Quote Diff <qd@example.org>\nSigned-off-by:"), "{m2}");
    let m3 = message(&fx, "series");
    assert!(
        m3.contains("Acked-by: Maint One <maint@example.org>\nSigned-off-by:"),
        "{m3}"
    );
    assert!(!m3.contains("Someone"));
    assert!(!git(&fx.repo, &["log", "--format=%B", "series"]).contains("Quoted Person"));
    assert_eq!(rep.malformed.len(), 1, "{out}");
    assert!(rep.malformed[0].line.contains("Reviewed-by: Someone"));
    assert!(
        out.contains("malformed trailer in <r5@example.net>"),
        "{out}"
    );
    // Same trees, authors kept, same base.
    assert_eq!(git(&fx.repo, &["rev-parse", "series^{tree}"]), tree_before);
    assert_eq!(
        git(&fx.repo, &["log", "-1", "--format=%an", "series"]).trim(),
        "Jürgen Groß"
    );
    assert_eq!(git(&fx.repo, &["rev-parse", "series~3"]).trim(), fx.base);

    // Running again adds nothing and leaves the branch alone.
    let head = git(&fx.repo, &["rev-parse", "series"]);
    let rep = trailers(&opts, &mut Vec::new()).unwrap();
    assert!(rep.new_head.is_none());
    assert!(rep.commits.iter().all(|c| c.added.is_empty()));
    assert_eq!(git(&fx.repo, &["rev-parse", "series"]), head);
}

#[test]
fn maildir_and_explicit_base() {
    let fx = fixture();
    let md = fx.root.join("maildir");
    std::fs::create_dir_all(md.join("cur")).unwrap();
    std::fs::create_dir_all(md.join("new")).unwrap();
    // Only a reply, no patch messages: threading cannot resolve it, and it
    // quotes no diff, so it is reported as unmatched; nothing changes.
    std::fs::write(
        md.join("new/1"),
        reply(
            "<x1@example.net>",
            Some(&fx.ids[1]),
            "Re: [PATCH 1/3] drv: change 1",
            "Acked-by: A B <ab@example.org>\n",
        ),
    )
    .unwrap();
    let opts = TrailersOptions {
        repo: fx.repo.clone(),
        branch: "series".into(),
        base: Some(fx.base.clone()),
        replies: md.clone(),
        series: None,
        dry_run: false,
    };
    let rep = trailers(&opts, &mut Vec::new()).unwrap();
    assert_eq!(rep.unmatched, vec!["<x1@example.net>".to_string()]);
    assert!(rep.new_head.is_none());
    // With the thread's patch messages in the maildir too, it applies.
    let first_patch = fx.thread.split("\nFrom ").nth(1).unwrap();
    std::fs::write(md.join("cur/0"), format!("From {first_patch}")).unwrap();
    let rep = trailers(&opts, &mut Vec::new()).unwrap();
    assert!(rep.new_head.is_some());
    assert!(message(&fx, "series~2").contains("Acked-by: A B <ab@example.org>\nSigned-off-by:"));
}

/// Options for the fixture's branch with `mbox` as the replies.
fn options_for(fx: &Fx, mbox: &str, series: Option<PathBuf>) -> TrailersOptions {
    let replies = fx.root.join("replies.mbox");
    std::fs::write(&replies, mbox).unwrap();
    TrailersOptions {
        repo: fx.repo.clone(),
        branch: "series".into(),
        base: None,
        replies,
        series,
        dry_run: false,
    }
}

/// `--series` pointing at a series directory that kseries never sent (no
/// state file): the Message-Ids its patch files carry match the replies.
#[test]
fn a_series_directory_that_was_never_sent_matches_by_its_message_ids() {
    let fx = fixture();
    let dir = fx.root.join("v1");
    git(
        &fx.repo,
        &[
            "format-patch",
            "-q",
            "--thread",
            "--cover-letter",
            "-o",
            dir.to_str().unwrap(),
            &format!("{}..series", fx.base),
        ],
    );
    let id_of = |n: &str| {
        let f = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(n))
            .unwrap();
        let text = std::fs::read_to_string(f).unwrap();
        text.lines()
            .find_map(|l| {
                l.strip_prefix("Message-ID: ")
                    .or_else(|| l.strip_prefix("Message-Id: "))
            })
            .unwrap()
            .to_string()
    };
    // Only replies: no patch message in the mbox.
    let mbox = reply(
        "<n1@example.net>",
        Some(&id_of("0002-")),
        "Re: [PATCH 2/3] drv: change 2",
        "Reviewed-by: Rev Two <rev2@example.org>\n",
    );
    let opts = options_for(&fx, &mbox, Some(dir.clone()));
    assert!(!dir.join(kseries::send::STATE_FILE).exists());
    let rep = trailers(&opts, &mut Vec::new()).unwrap();
    assert!(rep.unmatched.is_empty(), "{:?}", rep.unmatched);
    assert!(rep.new_head.is_some());
    assert!(
        message(&fx, "series~1")
            .contains("Reviewed-by: Rev Two <rev2@example.org>\nSigned-off-by:")
    );
    assert!(!message(&fx, "series").contains("Rev Two"));
}

/// A trailer with two addresses is malformed: neither is taken.
#[test]
fn a_trailer_with_two_addresses_is_malformed() {
    let fx = fixture();
    let mut mbox = fx.thread.clone();
    mbox.push('\n');
    mbox.push_str(&reply(
        "<m1@example.net>",
        Some(&fx.ids[1]),
        "Re: [PATCH 1/3] drv: change 1",
        "Reviewed-by: Two Mails <a@example.org> <c@example.org>\n",
    ));
    let opts = options_for(&fx, &mbox, None);
    let mut out = Vec::new();
    let rep = trailers(&opts, &mut out).unwrap();
    assert_eq!(rep.malformed.len(), 1, "{}", String::from_utf8_lossy(&out));
    assert!(rep.malformed[0].line.contains("<c@example.org>"));
    assert!(rep.new_head.is_none(), "nothing applied");
    assert!(!git(&fx.repo, &["log", "--format=%B", "series"]).contains("Two Mails"));
}
