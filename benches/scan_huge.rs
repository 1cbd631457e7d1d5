//! Benchmark: `kseries scan` on one generated file with very many calls of
//! the API, against `git grep -n invalidate_page` on the same file,
//! measured in the same run.
//!
//! Three shapes, each at N and 4N calls, so that the growth shows:
//! - `functions`: N small functions with one call each;
//! - `one-function`: one function with N calls in a row (the lock state of
//!   every call depends on all the statements before it);
//! - `over-limit`: a file larger than the parse limit (8 MiB), whose
//!   occurrences are reported for review without parsing.
//!
//! A linear scan takes about 4x as long at 4N as at N; the quadratic one
//! this replaced took 16x (measured before the fix: one function with 4000
//! calls 50 s, a 10 MB file with 100k calls 79 s).
//!
//! Run: `cargo bench --bench scan_huge`.  Target: growth <= 6x from N to
//! 4N for every shape.  The ratio to git grep is printed, not judged: the
//! scan parses and analyses each call, git grep only finds the line.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 3;

struct Shape {
    name: &'static str,
    calls: usize,
    write: fn(&mut dyn Write, usize) -> std::io::Result<()>,
}

fn functions(out: &mut dyn Write, n: usize) -> std::io::Result<()> {
    for i in 0..n {
        writeln!(
            out,
            "static void f{i}(struct mm_struct *mm, unsigned long a)\n{{\n\tmmu_notifier_invalidate_page(mm, a);\n}}\n"
        )?;
    }
    Ok(())
}

fn one_function(out: &mut dyn Write, n: usize) -> std::io::Result<()> {
    writeln!(out, "void g(struct mm_struct *mm, unsigned long a)\n{{")?;
    for i in 0..n {
        writeln!(out, "\tmmu_notifier_invalidate_page(mm, a + {i});")?;
    }
    writeln!(out, "}}")
}

fn over_limit(out: &mut dyn Write, n: usize) -> std::io::Result<()> {
    // Padding makes the file larger than the parse limit at any N.
    let pad = "/* ".to_string() + &"x".repeat(9 << 20) + " */\n";
    out.write_all(pad.as_bytes())?;
    functions(out, n)
}

fn main() {
    let kseries = env!("CARGO_BIN_EXE_kseries");
    let shapes = [
        Shape {
            name: "functions",
            calls: 16_000,
            write: functions,
        },
        Shape {
            name: "one-function",
            calls: 16_000,
            write: one_function,
        },
        Shape {
            name: "over-limit",
            calls: 64_000,
            write: over_limit,
        },
    ];
    println!(
        "scan of one generated file ({RUNS} runs each, median wall time, warm cache, {} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  {:<13} {:>8} {:>9} {:>11} {:>11} {:>8}",
        "shape", "calls", "MB", "kseries s", "git grep s", "ratio"
    );
    let mut all_ok = true;
    for shape in &shapes {
        let mut times = Vec::new();
        for calls in [shape.calls, shape.calls * 4] {
            let tmp = tempfile::tempdir().expect("temp dir");
            let file = tmp.path().join("huge.c");
            let mut f = std::io::BufWriter::new(std::fs::File::create(&file).expect("create"));
            (shape.write)(&mut f, calls).expect("write");
            f.flush().expect("flush");
            drop(f);
            git(tmp.path(), &["init", "-q"]);
            git(tmp.path(), &["add", "huge.c"]);
            let scan = || {
                let t = Instant::now();
                let out = Command::new(kseries)
                    .args(["scan", "--format", "json", "."])
                    .current_dir(tmp.path())
                    .output()
                    .expect("run kseries");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                (t.elapsed(), out.stdout)
            };
            let grep = || {
                let t = Instant::now();
                let out = Command::new("git")
                    .args(["grep", "-n", "invalidate_page"])
                    .current_dir(tmp.path())
                    .output()
                    .expect("run git grep");
                (t.elapsed(), out.stdout)
            };
            // Same count of occurrences first (this also warms the cache).
            let report: serde_json::Value = serde_json::from_slice(&scan().1).expect("scan JSON");
            assert_eq!(report["summary"]["occurrences"], calls, "every call found");
            assert_eq!(report["summary"]["accounted"], true);
            let grep_lines = grep()
                .1
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
            assert_eq!(grep_lines, calls, "git grep finds one line per call");
            let t_scan = median(|| scan().0);
            let t_grep = median(|| grep().0);
            let mb = std::fs::metadata(&file).map_or(0, |m| m.len()) as f64 / 1e6;
            println!(
                "  {:<13} {:>8} {:>9.1} {:>11.3} {:>11.3} {:>7.1}x",
                shape.name,
                calls,
                mb,
                secs(t_scan),
                secs(t_grep),
                secs(t_scan) / secs(t_grep)
            );
            times.push(t_scan);
        }
        let growth = secs(times[1]) / secs(times[0]);
        let ok = growth <= 6.0;
        all_ok &= ok;
        println!(
            "  {:<13} growth from N to 4N calls: {growth:.1}x (linear 4x, quadratic 16x; target <= 6x) {}",
            shape.name,
            verdict(ok)
        );
    }
    println!("  overall: {}", verdict(all_ok));
}

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args(args)
        .current_dir(dir)
        .status()
        .expect("run git");
    assert!(st.success(), "git {args:?}");
}

fn median(mut f: impl FnMut() -> Duration) -> Duration {
    let mut v: Vec<Duration> = (0..RUNS).map(|_| f()).collect();
    v.sort();
    v[RUNS / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-6)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}
