//! The GitHub Actions workflow template, `templates/github/kseries.yml`:
//! valid for GitHub's workflow schema (check-jsonschema's vendored schema
//! is the oracle), no event value pasted into a script, every `kseries`
//! command it runs exists with the flags it passes, and its plan script,
//! run for real on a git repository, gives the matrix the verify jobs and
//! the collector expect.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use kseries::bot::check_runs::CheckKind;
use kseries::bot::matrix::{BOOT_PACKAGES, Matrix, MatrixJob};
use serde_yaml_ng::Value;

const WORKFLOW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/github/kseries.yml");
const KSERIES: &str = env!("CARGO_BIN_EXE_kseries");

fn workflow() -> Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(WORKFLOW).unwrap()).unwrap()
}

/// Every `run:` script, as (job, step name or index, script).
fn scripts(wf: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (job, body) in wf["jobs"].as_mapping().unwrap() {
        let job = job.as_str().unwrap().to_string();
        for (i, step) in body["steps"].as_sequence().unwrap().iter().enumerate() {
            if let Some(run) = step["run"].as_str() {
                let name = step["name"]
                    .as_str()
                    .map_or_else(|| i.to_string(), String::from);
                out.push((job.clone(), name, run.to_string()));
            }
        }
    }
    out
}

fn check_jsonschema(file: &Path) -> Option<std::process::Output> {
    match Command::new("check-jsonschema")
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(file)
        .output()
    {
        Ok(out) => Some(out),
        Err(_) => {
            assert!(
                std::env::var(common::REQUIRE_ENV).is_err(),
                "check-jsonschema is not installed (pip install check-jsonschema) and {} is set",
                common::REQUIRE_ENV
            );
            eprintln!(
                "!!! SKIPPING the schema check: check-jsonschema not installed \
                 (pip install check-jsonschema)"
            );
            None
        }
    }
}

#[test]
fn the_workflow_is_valid_for_githubs_schema() {
    let Some(out) = check_jsonschema(Path::new(WORKFLOW)) else {
        return;
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The oracle is awake: a misspelt key is refused.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("kseries.yml");
    let text = std::fs::read_to_string(WORKFLOW).unwrap();
    assert!(text.contains("runs-on: ubuntu-latest"));
    std::fs::write(
        &broken,
        text.replacen("runs-on: ubuntu-latest", "run-on: ubuntu-latest", 1),
    )
    .unwrap();
    assert!(!check_jsonschema(&broken).unwrap().status.success());
}

#[test]
fn scripts_never_paste_event_values() {
    let wf = workflow();
    let all = scripts(&wf);
    assert!(all.len() >= 6, "{all:?}");
    for (job, step, run) in all {
        assert!(
            !run.contains("${{"),
            "{job}/{step}: an expression is pasted into the script; pass it in env:\n{run}"
        );
    }
}

/// `kseries` command lines of a script, continuation lines joined, as
/// (subcommand words, --flags).
fn kseries_commands(script: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = words
            .iter()
            .position(|w| *w == "kseries" || w.ends_with("(kseries"))
        else {
            continue;
        };
        let rest = &words[at + 1..];
        let subcommand = rest
            .iter()
            .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase()))
            .map(|w| w.to_string())
            .collect();
        let flags = rest
            .iter()
            .filter(|w| w.starts_with("--"))
            .map(|w| w.trim_end_matches(')').to_string())
            .collect();
        out.push((subcommand, flags));
    }
    out
}

