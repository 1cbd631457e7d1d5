//! Benchmark: `kseries scan` on the whole 4.12 tree against its peers,
//! measured in the same run on a warm cache:
//! `git grep -n invalidate_page`, and Coccinelle (`spatch --use-gitgrep
//! -j 2`, as the kernel's .cocciconfig runs it) with two semantic patches
//! (benches/cocci/): the call sites, and the `.invalidate_page` entries of
//! `struct mmu_notifier_ops`.  Checks that all give the same answer, then
//! prints every wall time and the ratios.
//!
//! Run: `cargo bench --bench scan`.  Targets: scan <= 1.5x git grep, and
//! >= 5x faster than the two spatch runs together.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 5;

fn main() {
    let Some(tree) = common::kernel_tree() else {
        eprintln!("scan benchmark: no kernel tree, nothing measured");
        return;
    };
    let cocci = common::project_root().join("benches/cocci");
    let kseries = env!("CARGO_BIN_EXE_kseries");

    let scan = || {
        run(Command::new(kseries)
            .args(["scan", "--format", "json", "."])
            .current_dir(&tree))
    };
    let grep = || {
        run(Command::new("git")
            .args(["grep", "-n", "invalidate_page"])
            .current_dir(&tree))
    };
    let spatch = |sp: &str| {
        run(Command::new("spatch")
            .arg("--sp-file")
            .arg(cocci.join(sp))
            .args(["--dir", ".", "--use-gitgrep", "-j", "2", "--very-quiet"])
            .current_dir(&tree))
    };

    // Same answer first (this run also warms the cache).
    let report: serde_json::Value = serde_json::from_str(&scan().1).expect("scan JSON");
    check_same_answer(&report, &spatch("calls.cocci").1, &spatch("ops.cocci").1);
    grep();

    let t_scan = median(|| scan().0);
    let t_grep = median(|| grep().0);
    let t_calls = median(|| spatch("calls.cocci").0);
    let t_ops = median(|| spatch("ops.cocci").0);
    let t_spatch = t_calls + t_ops;

    println!(
        "scan benchmark on {} ({} runs each, median wall time, warm cache, {} cores)",
        tree.display(),
        RUNS,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("  kseries scan               {:>8.3} s", secs(t_scan));
    println!("  git grep -n invalidate_page {:>7.3} s", secs(t_grep));
    println!("  spatch calls.cocci          {:>7.3} s", secs(t_calls));
    println!("  spatch ops.cocci            {:>7.3} s", secs(t_ops));
    let vs_grep = secs(t_scan) / secs(t_grep);
    let vs_spatch = secs(t_spatch) / secs(t_scan);
    println!(
        "  scan / git grep             {vs_grep:>7.2}x   (target <= 1.5x) {}",
        verdict(vs_grep <= 1.5)
    );
    println!(
        "  spatch (both) / scan        {vs_spatch:>7.2}x   (target >= 5x)   {}",
        verdict(vs_spatch >= 5.0)
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn run(cmd: &mut Command) -> (Duration, String) {
    let t = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let elapsed = t.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn median(mut f: impl FnMut() -> Duration) -> Duration {
    let mut v: Vec<Duration> = (0..RUNS).map(|_| f()).collect();
    v.sort();
    v[RUNS / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// kseries and Coccinelle must agree on the calls and the ops entries.
/// (spatch does not read headers by default, nor does it exclude the API's
/// own definition, so matches inside kseries' `api` sites are set aside.)
fn check_same_answer(report: &serde_json::Value, calls: &str, ops: &str) {
    let sites = report["sites"].as_array().unwrap();
    let ours = |kind: &str| -> BTreeSet<String> {
        sites
            .iter()
            .filter(|s| s["kind"] == kind)
            .map(|s| format!("{}:{}", s["file"].as_str().unwrap(), s["line"]))
            .collect()
    };
    let api: Vec<(&str, u64, u64)> = sites
        .iter()
        .filter(|s| s["kind"] == "api")
        .map(|s| {
            (
                s["file"].as_str().unwrap(),
                s["line"].as_u64().unwrap(),
                s["end_line"].as_u64().unwrap(),
            )
        })
        .collect();
    let theirs = |out: &str, tag: &str| -> BTreeSet<String> {
        out.lines()
            .filter_map(|l| l.strip_prefix(tag))
            .map(|l| {
                l.split_whitespace()
                    .next()
                    .unwrap()
                    .trim_start_matches("./")
                    .to_string()
            })
            .filter(|place| {
                let (file, line) = place.rsplit_once(':').unwrap();
                let line: u64 = line.parse().unwrap();
                !api.iter()
                    .any(|(f, a, b)| *f == file && (*a..=*b).contains(&line))
            })
            .collect()
    };
    assert_eq!(
        ours("call"),
        theirs(calls, "call "),
        "kseries and spatch disagree on calls"
    );
    assert_eq!(
        ours("ops-entry"),
        theirs(ops, "ops-entry "),
        "kseries and spatch disagree on ops entries"
    );
    println!(
        "same answer: {} calls, {} ops entries",
        ours("call").len(),
        ours("ops-entry").len()
    );
}
