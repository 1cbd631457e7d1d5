//! Running the kernel's own `make`, out of tree, and keeping the build
//! directory consistent with the source tree and configuration it was
//! configured for.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Arch, VerifyError};

/// The config fragment passed as `KCONFIG_ALLCONFIG` to `allmodconfig`.
pub(crate) const ALLMOD_FRAGMENT: &str =
    include_str!("../../templates/kconfig/x86_64-allmod.config");
pub(crate) const ALLMOD_FRAGMENT_NAME: &str = "x86_64-allmod.config";

/// gcc 12 defaults to `-fno-common`, which breaks the link of 4.12's `dtc`
/// host tool; the rest is Kbuild's default HOSTCFLAGS.
const HOSTCFLAGS: &str =
    "-Wall -Wmissing-prototypes -Wstrict-prototypes -O2 -fomit-frame-pointer -std=gnu89 -fcommon";

/// Written into the build directory once it is configured: a build
/// directory is only reused for the same tree, arch and config.
const STAMP_FILE: &str = ".kseries-build.json";
/// Locked while a check runs; its presence also marks the directory as
/// kseries's own, which is what allows wiping it.
const LOCK_FILE: &str = ".kseries.lock";

/// What a build directory was configured for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    tree: PathBuf,
    arch: Arch,
    config_target: String,
    fragment_hash: String,
}

/// A build directory held under an exclusive lock, so that concurrent
/// compile checks (threads or processes) never interleave their `make`s.
pub(crate) struct LockedBuildDir {
    pub(crate) path: PathBuf,
    _lock: File,
}

/// Creates (if needed) and locks a build directory.  A non-empty directory
/// without our lock file belongs to someone else: refused, untouched.
pub(crate) fn lock_build_dir(path: &Path) -> Result<LockedBuildDir, VerifyError> {
    fs::create_dir_all(path).map_err(|e| VerifyError::io(path, e))?;
    let lock_path = path.join(LOCK_FILE);
    if !lock_path.is_file() && !is_empty_dir(path)? {
        return Err(VerifyError::ForeignBuildDir(path.to_path_buf()));
    }
    let lock = File::create(&lock_path).map_err(|e| VerifyError::io(&lock_path, e))?;
    lock.lock().map_err(|e| VerifyError::io(&lock_path, e))?;
    Ok(LockedBuildDir {
        path: path.to_path_buf(),
        _lock: lock,
    })
}

/// One `make` invocation on a source tree, building into `build_dir`.
pub(crate) struct Make<'a> {
    pub(crate) tree: &'a Path,
    pub(crate) build_dir: &'a Path,
    pub(crate) arch: Arch,
    pub(crate) jobs: u32,
}

/// The result of one `make`: success, merged stdout+stderr, wall time.
pub(crate) struct MakeOutput {
    pub(crate) success: bool,
    pub(crate) output: String,
    pub(crate) elapsed: Duration,
    pub(crate) command: String,
}

