//! The compile check: build each touched file of a kernel tree with the
//! tree's own Kbuild (x86_64 `allmodconfig`, out of tree) and say, per
//! file, whether it compiled.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::diagnostics::{self, error_lines};
use super::kbuild::{self, ALLMOD_FRAGMENT_NAME, Make};
use super::targets::{self, Target};
use super::{Arch, VerifyError};

/// What to compile, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileRequest {
    /// The kernel source tree; only read, never written (builds go to
    /// `build_dir` with `O=`).
    pub tree: PathBuf,
    /// Where objects go.  Reused across runs for the same tree; a directory
    /// configured for another tree/arch/config is wiped and reconfigured.
    /// See [`super::default_build_dir`].
    pub build_dir: PathBuf,
    pub arch: Arch,
    /// Files to check, relative to `tree` (absolute paths inside it are
    /// accepted).  `.c` and `.S` files are compiled; a `.h` file is checked
    /// by compiling a `.c` file that includes it (see `header_hosts`).
    pub files: Vec<PathBuf>,
    /// The `.c` file to compile for a given header.  Headers not listed get
    /// the first `.c` file (in sorted order) that includes them directly,
    /// searched next to the header, then in mm/, kernel/, fs/, lib/,
    /// virt/ and this arch (the arch first for an arch header), then
    /// drivers/, then anywhere.  Other architectures' code is never chosen.
    pub header_hosts: BTreeMap<PathBuf, PathBuf>,
    /// `make -j` for each step.
    pub jobs: u32,
    /// The unpatched tree to compare failures with, if any.
    pub baseline: Option<Baseline>,
}

impl CompileRequest {
    /// A request for x86_64 with `-j2` and no baseline.
    pub fn new(
        tree: impl Into<PathBuf>,
        build_dir: impl Into<PathBuf>,
        files: Vec<PathBuf>,
    ) -> Self {
        CompileRequest {
            tree: tree.into(),
            build_dir: build_dir.into(),
            arch: Arch::X86_64,
            files,
            header_hosts: BTreeMap::new(),
            jobs: 2,
            baseline: None,
        }
    }
}

/// The base tree a patched tree is compared with: a file that fails there
/// too is judged by its new errors only.  Needs its own build directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub tree: PathBuf,
    pub build_dir: PathBuf,
}

/// The outcome of a compile check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompileReport {
    pub tree: PathBuf,
    pub build_dir: PathBuf,
    pub arch: Arch,
    /// `None` when nothing needed compiling (every file skipped).
    pub config: Option<ConfigReport>,
    /// One entry per requested file, in request order.
    pub files: Vec<FileReport>,
    pub total_ms: u64,
}

impl CompileReport {
    /// The report of `file` (as given in the request, relative to the tree).
    pub fn file(&self, file: impl AsRef<Path>) -> Option<&FileReport> {
        self.files.iter().find(|f| f.file == file.as_ref())
    }

    /// No file failed (files not compile-tested do not count as failures;
    /// look at them separately).
    pub fn no_failures(&self) -> bool {
        !self
            .files
            .iter()
            .any(|f| matches!(f.result, FileResult::Failed { .. }))
    }
}

/// How the build directory was configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigReport {
    /// The Kconfig target, `allmodconfig`.
    pub target: String,
    /// The `KCONFIG_ALLCONFIG` fragment (from `templates/kconfig/`).
    pub fragment: String,
    /// Time of `make allmodconfig`; `None` when an existing config was reused.
    pub config_ms: Option<u64>,
    /// Time of `make prepare` (run every time; cheap when up to date).
    pub prepare_ms: u64,
}

/// The result for one requested file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    pub file: PathBuf,
    /// The `.c` file actually compiled when `file` is a header.
    pub compiled_as: Option<PathBuf>,
    /// The object built, relative to the build directory.
    pub object: Option<PathBuf>,
    pub result: FileResult,
    /// Wall time of its `make` (0 when not compiled, or compiled already for
    /// an earlier file of the request).
    pub duration_ms: u64,
}

/// Whether a file compiled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileResult {
    /// Compiled (freshly: the object is removed before each check).
    Ok,
    /// The compiler's error lines; with a baseline, only the new ones.
    Failed { errors: String },
    /// Fails, but with no error that the baseline tree does not have too.
    FailsAtBase { errors: String },
    /// Not compiled, so neither a pass nor a failure: another arch's file,
    /// headers missing from the tree, no Makefile rule, deleted file.
    NotCompileTested { reason: String },
}