#[test]
fn every_kseries_command_it_runs_exists_with_its_flags() {
    let wf = workflow();
    let mut seen = Vec::new();
    for (job, step, run) in scripts(&wf) {
        for (sub, flags) in kseries_commands(&run) {
            let out = Command::new(KSERIES)
                .args(&sub)
                .arg("--help")
                .output()
                .unwrap();
            let help = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{job}/{step}: kseries {sub:?}: {out:?}"
            );
            for flag in &flags {
                assert!(
                    help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                    "{job}/{step}: `kseries {}` has no {flag}:\n{help}",
                    sub.join(" ")
                );
            }
            seen.push(sub.join(" "));
        }
    }
    for expected in ["bot run", "bot matrix", "verify", "bot collect"] {
        assert!(seen.iter().any(|s| s == expected), "{expected}: {seen:?}");
    }
    // The matrix's check values are the ones `verify --check` takes.
    let help = Command::new(KSERIES)
        .args(["verify", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for check in CheckKind::ALL {
        let value = serde_json::to_value(check).unwrap();
        assert!(
            help.contains(&format!("- {}:", value.as_str().unwrap())),
            "{value} not a value of --check:\n{help}"
        );
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    common::git(dir, args).unwrap().trim().to_string()
}

fn commit(dir: &Path, files: &[&str], message: &str) -> String {
    for f in files {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let old = std::fs::read_to_string(&p).unwrap_or_default();
        std::fs::write(&p, format!("{old}/* {message} */\n")).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// The plan job's `commits` step, run with bash as Actions runs it
/// (`bash --noprofile --norc -eo pipefail`), kseries on PATH.
fn run_plan(clone: &Path, env: &[(&str, &str)]) -> Matrix {
    let wf = workflow();
    let step = wf["jobs"]["plan"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str() == Some("commits"))
        .unwrap()
        .clone();
    let script = step["run"].as_str().unwrap();
    let output = clone.join("github-output");
    let _ = std::fs::remove_file(&output);
    let bin = PathBuf::from(KSERIES);
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(clone)
        .env("PATH", path)
        .env("GITHUB_OUTPUT", &output)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "plan script: {out:?}");
    let written = std::fs::read_to_string(&output).unwrap();
    let line = written
        .lines()
        .find_map(|l| l.strip_prefix("matrix="))
        .unwrap_or_else(|| panic!("no matrix= in {written:?}"));
    serde_json::from_str(line).unwrap()
}

fn job(sha: &str, check: CheckKind, arch: &str, packages: &str) -> MatrixJob {
    MatrixJob {
        sha: sha.into(),
        check,
        arch: arch.into(),
        packages: packages.into(),
    }
}

#[test]
fn the_plan_script_gives_one_job_per_commit_check_and_touched_arch() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin");
    let clone = tmp.path().join("clone");
    std::fs::create_dir(&origin).unwrap();
    git(&origin, &["init", "-q", "-b", "master"]);
    std::fs::write(
        origin.join("kseries.toml"),
        "branches = [\"master\"]\nchecks = [\"build\", \"boot\"]\n",
    )
    .unwrap();
    let base = commit(&origin, &["mm/rmap.c", "arch/arm64/kvm/mmu.c"], "base");
    let status = Command::new("git")
        .args(["clone", "-q"])
        .arg(&origin)
        .arg(&clone)
        .status()
        .unwrap();
    assert!(status.success());
    git(&clone, &["checkout", "-q", "-b", "kseries/master"]);
    let c1 = commit(&clone, &["mm/rmap.c"], "mm: one");
    let c2 = commit(
        &clone,
        &["arch/arm64/kvm/mmu.c", "arch/x86/kvm/x86.c"],
        "kvm: two",
    );
    // master moves on after the series was cut: the merge base is used.
    commit(&origin, &["mm/memory.c"], "later");

    let pushed = run_plan(
        &clone,
        &[("EVENT_NAME", "push"), ("PUSHED_REF", "kseries/master")],
    );
    let expected = vec![
        job(&c1, CheckKind::Build, "x86_64", ""),
        job(&c1, CheckKind::Boot, "x86_64", BOOT_PACKAGES),
        job(&c2, CheckKind::Build, "x86_64", ""),
        job(&c2, CheckKind::Build, "arm64", "gcc-aarch64-linux-gnu"),
        job(&c2, CheckKind::Boot, "x86_64", BOOT_PACKAGES),
    ];
    assert_eq!(pushed.include, expected);

    // A pull request: from its base sha; kseries.toml asks for builds only.
    std::fs::write(
        clone.join("kseries.toml"),
        "branches = [\"master\"]\nchecks = [\"build\"]\n",
    )
    .unwrap();
    let pr = run_plan(
        &clone,
        &[("EVENT_NAME", "pull_request"), ("PR_BASE_SHA", &base)],
    );
    let builds: Vec<MatrixJob> = expected
        .into_iter()
        .filter(|j| j.check == CheckKind::Build)
        .collect();
    assert_eq!(pr.include, builds);

    // No commits: the verify job's condition sees the empty matrix.
    let empty = run_plan(
        &clone,
        &[("EVENT_NAME", "pull_request"), ("PR_BASE_SHA", &c2)],
    );
    assert!(empty.include.is_empty());
    let printed = serde_json::to_string(&empty).unwrap();
    let verify_if = workflow()["jobs"]["verify"]["if"]
        .as_str()
        .unwrap()
        .to_string();
    let inner = printed.trim_start_matches('{').trim_end_matches('}');
    assert!(
        verify_if.contains(&format!("'{inner}'")),
        "verify's `if` must recognise {printed}: {verify_if}"
    );
}

#[test]
fn the_matrix_refuses_an_option_for_a_range() {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "-q"]);
    let out = Command::new(KSERIES)
        .args(["bot", "matrix", "--repo"])
        .arg(tmp.path())
        .arg("--range=--output=/tmp/x..HEAD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a commit range"), "{err}");
}
