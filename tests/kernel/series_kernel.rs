//! Acceptance of `series` on the real Linux 4.12 tree, with the hand-made
//! plan of `series_plan` standing in for `rewrite`.

use crate::common;
use crate::series_plan;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use kseries::rewrite::plan::Plan;
use kseries::series::{self, SeriesOptions, SeriesReport, Verification, VerificationItem};

/// 2017-07-02 15:00 UTC, so runs are reproducible.
const DATE: i64 = 1_499_007_600;

struct Generated {
    _guard: tempfile::TempDir,
    clone: PathBuf,
    out: PathBuf,
    plan: Plan,
    report: SeriesReport,
}

fn generate(tree: &Path, make_plan: fn(&Path) -> Plan) -> Generated {
    let (guard, clone) = common::fresh_clone(tree);
    common::git(&clone, &["config", "user.name", "Ada Kernel"]).unwrap();
    common::git(&clone, &["config", "user.email", "ada@example.org"]).unwrap();
    let plan = make_plan(&clone);
    let out = guard.path().join("out");
    let opts = SeriesOptions {
        output_dir: Some(out.clone()),
        mbox: Some(guard.path().join("series.mbox")),
        date: Some(DATE),
        reviewed_by: vec!["Rita Reviewer <rita@example.org>".into()],
        checkpatch: true,
        ..SeriesOptions::default()
    };
    let verification = Verification {
        items: vec![VerificationItem {
            tool: "scan".into(),
            outcome: "every textual occurrence of invalidate_page accounted for".into(),
        }],
    };
    let t = Instant::now();
    let report = series::make_series(&clone, &plan, &opts, &verification, None)
        .unwrap_or_else(|e| panic!("make_series: {e}"));
    eprintln!(
        "series of {} patches on 4.12 in {:?} ({:?})",
        report.patches.len(),
        t.elapsed(),
        report.timings
    );
    Generated {
        _guard: guard,
        clone,
        out,
        plan,
        report,
    }
}

