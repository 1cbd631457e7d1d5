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
            "--output-dir".into(),
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
    assert!(out.join("v1-0000-cover-letter.patch").is_file());
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
}
