//! Rendering a [`VerifyReport`]: the human summary table and JUnit XML.

use std::fmt::Write;

use super::boot::BootTest;
use super::compile::FileResult;
use super::steps::{StepReport, StepStatus, VerifyReport};

fn secs(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

fn compile_cell(step: &StepReport) -> String {
    let mut ok = 0;
    let mut bad = 0;
    let mut untested = 0;
    let results = step
        .compile
        .iter()
        .flat_map(|c| c.files.iter().map(|f| &f.result))
        .chain(step.cross.iter().map(|f| &f.result));
    for r in results {
        match r {
            FileResult::Ok | FileResult::FailsAtBase { .. } => ok += 1,
            FileResult::Failed { .. } => bad += 1,
            FileResult::NotCompileTested { .. } => untested += 1,
        }
    }
    if ok + bad + untested == 0 {
        return "-".to_string();
    }
    let mut s = format!("{ok} ok");
    if bad > 0 {
        write!(s, ", {bad} FAILED").unwrap();
    }
    if untested > 0 {
        write!(s, ", {untested} untested").unwrap();
    }
    s
}

fn boot_cells(step: &StepReport) -> (String, String, String) {
    let Some(t) = &step.boot else {
        return ("-".into(), "-".into(), "-".into());
    };
    let build = if t.kernel.success {
        secs(t.kernel.build_ms)
    } else {
        "FAILED".into()
    };
    let boot = match &t.boot {
        Some(b) => format!("{}{}", secs(b.boot_ms), if b.passed { "" } else { " FAIL" }),
        None => "-".into(),
    };
    let audit = t
        .boot
        .as_ref()
        .and_then(|b| b.verdict.audit)
        .map(|a| {
            format!(
                "ev={} unp={} bad={} unbr={} page={}",
                a.events, a.unpaired, a.bad_range, a.unbracketed, a.page
            )
        })
        .unwrap_or_else(|| "-".into());
    (build, boot, audit)
}

/// The summary table, one row per commit, then the first failure.
pub fn render_table(report: &VerifyReport) -> String {
    let mut rows = vec![[
        "#".to_string(),
        "commit".into(),
        "status".into(),
        "compile".into(),
        "build".into(),
        "boot".into(),
        "auditor".into(),
        "subject".into(),
    ]];
    for s in &report.steps {
        let (build, boot, audit) = boot_cells(s);
        let status = match s.status {
            StepStatus::Pass => "ok",
            StepStatus::Fail => "FAIL",
            StepStatus::Skipped => "skipped",
        };
        let mut subject = s.subject.clone();
        if subject.chars().count() > 50 {
            subject = subject.chars().take(49).collect::<String>() + "…";
        }
        rows.push([
            s.index.to_string(),
            s.sha[..s.sha.len().min(12)].to_string(),
            status.into(),
            compile_cell(s),
            build,
            boot,
            audit,
            subject,
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end()).unwrap();
    }
    for s in &report.steps {
        for (file, why) in s.not_compile_tested() {
            writeln!(
                out,
                "note: {} {}: {why}",
                &s.sha[..s.sha.len().min(12)],
                file.display()
            )
            .unwrap();
        }
    }
    match &report.first_failure {
        Some(f) => writeln!(
            out,
            "FIRST FAILING COMMIT: {} {}\n  {}",
            f.sha, f.subject, f.reason
        )
        .unwrap(),
        None if report.passed() => writeln!(
            out,
            "{} ({})",
            match report.steps.len() {
                1 => "the commit passed".to_string(),
                n => format!("all {n} commits passed"),
            },
            secs(report.total_ms)
        )
        .unwrap(),
        None => {}
    }
    out
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per commit and phase (compile, build, boot).
pub fn junit_xml(report: &VerifyReport) -> String {
    let cases: Vec<Case> = report.steps.iter().flat_map(step_cases).collect();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write_suite_open(&mut x, report, &cases);
    for c in &cases {
        write_case(&mut x, c);
    }
    x.push_str("</testsuite></testsuites>\n");
    x
}

/// One JUnit test case.
struct Case {
    name: String,
    class: String,
    ms: u64,
    /// (message, body)
    failure: Option<(String, String)>,
    skipped: Option<String>,
}

/// A step's test cases: each compiled file, the kernel and auditor
/// builds, the boot; a failing step with no failing case gets one that
/// says why it failed.
fn step_cases(s: &StepReport) -> Vec<Case> {
    let class = format!(
        "kseries.verify.{:02}-{}",
        s.index,
        &s.sha[..s.sha.len().min(12)]
    );
    if s.status == StepStatus::Skipped {
        return vec![Case {
            name: s.subject.clone(),
            class,
            ms: 0,
            failure: None,
            skipped: Some("an earlier commit failed".into()),
        }];
    }
    let mut cases = Vec::new();
    if let Some(c) = &s.compile {
        for f in &c.files {
            let name = format!("compile x86_64 {}", f.file.display());
            cases.push(compile_case(name, &class, f.duration_ms, &f.result));
        }
    }
    for f in &s.cross {
        let name = format!("compile {} {}", f.arch, f.file.display());
        cases.push(compile_case(name, &class, f.duration_ms, &f.result));
    }
    if let Some(t) = &s.boot {
        cases.extend(boot_cases(t, &class));
    }
    if s.status == StepStatus::Fail && !cases.iter().any(|c| c.failure.is_some()) {
        let f = s.failure.clone().unwrap_or_default();
        cases.push(Case {
            name: "verify".into(),
            class,
            ms: s.total_ms,
            failure: Some((f.clone(), f)),
            skipped: None,
        });
    }
    cases
}

fn compile_case(name: String, class: &str, ms: u64, result: &FileResult) -> Case {
    let (failure, skipped) = match result {
        FileResult::Failed { errors } => {
            (Some(("compile failed".to_string(), errors.clone())), None)
        }
        FileResult::NotCompileTested { reason } => (None, Some(reason.clone())),
        _ => (None, None),
    };
    Case {
        name,
        class: class.to_string(),
        ms,
        failure,
        skipped,
    }
}

/// The kernel build, the auditor's build and the boot with its audit.
fn boot_cases(t: &BootTest, class: &str) -> Vec<Case> {
    let mut cases = vec![Case {
        name: "build bzImage".into(),
        class: class.to_string(),
        ms: t.kernel.build_ms,
        failure: (!t.kernel.success)
            .then(|| ("kernel build failed".into(), t.kernel.errors.clone())),
        skipped: None,
    }];
    if let Some(a) = &t.auditor {
        cases.push(Case {
            name: "build auditor".into(),
            class: class.to_string(),
            ms: a.build_ms,
            failure: (!a.success).then(|| ("auditor build failed".into(), a.errors.clone())),
            skipped: None,
        });
    }
    if let Some(b) = &t.boot {
        let detail: Vec<String> = b
            .verdict
            .problems
            .iter()
            .map(|p| format!("{:?} (console line {}): {}", p.kind, p.line, p.text))
            .chain(b.verdict.audit_reports.iter().cloned())
            .collect();
        cases.push(Case {
            name: "boot + audit".into(),
            class: class.to_string(),
            ms: b.boot_ms,
            failure: (!b.passed).then(|| (b.verdict.summary(), detail.join("\n"))),
            skipped: None,
        });
    }
    cases
}

fn write_suite_open(x: &mut String, report: &VerifyReport, cases: &[Case]) {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
    writeln!(
        x,
        "<testsuites><testsuite name=\"kseries verify {}\" tests=\"{}\" failures=\"{failures}\" \
         errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
        esc(&report.range),
        cases.len(),
        report.total_ms as f64 / 1000.0
    )
    .unwrap();
}

fn write_case(x: &mut String, c: &Case) {
    write!(
        x,
        "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
        esc(&c.class),
        esc(&c.name),
        c.ms as f64 / 1000.0
    )
    .unwrap();
    match (&c.failure, &c.skipped) {
        (Some((msg, body)), _) => writeln!(
            x,
            "><failure message=\"{}\">{}</failure></testcase>",
            esc(msg),
            esc(body)
        )
        .unwrap(),
        (None, Some(why)) => {
            writeln!(x, "><skipped message=\"{}\"/></testcase>", esc(why)).unwrap()
        }
        (None, None) => writeln!(x, "/>").unwrap(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::console::parse_console;
    use crate::verify::steps::FirstFailure;
    use std::path::PathBuf;

    fn step(index: usize, status: StepStatus, failure: Option<&str>) -> StepReport {
        StepReport {
            index,
            sha: format!("{index:040}"),
            subject: format!("mm/rmap: step <{index}>"),
            touched: vec![PathBuf::from("mm/rmap.c")],
            former_users: Vec::new(),
            status,
            failure: failure.map(str::to_string),
            compile: None,
            cross: vec![crate::verify::cross::CrossFile {
                arch: "arm".into(),
                file: "arch/arm/kvm/mmu.c".into(),
                result: FileResult::NotCompileTested {
                    reason: "not compile-tested: no cross compiler".into(),
                },
                duration_ms: 0,
            }],
            boot: None,
            checkout_ms: 1,
            total_ms: 2,
            log_dir: None,
        }
    }

    fn sample() -> VerifyReport {
        VerifyReport {
            repo: "/r".into(),
            range: "a..b".into(),
            work_dir: "/w".into(),
            steps: vec![
                step(1, StepStatus::Pass, None),
                step(
                    2,
                    StepStatus::Fail,
                    Some("boot: AuditViolation: unpaired=1"),
                ),
                step(3, StepStatus::Skipped, None),
            ],
            first_failure: Some(FirstFailure {
                sha: format!("{:040}", 2),
                subject: "mm/rmap: step <2>".into(),
                reason: "boot: AuditViolation: unpaired=1".into(),
            }),
            total_ms: 1234,
        }
    }

    #[test]
    fn the_table_names_the_first_failure_and_untested_files() {
        let t = render_table(&sample());
        assert!(t.contains("FIRST FAILING COMMIT: 0000000000000000000000000000000000000002"));
        assert!(t.contains("skipped"));
        assert!(t.contains("no cross compiler"), "{t}");
        assert!(t.contains("0 ok, 1 untested"), "{t}");
    }

    #[test]
    fn junit_counts_failures_and_skips_and_escapes() {
        let x = junit_xml(&sample());
        assert!(x.contains("tests=\"4\""), "{x}");
        assert!(x.contains("failures=\"1\""), "{x}");
        assert!(x.contains("skipped=\"3\""), "{x}");
        assert!(x.contains("step &lt;3&gt;"), "{x}");
        assert!(!x.contains("<3>"));
        let _ = parse_console("");
    }
}
