//! Compile checks of other architectures' files with Debian's cross
//! compilers (`gcc-arm-linux-gnueabihf`, `gcc-aarch64-linux-gnu`,
//! `gcc-powerpc64le-linux-gnu`, `gcc-mips-linux-gnu`).  Without the
//! compiler a file is "not compile-tested", never a pass.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::VerifyError;
use super::compile::FileResult;

/// One cross target: how to configure and compile for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CrossArch {
    /// The directory under `arch/`.
    pub src_arch: &'static str,
    /// `ARCH=`.
    pub make_arch: &'static str,
    /// `CROSS_COMPILE=`.
    pub prefix: &'static str,
    /// The Debian package that provides the compiler.
    pub package: &'static str,
    /// The defconfig the file is compiled under.
    pub defconfig: &'static str,
    /// Config lines appended to the defconfig (KVM, mostly, and switching
    /// off `-Werror` that gcc 12 trips at the 4.12 base).
    pub extra: &'static [&'static str],
    /// Extra make arguments (toolchain workarounds for gcc 12 on 4.12).
    pub make_args: &'static [&'static str],
}

/// The architectures kseries cross-compiles.
pub const CROSS_ARCHES: &[CrossArch] = &[
    CrossArch {
        src_arch: "arm",
        make_arch: "arm",
        prefix: "arm-linux-gnueabihf-",
        package: "gcc-arm-linux-gnueabihf",
        defconfig: "multi_v7_defconfig",
        extra: &[
            "CONFIG_ARM_LPAE=y",
            "CONFIG_VIRTUALIZATION=y",
            "CONFIG_KVM=y",
        ],
        // 4.12's cc-option probe for -march=armv7-a fails with gcc 12 and
        // falls back to `-march=armv5t -Wa,-march=armv7-a`, which gcc 12's
        // driver overrides: v7 instructions then do not assemble.
        make_args: &["KCFLAGS=-march=armv7-a"],
    },
    CrossArch {
        src_arch: "arm64",
        make_arch: "arm64",
        prefix: "aarch64-linux-gnu-",
        package: "gcc-aarch64-linux-gnu",
        defconfig: "defconfig",
        extra: &["CONFIG_VIRTUALIZATION=y", "CONFIG_KVM=y"],
        make_args: &[],
    },
    CrossArch {
        src_arch: "powerpc",
        make_arch: "powerpc",
        prefix: "powerpc64le-linux-gnu-",
        package: "gcc-powerpc64le-linux-gnu",
        defconfig: "powernv_defconfig",
        extra: &[
            "CONFIG_VIRTUALIZATION=y",
            "CONFIG_KVM_BOOK3S_64=y",
            "CONFIG_KVM_BOOK3S_64_HV=y",
            // arch/powerpc/kvm builds with -Werror, and gcc 12's
            // -Waddress fires in virt/kvm/kvm_main.c at the base.
            "CONFIG_PPC_DISABLE_WERROR=y",
        ],
        make_args: &[],
    },
    CrossArch {
        src_arch: "mips",
        make_arch: "mips",
        prefix: "mips-linux-gnu-",
        package: "gcc-mips-linux-gnu",
        defconfig: "malta_kvm_defconfig",
        extra: &["CONFIG_VIRTUALIZATION=y", "CONFIG_KVM=y"],
        make_args: &[],
    },
];

/// The cross target of a file under `arch/<x>/`, if it is one we know.
pub fn arch_of(file: &Path) -> Option<&'static CrossArch> {
    let mut parts = file.components();
    if parts.next()?.as_os_str() != "arch" {
        return None;
    }
    let arch = parts.next()?.as_os_str().to_str()?;
    CROSS_ARCHES.iter().find(|a| a.src_arch == arch)
}

/// Is the cross compiler of `arch` on PATH?
pub fn have_compiler(arch: &CrossArch) -> bool {
    Command::new(format!("{}gcc", arch.prefix))
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// How a touched file is compiled: the make target, its object.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CrossTarget {
    target: String,
    build_dir_arg: Option<String>,
    object: PathBuf,
}

