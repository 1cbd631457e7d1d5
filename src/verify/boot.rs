//! The boot test of one kernel tree: build a small x86_64 kernel with the
//! mm debugging options (one persistent build directory, so that the next
//! step only rebuilds what changed), build the auditor module against it,
//! pack the initramfs, boot it in QEMU under TCG and read the console.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::console::{ConsoleProblem, ConsoleVerdict, ProblemKind, parse_console};
use super::kbuild::{self, Make};
use super::{Arch, VerifyError};

/// The config fragment applied on top of `tinyconfig`.
pub const BOOT_FRAGMENT: &str = include_str!("../../templates/verify/x86_64-boot.config");
/// The auditor module's source and Kbuild file.
pub const AUDIT_C: &str = include_str!("../../templates/verify/kseries_audit.c");
pub const AUDIT_KBUILD: &str = include_str!("../../templates/verify/Kbuild");

const BOOT_STAMP: &str = ".kseries-boot.json";
const FRAGMENT_NAME: &str = "kseries-boot.config";

/// What a boot build directory was configured for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct BootStamp {
    tree: PathBuf,
    fragment_hash: String,
}

/// How to boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QemuOptions {
    /// `qemu-system-x86_64` unless told otherwise.
    pub qemu: PathBuf,
    pub memory_mb: u32,
    /// QEMU is killed after this long.
    pub timeout: Duration,
    /// `-cpu` model; `None` is QEMU's default (which has SVM under TCG).
    pub cpu: Option<String>,
    /// Added to the kernel command line.
    pub extra_append: String,
}

impl Default for QemuOptions {
    fn default() -> Self {
        QemuOptions {
            qemu: PathBuf::from("qemu-system-x86_64"),
            memory_mb: 512,
            timeout: Duration::from_secs(180),
            cpu: None,
            extra_append: String::new(),
        }
    }
}

/// The kernel command line of a boot test.  `numa=fake=2` gives the
/// workload a second node to `move_pages` to.
pub const KERNEL_APPEND: &str = "console=ttyS0 panic=-1 oops=panic numa=fake=2 loglevel=7";

/// The outcome of `make bzImage modules` in the boot build directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelBuild {
    pub build_dir: PathBuf,
    pub success: bool,
    /// Time spent configuring (`None`: the configuration was reused).
    pub config_ms: Option<u64>,
    pub build_ms: u64,
    /// The bzImage, when the build succeeded.
    pub bzimage: Option<PathBuf>,
    /// Compiler errors (or the last lines of the output when there are none).
    pub errors: String,
    /// Fragment options that did not survive `olddefconfig`.
    pub missing_options: Vec<String>,
    #[serde(skip)]
    pub log: String,
}

/// The auditor module built for one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditorBuild {
    pub success: bool,
    pub module: Option<PathBuf>,
    /// Built with `-DHAVE_INVALIDATE_PAGE` (the kernel still declares it).
    pub invalidate_page: bool,
    /// How its range callbacks were declared (the tree's header's shape).
    #[serde(default)]
    pub range_callbacks: RangeCallbackShape,
    pub build_ms: u64,
    pub errors: String,
    #[serde(skip)]
    pub log: String,
}

/// One boot of a kernel with the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootReport {
    pub passed: bool,
    pub timed_out: bool,
    /// QEMU's exit code: `1` is the workload's clean power-off
    /// (isa-debug-exit value 0), `3` the workload's own failure,
    /// `0` a panic (reboot with `-no-reboot`).
    pub exit_code: Option<i32>,
    pub boot_ms: u64,
    pub verdict: ConsoleVerdict,
    #[serde(skip)]
    pub console: String,
}

/// Returns `true` when the tree's notifier header (the recipe's
/// `include/linux/mmu_notifier.h`) still declares the member the
/// invalidate-page recipe removes (`->invalidate_page`).
pub fn tree_has_invalidate_page(tree: &Path) -> bool {
    let recipe = crate::recipe::invalidate_page::recipe();
    fs::read_to_string(tree.join(recipe.check.bracket_header))
        .map(|h| {
            let h = crate::check::api::strip_c_comments(&h);
            crate::check::api::member_declaration(&h, recipe.ops_member).is_some()
        })
        .unwrap_or(false)
}

