//! Per-step cost of `kseries verify`: an incremental rebuild of the boot
//! kernel in the persistent build directory against one clean build (made
//! once, in a fresh directory), plus one boot + audit.
//!
//! `cargo bench --bench verify`.  `KSERIES_BENCH_SKIP_CLEAN=1` skips the
//! clean build (3-6 minutes on 2 cores) and prints the incremental figures
//! only.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use kseries::verify::boot::{self, QemuOptions};
use kseries::verify::{VerifyOptions, verify_series};

fn touch(path: &Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now()).unwrap();
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn main() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let work = common::cache_dir().join("verify-boot");
    // Brings the shared checkout and build directory to the base commit.
    let mut opts = VerifyOptions::new(&tree, "HEAD");
    opts.work_dir = Some(work.clone());
    let report = verify_series(&opts).expect("verify runs");
    assert!(
        report.passed(),
        "base does not pass: {:?}",
        report.first_failure
    );
    let src = work.join("src");
    let build = work.join("build");
    let jobs = 2;

    let mut rows: Vec<(String, Duration)> = Vec::new();
    {
        let _lock = boot::lock_boot_dir(&build).unwrap();
        let t = Instant::now();
        let k = boot::build_kernel(&src, &build, jobs).unwrap();
        assert!(k.success);
        rows.push(("no-op rebuild (bzImage modules)".into(), t.elapsed()));

        touch(&src.join("mm/rmap.c"));
        let t = Instant::now();
        let k = boot::build_kernel(&src, &build, jobs).unwrap();
        assert!(k.success);
        rows.push(("rebuild after touching mm/rmap.c".into(), t.elapsed()));

        touch(&src.join("include/linux/mmu_notifier.h"));
        let t = Instant::now();
        let k = boot::build_kernel(&src, &build, jobs).unwrap();
        assert!(k.success);
        rows.push((
            "rebuild after touching include/linux/mmu_notifier.h".into(),
            t.elapsed(),
        ));

        touch(&src.join("mm/rmap.c"));
        let t = Instant::now();
        let test = boot::boot_test(
            &src,
            &build,
            &work.join("scratch"),
            jobs,
            &QemuOptions::default(),
        )
        .unwrap();
        assert!(test.passed(), "{:?}", test.failure());
        rows.push((
            "one verify step (touch rmap.c: build + auditor + boot)".into(),
            t.elapsed(),
        ));
        rows.push((
            "  of which boot + workload in QEMU".into(),
            Duration::from_millis(test.boot.as_ref().unwrap().boot_ms),
        ));
    }

    let clean = if std::env::var("KSERIES_BENCH_SKIP_CLEAN").is_ok_and(|v| v == "1") {
        None
    } else {
        let dir = tempfile::Builder::new()
            .prefix("kseries-bench-clean-")
            .tempdir_in(common::cache_dir())
            .unwrap();
        let clean_build = dir.path().join("build");
        let _lock = boot::lock_boot_dir(&clean_build).unwrap();
        let t = Instant::now();
        let k = boot::build_kernel(&src, &clean_build, jobs).unwrap();
        assert!(k.success, "{}", k.errors);
        let d = t.elapsed();
        rows.push((
            format!(
                "clean build (tinyconfig+fragment {} s, bzImage+modules)",
                k.config_ms.unwrap_or(0) / 1000
            ),
            d,
        ));
        Some(d)
    };

    println!("kseries verify: boot kernel build costs (make -j{jobs})");
    for (what, d) in &rows {
        println!("  {what:<60} {:>9}", secs(*d));
    }
    if let Some(clean) = clean {
        let step = rows[1].1;
        println!(
            "  ratio clean / incremental (rmap.c): {:.1}x",
            clean.as_secs_f64() / step.as_secs_f64()
        );
    }
}
