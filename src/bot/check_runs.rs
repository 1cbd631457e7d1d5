//! Check runs: what a check found (conclusion, summary table,
//! annotations), the stable ids the bot gives them, how results are sent
//! to GitHub in batches of 50 annotations, and the collector for results
//! produced by the GitHub Actions matrix (`templates/github/kseries.yml`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// GitHub accepts at most this many annotations per check-run request.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;

/// The checks the bot runs on each commit of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Build,
    Boot,
}

impl CheckKind {
    pub const ALL: [CheckKind; 2] = [CheckKind::Build, CheckKind::Boot];

    /// The short name used in `kseries.toml` and in ids.
    pub fn id(self) -> &'static str {
        match self {
            CheckKind::Build => "build",
            CheckKind::Boot => "boot",
        }
    }

    /// The check run's name on GitHub.
    pub fn check_name(self) -> &'static str {
        match self {
            CheckKind::Build => "kseries/build",
            CheckKind::Boot => "kseries/boot",
        }
    }

    pub fn from_id(id: &str) -> Option<CheckKind> {
        CheckKind::ALL.into_iter().find(|k| k.id() == id)
    }

    /// The stable `external_id` of this check on `sha`: the same commit and
    /// check always map to the same check run.
    pub fn external_id(self, sha: &str) -> String {
        format!("kseries:{}:{sha}", self.id())
    }
}

/// A check run's conclusion, as GitHub spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Failure,
    Neutral,
    Skipped,
    Cancelled,
    TimedOut,
    ActionRequired,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Neutral => "neutral",
            Conclusion::Skipped => "skipped",
            Conclusion::Cancelled => "cancelled",
            Conclusion::TimedOut => "timed_out",
            Conclusion::ActionRequired => "action_required",
        }
    }

    /// The worse of two conclusions (for merging per-architecture results).
    pub fn worst(self, other: Conclusion) -> Conclusion {
        fn rank(c: Conclusion) -> u8 {
            match c {
                Conclusion::Skipped => 0,
                Conclusion::Success => 1,
                Conclusion::Neutral => 2,
                Conclusion::ActionRequired => 3,
                Conclusion::Cancelled => 4,
                Conclusion::TimedOut => 5,
                Conclusion::Failure => 6,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// One line-level finding, as GitHub's check-run annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    pub path: String,
    pub start_line: u64,
    pub end_line: u64,
    /// `notice`, `warning` or `failure`.
    pub annotation_level: String,
    pub message: String,
}

/// What one check found on one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub conclusion: Conclusion,
    pub title: String,
    /// Markdown (a table: see [`summary_table`]).
    pub summary: String,
    pub annotations: Vec<Annotation>,
}

/// A markdown table with a header row; cells have `|` and newlines escaped.
pub fn summary_table(header: &[&str], rows: &[Vec<String>]) -> String {
    fn cell(s: &str) -> String {
        s.replace('|', "\\|").replace(['\n', '\r'], " ")
    }
    let mut out = String::new();
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    out.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// GitHub's limit on `output.summary` (characters).
pub const SUMMARY_LIMIT: usize = 65_535;

/// `summary` cut to fit GitHub's limit, saying so.
pub fn fit_summary(summary: &str) -> String {
    if summary.chars().count() <= SUMMARY_LIMIT {
        return summary.to_string();
    }
    let note = "\n\n(truncated: the summary is over GitHub's limit)\n";
    let keep = SUMMARY_LIMIT - note.chars().count();
    let mut out: String = summary.chars().take(keep).collect();
    out.push_str(note);
    out
}

/// The bodies of the `PATCH .../check-runs/{id}` requests that complete a
/// check run: the first sets status and conclusion with the first 50
/// annotations, each further one appends the next 50 (GitHub appends the
/// annotations of each update).
pub fn completion_requests(outcome: &CheckOutcome) -> Vec<Value> {
    let mut chunks: Vec<&[Annotation]> = outcome
        .annotations
        .chunks(ANNOTATIONS_PER_REQUEST)
        .collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let output = json!({
                "title": outcome.title,
                "summary": fit_summary(&outcome.summary),
                "annotations": chunk,
            });
            if i == 0 {
                json!({
                    "status": "completed",
                    "conclusion": outcome.conclusion.as_str(),
                    "output": output,
                })
            } else {
                json!({ "output": output })
            }
        })
        .collect()
}