/// A `.c` file is compiled itself.  The arch's `asm/kvm_host.h` is
/// compiled through `virt/kvm/kvm_main.c` as the arch's KVM Makefile
/// builds it (`build-dir=arch/<x>/kvm`); another header through the first
/// `.c` file of the arch (sorted) that includes it as `<asm/NAME>`.
fn cross_target(tree: &Path, arch: &CrossArch, file: &Path) -> Option<CrossTarget> {
    let name = file.to_str()?;
    if let Some(stem) = name.strip_suffix(".c")
        && let Some(dir) = arch_build_dir(tree, arch, file)
    {
        let up = "../".repeat(Path::new(&dir).components().count());
        return Some(CrossTarget {
            target: format!("{dir}/{up}{stem}.o"),
            build_dir_arg: Some(dir),
            object: PathBuf::from(format!("{stem}.o")),
        });
    }
    if let Some(stem) = name.strip_suffix(".c") {
        return Some(CrossTarget {
            target: format!("{stem}.o"),
            build_dir_arg: None,
            object: PathBuf::from(format!("{stem}.o")),
        });
    }
    let header = name.strip_prefix(&format!("arch/{}/include/asm/", arch.src_arch))?;
    if !header.ends_with(".h") {
        return None;
    }
    if header == "kvm_host.h"
        && tree
            .join(format!("arch/{}/kvm/Makefile", arch.src_arch))
            .is_file()
    {
        return Some(CrossTarget {
            target: format!("arch/{}/kvm/../../../virt/kvm/kvm_main.o", arch.src_arch),
            build_dir_arg: Some(format!("arch/{}/kvm", arch.src_arch)),
            object: PathBuf::from("virt/kvm/kvm_main.o"),
        });
    }
    let include = format!("<asm/{header}>");
    let mut sources = Vec::new();
    collect_c(&tree.join("arch").join(arch.src_arch), &mut sources);
    sources.sort();
    let host = sources
        .into_iter()
        .find(|p| fs::read_to_string(p).is_ok_and(|t| t.contains(&include)))?;
    let rel = host.strip_prefix(tree).ok()?.to_str()?.to_string();
    let stem = rel.strip_suffix(".c")?;
    Some(CrossTarget {
        target: format!("{stem}.o"),
        build_dir_arg: None,
        object: PathBuf::from(format!("{stem}.o")),
    })
}

/// A `.c` file in a directory with no Makefile of its own (`virt/kvm`)
/// is built by the architecture's Makefile that names its object through
/// a relative path: that Makefile's directory, if `arch` has one.
pub fn arch_build_dir(tree: &Path, arch: &CrossArch, file: &Path) -> Option<String> {
    let dir = file.parent()?;
    if dir.starts_with("arch")
        || tree.join(dir).join("Makefile").is_file()
        || tree.join(dir).join("Kbuild").is_file()
    {
        return None;
    }
    let object = file.with_extension("o");
    let object = object.file_name()?.to_str()?;
    let last = dir.file_name()?.to_str()?;
    let mut makefiles = Vec::new();
    collect_named(
        &tree.join("arch").join(arch.src_arch),
        "Makefile",
        &mut makefiles,
    );
    makefiles.sort();
    makefiles.into_iter().find_map(|m| {
        let text = fs::read_to_string(&m).ok()?;
        let names = text.contains(object) && text.contains(&format!("/{last}"));
        let rel = m.parent()?.strip_prefix(tree).ok()?.to_str()?.to_string();
        names.then_some(rel)
    })
}

fn collect_named(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => collect_named(&p, name, out),
            Ok(t) if t.is_file() && p.file_name().is_some_and(|n| n == name) => out.push(p),
            _ => {}
        }
    }
}

fn collect_c(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => collect_c(&p, out),
            Ok(t) if t.is_file() && p.extension().is_some_and(|x| x == "c") => out.push(p),
            _ => {}
        }
    }
}

/// One file of a cross compile check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossFile {
    pub arch: String,
    pub file: PathBuf,
    pub result: FileResult,
    pub duration_ms: u64,
}

fn make_cmd(tree: &Path, build: &Path, arch: &CrossArch, jobs: u32) -> Command {
    let mut cmd = Command::new("make");
    cmd.current_dir(tree)
        .arg(format!("O={}", build.display()))
        .arg(format!("ARCH={}", arch.make_arch))
        .arg(format!("CROSS_COMPILE={}", arch.prefix))
        .arg(
            "HOSTCFLAGS=-Wall -Wmissing-prototypes -Wstrict-prototypes -O2 \
             -fomit-frame-pointer -std=gnu89 -fcommon",
        )
        .arg(format!("-j{}", jobs.max(1)))
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .env_remove("MAKEFLAGS")
        .env_remove("KBUILD_OUTPUT")
        .env_remove("KCONFIG_CONFIG")
        .args(arch.make_args);
    cmd
}

fn run(mut cmd: Command) -> Result<(bool, String), VerifyError> {
    let command = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|source| VerifyError::Spawn { command, source })?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

