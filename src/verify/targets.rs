//! Which `make` target compiles a given file of the tree, or why none does.

use std::fs;
use std::path::{Component, Path, PathBuf};

use memchr::memmem;

use super::Arch;

/// How one requested file gets compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Compile `source` (the file itself, or the `.c` file chosen to
    /// include a header) with `make <make_args>`, producing `object`
    /// (relative to the build directory).
    Compile {
        source: PathBuf,
        make_args: Vec<String>,
        object: PathBuf,
    },
    /// The file cannot be compiled for this arch/config.
    Skip { reason: String },
}

/// The architecture a file belongs to, if it is arch-specific: `arch/<a>/...`
/// and KVM's per-arch directories under `virt/kvm/<a>/`.
pub(crate) fn file_arch(file: &Path) -> Option<String> {
    let parts: Vec<&str> = file.iter().filter_map(|c| c.to_str()).collect();
    match parts.as_slice() {
        ["arch", a, _, ..] => Some((*a).to_string()),
        ["virt", "kvm", a, _, ..] => Some((*a).to_string()),
        _ => None,
    }
}

/// `Some(reason)` when `file` belongs to another architecture than `arch`.
pub(crate) fn other_arch_reason(file: &Path, arch: Arch) -> Option<String> {
    let file_arch = file_arch(file)?;
    (file_arch != arch.src_arch()).then(|| {
        format!(
            "belongs to arch/{file_arch}, not compiled when checking {}",
            arch.make_arch()
        )
    })
}

/// `tools/` (userspace, its own build system: the top Makefile would run
/// that, in the source tree) and `scripts/` (host programs) are no kernel
/// objects: compiling them with kernel flags would prove nothing.
fn not_kernel_code_reason(file: &Path) -> Option<String> {
    let top = file.iter().next()?.to_str()?;
    matches!(top, "tools" | "scripts").then(|| {
        format!("{top}/ is userspace or host-tool code, not built by the kernel compile check")
    })
}

/// The make arguments and object path that compile the `.c`/`.S` file
/// `source` (relative to the tree).
pub(crate) fn object_target(source: &Path, arch: Arch) -> (Vec<String>, PathBuf) {
    let object = source.with_extension("o");
    // virt/kvm has no Makefile of its own: the arch's KVM Makefile builds
    // those objects by a relative path, so we ask that directory for it.
    if object.starts_with("virt/kvm") {
        let kvm_dir = format!("arch/{}/kvm", arch.src_arch());
        let target = format!("{kvm_dir}/../../../{}", object.display());
        return (vec![format!("build-dir={kvm_dir}"), target], object);
    }
    (vec![object.display().to_string()], object)
}

/// Decides how to compile `file`.  `chosen_host` is the caller's `.c`
/// file for a header, if any.
pub(crate) fn target_of(
    tree: &Path,
    file: &Path,
    arch: Arch,
    chosen_host: Option<&Path>,
) -> Target {
    if let Some(reason) = other_arch_reason(file, arch) {
        return Target::Skip { reason };
    }
    if let Some(reason) = not_kernel_code_reason(file) {
        return Target::Skip { reason };
    }
    if !tree.join(file).is_file() {
        return Target::Skip {
            reason: "file does not exist in the tree (deleted?)".to_string(),
        };
    }
    let source = match file.extension().and_then(|e| e.to_str()) {
        Some("c" | "S") => file.to_path_buf(),
        Some("h") => match chosen_host
            .map(Path::to_path_buf)
            .or_else(|| find_header_host(tree, file, arch))
        {
            Some(host) => host,
            None => {
                return Target::Skip {
                    reason: "header: no .c file found that includes it; choose one".to_string(),
                };
            }
        },
        _ => {
            return Target::Skip {
                reason: "not a C source or header".to_string(),
            };
        }
    };
    if let Some(reason) = other_arch_reason(&source, arch) {
        return Target::Skip {
            reason: format!("compiled through {}, which {reason}", source.display()),
        };
    }
    let (make_args, object) = object_target(&source, arch);
    Target::Compile {
        source,
        make_args,
        object,
    }
}