/// Compiles `req.files` of `req.tree` into `req.build_dir`.
///
/// Errors are for the check as a whole (bad tree, foreign build dir,
/// `make allmodconfig` or `make prepare` failing without compiler errors);
/// a file that does not compile is a [`FileResult::Failed`], and so is
/// every file when `make prepare` fails on compiler errors.
pub fn compile_check(req: &CompileRequest) -> Result<CompileReport, VerifyError> {
    let start = Instant::now();
    kbuild::check_source_tree(&req.tree)?;
    let plans = targets_of_all(req)?;
    let (config, mut files) = compile_planned(req, &plans)?;
    if let Some(baseline) = &req.baseline {
        compare_with_baseline(req, baseline, &mut files)?;
    }
    Ok(CompileReport {
        tree: req.tree.clone(),
        build_dir: req.build_dir.clone(),
        arch: req.arch,
        config,
        files,
        total_ms: millis(start.elapsed()),
    })
}

/// The requested files (relative to the tree) with how to compile each.
fn targets_of_all(req: &CompileRequest) -> Result<Vec<(PathBuf, Target)>, VerifyError> {
    req.files
        .iter()
        .map(|file| {
            let rel = targets::relative_to_tree(&req.tree, file)
                .ok_or_else(|| VerifyError::BadPath(file.clone()))?;
            let host = req
                .header_hosts
                .get(&rel)
                .or_else(|| req.header_hosts.get(file));
            let plan = targets::target_of(&req.tree, &rel, req.arch, host.map(PathBuf::as_path));
            Ok((rel, plan))
        })
        .collect()
}

/// Configures and prepares the build directory (only if something is to be
/// compiled) and compiles each planned source once.
fn compile_planned(
    req: &CompileRequest,
    plans: &[(PathBuf, Target)],
) -> Result<(Option<ConfigReport>, Vec<FileReport>), VerifyError> {
    let needs_build = plans
        .iter()
        .any(|(_, p)| matches!(p, Target::Compile { .. }));
    if !needs_build {
        let files = plans
            .iter()
            .map(|(file, plan)| skipped(file, plan))
            .collect();
        return Ok((None, files));
    }
    let locked = kbuild::lock_build_dir(&req.build_dir)?;
    let make = Make {
        tree: &req.tree,
        build_dir: &locked.path,
        arch: req.arch,
        jobs: req.jobs,
    };
    let config_time = kbuild::ensure_configured(&make)?;
    let (prepare_time, prepared) = kbuild::prepare(&make)?;
    let config = ConfigReport {
        target: "allmodconfig".to_string(),
        fragment: format!("templates/kconfig/{ALLMOD_FRAGMENT_NAME}"),
        config_ms: config_time.map(millis),
        prepare_ms: millis(prepare_time),
    };
    // Several headers may share one host file: compile it once.
    let mut done: HashMap<PathBuf, FileResult> = HashMap::new();
    let mut files = Vec::with_capacity(plans.len());
    for (file, plan) in plans {
        let Target::Compile {
            source,
            make_args,
            object,
        } = plan
        else {
            files.push(skipped(file, plan));
            continue;
        };
        let (result, elapsed) = match (&prepared, done.get(source)) {
            (Err(errors), _) => (
                FileResult::Failed {
                    errors: format!("make prepare failed:\n{errors}"),
                },
                Duration::ZERO,
            ),
            (Ok(()), Some(result)) => (result.clone(), Duration::ZERO),
            (Ok(()), None) => {
                let (result, elapsed) = compile_one(&make, make_args, object)?;
                done.insert(source.clone(), result.clone());
                (result, elapsed)
            }
        };
        files.push(FileReport {
            file: file.clone(),
            compiled_as: (source != file).then(|| source.clone()),
            object: Some(object.clone()),
            result,
            duration_ms: millis(elapsed),
        });
    }
    Ok((Some(config), files))
}

fn skipped(file: &Path, plan: &Target) -> FileReport {
    let reason = match plan {
        Target::Skip { reason } => reason.clone(),
        Target::Compile { .. } => unreachable!("skipped() is only called for skipped plans"),
    };
    FileReport {
        file: file.to_path_buf(),
        compiled_as: None,
        object: None,
        result: FileResult::NotCompileTested { reason },
        duration_ms: 0,
    }
}