/// Compiles `files` (under `arch/<arch.src_arch>/`, or built through it)
/// of `tree` for `arch` in `build` (configured once with the defconfig
/// and kept).
pub fn cross_check(
    tree: &Path,
    build: &Path,
    arch: &CrossArch,
    files: &[PathBuf],
    jobs: u32,
) -> Result<Vec<CrossFile>, VerifyError> {
    let all = |result: FileResult| -> Vec<CrossFile> {
        files
            .iter()
            .map(|f| CrossFile {
                arch: arch.src_arch.to_string(),
                file: f.clone(),
                result: result.clone(),
                duration_ms: 0,
            })
            .collect()
    };
    if !have_compiler(arch) {
        return Ok(all(not_tested(format!(
            "not compile-tested: no cross compiler ({}gcc; apt-get install {})",
            arch.prefix, arch.package
        ))));
    }
    if let Err(reason) = configure(tree, build, arch, jobs)? {
        return Ok(all(not_tested(reason)));
    }
    if let Err(result) = prepare(tree, build, arch, jobs)? {
        return Ok(all(result));
    }
    let mut results = Vec::new();
    for file in files {
        let start = Instant::now();
        let result = compile_one(tree, build, arch, file, jobs)?;
        results.push(CrossFile {
            arch: arch.src_arch.to_string(),
            file: file.clone(),
            result,
            duration_ms: start.elapsed().as_millis() as u64,
        });
    }
    Ok(results)
}

fn not_tested(reason: String) -> FileResult {
    FileResult::NotCompileTested { reason }
}

/// The arch's defconfig with its extra options in `build`, made once and
/// remembered by a stamp; `Err(reason)` when the defconfig fails.
fn configure(
    tree: &Path,
    build: &Path,
    arch: &CrossArch,
    jobs: u32,
) -> Result<Result<(), String>, VerifyError> {
    fs::create_dir_all(build).map_err(|e| VerifyError::io(build, e))?;
    let stamp = build.join(".kseries-cross");
    let want = format!(
        "{} {} {}",
        arch.defconfig,
        arch.extra.join(","),
        arch.make_args.join(" ")
    );
    if fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        return Ok(Ok(()));
    }
    let mut cmd = make_cmd(tree, build, arch, jobs);
    cmd.arg(arch.defconfig);
    let (ok, out) = run(cmd)?;
    if !ok {
        return Ok(Err(format!(
            "not compile-tested: {} failed: {}",
            arch.defconfig,
            super::kbuild::last_lines(&out, 5)
        )));
    }
    let config = build.join(".config");
    let mut text = fs::read_to_string(&config).map_err(|e| VerifyError::io(&config, e))?;
    for line in arch.extra {
        text.push_str(line);
        text.push('\n');
    }
    fs::write(&config, text).map_err(|e| VerifyError::io(&config, e))?;
    let mut cmd = make_cmd(tree, build, arch, jobs);
    cmd.arg("olddefconfig");
    run(cmd)?;
    fs::write(&stamp, &want).map_err(|e| VerifyError::io(&stamp, e))?;
    Ok(Ok(()))
}

/// `make prepare`; `Err(result)` for every file when it fails: its
/// compiler errors (the tree does not build), or not compile-tested when
/// it printed none.
fn prepare(
    tree: &Path,
    build: &Path,
    arch: &CrossArch,
    jobs: u32,
) -> Result<Result<(), FileResult>, VerifyError> {
    let mut cmd = make_cmd(tree, build, arch, jobs);
    cmd.arg("prepare");
    let (ok, out) = run(cmd)?;
    if ok {
        return Ok(Ok(()));
    }
    let errs = super::diagnostics::error_lines(&out);
    Ok(Err(if errs.is_empty() {
        not_tested(format!(
            "not compile-tested: make prepare failed: {}",
            super::kbuild::last_lines(&out, 5)
        ))
    } else {
        FileResult::Failed {
            errors: errs.join("\n"),
        }
    }))
}

/// Compiles one file through the object its plan names.
fn compile_one(
    tree: &Path,
    build: &Path,
    arch: &CrossArch,
    file: &Path,
    jobs: u32,
) -> Result<FileResult, VerifyError> {
    if !tree.join(file).is_file() {
        return Ok(not_tested("deleted".to_string()));
    }
    let Some(plan) = cross_target(tree, arch, file) else {
        return Ok(not_tested(
            "not compile-tested: no .c file of this arch found to compile it".to_string(),
        ));
    };
    let _ = fs::remove_file(build.join(&plan.object));
    let mut cmd = make_cmd(tree, build, arch, jobs);
    if let Some(dir) = &plan.build_dir_arg {
        cmd.arg(format!("build-dir={dir}"));
    }
    cmd.arg(&plan.target);
    let (ok, out) = run(cmd)?;
    Ok(if ok && build.join(&plan.object).is_file() {
        FileResult::Ok
    } else if out.contains("No rule to make target") {
        not_tested(format!(
            "not compile-tested: no Makefile rule for {} under {}",
            plan.target, arch.defconfig
        ))
    } else {
        let errs = super::diagnostics::error_lines(&out);
        FileResult::Failed {
            errors: if errs.is_empty() {
                super::kbuild::last_lines(&out, 20)
            } else {
                errs.join("\n")
            },
        }
    })
}