fn run(dir: &Path, prog: &str, args: &[&str]) -> (bool, String) {
    let home = tempfile::tempdir().unwrap();
    let o = Command::new(prog)
        .current_dir(dir)
        .args(args)
        // A personal ~/.get_maintainer.conf or ~/.checkpatch.conf must not
        // change what the kernel's scripts say.
        .env("HOME", home.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .unwrap_or_else(|e| panic!("{prog}: {e}"));
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn patch_files(g: &Generated) -> Vec<PathBuf> {
    g.report
        .patches
        .iter()
        .map(|p| p.file.clone().expect("patch file"))
        .collect()
}

fn tree_of(dir: &Path, rev: &str) -> String {
    common::git(dir, &["rev-parse", &format!("{rev}^{{tree}}")])
        .unwrap()
        .trim()
        .to_string()
}

/// Applies the plan file by file, independently of git2, and checks the
/// branch's files are exactly that.
fn check_tree_is_plan(g: &Generated) {
    let mut files = std::collections::HashMap::<String, Vec<u8>>::new();
    for u in &g.plan.units {
        for fe in &u.files {
            let cur = files
                .remove(&fe.path)
                .unwrap_or_else(|| std::fs::read(g.clone.join(&fe.path)).unwrap());
            files.insert(fe.path.clone(), fe.apply(&cur).unwrap());
        }
    }
    let changed = common::git(
        &g.clone,
        &["diff", "--name-only", &g.report.base, &g.report.tip],
    )
    .unwrap();
    let changed: BTreeSet<&str> = changed.lines().collect();
    let planned: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        changed, planned,
        "the series touches exactly the planned files"
    );
    for (path, content) in &files {
        let blob = common::git(
            &g.clone,
            &["rev-parse", &format!("{}:{path}", g.report.tip)],
        )
        .unwrap();
        assert_eq!(
            blob.trim(),
            kseries::rewrite::plan::git_blob_id(content),
            "{path} on the branch is the plan applied"
        );
    }
}

#[test]
fn series_on_linux_4_12() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let g = generate(&tree, series_plan::invalidate_page_plan);
    let r = &g.report;
    assert_eq!(r.patches.len(), 13);

    // The user's checkout is untouched: HEAD, index and working tree.
    let head = common::git(&g.clone, &["rev-parse", "HEAD"]).unwrap();
    assert_eq!(head.trim(), r.base);
    assert_eq!(
        common::git(&g.clone, &["status", "--porcelain"]).unwrap(),
        ""
    );
    assert_eq!(
        common::git(&g.clone, &["rev-parse", "kseries/invalidate-page"])
            .unwrap()
            .trim(),
        r.tip
    );
    check_tree_is_plan(&g);

    // Prefixes from the table (the tree has one commit, no history).
    let subjects: Vec<&str> = r.patches.iter().map(|p| p.subject.as_str()).collect();
    eprintln!("{subjects:#?}");
    for (p, want) in r.patches.iter().zip([
        "mm/rmap:",
        "dax:",
        "iommu/amd:",
        "iommu/vt-d:",
        "xen/gntdev:",
        "IB/umem:",
        "IB/hfi1:",
        "drm/amdgpu:",
        "misc/sgi-gru:",
        "misc: mic: scif:",
        "powerpc/powernv/npu:",
        "KVM:",
        "mm/mmu_notifier:",
    ]) {
        assert!(
            p.subject.starts_with(&format!("{want} ")),
            "{} should start with {want}",
            p.subject
        );
        assert!(p.subject.chars().count() <= 75);
    }

    // Output files named and numbered as git does.
    let cover = r.cover.file.clone().unwrap();
    assert!(cover.ends_with("0000-cover-letter.patch"));
    assert!(
        patch_files(&g)[0]
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("0001-mm-rmap-")
    );
    let cover_text = std::fs::read_to_string(&cover).unwrap();
    assert!(
        cover_text.contains("Subject: [PATCH 00/13] mm: remove mmu_notifier_invalidate_page()")
    );
    assert!(cover_text.contains(&format!(
        "\nbase-commit: {}\nchange-id: {}\n",
        r.base, r.change_id
    )));
    assert!(
        cover_text.contains(" 21 files changed,"),
        "diffstat in the cover:\n{cover_text}"
    );
    assert!(cover_text.contains("\n- every textual occurrence of invalidate_page accounted for\n"));
    assert!(cover_text.contains("converted, not removed"));
    assert!(!cover_text.contains("***"));
    let cid = regex::Regex::new(r"^20170702-kseries-invalidate-page-[0-9a-f]{12}$").unwrap();
    assert!(cid.is_match(&r.change_id), "{}", r.change_id);
    let first = std::fs::read_to_string(&patch_files(&g)[0]).unwrap();
    assert!(
        first.contains("Subject: [PATCH 01/13] mm/rmap: "),
        "{first}"
    );
    assert!(first.contains("\nReviewed-by: Rita Reviewer <rita@example.org>\nSigned-off-by: Ada Kernel <ada@example.org>\n---\n"));
    assert!(first.contains(&format!("In-Reply-To: {}", r.cover.message_id)));

    acceptance(&g, &tree);

    // The mbox is the cover and the patches, in order.
    let mbox = std::fs::read_to_string(r.mbox.as_ref().unwrap()).unwrap();
    assert_eq!(mbox.matches("\nMessage-ID: ").count(), 14);
    assert!(mbox.starts_with(&cover_text));
}

/// The same acceptance with the plan of the real `rewrite` stage.
#[test]
fn series_of_the_real_rewrite_on_linux_4_12() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let g = generate(&tree, |clone| {
        let recipe = kseries::recipe::by_id("invalidate-page").unwrap();
        let scan = kseries::scan::scan(clone, &recipe).expect("scan");
        kseries::rewrite::plan(clone, &scan, &recipe).expect("rewrite")
    });
    assert!(g.report.patches.len() >= 4, "{:#?}", g.report.patches);
    for p in &g.report.patches {
        assert!(p.subject.chars().count() <= 75, "{}", p.subject);
    }
    check_tree_is_plan(&g);
    acceptance(&g, &tree);
}

