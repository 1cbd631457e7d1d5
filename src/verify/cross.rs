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
    /// Options switched on after the defconfig (KVM, mostly).
    pub extra: &'static [&'static str],
}

/// The architectures kseries cross-compiles.
pub const CROSS_ARCHES: &[CrossArch] = &[
    CrossArch {
        src_arch: "arm",
        make_arch: "arm",
        prefix: "arm-linux-gnueabihf-",
        package: "gcc-arm-linux-gnueabihf",
        defconfig: "multi_v7_defconfig",
        extra: &["ARM_LPAE", "VIRTUALIZATION", "KVM"],
    },
    CrossArch {
        src_arch: "arm64",
        make_arch: "arm64",
        prefix: "aarch64-linux-gnu-",
        package: "gcc-aarch64-linux-gnu",
        defconfig: "defconfig",
        extra: &["VIRTUALIZATION", "KVM"],
    },
    CrossArch {
        src_arch: "powerpc",
        make_arch: "powerpc",
        prefix: "powerpc64le-linux-gnu-",
        package: "gcc-powerpc64le-linux-gnu",
        defconfig: "powernv_defconfig",
        extra: &["VIRTUALIZATION", "KVM_BOOK3S_64", "KVM_BOOK3S_64_HV"],
    },
    CrossArch {
        src_arch: "mips",
        make_arch: "mips",
        prefix: "mips-linux-gnu-",
        package: "gcc-mips-linux-gnu",
        defconfig: "malta_kvm_defconfig",
        extra: &["VIRTUALIZATION", "KVM"],
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
        .env_remove("KCONFIG_CONFIG");
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

/// Compiles `files` (all under `arch/<arch.src_arch>/`) of `tree` for
/// `arch` in `build` (configured once with the defconfig and kept).
pub fn cross_check(
    tree: &Path,
    build: &Path,
    arch: &CrossArch,
    files: &[PathBuf],
    jobs: u32,
) -> Result<Vec<CrossFile>, VerifyError> {
    let not_tested = |reason: String| -> Vec<CrossFile> {
        files
            .iter()
            .map(|f| CrossFile {
                arch: arch.src_arch.to_string(),
                file: f.clone(),
                result: FileResult::NotCompileTested {
                    reason: reason.clone(),
                },
                duration_ms: 0,
            })
            .collect()
    };
    if !have_compiler(arch) {
        return Ok(not_tested(format!(
            "not compile-tested: no cross compiler ({}gcc; apt-get install {})",
            arch.prefix, arch.package
        )));
    }
    fs::create_dir_all(build).map_err(|e| VerifyError::io(build, e))?;
    let stamp = build.join(".kseries-cross");
    let want = format!("{} {}", arch.defconfig, arch.extra.join(","));
    if fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
        let mut cmd = make_cmd(tree, build, arch, jobs);
        cmd.arg(arch.defconfig);
        let (ok, out) = run(cmd)?;
        if !ok {
            return Ok(not_tested(format!(
                "not compile-tested: {} failed: {}",
                arch.defconfig,
                super::kbuild::last_lines(&out, 5)
            )));
        }
        let config = build.join(".config");
        let mut text = fs::read_to_string(&config).map_err(|e| VerifyError::io(&config, e))?;
        for opt in arch.extra {
            text.push_str(&format!("CONFIG_{opt}=y\n"));
        }
        fs::write(&config, text).map_err(|e| VerifyError::io(&config, e))?;
        let mut cmd = make_cmd(tree, build, arch, jobs);
        cmd.arg("olddefconfig");
        run(cmd)?;
        fs::write(&stamp, &want).map_err(|e| VerifyError::io(&stamp, e))?;
    }
    let mut cmd = make_cmd(tree, build, arch, jobs);
    cmd.arg("prepare");
    let (ok, out) = run(cmd)?;
    if !ok {
        let errs = super::diagnostics::error_lines(&out);
        let reason = if errs.is_empty() {
            return Ok(not_tested(format!(
                "not compile-tested: make prepare failed: {}",
                super::kbuild::last_lines(&out, 5)
            )));
        } else {
            errs.join("\n")
        };
        return Ok(files
            .iter()
            .map(|f| CrossFile {
                arch: arch.src_arch.to_string(),
                file: f.clone(),
                result: FileResult::Failed {
                    errors: reason.clone(),
                },
                duration_ms: 0,
            })
            .collect());
    }
    let mut results = Vec::new();
    for file in files {
        let start = Instant::now();
        let name = file.to_string_lossy();
        let result = if !tree.join(file).is_file() {
            FileResult::NotCompileTested {
                reason: "deleted".to_string(),
            }
        } else if let Some(stem) = name.strip_suffix(".c") {
            let obj = format!("{stem}.o");
            let _ = fs::remove_file(build.join(&obj));
            let mut cmd = make_cmd(tree, build, arch, jobs);
            cmd.arg(&obj);
            let (ok, out) = run(cmd)?;
            if ok && build.join(&obj).is_file() {
                FileResult::Ok
            } else if out.contains("No rule to make target") {
                FileResult::NotCompileTested {
                    reason: format!(
                        "not compile-tested: no Makefile rule under {}",
                        arch.defconfig
                    ),
                }
            } else {
                let errs = super::diagnostics::error_lines(&out);
                FileResult::Failed {
                    errors: if errs.is_empty() {
                        super::kbuild::last_lines(&out, 20)
                    } else {
                        errs.join("\n")
                    },
                }
            }
        } else {
            FileResult::NotCompileTested {
                reason: "not compile-tested: only .c files are cross-compiled".to_string(),
            }
        };
        results.push(CrossFile {
            arch: arch.src_arch.to_string(),
            file: file.clone(),
            result,
            duration_ms: start.elapsed().as_millis() as u64,
        });
    }
    Ok(results)
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
}