/// The spellings under which C files include `header`: `<linux/x.h>` for
/// a header under an include directory, `"x.h"` for a local one.
fn include_needles(header: &Path, arch: Arch) -> Vec<String> {
    let arch_include = PathBuf::from("arch").join(arch.src_arch()).join("include");
    let roots = [
        arch_include.join("uapi"),
        arch_include,
        PathBuf::from("include/uapi"),
        PathBuf::from("include"),
    ];
    let mut needles = Vec::new();
    if let Some(rest) = roots.iter().find_map(|r| header.strip_prefix(r).ok()) {
        needles.push(format!("<{}>", rest.display()));
    }
    if let Some(name) = header.file_name().and_then(|n| n.to_str()) {
        needles.push(format!("\"{name}\""));
    }
    needles
}

/// Picks a `.c` file that includes `header` directly, looking first next to
/// the header, then in the core directories (mm, kernel, fs, lib, virt) and
/// this arch's code (arch first for an arch header), then drivers, then
/// anywhere; the first match in sorted order wins, so the choice is
/// stable.  A quoted include only counts in the header's own directory.
pub(crate) fn find_header_host(tree: &Path, header: &Path, arch: Arch) -> Option<PathBuf> {
    let needles = include_needles(header, arch);
    let header_dir = header.parent().unwrap_or(Path::new(""));
    let (angle, quoted): (Vec<&String>, Vec<&String>) =
        needles.iter().partition(|n| n.starts_with('<'));
    if let Some(host) = first_includer(tree, header_dir, &quoted, arch, false) {
        return Some(host);
    }
    if angle.is_empty() {
        return None;
    }
    let arch_dir = PathBuf::from("arch").join(arch.src_arch());
    let core = ["mm", "kernel", "fs", "lib", "virt"].map(PathBuf::from);
    // An arch header is best checked by that arch's code; a generic one by
    // core code, which every config builds.
    let mut search_order: Vec<PathBuf> = if header.starts_with(&arch_dir) {
        std::iter::once(arch_dir).chain(core).collect()
    } else {
        core.into_iter().chain(std::iter::once(arch_dir)).collect()
    };
    search_order.extend(["drivers", ""].map(PathBuf::from));
    search_order
        .iter()
        .find_map(|dir| first_includer(tree, dir, &angle, arch, true))
}

/// The first `.c` file under `dir` (in sorted walk order) with an
/// `#include` of one of `needles`.
fn first_includer(
    tree: &Path,
    dir: &Path,
    needles: &[&String],
    arch: Arch,
    recursive: bool,
) -> Option<PathBuf> {
    if needles.is_empty() {
        return None;
    }
    let mut entries: Vec<PathBuf> = fs::read_dir(tree.join(dir))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .map(|name| dir.join(name))
        .collect();
    entries.sort();
    for rel in entries {
        let full = tree.join(&rel);
        if full.is_dir() {
            if recursive
                && is_searchable_dir(&rel, arch)
                && let Some(found) = first_includer(tree, &rel, needles, arch, true)
            {
                return Some(found);
            }
        } else if rel.extension().is_some_and(|e| e == "c") && includes_any(&full, needles) {
            return Some(rel);
        }
    }
    None
}

/// Directories whose `.c` files cannot serve as a host for this arch.
fn is_searchable_dir(rel: &Path, arch: Arch) -> bool {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let top_level_skip = rel.components().count() == 1
        && matches!(
            name,
            "tools" | "scripts" | "Documentation" | "samples" | "usr"
        );
    !name.starts_with('.') && !top_level_skip && other_arch_reason(&rel.join("x"), arch).is_none()
}

fn includes_any(file: &Path, needles: &[&String]) -> bool {
    let Ok(bytes) = fs::read(file) else {
        return false;
    };
    needles.iter().any(|needle| {
        memmem::find_iter(&bytes, needle.as_bytes()).any(|at| on_include_line(&bytes, at))
    })
}