impl Make<'_> {
    pub(crate) fn run(
        &self,
        args: &[String],
        envs: &[(&str, &Path)],
    ) -> Result<MakeOutput, VerifyError> {
        let mut cmd = Command::new("make");
        cmd.current_dir(self.tree)
            .arg(format!("O={}", self.build_dir.display()))
            .arg(format!("ARCH={}", self.arch.make_arch()))
            .arg(format!("HOSTCFLAGS={HOSTCFLAGS}"))
            .arg(format!("-j{}", self.jobs.max(1)))
            .args(args)
            // The output is parsed: keep gcc's and make's messages in
            // English.  Kbuild unexports LC_ALL, so LANG and LC_MESSAGES
            // must say C too.
            .env("LC_ALL", "C")
            .env("LC_MESSAGES", "C")
            .env("LANG", "C")
            .env_remove("LANGUAGE")
            // The caller's environment must not redirect or cross-compile the build,
            // nor hand us a parent make's jobserver.
            .env_remove("KBUILD_OUTPUT")
            .env_remove("CROSS_COMPILE")
            .env_remove("KCONFIG_CONFIG")
            .env_remove("KCONFIG_ALLCONFIG")
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("MAKELEVEL");
        for (key, value) in envs {
            cmd.env(key, value);
        }
        let command = describe(&cmd);
        let start = Instant::now();
        let out = cmd.output().map_err(|source| VerifyError::Spawn {
            command: command.clone(),
            source,
        })?;
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok(MakeOutput {
            success: out.status.success(),
            output,
            elapsed: start.elapsed(),
            command,
        })
    }

    /// Runs `make` and turns a failure into [`VerifyError::Make`]: for the
    /// steps (config, prepare) without which nothing can be compiled.
    fn run_step(&self, args: &[String], envs: &[(&str, &Path)]) -> Result<Duration, VerifyError> {
        let out = self.run(args, envs)?;
        if out.success {
            Ok(out.elapsed)
        } else {
            Err(VerifyError::Make {
                command: out.command,
                tail: last_lines(&out.output, 40),
            })
        }
    }
}

fn describe(cmd: &Command) -> String {
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    format!("make {}", args.join(" "))
}

pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Makes sure `make.build_dir` holds an `allmodconfig` (with our fragment)
/// for this very tree and arch.  Returns the time spent configuring, or
/// `None` when the existing configuration was reused.
pub(crate) fn ensure_configured(make: &Make) -> Result<Option<Duration>, VerifyError> {
    let wanted = wanted_stamp(make)?;
    let build_dir = make.build_dir;
    if read_stamp(build_dir).as_ref() == Some(&wanted) && build_dir.join(".config").is_file() {
        return Ok(None);
    }
    wipe_build_dir(build_dir)?;
    let fragment = build_dir.join(ALLMOD_FRAGMENT_NAME);
    fs::write(&fragment, ALLMOD_FRAGMENT).map_err(|e| VerifyError::io(&fragment, e))?;
    let elapsed = make.run_step(
        &["allmodconfig".to_string()],
        &[("KCONFIG_ALLCONFIG", &fragment)],
    )?;
    // Written last: an interrupted configuration is redone next time.
    write_stamp(build_dir, &wanted)?;
    Ok(Some(elapsed))
}

/// `make prepare`: generated headers, host tools.  Run on every check
/// because it is cheap when nothing changed and catches Kconfig/header
/// changes in the source when something did.
///
/// `Ok(Err(errors))` when it failed on compiler errors (a patched header
/// that breaks asm-offsets.c, say): that is the code's failure, reported
/// per file.  A failure without compiler errors is the build's own
/// problem: `Err`.
pub(crate) fn prepare(make: &Make) -> Result<(Duration, Result<(), String>), VerifyError> {
    let out = make.run(&["prepare".to_string()], &[])?;
    if out.success {
        return Ok((out.elapsed, Ok(())));
    }
    let errors = super::diagnostics::error_lines(&out.output);
    if errors.is_empty() {
        return Err(VerifyError::Make {
            command: out.command,
            tail: last_lines(&out.output, 40),
        });
    }
    Ok((out.elapsed, Err(errors.join("\n"))))
}

fn wanted_stamp(make: &Make) -> Result<Stamp, VerifyError> {
    let tree = fs::canonicalize(make.tree).map_err(|e| VerifyError::io(make.tree, e))?;
    Ok(Stamp {
        tree,
        arch: make.arch,
        config_target: "allmodconfig".to_string(),
        fragment_hash: format!("{:016x}", fnv1a(ALLMOD_FRAGMENT.as_bytes())),
    })
}