/// How the tree's notifier header declares the range callbacks the
/// auditor implements: with `(mm, start, end)` or with the range
/// structure, returning `void` or `int`, with a `blockable` flag or not.
/// Read from each verify step's own checkout: a series that converts the
/// API changes it in the middle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeCallbackShape {
    /// The callbacks take `const struct TAG *range`.
    pub range_struct: bool,
    /// `invalidate_range_start` returns `int`.
    pub start_returns_int: bool,
    /// `invalidate_range_start` takes a `bool blockable` (old form).
    pub start_blockable: bool,
}

impl RangeCallbackShape {
    /// The auditor's `-D` flags for this shape.
    pub fn cflags(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.range_struct {
            out.push("-DHAVE_NOTIFIER_RANGE");
        }
        if self.start_returns_int {
            out.push("-DHAVE_INT_RANGE_START");
        }
        if self.start_blockable {
            out.push("-DHAVE_RANGE_START_BLOCKABLE");
        }
        out
    }
}

/// The shape of the range callbacks in `header` (the text of the tree's
/// notifier header), with the names of `rules` (the ops members and the
/// range structure's tag).  Members the header does not declare leave the
/// old shape.
pub fn range_callback_shape(header: &str, rules: &crate::recipe::CheckRules) -> RangeCallbackShape {
    use crate::check::api::{member_declaration, strip_c_comments};
    let header = strip_c_comments(header);
    let tag = format!("struct {}", rules.range.tag);
    let mut shape = RangeCallbackShape::default();
    for (i, member) in rules.range.callbacks.iter().enumerate() {
        let Some((ret, params)) = member_declaration(&header, member) else {
            continue;
        };
        let params = params.split_whitespace().collect::<Vec<_>>().join(" ");
        shape.range_struct |= params.contains(&tag);
        if i == 0 {
            shape.start_returns_int = ret.split_whitespace().any(|w| w == "int");
            shape.start_blockable = !params.contains(&tag) && params.contains("bool");
        }
    }
    shape
}

/// What the auditor is built with for `tree` (read from its header now:
/// each verify step calls this on its own checkout): whether it hooks
/// `->invalidate_page`, the shape of its range callbacks, and the `-D`
/// flags that say both.
pub fn auditor_cflags(tree: &Path) -> (bool, RangeCallbackShape, String) {
    let invalidate_page = tree_has_invalidate_page(tree);
    let range_callbacks = tree_range_callback_shape(tree);
    let mut flags = range_callbacks.cflags();
    if invalidate_page {
        flags.push("-DHAVE_INVALIDATE_PAGE");
    }
    (invalidate_page, range_callbacks, flags.join(" "))
}

/// The shape of the range callbacks declared by `tree`'s notifier header
/// (the default, old shape when it has none).
pub fn tree_range_callback_shape(tree: &Path) -> RangeCallbackShape {
    let rules = crate::recipe::invalidate_page::check_rules();
    fs::read_to_string(tree.join(rules.bracket_header))
        .map(|h| range_callback_shape(&h, &rules))
        .unwrap_or_default()
}

/// What a failed build says: the compiler's error lines, else the last
/// lines of its output.
fn build_errors(output: &str) -> String {
    let errs = super::diagnostics::error_lines(output);
    if errs.is_empty() {
        kbuild::last_lines(output, 30)
    } else {
        errs.join("\n")
    }
}

/// Configures (only when needed) and builds the boot kernel of `tree` in
/// `build_dir` (`bzImage` and `modules`).  The caller holds the lock of
/// `build_dir` (see [`lock_boot_dir`]).
pub fn build_kernel(tree: &Path, build_dir: &Path, jobs: u32) -> Result<KernelBuild, VerifyError> {
    kbuild::check_source_tree(tree)?;
    let make = Make {
        tree,
        build_dir,
        arch: Arch::X86_64,
        jobs,
    };
    let (config_ms, missing_options) = ensure_boot_config(&make)?;
    let out = make.run(&["bzImage".to_string(), "modules".to_string()], &[])?;
    let bzimage = build_dir.join("arch/x86/boot/bzImage");
    let errors = if out.success {
        String::new()
    } else {
        build_errors(&out.output)
    };
    Ok(KernelBuild {
        build_dir: build_dir.to_path_buf(),
        success: out.success && bzimage.is_file(),
        config_ms,
        build_ms: out.elapsed.as_millis() as u64,
        bzimage: (out.success && bzimage.is_file()).then_some(bzimage),
        errors,
        missing_options,
        log: out.output,
    })
}

/// A boot build directory held under its lock.
pub struct BootDirLock {
    _locked: kbuild::LockedBuildDir,
}