/// Judges failures by errors that are new compared with `base_tree` (the
/// range's base, built in its own `base_build`): a file that fails there
/// with the same errors (toolchain noise at the base) is `FailsAtBase`.
pub fn compare_with_base(
    results: &mut [CrossFile],
    tree: &Path,
    base_tree: &Path,
    base_build: &Path,
    arch: &CrossArch,
    jobs: u32,
) -> Result<(), VerifyError> {
    for r in results.iter_mut() {
        let FileResult::Failed { errors } = &r.result else {
            continue;
        };
        if !base_tree.join(&r.file).is_file() {
            continue;
        }
        let base = cross_check(
            base_tree,
            base_build,
            arch,
            std::slice::from_ref(&r.file),
            jobs,
        )?;
        let Some(FileResult::Failed { errors: before }) = base.first().map(|b| &b.result) else {
            continue;
        };
        let after: Vec<String> = errors.lines().map(str::to_string).collect();
        let before: Vec<String> = before.lines().map(str::to_string).collect();
        let new = super::diagnostics::new_errors(&after, tree, &before, base_tree);
        r.result = if new.is_empty() {
            FileResult::FailsAtBase {
                errors: errors.clone(),
            }
        } else {
            FileResult::Failed {
                errors: new.join("\n"),
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_routed_to_their_arch() {
        assert_eq!(
            arch_of(Path::new("arch/powerpc/platforms/powernv/npu-dma.c")).map(|a| a.defconfig),
            Some("powernv_defconfig")
        );
        assert_eq!(
            arch_of(Path::new("arch/arm64/include/asm/kvm_host.h")).map(|a| a.prefix),
            Some("aarch64-linux-gnu-")
        );
        assert!(arch_of(Path::new("arch/x86/kvm/x86.c")).is_none());
        assert!(arch_of(Path::new("mm/rmap.c")).is_none());
    }

    #[test]
    fn a_missing_compiler_is_never_a_pass() {
        let fake = CrossArch {
            src_arch: "arm",
            make_arch: "arm",
            prefix: "no-such-cross-prefix-",
            package: "gcc-none",
            defconfig: "defconfig",
            extra: &[],
            make_args: &[],
        };
        let r = cross_check(
            Path::new("/nonexistent"),
            Path::new("/nonexistent/build"),
            &fake,
            &[PathBuf::from("arch/arm/kvm/mmu.c")],
            1,
        )
        .unwrap();
        assert!(matches!(
            &r[0].result,
            FileResult::NotCompileTested { reason } if reason.contains("no cross compiler")
        ));
    }

    #[test]
    fn a_file_without_a_makefile_is_built_through_the_arch_that_names_it() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        fs::create_dir_all(t.join("arch/arm/kvm")).unwrap();
        fs::create_dir_all(t.join("arch/mips/kvm")).unwrap();
        fs::create_dir_all(t.join("virt/kvm")).unwrap();
        fs::create_dir_all(t.join("mm")).unwrap();
        fs::write(
            t.join("arch/arm/kvm/Makefile"),
            "KVM := ../../../virt/kvm\nobj-y += $(KVM)/kvm_main.o\n",
        )
        .unwrap();
        fs::write(t.join("arch/mips/kvm/Makefile"), "obj-y += mips.o\n").unwrap();
        fs::write(t.join("mm/Makefile"), "obj-y += rmap.o\n").unwrap();
        let arm = CROSS_ARCHES.iter().find(|a| a.src_arch == "arm").unwrap();
        let mips = CROSS_ARCHES.iter().find(|a| a.src_arch == "mips").unwrap();
        let f = Path::new("virt/kvm/kvm_main.c");
        assert_eq!(arch_build_dir(t, arm, f).as_deref(), Some("arch/arm/kvm"));
        assert_eq!(arch_build_dir(t, mips, f), None, "mips does not build it");
        assert_eq!(arch_build_dir(t, arm, Path::new("mm/rmap.c")), None);
        let plan = cross_target(t, arm, f).unwrap();
        assert_eq!(plan.target, "arch/arm/kvm/../../../virt/kvm/kvm_main.o");
        assert_eq!(plan.build_dir_arg.as_deref(), Some("arch/arm/kvm"));
        assert_eq!(plan.object, PathBuf::from("virt/kvm/kvm_main.o"));
    }
}