/// git am, checkpatch --strict, get_maintainer parity and b4, for every
/// patch of a generated series.
fn acceptance(g: &Generated, tree: &Path) {
    let r = &g.report;
    let n = r.patches.len();
    let subjects: Vec<&str> = r.patches.iter().map(|p| p.subject.as_str()).collect();
    // 1. git am onto the base gives the branch's tree.
    let (_g2, am) = common::fresh_clone(tree);
    let mut args = vec!["am", "-q"];
    let files = patch_files(g);
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    let (ok, out) = run(&am, "git", &args);
    assert!(ok, "git am: {out}");
    assert_eq!(tree_of(&am, "HEAD"), tree_of(&g.clone, &r.tip));
    let log = common::git(&am, &["log", "--format=%s", &format!("-{n}")]).unwrap();
    assert_eq!(log.lines().rev().collect::<Vec<_>>(), subjects);

    // 2. checkpatch --strict: no errors, no warnings.
    let mut checks = 0;
    for f in &files {
        let (_, out) = run(
            &g.clone,
            "perl",
            &["scripts/checkpatch.pl", "--strict", f.to_str().unwrap()],
        );
        let total = out
            .lines()
            .find(|l| l.starts_with("total: "))
            .unwrap_or_else(|| panic!("checkpatch output for {}:\n{out}", f.display()));
        let counts: Vec<usize> = total
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|s| s.parse().ok())
            .collect();
        assert_eq!(&counts[..2], &[0, 0], "{}: {out}", f.display());
        checks += counts[2];
        if counts[2] > 0 {
            eprintln!("checkpatch CHECKs for {}:\n{out}", f.display());
        }
    }
    eprintln!("checkpatch --strict: 0 errors, 0 warnings, {checks} checks on {n} patches");

    // 3. get_maintainer parity, address sets, every patch.
    for (p, f) in r.patches.iter().zip(&files) {
        let (ok, out) = run(
            &g.clone,
            "perl",
            &[
                "scripts/get_maintainer.pl",
                "--no-git",
                "--no-git-fallback",
                "--no-rolestats",
                f.to_str().unwrap(),
            ],
        );
        assert!(ok, "{out}");
        let want: BTreeSet<String> = out.lines().map(str::to_string).collect();
        let got: BTreeSet<String> = p.to.iter().chain(&p.cc).cloned().collect();
        assert_eq!(got, want, "recipients of {}", p.subject);
        assert!(!got.is_empty());
    }
    let all: BTreeSet<&String> = r
        .patches
        .iter()
        .flat_map(|p| p.to.iter().chain(&p.cc))
        .collect();
    let cover_all: BTreeSet<&String> = r.cover.to.iter().chain(&r.cover.cc).collect();
    assert_eq!(all, cover_all, "the cover letter goes to everybody");

    // 4. kseries' own --check said the same as checkpatch.
    for (p, f) in r.patches.iter().zip(&files) {
        let c = p.checkpatch.as_ref().expect("series ran with checkpatch");
        assert!(c.clean(), "{}: {c:?}", f.display());
    }

    // 5. b4 reads it.
    b4_reads_it(g, tree);

    // 6. A reviewer reads it.
    reviewer_reads_it(g);
}