/// Parses `file:line:col: error: message` compiler lines into annotations
/// (lines that do not look like that are left to the summary).
pub fn compiler_annotations(errors: &str, level: &str) -> Vec<Annotation> {
    let mut out = Vec::new();
    for line in errors.lines() {
        let mut parts = line.splitn(4, ':');
        let (Some(path), Some(ln), Some(rest1), Some(rest2)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(ln) = ln.trim().parse::<u64>() else {
            continue;
        };
        // `rest1` is the column when there is one.
        let message = if rest1.trim().parse::<u64>().is_ok() {
            rest2.trim().to_string()
        } else {
            format!("{}:{}", rest1, rest2).trim().to_string()
        };
        out.push(Annotation {
            path: path.trim().trim_start_matches("./").to_string(),
            start_line: ln,
            end_line: ln,
            annotation_level: level.to_string(),
            message,
        });
    }
    out
}

/// The result file one job of the Actions matrix uploads (one commit, one
/// check, one architecture): `kseries-result.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResult {
    pub sha: String,
    pub check: CheckKind,
    pub arch: String,
    pub conclusion: Conclusion,
    /// Per-file rows: `{path, status, detail}`.
    #[serde(default)]
    pub files: Vec<JobFile>,
    #[serde(default)]
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFile {
    pub path: String,
    pub status: String,
    #[serde(default)]
    pub detail: String,
}

/// The boot check of one verify step: passed only when the kernel and the
/// auditor built, the guest booted and the auditor's verdict is clean.
/// A step that never booted (an earlier phase failed) is a failure.
pub fn boot_outcome(step: &crate::verify::StepReport) -> CheckOutcome {
    let (passed, verdict, rows) = boot_rows(step);
    CheckOutcome {
        conclusion: if passed {
            Conclusion::Success
        } else {
            Conclusion::Failure
        },
        title: format!("boot: {verdict}"),
        summary: summary_table(&["check", "result"], &rows),
        annotations: vec![],
    }
}

/// Whether the step's boot passed, the auditor's verdict, and the rows of
/// its summary (`status`, `auditor`, one `console` row per problem).
fn boot_rows(step: &crate::verify::StepReport) -> (bool, String, Vec<Vec<String>>) {
    let booted = step.boot.as_ref().and_then(|b| b.boot.as_ref());
    let verdict = booted
        .and_then(|b| b.verdict.audit)
        .map_or_else(|| "no auditor verdict".to_string(), |a| a.to_string());
    let passed = step.boot.as_ref().is_some_and(|b| b.passed()) && step.failure.is_none();
    let status = if passed {
        "passed".to_string()
    } else {
        step.failure
            .clone()
            .unwrap_or_else(|| "not booted".to_string())
    };
    let mut rows = vec![
        vec!["status".to_string(), status],
        vec!["auditor".to_string(), verdict.clone()],
    ];
    rows.extend(booted.into_iter().flat_map(|b| {
        b.verdict
            .problems
            .iter()
            .map(|p| vec!["console".to_string(), format!("{p:?}")])
    }));
    (passed, verdict, rows)
}

/// The result of one verify step for one check and architecture, as a
/// matrix job of the workflow writes it (`kseries verify --commit SHA
/// --check CHECK --arch ARCH --format job-json`).  Build: x86_64 from the
/// compile check, other architectures from the cross compiles; a file
/// that was not compile-tested is `neutral`, never a pass.  Boot: one row
/// per line of [`boot_outcome`].
pub fn job_result(step: &crate::verify::StepReport, check: CheckKind, arch: &str) -> JobResult {
    match check {
        CheckKind::Build => build_job_result(step, arch),
        CheckKind::Boot => {
            let (passed, _, rows) = boot_rows(step);
            JobResult {
                sha: step.sha.clone(),
                check,
                arch: arch.into(),
                conclusion: if passed {
                    Conclusion::Success
                } else {
                    Conclusion::Failure
                },
                files: rows
                    .into_iter()
                    .map(|r| JobFile {
                        path: r[0].clone(),
                        status: r[1].clone(),
                        detail: String::new(),
                    })
                    .collect(),
                annotations: vec![],
            }
        }
    }
}

fn build_job_result(step: &crate::verify::StepReport, arch: &str) -> JobResult {
    use crate::verify::FileResult;
    let mut results: Vec<(String, &FileResult)> = Vec::new();
    if arch == "x86_64" {
        if let Some(c) = &step.compile {
            results.extend(
                c.files
                    .iter()
                    .map(|f| (f.file.display().to_string(), &f.result)),
            );
        }
    } else {
        results.extend(
            step.cross
                .iter()
                .filter(|c| c.arch == arch)
                .map(|c| (c.file.display().to_string(), &c.result)),
        );
    }
    let mut conclusion = if results.is_empty() {
        Conclusion::Neutral
    } else {
        Conclusion::Success
    };
    let mut files = Vec::new();
    let mut annotations = Vec::new();
    for (path, result) in results {
        let (status, detail, c) = match result {
            FileResult::Ok => ("ok", String::new(), Conclusion::Success),
            FileResult::FailsAtBase { errors } => {
                ("fails at base", errors.clone(), Conclusion::Success)
            }
            FileResult::NotCompileTested { reason } => {
                ("not compile-tested", reason.clone(), Conclusion::Neutral)
            }
            FileResult::Failed { errors } => {
                annotations.extend(compiler_annotations(errors, "failure"));
                ("failed", errors.clone(), Conclusion::Failure)
            }
        };
        conclusion = conclusion.worst(c);
        files.push(JobFile {
            path,
            status: status.into(),
            detail,
        });
    }
    JobResult {
        sha: step.sha.clone(),
        check: CheckKind::Build,
        arch: arch.into(),
        conclusion,
        files,
        annotations,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a kseries job result: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

/// Reads every `*.json` file under `dir` (recursively: one directory per
/// downloaded artifact) as a [`JobResult`].
pub fn read_job_results(dir: &Path) -> Result<Vec<JobResult>, CollectError> {
    let mut files = Vec::new();
    collect_json_files(dir, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let path = f.display().to_string();
        let text = std::fs::read_to_string(&f).map_err(|source| CollectError::Io {
            path: path.clone(),
            source,
        })?;
        let r: JobResult = serde_json::from_str(&text).map_err(|source| CollectError::Json {
            path: path.clone(),
            source,
        })?;
        if !super::git::is_hex_sha(&r.sha) {
            return Err(CollectError::Invalid {
                path,
                reason: format!("{:?} is not a commit id", r.sha),
            });
        }
        out.push(r);
    }
    Ok(out)
}

fn collect_json_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), CollectError> {
    let rd = std::fs::read_dir(dir).map_err(|source| CollectError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for e in rd {
        let e = e.map_err(|source| CollectError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let ft = e.file_type().map_err(|source| CollectError::Io {
            path: e.path().display().to_string(),
            source,
        })?;
        if ft.is_dir() {
            collect_json_files(&e.path(), out)?;
        } else if ft.is_file() && e.path().extension().is_some_and(|x| x == "json") {
            out.push(e.path());
        }
    }
    Ok(())
}

/// Merges the per-architecture results of each (commit, check) into one
/// outcome: the worst conclusion, one table row per (arch, file), all the
/// annotations (deduplicated).
pub fn merge_job_results(results: &[JobResult]) -> BTreeMap<(String, CheckKind), CheckOutcome> {
    let mut groups: BTreeMap<(String, CheckKind), Vec<&JobResult>> = BTreeMap::new();
    for r in results {
        groups.entry((r.sha.clone(), r.check)).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|(key, rs)| {
            let mut conclusion = rs[0].conclusion;
            let mut rows = Vec::new();
            let mut annotations: Vec<Annotation> = Vec::new();
            for r in &rs {
                conclusion = conclusion.worst(r.conclusion);
                if r.files.is_empty() {
                    rows.push(vec![
                        r.arch.clone(),
                        "-".into(),
                        r.conclusion.as_str().into(),
                        String::new(),
                    ]);
                }
                for f in &r.files {
                    rows.push(vec![
                        r.arch.clone(),
                        format!("`{}`", f.path),
                        f.status.clone(),
                        f.detail.clone(),
                    ]);
                }
                for a in &r.annotations {
                    if !annotations.contains(a) {
                        annotations.push(a.clone());
                    }
                }
            }
            let archs: Vec<&str> = rs.iter().map(|r| r.arch.as_str()).collect();
            let outcome = CheckOutcome {
                conclusion,
                title: format!(
                    "{}: {} ({})",
                    key.1.id(),
                    conclusion.as_str(),
                    archs.join(", ")
                ),
                summary: summary_table(&["arch", "file", "result", "detail"], &rows),
                annotations,
            };
            (key, outcome)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(i: u64) -> Annotation {
        Annotation {
            path: "mm/rmap.c".into(),
            start_line: i,
            end_line: i,
            annotation_level: "failure".into(),
            message: format!("m{i}"),
        }
    }

    #[test]
    fn annotations_go_in_batches_of_50() {
        let o = CheckOutcome {
            conclusion: Conclusion::Failure,
            title: "t".into(),
            summary: "s".into(),
            annotations: (1..=120).map(ann).collect(),
        };
        let reqs = completion_requests(&o);
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0]["status"], "completed");
        assert_eq!(reqs[0]["conclusion"], "failure");
        assert_eq!(
            reqs[0]["output"]["annotations"].as_array().unwrap().len(),
            50
        );
        assert!(reqs[1].get("status").is_none());
        assert_eq!(reqs[1]["output"]["annotations"][0]["start_line"], 51);
        assert_eq!(
            reqs[2]["output"]["annotations"].as_array().unwrap().len(),
            20
        );
        let none = CheckOutcome {
            annotations: vec![],
            ..o
        };
        assert_eq!(completion_requests(&none).len(), 1);
    }

    #[test]
    fn long_summaries_are_cut_to_githubs_limit() {
        let long = "x".repeat(100_000);
        let cut = fit_summary(&long);
        assert_eq!(cut.chars().count(), SUMMARY_LIMIT);
        assert!(cut.ends_with("limit)\n"));
        assert_eq!(fit_summary("short"), "short");
    }

    #[test]
    fn compiler_lines_become_annotations() {
        let a = compiler_annotations(
            "mm/rmap.c:123:5: error: implicit declaration of function 'x'\nmake: *** oops\n",
            "failure",
        );
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].path, "mm/rmap.c");
        assert_eq!(a[0].start_line, 123);
        assert_eq!(a[0].message, "error: implicit declaration of function 'x'");
    }

    #[test]
    fn a_verify_step_becomes_one_job_result_per_architecture() {
        let file = |path: &str, result: serde_json::Value| serde_json::json!({"file": path, "compiled_as": null, "object": null, "result": result, "duration_ms": 1});
        let step: crate::verify::StepReport = serde_json::from_value(serde_json::json!({
            "index": 1, "sha": "abc123", "subject": "mm: x", "touched": [], "status": "fail",
            "failure": null, "boot": null, "checkout_ms": 0, "total_ms": 0, "log_dir": null,
            "compile": {"tree": "/t", "build_dir": "/b", "arch": "x86_64", "config": null, "total_ms": 0, "files": [
                file("mm/rmap.c", serde_json::json!({"status": "ok"})),
                file("fs/dax.c", serde_json::json!({"status": "failed", "errors": "fs/dax.c:12:3: error: expected ';'"})),
                file("arch/arm/x.c", serde_json::json!({"status": "not_compile_tested", "reason": "another architecture"})),
            ]},
            "cross": [{"arch": "arm", "file": "arch/arm/x.c", "result": {"status": "ok"}, "duration_ms": 1}],
        }))
        .unwrap();
        let x86 = job_result(&step, CheckKind::Build, "x86_64");
        assert_eq!(x86.conclusion, Conclusion::Failure);
        assert_eq!(x86.files.len(), 3);
        assert_eq!(x86.files[2].status, "not compile-tested");
        assert_eq!(x86.annotations.len(), 1);
        assert_eq!(x86.annotations[0].path, "fs/dax.c");
        let arm = job_result(&step, CheckKind::Build, "arm");
        assert_eq!(arm.conclusion, Conclusion::Success);
        assert_eq!(arm.files.len(), 1);
        assert_eq!(
            job_result(&step, CheckKind::Build, "mips").conclusion,
            Conclusion::Neutral,
            "nothing compiled is no pass"
        );
    }

    #[test]
    fn a_step_that_never_booted_fails_its_boot_job() {
        let step = |failure: serde_json::Value| -> crate::verify::StepReport {
            serde_json::from_value(serde_json::json!({
                "index": 1, "sha": "abc123", "subject": "mm: x", "touched": [], "status": "fail",
                "failure": failure, "boot": null, "compile": null, "cross": [],
                "checkout_ms": 0, "total_ms": 0, "log_dir": null,
            }))
            .unwrap()
        };
        let r = job_result(&step(serde_json::Value::Null), CheckKind::Boot, "x86_64");
        assert_eq!(
            (r.check, r.conclusion),
            (CheckKind::Boot, Conclusion::Failure)
        );
        assert_eq!(
            (r.files[0].path.as_str(), r.files[0].status.as_str()),
            ("status", "not booted")
        );
        assert_eq!(r.files[1].status, "no auditor verdict");
        let r = job_result(
            &step("x86_64 compile failed: mm/rmap.c".into()),
            CheckKind::Boot,
            "x86_64",
        );
        assert_eq!(r.conclusion, Conclusion::Failure);
        assert_eq!(r.files[0].status, "x86_64 compile failed: mm/rmap.c");
        let o = boot_outcome(&step(serde_json::Value::Null));
        assert_eq!(
            (o.conclusion, o.title.as_str()),
            (Conclusion::Failure, "boot: no auditor verdict")
        );
    }

    #[test]
    fn table_cells_are_escaped() {
        let t = summary_table(&["a", "b"], &[vec!["x|y".into(), "1\n2".into()]]);
        assert_eq!(t, "| a | b |\n| --- | --- |\n| x\\|y | 1 2 |\n");
    }
}
