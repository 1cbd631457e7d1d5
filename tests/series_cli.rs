//! `kseries series` on the command line.

mod common;
mod series_plan;

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