/// Locks a boot build directory (created if needed) until the guard is
/// dropped: concurrent tests and runs take turns.  Refuses a non-empty
/// directory that is not kseries's.
pub fn lock_boot_dir(build_dir: &Path) -> Result<BootDirLock, VerifyError> {
    Ok(BootDirLock {
        _locked: kbuild::lock_build_dir(build_dir)?,
    })
}

/// `tinyconfig` + our fragment + `olddefconfig`, unless the stamp says the
/// directory is already configured for this tree and fragment.  A build
/// directory of another tree is emptied first (objects would not match).
fn ensure_boot_config(make: &Make) -> Result<(Option<u64>, Vec<String>), VerifyError> {
    let build_dir = make.build_dir;
    let tree = fs::canonicalize(make.tree).map_err(|e| VerifyError::io(make.tree, e))?;
    let wanted = BootStamp {
        tree: tree.clone(),
        fragment_hash: format!("{:016x}", kbuild::fnv1a(BOOT_FRAGMENT.as_bytes())),
    };
    let stamp_path = build_dir.join(BOOT_STAMP);
    let old: Option<BootStamp> = fs::read_to_string(&stamp_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let config = build_dir.join(".config");
    if old.as_ref() == Some(&wanted) && config.is_file() {
        return Ok((None, Vec::new()));
    }
    let _ = fs::remove_file(&stamp_path);
    if old.as_ref().is_some_and(|o| o.tree != tree) {
        empty_dir(build_dir)?;
    }
    let start = Instant::now();
    run_ok(make, &["tinyconfig"])?;
    let mut text = fs::read_to_string(&config).map_err(|e| VerifyError::io(&config, e))?;
    text.push_str(BOOT_FRAGMENT);
    fs::write(&config, text).map_err(|e| VerifyError::io(&config, e))?;
    let frag = build_dir.join(FRAGMENT_NAME);
    fs::write(&frag, BOOT_FRAGMENT).map_err(|e| VerifyError::io(&frag, e))?;
    run_ok(make, &["olddefconfig"])?;
    let result = fs::read_to_string(&config).map_err(|e| VerifyError::io(&config, e))?;
    let missing = missing_options(BOOT_FRAGMENT, &result);
    let text = serde_json::to_string_pretty(&wanted).expect("stamp serialises");
    fs::write(&stamp_path, text).map_err(|e| VerifyError::io(&stamp_path, e))?;
    Ok((Some(start.elapsed().as_millis() as u64), missing))
}

/// The `CONFIG_X=y` lines of `fragment` that are not in `config`.
fn missing_options(fragment: &str, config: &str) -> Vec<String> {
    let have: std::collections::HashSet<&str> = config.lines().map(str::trim).collect();
    fragment
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("CONFIG_") && l.ends_with("=y"))
        .filter(|l| !have.contains(l))
        .map(str::to_string)
        .collect()
}

fn run_ok(make: &Make, args: &[&str]) -> Result<(), VerifyError> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = make.run(&args, &[])?;
    if out.success {
        Ok(())
    } else {
        Err(VerifyError::Make {
            command: out.command,
            tail: kbuild::last_lines(&out.output, 40),
        })
    }
}

/// Empties a build directory, keeping only its lock file.
fn empty_dir(dir: &Path) -> Result<(), VerifyError> {
    for entry in fs::read_dir(dir)
        .map_err(|e| VerifyError::io(dir, e))?
        .filter_map(Result::ok)
    {
        if entry.file_name() == ".kseries.lock" {
            continue;
        }
        let path = entry.path();
        let r = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        r.map_err(|e| VerifyError::io(&path, e))?;
    }
    Ok(())
}