/// Whether the byte at `at` is on a `#include` line.
fn on_include_line(bytes: &[u8], at: usize) -> bool {
    let start = bytes[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let line = String::from_utf8_lossy(&bytes[start..at]);
    let line = line.trim_start();
    line.starts_with('#') && line[1..].trim_start().starts_with("include")
}

/// Normalises a caller's path to one relative to the tree, or `None` if it
/// points outside of it.
pub(crate) fn relative_to_tree(tree: &Path, file: &Path) -> Option<PathBuf> {
    let rel = if file.is_absolute() {
        let tree = fs::canonicalize(tree).ok()?;
        let file = fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        file.strip_prefix(&tree).ok()?.to_path_buf()
    } else {
        file.to_path_buf()
    };
    let clean = rel
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    (clean && rel.components().any(|c| matches!(c, Component::Normal(_)))).then(|| {
        rel.components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_arch_files_are_recognised() {
        let x86 = Arch::X86_64;
        assert!(other_arch_reason(Path::new("arch/arm/include/asm/kvm_host.h"), x86).is_some());
        assert!(other_arch_reason(Path::new("virt/kvm/arm/mmu.c"), x86).is_some());
        assert!(other_arch_reason(Path::new("arch/x86/kvm/x86.c"), x86).is_none());
        assert!(other_arch_reason(Path::new("virt/kvm/kvm_main.c"), x86).is_none());
        assert!(other_arch_reason(Path::new("mm/rmap.c"), x86).is_none());
    }

    #[test]
    fn virt_kvm_objects_go_through_the_arch_kvm_directory() {
        let (args, object) = object_target(Path::new("virt/kvm/kvm_main.c"), Arch::X86_64);
        assert_eq!(
            args,
            [
                "build-dir=arch/x86/kvm",
                "arch/x86/kvm/../../../virt/kvm/kvm_main.o"
            ]
        );
        assert_eq!(object, Path::new("virt/kvm/kvm_main.o"));
        let (args, _) = object_target(Path::new("mm/rmap.c"), Arch::X86_64);
        assert_eq!(args, ["mm/rmap.o"]);
    }

    #[test]
    fn include_spellings_of_headers() {
        let x86 = Arch::X86_64;
        assert_eq!(
            include_needles(Path::new("include/linux/mmu_notifier.h"), x86),
            ["<linux/mmu_notifier.h>", "\"mmu_notifier.h\""]
        );
        assert_eq!(
            include_needles(Path::new("arch/x86/include/asm/kvm_host.h"), x86),
            ["<asm/kvm_host.h>", "\"kvm_host.h\""]
        );
        assert_eq!(
            include_needles(Path::new("mm/internal.h"), x86),
            ["\"internal.h\""]
        );
    }

    #[test]
    fn include_lines_are_told_from_other_mentions() {
        let text = b"#include <linux/a.h>\n/* see <linux/b.h> */\n#  include <linux/c.h>\n";
        let at = |s: &str| memmem::find(text, s.as_bytes()).unwrap();
        assert!(on_include_line(text, at("<linux/a.h>")));
        assert!(!on_include_line(text, at("<linux/b.h>")));
        assert!(on_include_line(text, at("<linux/c.h>")));
    }

    #[test]
    fn paths_are_made_relative_and_escapes_refused() {
        let tree = Path::new("/nonexistent-tree");
        assert_eq!(
            relative_to_tree(tree, Path::new("./mm/rmap.c")),
            Some("mm/rmap.c".into())
        );
        assert_eq!(relative_to_tree(tree, Path::new("../etc/passwd")), None);
        assert_eq!(relative_to_tree(tree, Path::new("")), None);
    }

    #[test]
    fn header_hosts_prefer_core_code_and_never_other_arches() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path();
        let write = |rel: &str, text: &str| {
            let path = tree.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write("include/linux/thing.h", "");
        write("arch/arm/kernel/a.c", "#include <linux/thing.h>\n");
        write("arch/x86/kernel/b.c", "#include <linux/thing.h>\n");
        write("mm/z.c", "#include <linux/thing.h>\n");
        write("mm/a.c", "/* <linux/thing.h> is not included here */\n");
        write("mm/local.h", "");
        write("mm/uses_local.c", "#include \"local.h\"\n");
        write("arch/x86/include/asm/thing.h", "");
        write("arch/x86/kernel/c.c", "#include <asm/thing.h>\n");
        write("kernel/c.c", "#include <asm/thing.h>\n");
        let x86 = Arch::X86_64;
        let host = |h: &str| find_header_host(tree, Path::new(h), x86);
        assert_eq!(host("include/linux/thing.h"), Some("mm/z.c".into()));
        assert_eq!(host("mm/local.h"), Some("mm/uses_local.c".into()));
        assert_eq!(
            host("arch/x86/include/asm/thing.h"),
            Some("arch/x86/kernel/c.c".into())
        );
        fs::remove_file(tree.join("mm/z.c")).unwrap();
        assert_eq!(
            host("include/linux/thing.h"),
            Some("arch/x86/kernel/b.c".into())
        );
        fs::remove_file(tree.join("arch/x86/kernel/b.c")).unwrap();
        assert_eq!(host("include/linux/thing.h"), None);
    }
}