fn read_stamp(build_dir: &Path) -> Option<Stamp> {
    let text = fs::read_to_string(build_dir.join(STAMP_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_stamp(build_dir: &Path, stamp: &Stamp) -> Result<(), VerifyError> {
    let path = build_dir.join(STAMP_FILE);
    let text = serde_json::to_string_pretty(stamp).expect("stamp serialises");
    fs::write(&path, text).map_err(|e| VerifyError::io(&path, e))
}

/// Empties a build directory configured for something else (or whose
/// configuration was interrupted), so that no object built from another
/// tree or config is ever reused.  Only called under the lock, which
/// [`lock_build_dir`] only takes on a directory that is ours.
fn wipe_build_dir(build_dir: &Path) -> Result<(), VerifyError> {
    // The stamp goes first: if we are interrupted, the directory must not
    // look configured.
    let stamp = build_dir.join(STAMP_FILE);
    match fs::remove_file(&stamp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(VerifyError::io(&stamp, e));
        }
        _ => {}
    }
    let entries = fs::read_dir(build_dir).map_err(|e| VerifyError::io(build_dir, e))?;
    for entry in entries.filter_map(Result::ok) {
        if entry.file_name() == LOCK_FILE {
            continue;
        }
        let path = entry.path();
        let removed = match entry.file_type() {
            Ok(kind) if kind.is_dir() => fs::remove_dir_all(&path),
            _ => fs::remove_file(&path),
        };
        removed.map_err(|e| VerifyError::io(&path, e))?;
    }
    Ok(())
}

fn is_empty_dir(path: &Path) -> Result<bool, VerifyError> {
    let mut entries = fs::read_dir(path).map_err(|e| VerifyError::io(path, e))?;
    Ok(entries.next().is_none())
}

/// FNV-1a, 64 bit: a stable hash (unlike std's) for cache keys.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Kbuild refuses `O=` builds of a tree that was configured in place.
pub(crate) fn check_source_tree(tree: &Path) -> Result<(), VerifyError> {
    if !tree.join("Makefile").is_file() || !tree.join("Kbuild").is_file() {
        return Err(VerifyError::NotAKernelTree(tree.to_path_buf()));
    }
    if tree.join(".config").exists() || tree.join("include/config").exists() {
        return Err(VerifyError::SourceTreeNotClean(tree.to_path_buf()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_build_dir_is_never_locked_nor_touched() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("precious"), "x").unwrap();
        assert!(matches!(
            lock_build_dir(dir.path()),
            Err(VerifyError::ForeignBuildDir(_))
        ));
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["precious"]);
    }

    #[test]
    fn an_interrupted_configuration_is_still_ours_to_redo() {
        let dir = tempfile::tempdir().unwrap();
        drop(lock_build_dir(dir.path()).unwrap());
        // Interrupted before the stamp was written.
        fs::write(dir.path().join(".config"), "half").unwrap();
        let locked = lock_build_dir(dir.path()).unwrap();
        wipe_build_dir(&locked.path).unwrap();
        assert!(!dir.path().join(".config").exists());
    }

    #[test]
    fn our_stale_build_dir_is_emptied_but_keeps_its_lock() {
        let dir = tempfile::tempdir().unwrap();
        let _locked = lock_build_dir(dir.path()).unwrap();
        fs::write(dir.path().join(STAMP_FILE), "{}").unwrap();
        fs::create_dir_all(dir.path().join("mm")).unwrap();
        fs::write(dir.path().join("mm/rmap.o"), "x").unwrap();
        wipe_build_dir(dir.path()).unwrap();
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [LOCK_FILE]);
    }

    #[test]
    fn stamps_tell_trees_apart() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let make = |tree| Make {
            tree,
            build_dir: Path::new("/unused"),
            arch: Arch::X86_64,
            jobs: 2,
        };
        let stamp_a = wanted_stamp(&make(a.path())).unwrap();
        assert_eq!(stamp_a, wanted_stamp(&make(a.path())).unwrap());
        assert_ne!(stamp_a, wanted_stamp(&make(b.path())).unwrap());
        write_stamp(a.path(), &stamp_a).unwrap();
        assert_eq!(read_stamp(a.path()), Some(stamp_a));
    }
}