/// Builds one object from scratch and classifies the outcome.
fn compile_one(
    make: &Make,
    make_args: &[String],
    object: &Path,
) -> Result<(FileResult, Duration), VerifyError> {
    // An up-to-date object from an earlier run would make `make` do
    // nothing; removing it means every Ok is a compile we just watched.
    let object_path = make.build_dir.join(object);
    match fs::remove_file(&object_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(VerifyError::io(&object_path, e));
        }
        _ => {}
    }
    let out = make.run(make_args, &[])?;
    let result = classify(make.tree, &out.output, out.success, object_path.is_file());
    Ok((result, out.elapsed))
}

/// Turns one `make <object>` into a [`FileResult`].
fn classify(tree: &Path, output: &str, success: bool, object_built: bool) -> FileResult {
    if success && object_built {
        return FileResult::Ok;
    }
    if success {
        return FileResult::NotCompileTested {
            reason: "make succeeded but built no object".to_string(),
        };
    }
    if diagnostics::no_make_rule(output) {
        return FileResult::NotCompileTested {
            reason: "no Makefile rule builds it".to_string(),
        };
    }
    let missing = diagnostics::missing_includes(output);
    let absent: Vec<&String> = missing
        .iter()
        .filter(|name| !diagnostics::tree_has_file_ending_with(tree, name))
        .collect();
    // Only headers the tree lacks altogether excuse a failure: a header that
    // exists but is not found is the code's (or the patch's) fault.
    if !missing.is_empty() && absent.len() == missing.len() {
        let names: Vec<&str> = absent.iter().map(|s| s.as_str()).collect();
        return FileResult::NotCompileTested {
            reason: format!("missing headers: {}", names.join(", ")),
        };
    }
    let errors = error_lines(output);
    let errors = if errors.is_empty() {
        // No compiler error: keep make's own last words rather than nothing.
        kbuild::last_lines(output, 20)
    } else {
        errors.join("\n")
    };
    FileResult::Failed { errors }
}

/// Re-judges failures against the baseline tree: errors the base has too
/// do not count, and a "missing header" the base does not miss is a failure.
fn compare_with_baseline(
    req: &CompileRequest,
    baseline: &Baseline,
    files: &mut [FileReport],
) -> Result<(), VerifyError> {
    let suspects: Vec<PathBuf> = files
        .iter()
        .filter(|f| needs_baseline(&f.result))
        .map(|f| f.compiled_as.clone().unwrap_or_else(|| f.file.clone()))
        .collect();
    if suspects.is_empty() {
        return Ok(());
    }
    if same_dir(&baseline.build_dir, &req.build_dir) {
        return Err(VerifyError::BaselineSharesBuildDir(
            baseline.build_dir.clone(),
        ));
    }
    let base_req = CompileRequest {
        tree: baseline.tree.clone(),
        build_dir: baseline.build_dir.clone(),
        files: suspects,
        baseline: None,
        header_hosts: BTreeMap::new(),
        ..req.clone()
    };
    let base = compile_check(&base_req)?;
    for file in files.iter_mut().filter(|f| needs_baseline(&f.result)) {
        let compiled = file.compiled_as.as_ref().unwrap_or(&file.file);
        if let Some(base_file) = base.file(compiled) {
            file.result = against_base(&file.result, &req.tree, &base_file.result, &baseline.tree);
        }
    }
    Ok(())
}

fn needs_baseline(result: &FileResult) -> bool {
    match result {
        FileResult::Failed { .. } => true,
        FileResult::NotCompileTested { reason } => reason.starts_with("missing headers"),
        _ => false,
    }
}

fn against_base(
    after: &FileResult,
    tree: &Path,
    base: &FileResult,
    base_tree: &Path,
) -> FileResult {
    match (after, base) {
        (
            FileResult::Failed { errors },
            FileResult::Failed {
                errors: base_errors,
            },
        ) => {
            let after_lines: Vec<String> = errors.lines().map(str::to_string).collect();
            let base_lines: Vec<String> = base_errors.lines().map(str::to_string).collect();
            let new = diagnostics::new_errors(&after_lines, tree, &base_lines, base_tree);
            if new.is_empty() {
                FileResult::FailsAtBase {
                    errors: errors.clone(),
                }
            } else {
                FileResult::Failed {
                    errors: new.join("\n"),
                }
            }
        }
        // The base compiled it: whatever stops it now came with the patch.
        (FileResult::NotCompileTested { reason }, FileResult::Ok) => FileResult::Failed {
            errors: format!("{reason} (the base tree compiles this file)"),
        },
        _ => after.clone(),
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