/// What a kernel reviewer expects of the text: short messages with no
/// file positions or tool output, no paragraph repeated from patch to
/// patch, subjects without `v1`, recipients in the headers (no `Cc:`
/// trailers), the tool named once in the cover letter, the patches
/// listed once, "Verified" in a few lines, the evidence below `---`.
fn reviewer_reads_it(g: &Generated) {
    use kseries::rewrite::plan::Stage;
    let r = &g.report;
    let n = r.patches.len();
    let positions = regex::Regex::new(r"\blines? \d+|\.[ch]:\d+|\bat \d+\b").unwrap();
    let mut paragraphs: std::collections::HashMap<String, usize> = Default::default();
    let mut longest = 0;
    for (p, u) in r.patches.iter().zip(&g.plan.units) {
        let body = common::git(&g.clone, &["log", "-1", "--format=%b", &p.commit]).unwrap();
        let body = body.trim_end();
        let lines = body.lines().count();
        longest = longest.max(lines);
        if u.stage != Stage::new("kvm") {
            assert!(lines <= 25, "{} has {lines} lines:\n{body}", p.subject);
        }
        assert!(
            !positions.is_match(body),
            "file positions above ---: {body}"
        );
        for tool in ["kseries", "Verified", "Full summary"] {
            assert!(!body.contains(tool), "{tool} above ---: {body}");
        }
        assert!(!body.contains("\nCc: "), "Cc: trailers: {body}");
        for para in body.split("\n\n").filter(|p| !p.contains("-by: ")) {
            if let Some(other) = paragraphs.insert(para.to_string(), p.number) {
                panic!(
                    "patch {} repeats patch {other} word for word:\n{para}",
                    p.number
                );
            }
        }
        // The evidence is in the mail, below the line.
        let mail = std::fs::read_to_string(p.file.as_ref().unwrap()).unwrap();
        let subject = format!(
            "Subject: [PATCH {:0w$}/{n}] ",
            p.number,
            w = n.to_string().len()
        );
        assert!(mail.contains(&subject), "{subject}: {mail}");
        let (_, below) = mail.split_once("\n---\n").unwrap();
        if let Some(first) = u.rationale.first() {
            let start: String = first
                .split_whitespace()
                .take(4)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                below
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .contains(&start),
                "the evidence of {} is below ---: {below}",
                p.subject
            );
        }
        // People in the headers; a patch without one goes To its lists.
        assert_eq!(p.lists_only, p.to.is_empty(), "{}", p.subject);
    }
    eprintln!("longest message body: {longest} lines");
    assert_eq!(r.maintainers, "scripts/get_maintainer.pl");

    let cover = std::fs::read_to_string(r.cover.file.as_ref().unwrap()).unwrap();
    let body_start = cover.find("\n\n").unwrap();
    let shortlog = cover.find(" (13):\n").unwrap_or(cover.len());
    let blurb = &cover[body_start..shortlog];
    assert_eq!(blurb.matches("kseries").count(), 1, "{blurb}");
    assert!(blurb.contains("Generated by kseries"), "{blurb}");
    // git's shortlog wraps long subjects.
    let flat = cover.split_whitespace().collect::<Vec<_>>().join(" ");
    for p in &r.patches {
        assert_eq!(
            flat.matches(&p.subject).count(),
            1,
            "listed once: {}",
            p.subject
        );
    }
    let verified = blurb
        .split("\n\nVerified:\n\n")
        .nth(1)
        .expect("a Verified section")
        .split("\n\n")
        .next()
        .unwrap();
    assert!(verified.lines().count() <= 3, "{verified}");
    assert!(!blurb.contains("v1"), "{blurb}");
}

fn b4_reads_it(g: &Generated, tree: &Path) {
    if Command::new("b4").arg("--version").output().is_err() {
        assert!(
            std::env::var(common::REQUIRE_ENV).is_err(),
            "b4 is not installed (pip install b4) and {} is set",
            common::REQUIRE_ENV
        );
        eprintln!("!!! SKIPPING b4 check: b4 not installed (pip install b4)");
        return;
    }
    let n = g.report.patches.len();
    let work = tempfile::tempdir().unwrap();
    let mbox = g.report.mbox.as_ref().unwrap();
    let id = g.report.cover.message_id.trim_matches(['<', '>']);
    let (ok, out) = run(
        &g.clone,
        "b4",
        &[
            "--offline-mode",
            "am",
            "-m",
            mbox.to_str().unwrap(),
            "-o",
            work.path().to_str().unwrap(),
            id,
        ],
    );
    assert!(ok, "b4 am: {out}");
    eprintln!("b4 am said:\n{out}");
    assert!(out.contains(&format!("Total patches: {n}")), "{out}");
    let mbx: Vec<PathBuf> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mbx"))
        .collect();
    assert_eq!(mbx.len(), 1, "{mbx:?}");
    let (_g3, am) = common::fresh_clone(tree);
    let (ok, out) = run(&am, "git", &["am", "-q", mbx[0].to_str().unwrap()]);
    assert!(ok, "git am of b4's mbox: {out}");
    assert_eq!(tree_of(&am, "HEAD"), tree_of(&g.clone, &g.report.tip));
    let count = common::git(&am, &["rev-list", "--count", "HEAD"]).unwrap();
    assert_eq!(count.trim(), (n + 1).to_string(), "base and every patch");
    let _ = g.out.as_path();
}