/// Builds the auditor module against the built kernel in `build_dir`, in
/// `module_dir` (our sources are written there).  Its callbacks follow
/// what `tree`'s headers declare.
pub fn build_auditor(
    tree: &Path,
    build_dir: &Path,
    module_dir: &Path,
    jobs: u32,
) -> Result<AuditorBuild, VerifyError> {
    fs::create_dir_all(module_dir).map_err(|e| VerifyError::io(module_dir, e))?;
    for (name, text) in [("kseries_audit.c", AUDIT_C), ("Kbuild", AUDIT_KBUILD)] {
        let p = module_dir.join(name);
        // Rewritten only when different: make compares mtimes.
        if fs::read_to_string(&p).ok().as_deref() != Some(text) {
            fs::write(&p, text).map_err(|e| VerifyError::io(&p, e))?;
        }
    }
    let (invalidate_page, range_callbacks, flags) = auditor_cflags(tree);
    let ko = module_dir.join("kseries_audit.ko");
    let _ = fs::remove_file(&ko);
    let make = Make {
        tree,
        build_dir,
        arch: Arch::X86_64,
        jobs,
    };
    let out = make.run(
        &[
            format!("M={}", module_dir.display()),
            format!("KSERIES_AUDIT_CFLAGS={flags}"),
            "modules".to_string(),
        ],
        &[],
    )?;
    let success = out.success && ko.is_file();
    let errors = if success {
        String::new()
    } else {
        build_errors(&out.output)
    };
    Ok(AuditorBuild {
        success,
        module: success.then_some(ko),
        invalidate_page,
        range_callbacks,
        build_ms: out.elapsed.as_millis() as u64,
        errors,
        log: out.output,
    })
}

/// Boots `bzimage` with `initramfs` and reads the console until QEMU exits
/// or the timeout kills it.
pub fn boot(
    bzimage: &Path,
    initramfs: &Path,
    opts: &QemuOptions,
) -> Result<BootReport, VerifyError> {
    let (mut cmd, command) = qemu_command(bzimage, initramfs, opts);
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|source| VerifyError::Spawn {
        command: command.clone(),
        source,
    })?;
    // Read while QEMU runs, so that a full pipe never stops it.
    let stdout = drain(child.stdout.take().expect("piped"));
    let stderr = drain(child.stderr.take().expect("piped"));
    let status = wait_or_kill(&mut child, start, opts.timeout, command)?;
    let boot_ms = start.elapsed().as_millis() as u64;
    let console = console_text(stdout, stderr);
    let timed_out = status.is_none();
    let exit_code = status.and_then(|s| s.code());
    let mut verdict = parse_console(&console);
    verdict
        .problems
        .extend(exit_problem(timed_out, exit_code, opts.timeout));
    Ok(BootReport {
        passed: verdict.passed(),
        timed_out,
        exit_code,
        boot_ms,
        verdict,
        console,
    })
}

/// The QEMU command that boots `bzimage` with `initramfs`, its stdout and
/// stderr piped, and how errors show it (`qemu ... -kernel K -initrd I
/// -append '...'`).
fn qemu_command(bzimage: &Path, initramfs: &Path, opts: &QemuOptions) -> (Command, String) {
    let mut append = KERNEL_APPEND.to_string();
    if !opts.extra_append.is_empty() {
        append.push(' ');
        append.push_str(&opts.extra_append);
    }
    let mut cmd = Command::new(&opts.qemu);
    cmd.args(["-nographic", "-no-reboot", "-m"])
        .arg(opts.memory_mb.to_string())
        .args(["-accel", "tcg", "-icount", "shift=auto", "-nic", "none"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    if let Some(cpu) = &opts.cpu {
        cmd.args(["-cpu", cpu]);
    }
    cmd.arg("-kernel")
        .arg(bzimage)
        .arg("-initrd")
        .arg(initramfs)
        .arg("-append")
        .arg(&append)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let command = format!(
        "{} ... -kernel {} -initrd {} -append '{append}'",
        opts.qemu.display(),
        bzimage.display(),
        initramfs.display()
    );
    (cmd, command)
}

/// Reads `pipe` to its end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// Waits for QEMU, started at `start`, to exit; kills it once `timeout`
/// has passed.  `None` when it was killed at the timeout.
fn wait_or_kill(
    child: &mut Child,
    start: Instant,
    timeout: Duration,
    command: String,
) -> Result<Option<ExitStatus>, VerifyError> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                let _ = child.kill();
                return Err(VerifyError::Spawn { command, source: e });
            }
        }
    }
}

/// The console as read, then what QEMU wrote to stderr (if anything)
/// under a `[qemu stderr]` line.
fn console_text(stdout: JoinHandle<Vec<u8>>, stderr: JoinHandle<Vec<u8>>) -> String {
    let mut console = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned();
    let qemu_err = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    if !qemu_err.trim().is_empty() {
        console.push_str("\n[qemu stderr]\n");
        console.push_str(&qemu_err);
    }
    console
}

