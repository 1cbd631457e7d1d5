//! `kseries series` on the command line.

use crate::common;
use crate::series_plan;

use assert_cmd::Command;

#[test]
fn series_subcommand_writes_the_patches_and_refuses_an_existing_branch() {
    let (t, dir) = series_plan::small_repo();
    let plan = series_plan::small_plan(&dir);
    let plan_file = t.path().join("plan.json");
    std::fs::write(&plan_file, serde_json::to_string(&plan).unwrap()).unwrap();
    let out = t.path().join("out");
    let mbox = t.path().join("s.mbox");
    let args = |extra: &[&str]| {
        let mut v = vec![
            "series".to_string(),
            "--plan".into(),
            plan_file.display().to_string(),
            "-o".into(),
            out.display().to_string(),
            "--mbox".into(),
            mbox.display().to_string(),
            "--acked-by".into(),
            "Ann Acker <ann@example.org>".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push(dir.display().to_string());
        v
    };
    let ok = Command::cargo_bin("kseries")
        .unwrap()
        .args(args(&["--format", "json"]))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(report["patches"].as_array().unwrap().len(), 3);
    assert!(out.join("0000-cover-letter.patch").is_file());
    let m = std::fs::read_to_string(&mbox).unwrap();
    assert_eq!(
        m.matches("\nAcked-by: Ann Acker <ann@example.org>\n")
            .count(),
        3
    );

    let again = Command::cargo_bin("kseries")
        .unwrap()
        .args(args(&[]))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );

    // Every mail flag reaches the series, and the summary says where the
    // files went and who decided the recipients.
    let cover_file = t.path().join("cover.txt");
    std::fs::write(
        &cover_file,
        "mm: the cover's own title\n\nThe cover's text.\n",
    )
    .unwrap();
    let table = Command::cargo_bin("kseries")
        .unwrap()
        .args(args(&[
            "--force",
            "--rfc",
            "--subject-prefix",
            "PATCH mm-new",
            "--to",
            "Extra To <to@example.net>",
            "--cc",
            "cc@example.net",
            "--to-cmd",
            "echo hook-to@example.net; true",
            "--cc-cmd",
            "echo hook-cc@example.net; true",
            "--maintainers",
            "native",
            "--cc-trailers",
            "--cover-letter",
            cover_file.to_str().unwrap(),
        ]))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&table.stderr)
    );
    assert!(
        stdout.contains(&format!("Wrote 4 files to {}", out.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Wrote the mbox {}", mbox.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("Recipients from MAINTAINERS (native parser)."),
        "{stdout}"
    );
    assert!(
        stdout.contains("[RFC PATCH mm-new 0/3] mm: the cover's own title"),
        "{stdout}"
    );
    let cover = std::fs::read_to_string(out.join("0000-cover-letter.patch")).unwrap();
    assert!(cover.contains("\n\nThe cover's text.\n"), "{cover}");
    let first = std::fs::read_to_string(
        std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_str().unwrap().contains("0002-"))
            .unwrap(),
    )
    .unwrap();
    assert!(
        first.contains("Subject: [RFC PATCH mm-new 2/3] iommu/amd: "),
        "{first}"
    );
    for addr in [
        "Extra To <to@example.net>",
        "hook-to@example.net",
        "cc@example.net",
        "hook-cc@example.net",
        "Joerg Roedel <joro@example.org>",
    ] {
        assert!(
            first[..first.find("\n\n").unwrap()].contains(addr),
            "{addr}: {first}"
        );
    }
    assert!(
        first.contains("\nCc: Joerg Roedel <joro@example.org>\n"),
        "{first}"
    );
}

/// A kernel file with a Latin-1 byte in a line the series changes: the
/// series is cut (it used to stop at "stream did not contain valid
/// UTF-8", leaving its branch and files), the patch carries the byte
/// itself, and `git am` of the patches gives the branch's tree.
#[test]
fn bytes_that_are_not_utf8_reach_the_patches_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("corpus");
    common::copy_dir(&common::corpus(), &dir);
    std::fs::remove_file(dir.join("fs/blobfs/blob_compat.h")).unwrap();
    std::fs::remove_file(dir.join("fs/blobfs/broken.c")).unwrap();
    std::fs::remove_dir_all(dir.join("check/bugs")).unwrap();
    let path = dir.join("mm/shrink.c");
    let src = std::fs::read(&path).unwrap();
    let call = b"mmu_notifier_invalidate_page(";
    let at = src.windows(call.len()).position(|w| w == call).unwrap();
    let eol = at + src[at..].iter().position(|&b| b == b'\n').unwrap();
    let latin1 = [&src[..eol], b" /* d\xe9j\xe0 vu */", &src[eol..]].concat();
    std::fs::write(&path, latin1).unwrap();
    let g = |args: &[&str]| common::git(&dir, args).unwrap();
    g(&["init", "-q", "-b", "master"]);
    g(&["config", "user.name", "Ada Kernel"]);
    g(&["config", "user.email", "ada@example.org"]);
    g(&["add", "-A"]);
    g(&["commit", "-qm", "base"]);

    let out = tmp.path().join("out");
    let mbox = tmp.path().join("series.mbox");
    let run = Command::cargo_bin("kseries")
        .unwrap()
        .args(["series", "--output-dir"])
        .arg(&out)
        .arg("--mbox")
        .arg(&mbox)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let patches: Vec<Vec<u8>> = names.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(
        patches
            .iter()
            .any(|p| p.windows(6).any(|w| w == b"d\xe9j\xe0 v")),
        "the Latin-1 bytes themselves"
    );
    assert!(
        std::fs::read(&mbox)
            .unwrap()
            .windows(3)
            .any(|w| w == b"d\xe9j")
    );

    let tip_tree = g(&["rev-parse", "kseries/invalidate-page^{tree}"]);
    let clone = tmp.path().join("clone");
    common::git(tmp.path(), &["clone", "-q", dir.to_str().unwrap(), "clone"]).unwrap();
    // The patches, without the cover letter.
    let mut am = vec!["am", "-q"];
    am.extend(names[1..].iter().map(|p| p.to_str().unwrap()));
    common::git(&clone, &am).unwrap();
    assert_eq!(
        common::git(&clone, &["rev-parse", "HEAD^{tree}"]).unwrap(),
        tip_tree
    );
}
