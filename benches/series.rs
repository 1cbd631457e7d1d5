//! Benchmark: generating the whole 13-patch series on the 4.12 tree
//! (commits, recipients, messages, format-patch files, cover letter,
//! mbox; no builds), with its peer measured in the same run: plain
//! `git format-patch --cover-letter` of the same commits.  Also measures
//! the two ways of making the commits: git2 (blobs, tree updates, commit
//! objects; what `series` does) against a separate `git worktree` with
//! files written and `git commit -a` per unit.
//!
//! Run: `cargo bench --bench series`.  Target: the series in <= 5 s.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/series_plan/mod.rs"]
mod series_plan;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kseries::series::{self, SeriesOptions, Verification};

const RUNS: usize = 3;

fn main() {
    let Some(tree) = common::kernel_tree() else {
        eprintln!("series benchmark: no kernel tree, nothing measured");
        return;
    };
    let (guard, clone) = common::fresh_clone(&tree);
    common::git(&clone, &["config", "user.name", "Bench Mark"]).unwrap();
    common::git(&clone, &["config", "user.email", "bench@example.org"]).unwrap();
    let plan = series_plan::invalidate_page_plan(&clone);
    let out = guard.path().join("out");
    let opts = SeriesOptions {
        output_dir: Some(out.clone()),
        mbox: Some(guard.path().join("series.mbox")),
        force: true,
        ..SeriesOptions::default()
    };

    let mut series_times = Vec::new();
    let mut report = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        let r = series::make_series(&clone, &plan, &opts, &Verification::default(), None)
            .expect("series");
        series_times.push(t.elapsed());
        report = Some(r);
    }
    let r = report.unwrap();
    let series_best = *series_times.iter().min().unwrap();

    let fp_dir = guard.path().join("fp");
    let mut fp_times = Vec::new();
    for _ in 0..RUNS {
        let _ = std::fs::remove_dir_all(&fp_dir);
        let t = Instant::now();
        git(
            &clone,
            &[
                "format-patch",
                "-q",
                "--cover-letter",
                "-v1",
                &format!("--base={}", r.base),
                "-o",
                fp_dir.to_str().unwrap(),
                &format!("{}..{}", r.base, r.tip),
            ],
        );
        fp_times.push(t.elapsed());
    }
    let fp_best = *fp_times.iter().min().unwrap();

    let wt_time = worktree_commits(&clone, &plan, guard.path());

    println!(
        "series benchmark on Linux 4.12, {} patches, best of {RUNS}:",
        r.patches.len()
    );
    println!(
        "  kseries series (no builds):        {:>8.3} s  (commits {} ms, format+headers {} ms, last run)",
        secs(series_best),
        r.timings.commits_ms,
        r.timings.format_ms
    );
    println!(
        "  git format-patch of the same:      {:>8.3} s",
        secs(fp_best)
    );
    println!(
        "  ratio series / format-patch:       {:>8.1}x",
        secs(series_best) / secs(fp_best)
    );
    println!(
        "  commits via git2 (incl. MAINTAINERS {} ms, prefixes {} ms, messages): {} ms",
        r.timings.maintainers_ms, r.timings.prefixes_ms, r.timings.commits_ms
    );
    println!(
        "  commits via a git worktree (checkout + write + commit -a): {} ms",
        wt_time.as_millis()
    );
    let ok = series_best <= Duration::from_secs(5);
    println!("  target <= 5 s: {}", if ok { "met" } else { "MISSED" });
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The alternative: a private worktree, the plan's files written there,
/// one `git commit -a` per unit (bare messages: the cheapest version).
fn worktree_commits(clone: &Path, plan: &kseries::rewrite::Plan, tmp: &Path) -> Duration {
    let wt = tmp.join("wt");
    let t = Instant::now();
    git(
        clone,
        &[
            "worktree",
            "add",
            "-q",
            "--detach",
            wt.to_str().unwrap(),
            "HEAD",
        ],
    );
    for (i, u) in plan.units.iter().enumerate() {
        for fe in &u.files {
            let p = wt.join(&fe.path);
            let new = fe.apply(&std::fs::read(&p).unwrap()).unwrap();
            std::fs::write(&p, new).unwrap();
        }
        git(&wt, &["commit", "-q", "-a", "-m", &format!("unit {i}")]);
    }
    let d = t.elapsed();
    git(
        clone,
        &["worktree", "remove", "--force", wt.to_str().unwrap()],
    );
    d
}