/// What the way QEMU ended says is wrong: killed at the timeout, or an
/// exit other than the workload's clean power-off (1: isa-debug-exit
/// value 0).
fn exit_problem(
    timed_out: bool,
    exit_code: Option<i32>,
    timeout: Duration,
) -> Option<ConsoleProblem> {
    if timed_out {
        return Some(ConsoleProblem {
            kind: ProblemKind::Timeout,
            line: 0,
            text: format!("QEMU killed after {} s", timeout.as_secs()),
        });
    }
    let why = match exit_code {
        Some(1) => return None,
        Some(0) => "QEMU exited 0: the guest rebooted (a panic, with panic=-1)".to_string(),
        Some(3) => "the workload powered off with its failure code".to_string(),
        Some(c) => format!("QEMU exited {c}"),
        None => "QEMU was killed by a signal".to_string(),
    };
    Some(ConsoleProblem {
        kind: ProblemKind::BadExit,
        line: 0,
        text: why,
    })
}

/// Everything of one boot test of one tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootTest {
    pub kernel: KernelBuild,
    pub auditor: Option<AuditorBuild>,
    pub boot: Option<BootReport>,
}

impl BootTest {
    pub fn passed(&self) -> bool {
        self.kernel.success
            && self.auditor.as_ref().is_some_and(|a| a.success)
            && self.boot.as_ref().is_some_and(|b| b.passed)
    }

    /// What failed first, in a line.
    pub fn failure(&self) -> Option<String> {
        if !self.kernel.success {
            return Some(format!(
                "kernel build failed: {}",
                first_line(&self.kernel.errors)
            ));
        }
        match &self.auditor {
            Some(a) if !a.success => {
                return Some(format!("auditor build failed: {}", first_line(&a.errors)));
            }
            None => return Some("auditor not built".to_string()),
            _ => {}
        }
        match &self.boot {
            Some(b) if !b.passed => Some(format!("boot: {}", b.verdict.summary())),
            None => Some("not booted".to_string()),
            _ => None,
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// Builds and boot-tests `tree` with the kernel in `build_dir` (the caller
/// holds its lock) and scratch files (auditor, initramfs) in `scratch`.
pub fn boot_test(
    tree: &Path,
    build_dir: &Path,
    scratch: &Path,
    jobs: u32,
    qemu: &QemuOptions,
) -> Result<BootTest, VerifyError> {
    let kernel = build_kernel(tree, build_dir, jobs)?;
    if !kernel.success {
        return Ok(BootTest {
            kernel,
            auditor: None,
            boot: None,
        });
    }
    let auditor = build_auditor(tree, build_dir, &scratch.join("audit"), jobs)?;
    let Some(module) = auditor.module.clone() else {
        return Ok(BootTest {
            kernel,
            auditor: Some(auditor),
            boot: None,
        });
    };
    let init = super::initramfs::build_workload(&scratch.join("workload"))?;
    let init_bytes = fs::read(&init).map_err(|e| VerifyError::io(&init, e))?;
    let module_bytes = fs::read(&module).map_err(|e| VerifyError::io(&module, e))?;
    let initramfs = scratch.join("initramfs.cpio.gz");
    super::initramfs::write_initramfs(&init_bytes, &module_bytes, &initramfs)?;
    let bzimage = kernel
        .bzimage
        .clone()
        .expect("successful build has a bzImage");
    let boot = boot(&bzimage, &initramfs, qemu)?;
    Ok(BootTest {
        kernel,
        auditor: Some(auditor),
        boot: Some(boot),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD_HEADER: &str = include_str!("../../tests/fixtures/audit/old/mmu_notifier.h");
    const RANGE_HEADER: &str = include_str!("../../tests/fixtures/audit/range/mmu_notifier.h");

    fn shape(header: &str) -> RangeCallbackShape {
        range_callback_shape(header, &crate::recipe::invalidate_page::check_rules())
    }

    #[test]
    fn the_old_header_keeps_the_old_callbacks() {
        assert_eq!(shape(OLD_HEADER), RangeCallbackShape::default());
        assert!(shape(OLD_HEADER).cflags().is_empty());
    }

    #[test]
    fn a_header_whose_callbacks_take_the_range_structure_is_seen() {
        let s = shape(RANGE_HEADER);
        assert!(s.range_struct);
        assert!(!s.start_returns_int && !s.start_blockable);
        assert_eq!(s.cflags(), ["-DHAVE_NOTIFIER_RANGE"]);
    }

    #[test]
    fn an_int_start_with_a_blockable_flag_is_seen() {
        // The 4.19 shape: a start that can fail, told whether it may block.
        let h = "struct mmu_notifier_ops {\n\
                 \tint (*invalidate_range_start)(struct mmu_notifier *mn,\n\
                 \t\tstruct mm_struct *mm, unsigned long start,\n\
                 \t\tunsigned long end, bool blockable);\n\
                 \tvoid (*invalidate_range_end)(struct mmu_notifier *mn,\n\
                 \t\tstruct mm_struct *mm, unsigned long start, unsigned long end);\n\
                 };\n";
        let s = shape(h);
        assert_eq!(
            s,
            RangeCallbackShape {
                range_struct: false,
                start_returns_int: true,
                start_blockable: true,
            }
        );
        // And the 5.x shape: int start taking the structure.
        let h = h.replace(
            "struct mm_struct *mm, unsigned long start,\n\t\tunsigned long end, bool blockable",
            "const struct mmu_notifier_range *range",
        );
        let s = shape(&h);
        assert!(s.range_struct && s.start_returns_int && !s.start_blockable);
    }

    #[test]
    fn a_comment_naming_the_member_is_not_its_declaration() {
        let h = "/* (*invalidate_range_start)(struct mmu_notifier_range *r) */\n\
                 struct mmu_notifier_ops {\n\
                 \tvoid (*invalidate_range_start)(struct mmu_notifier *mn,\n\
                 \t\tstruct mm_struct *mm, unsigned long start, unsigned long end);\n\
                 };\n";
        assert!(!shape(h).range_struct);
    }

    #[test]
    fn the_flags_follow_the_tree_as_it_changes() {
        // One checkout, as a verify step updates it: its header is read
        // again each time.
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            tree_range_callback_shape(dir.path()),
            RangeCallbackShape::default()
        );
        assert!(!tree_has_invalidate_page(dir.path()));
        let inc = dir.path().join("include/linux");
        fs::create_dir_all(&inc).unwrap();
        fs::write(inc.join("mmu_notifier.h"), OLD_HEADER).unwrap();
        let (page, shape, flags) = auditor_cflags(dir.path());
        assert!(page && !shape.range_struct);
        assert_eq!(flags, "-DHAVE_INVALIDATE_PAGE");
        fs::write(inc.join("mmu_notifier.h"), RANGE_HEADER).unwrap();
        let (page, shape, flags) = auditor_cflags(dir.path());
        assert!(!page && shape.range_struct);
        assert_eq!(flags, "-DHAVE_NOTIFIER_RANGE");
    }

    #[test]
    fn missing_options_are_the_fragment_lines_not_in_the_config() {
        let frag = "# c\nCONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n";
        let cfg = "CONFIG_A=y\n# CONFIG_B is not set\n";
        assert_eq!(missing_options(frag, cfg), ["CONFIG_B=y"]);
    }

    #[test]
    fn the_fragment_asks_for_the_mm_debugging_options() {
        for opt in [
            "CONFIG_KVM=y",
            "CONFIG_KVM_AMD=y",
            "CONFIG_TRANSPARENT_HUGEPAGE=y",
            "CONFIG_KSM=y",
            "CONFIG_MIGRATION=y",
            "CONFIG_COMPACTION=y",
            "CONFIG_DEBUG_ATOMIC_SLEEP=y",
            "CONFIG_PROVE_LOCKING=y",
            "CONFIG_DEBUG_VM=y",
            "CONFIG_MODULES=y",
            "CONFIG_MODULE_UNLOAD=y",
        ] {
            assert!(BOOT_FRAGMENT.lines().any(|l| l == opt), "{opt}");
        }
    }

    #[test]
    fn only_the_workloads_clean_power_off_is_a_good_exit() {
        let t = Duration::from_secs(150);
        assert_eq!(exit_problem(false, Some(1), t), None);
        let kind_and_text =
            |timed_out, code| exit_problem(timed_out, code, t).map(|p| (p.kind, p.text));
        assert_eq!(
            kind_and_text(true, None),
            Some((ProblemKind::Timeout, "QEMU killed after 150 s".to_string()))
        );
        for (code, text) in [
            (Some(0), "the guest rebooted"),
            (Some(3), "failure code"),
            (Some(2), "QEMU exited 2"),
            (None, "killed by a signal"),
        ] {
            let (kind, why) = kind_and_text(false, code).expect("a bad exit");
            assert_eq!(kind, ProblemKind::BadExit);
            assert!(why.contains(text), "{code:?}: {why}");
        }
    }
}
