//! The MAINTAINERS parser: fixture tests on an invented MAINTAINERS file,
//! and parity with the real `scripts/get_maintainer.pl` on Linux 4.12.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kseries::series::maintainers::{Maintainers, MaintainersError, Recipients};

fn fixture_dir() -> PathBuf {
    common::project_root().join("tests/fixtures/maintainers")
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture_dir().join(name)).expect("fixture")
}

fn fixture() -> Maintainers {
    Maintainers::parse(&fixture_text("MAINTAINERS")).expect("fixture parses")
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn preamble_is_not_a_section() {
    let m = fixture();
    assert_eq!(m.section_count(), 8);
    // The preamble mentions "F: Files and directories..." indented: not an
    // entry, so no file is ever sent to it.
    assert_eq!(
        m.sections_for_file("drivers/x.c"),
        ["DRIVERS CORE", "THE REST"]
    );
}

#[test]
fn directory_pattern_covers_everything_below() {
    let r = fixture().for_files(&["mm/deep/down/rmap.c"]);
    assert_eq!(r.to, strings(&["Mia Memory <mia@example.org>"]));
    assert_eq!(
        r.cc,
        strings(&["mem@lists.example.org", "everything@lists.example.org"])
    );
}

#[test]
fn file_pattern_is_more_specific_than_its_directory() {
    let m = fixture();
    assert_eq!(
        m.sections_for_file("mm/notifier.c"),
        ["MEMORY NOTIFIER", "MEMORY THINGS", "THE REST"]
    );
    let r = m.for_files(&["mm/notifier.c"]);
    // Reviewers go in To with the maintainers.  Mia's address was already
    // taken (in another case, under another name) by the more specific
    // section, so get_maintainer prints it the way it first saw it; the
    // list is deduplicated case-insensitively too.
    assert_eq!(
        r.to,
        strings(&[
            "Nora Notifier <nora@example.org>",
            "Rex Reviewer <rex@example.org>",
            "\"M. Memory\" <MIA@Example.org>",
        ])
    );
    assert_eq!(
        r.cc,
        strings(&["MEM@lists.example.org", "everything@lists.example.org"])
    );
}

#[test]
fn glob_matches_within_one_directory_level() {
    let m = fixture();
    assert_eq!(
        m.sections_for_file("include/linux/memory.h"),
        ["MEMORY THINGS", "THE REST"]
    );
    // `*` becomes `.*`, but a pattern without a trailing slash needs the
    // file at the same depth.
    assert_eq!(
        m.sections_for_file("include/linux/mem/pool.h"),
        ["THE REST"]
    );
    assert_eq!(
        m.sections_for_file("tools/mem1.c"),
        ["MEMORY THINGS", "THE REST"]
    );
    assert_eq!(m.sections_for_file("tools/mem12.c"), ["THE REST"]);
}

#[test]
fn exclusion_beats_the_directory_pattern() {
    let m = fixture();
    assert_eq!(
        m.sections_for_file("drivers/legacy/old.c"),
        ["LEGACY DRIVERS", "THE REST"]
    );
    let r = m.for_files(&["drivers/legacy/old.c"]);
    assert_eq!(r.to, strings(&["\"Leg, Acy\" <legacy@example.org>"]));
    // The subscribers-only list is left out, as with get_maintainer's --no-s.
    assert_eq!(r.cc, strings(&["everything@lists.example.org"]));
}

#[test]
fn name_regex_matches_anywhere_in_the_path() {
    let m = fixture();
    // N: sections rank at depth 0: after any real path pattern.
    assert_eq!(
        m.sections_for_file("drivers/gpu_glue/core.c"),
        ["DRIVERS CORE", "GPU GLUE", "THE REST"]
    );
    assert_eq!(
        m.sections_for_file("lib/my_gpu_helper.c"),
        ["GPU GLUE", "THE REST"]
    );
}

#[test]
fn keyword_in_added_line_adds_its_section_last() {
    let r = fixture().for_patch(&fixture_text("keyword.patch"));
    assert_eq!(
        r.to,
        strings(&[
            "Dan Drivers <dan@example.org>",
            "Gina Gpu <gina@example.org>",
            "Tom Trace <tom@example.org>",
        ])
    );
    assert_eq!(
        r.cc,
        strings(&[
            "drivers@lists.example.org",
            "everything@lists.example.org",
            "trace@lists.example.org",
        ])
    );
}

#[test]
fn keyword_in_context_line_is_ignored_but_not_in_the_mail_header() {
    let m = fixture();
    let patch = fixture_text("notifier.patch");
    let r = m.for_patch(&patch);
    assert!(!r.to.iter().any(|a| a.contains("tom@")), "{r:?}");
    assert_eq!(r.to.len(), 3, "{r:?}");
    // Before the first file header every line counts (subject, body...).
    let with_subject = patch.replace("fix a comment", "fix trace_widget comment");
    let r = m.for_patch(&with_subject);
    assert_eq!(
        r.to.last().map(String::as_str),
        Some("Tom Trace <tom@example.org>")
    );
    assert_eq!(
        r.cc.last().map(String::as_str),
        Some("trace@lists.example.org")
    );
}

#[test]
fn patch_and_files_agree_and_the_chief_penguin_is_dropped() {
    let m = fixture();
    let by_patch = m.for_patch(&fixture_text("notifier.patch"));
    assert_eq!(by_patch, m.for_files(&["mm/notifier.c"]));
    let everyone: Vec<&str> = by_patch.all().collect();
    assert!(
        !everyone.iter().any(|a| a.contains("torvalds")),
        "{everyone:?}"
    );
    // THE REST still contributes its list.
    assert!(everyone.contains(&"everything@lists.example.org"));
}

#[test]
fn rename_patch_covers_both_names() {
    let r = fixture().for_patch(&fixture_text("rename.patch"));
    assert_eq!(
        r.to,
        strings(&[
            "\"Leg, Acy\" <legacy@example.org>",
            "Dan Drivers <dan@example.org>"
        ])
    );
    assert_eq!(
        r.cc,
        strings(&["everything@lists.example.org", "drivers@lists.example.org"])
    );
}

#[test]
fn person_line_names_a_bare_address_and_mailmap_applies() {
    let m = fixture();
    let r = m.for_files(&["fs/pat.c"]);
    assert_eq!(
        r.to,
        strings(&[
            "Pat Person <pat@example.org>",
            "Olaf Old <olaf@old.example.org>"
        ])
    );
    let m = m.with_mailmap(&fixture_text("mailmap"));
    let r = m.for_files(&["fs/pat.c"]);
    assert_eq!(
        r.to,
        strings(&[
            "Pat Person <pat@example.org>",
            "Olaf Newer <olaf@new.example.org>"
        ])
    );
}

#[test]
fn deduplication_across_files_and_sections() {
    let r = fixture().for_files(&["mm/notifier.c", "mm/rmap.c", "include/linux/notifier.h"]);
    let unique: BTreeSet<&String> = r.to.iter().chain(&r.cc).collect();
    assert_eq!(unique.len(), r.to.len() + r.cc.len(), "{r:?}");
    assert_eq!(r.to.len(), 3);
    assert_eq!(r.cc.len(), 2);
}

#[test]
fn load_knows_which_patterns_are_directories() {
    let dir = tempfile::tempdir().unwrap();
    let text = "FOO DRIVER\nM:\tFay Foo <fay@example.org>\nS:\tMaintained\nF:\tsrc/foo\n";
    std::fs::write(dir.path().join("MAINTAINERS"), text).unwrap();
    std::fs::create_dir_all(dir.path().join("src/foo")).unwrap();
    let loaded = Maintainers::load(dir.path()).unwrap();
    assert_eq!(loaded.sections_for_file("src/foo/a.c"), ["FOO DRIVER"]);
    assert_eq!(
        loaded.for_files(&["src/foo/a.c"]).to,
        strings(&["Fay Foo <fay@example.org>"])
    );
    // Without the tree, `src/foo` can only be a file.
    let parsed = Maintainers::parse(text).unwrap();
    assert!(parsed.for_files(&["src/foo/a.c"]).is_empty());
    assert_eq!(parsed.sections_for_file("src/foo"), ["FOO DRIVER"]);
}

#[test]
fn prose_is_not_a_maintainers_file() {
    let err = Maintainers::parse("just some\ntext\n").unwrap_err();
    assert!(matches!(err, MaintainersError::NoSections), "{err}");
    let err = Maintainers::load(Path::new("/nonexistent/kseries")).unwrap_err();
    assert!(matches!(err, MaintainersError::Io { .. }), "{err}");
}

#[test]
fn recipients_round_trip_through_json() {
    let r = fixture().for_files(&["mm/notifier.c"]);
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.starts_with("{\"to\":["), "{json}");
    assert_eq!(serde_json::from_str::<Recipients>(&json).unwrap(), r);
}

// ---------------------------------------------------------------------------
// Parity with scripts/get_maintainer.pl on the real Linux 4.12 tree.

/// Every file the invalidate_page migration touches.
const MIGRATION_FILES: [&str; 20] = [
    "mm/rmap.c",
    "fs/dax.c",
    "include/linux/mmu_notifier.h",
    "mm/mmu_notifier.c",
    "virt/kvm/kvm_main.c",
    "arch/x86/kvm/x86.c",
    "arch/arm/include/asm/kvm_host.h",
    "arch/arm64/include/asm/kvm_host.h",
    "arch/mips/include/asm/kvm_host.h",
    "arch/powerpc/include/asm/kvm_host.h",
    "arch/x86/include/asm/kvm_host.h",
    "arch/powerpc/platforms/powernv/npu-dma.c",
    "drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c",
    "drivers/infiniband/core/umem_odp.c",
    "drivers/infiniband/hw/hfi1/mmu_rb.c",
    "drivers/iommu/amd_iommu_v2.c",
    "drivers/iommu/intel-svm.c",
    "drivers/misc/mic/scif/scif_dma.c",
    "drivers/misc/sgi-gru/grutlbpurge.c",
    "drivers/xen/gntdev.c",
];

/// A comment line inserted after the first line of each file.  The one for
/// mm/rmap.c names pstore, a `K:` keyword of the PSTORE section.
fn comment_for(file: &str) -> &'static str {
    if file == "mm/rmap.c" {
        "/* kseries parity test: not about pstore */"
    } else {
        "/* kseries parity test */"
    }
}

fn insert_comment(clone: &Path, file: &str) {
    let path = clone.join(file);
    let text = std::fs::read_to_string(&path).expect("kernel source is UTF-8");
    let (first, rest) = text.split_once('\n').expect("more than one line");
    std::fs::write(&path, format!("{first}\n{}\n{rest}", comment_for(file))).unwrap();
}

/// Runs the oracle in `tree`.  HOME points to an empty directory so that no
/// personal `.get_maintainer.conf` changes the defaults.
fn get_maintainer_pl(tree: &Path, home: &Path, patch: &Path) -> Vec<String> {
    let out = Command::new("perl")
        .current_dir(tree)
        .env("HOME", home)
        .args([
            "scripts/get_maintainer.pl",
            "--no-git",
            "--no-git-fallback",
            "--no-rolestats",
        ])
        .arg(patch)
        .output()
        .expect("perl runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "get_maintainer.pl failed on {}: {stderr}",
        patch.display()
    );
    String::from_utf8(out.stdout)
        .expect("get_maintainer prints UTF-8 here")
        .lines()
        .map(str::to_string)
        .collect()
}

/// The patches to compare: one per file, several multi-file ones, renames.
fn make_patches(clone: &Path, out: &Path) -> Vec<(String, PathBuf)> {
    let git = |args: &[&str]| common::git(clone, args).expect("git");
    let mut patches = Vec::new();
    let mut save = |label: String, text: String| {
        assert!(
            text.contains("\n+++ ") || text.contains("rename from"),
            "{label}: {text}"
        );
        let path = out.join(format!("{:02}.patch", patches.len()));
        std::fs::write(&path, text).unwrap();
        patches.push((label, path));
    };
    for file in MIGRATION_FILES {
        insert_comment(clone, file);
        save(file.to_string(), git(&["diff", "--", file]));
    }
    // A multi-file diff across subsystems (mm, kvm on three arches, iommu, xen).
    let some = [0, 4, 6, 9, 11, 16, 19].map(|i| MIGRATION_FILES[i]);
    let mut args = vec!["diff", "--"];
    args.extend(some);
    save(format!("git diff of {} files", some.len()), git(&args));
    // The whole migration as one format-patch email; its subject hits the
    // `^Subject:.*(?i)trivial` keyword of TRIVIAL PATCHES.
    git(&[
        "commit",
        "-qam",
        "mm, kvm, drivers: Trivial comment updates",
    ]);
    save(
        "format-patch of all 20 files".into(),
        git(&["format-patch", "-1", "--stdout"]),
    );
    // Sections with R: reviewers, and a name seen twice: Russell King is
    // in ARM PORT and (another address) in the etnaviv section.
    let extra = [
        "arch/arm/include/asm/kvm_host.h",
        "drivers/gpu/drm/etnaviv/etnaviv_drv.c",
        "drivers/iommu/arm-smmu.c",
        "mm/zsmalloc.c",
    ];
    for file in extra {
        insert_comment(clone, file);
    }
    let mut args = vec!["diff", "--"];
    args.extend(extra);
    save("reviewers and a duplicate name".into(), git(&args));
    git(&["commit", "-qam", "more comments"]);
    // A rename with changes (both names count) and a pure rename (no
    // ---/+++ lines: get_maintainer 0.26 finds no file at all).
    let gru = "drivers/misc/sgi-gru/grutlbpurge.c";
    git(&["mv", gru, "drivers/misc/sgi-gru/grutlbflush.c"]);
    insert_comment(clone, "drivers/misc/sgi-gru/grutlbflush.c");
    git(&["commit", "-qam", "sgi-gru: rename grutlbpurge.c"]);
    save(
        "rename with changes".into(),
        git(&["format-patch", "-M", "-1", "--stdout"]),
    );
    git(&["mv", "fs/dax.c", "mm/dax.c"]);
    git(&["commit", "-qm", "dax: move to mm"]);
    save(
        "pure rename".into(),
        git(&["format-patch", "-M", "-1", "--stdout"]),
    );
    patches
}

fn text_of(patches: &[(String, PathBuf)], label: &str) -> String {
    let (_, path) = patches.iter().find(|(l, _)| l == label).expect(label);
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn parity_with_get_maintainer_pl_on_linux_4_12() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let (_guard, clone) = common::fresh_clone(&tree);
    let scratch = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let patches = make_patches(&clone, scratch.path());

    let t = Instant::now();
    let m = Maintainers::load(&clone).expect("MAINTAINERS of 4.12");
    let load_time = t.elapsed();
    assert!(
        m.skipped_patterns().is_empty(),
        "{:?}",
        m.skipped_patterns()
    );

    let (mut ours_time, mut perl_time, mut same_order) = (Duration::ZERO, Duration::ZERO, 0);
    let mut failures = Vec::new();
    for (label, path) in &patches {
        let text = std::fs::read_to_string(path).unwrap();
        let t = Instant::now();
        let ours = m.for_patch(&text);
        ours_time += t.elapsed();
        let t = Instant::now();
        let perl = get_maintainer_pl(&clone, home.path(), path);
        perl_time += t.elapsed();

        let ours_list: Vec<String> = ours.all().map(str::to_string).collect();
        let ours_set: BTreeSet<&String> = ours_list.iter().collect();
        let perl_set: BTreeSet<&String> = perl.iter().collect();
        if ours_set != perl_set {
            failures.push(format!("{label}:\n  ours: {ours_list:?}\n  perl: {perl:?}"));
        }
        if ours_list == perl {
            same_order += 1;
        } else {
            // Sections of equal depth come out in Perl hash order, which is
            // random: only the set is compared.
            eprintln!("order differs for {label}:\n  ours: {ours_list:?}\n  perl: {perl:?}");
        }
        // Lists never land in To: they have no `Name <...>` and no name.
        assert!(
            ours.cc.iter().all(|l| !l.contains('<')),
            "{label}: {ours:?}"
        );
        if label == "pure rename" {
            assert!(ours.is_empty(), "{ours:?}");
        } else {
            assert!(
                ours.cc
                    .contains(&"linux-kernel@vger.kernel.org".to_string()),
                "{label}"
            );
        }
    }
    eprintln!(
        "maintainers parity: {} patches; MAINTAINERS load {load_time:?}; for_patch total \
         {ours_time:?}; get_maintainer.pl total {perl_time:?}; identical order in {same_order}",
        patches.len()
    );
    assert!(
        failures.is_empty(),
        "differs from get_maintainer.pl:\n{}",
        failures.join("\n")
    );

    // The keyword cases really were exercised, on both sides.
    let rmap = m.for_patch(&text_of(&patches, "mm/rmap.c"));
    assert!(
        rmap.to.iter().any(|a| a.contains("keescook@chromium.org")),
        "{rmap:?}"
    );
    let all = m.for_patch(&text_of(&patches, "format-patch of all 20 files"));
    assert!(
        all.to.iter().any(|a| a.contains("trivial@kernel.org")),
        "{all:?}"
    );
    let extra = m.for_patch(&text_of(&patches, "reviewers and a duplicate name"));
    assert!(
        extra
            .to
            .contains(&"Robin Murphy <robin.murphy@arm.com>".to_string()),
        "{extra:?}"
    );
    assert!(
        extra
            .to
            .contains(&"Russell King <linux@armlinux.org.uk>".to_string())
    );
    assert!(
        !extra.to.iter().any(|a| a.contains("linux+etnaviv@")),
        "{extra:?}"
    );
    // ...and a plain comment in mm/rmap.c would only reach linux-mm and LKML.
    let no_keyword = text_of(&patches, "mm/rmap.c").replace("pstore", "p-store");
    let r = m.for_patch(&no_keyword);
    assert!(r.to.is_empty(), "{r:?}");
    assert_eq!(r.cc, ["linux-mm@kvack.org", "linux-kernel@vger.kernel.org"]);
}

/// Minimal diff touching `files`.
fn synthetic_patch(files: &[&str]) -> String {
    files
        .iter()
        .map(|f| format!("diff --git a/{f} b/{f}\n--- a/{f}\n+++ b/{f}\n@@ -1,1 +1,1 @@\n-a\n+b\n"))
        .collect()
}

/// The smallest directory get_maintainer.pl accepts as a kernel tree
/// (its `top_of_kernel_tree`), holding the fixture MAINTAINERS and mailmap.
fn fake_kernel_top(script: &Path, dir: &Path) {
    for f in ["COPYING", "CREDITS", "Kbuild", "Makefile", "README"] {
        std::fs::write(dir.join(f), "").unwrap();
    }
    for d in [
        "Documentation",
        "arch",
        "include",
        "drivers",
        "fs",
        "init",
        "ipc",
        "kernel",
        "lib",
    ] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::copy(script, dir.join("scripts/get_maintainer.pl")).unwrap();
    std::fs::copy(fixture_dir().join("MAINTAINERS"), dir.join("MAINTAINERS")).unwrap();
    std::fs::copy(fixture_dir().join("mailmap"), dir.join(".mailmap")).unwrap();
}

/// The fixture expectations above are not just our own reading of the
/// Perl: get_maintainer.pl itself (taken from the 4.12 tree) agrees, order
/// included, on the invented MAINTAINERS.
#[test]
fn fixture_agrees_with_get_maintainer_pl() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let top = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    fake_kernel_top(&tree.join("scripts/get_maintainer.pl"), top.path());
    let m = Maintainers::load(top.path()).unwrap();

    let files = [
        "mm/deep/down/rmap.c",
        "mm/notifier.c",
        "include/linux/notifier.h",
        "include/linux/memory.h",
        "include/linux/mem/pool.h",
        "tools/mem1.c",
        "tools/mem12.c",
        "drivers/legacy/old.c",
        "drivers/gpu_glue/core.c",
        "lib/my_gpu_helper.c",
        "fs/pat.c",
    ];
    let mut patches: Vec<(String, String)> = files
        .iter()
        .map(|f| (f.to_string(), synthetic_patch(&[f])))
        .collect();
    patches.push(("all files".into(), synthetic_patch(&files)));
    for name in ["notifier.patch", "keyword.patch", "rename.patch"] {
        patches.push((name.into(), fixture_text(name)));
    }
    let subject = fixture_text("notifier.patch").replace("fix a comment", "fix trace_widget");
    patches.push(("keyword in subject".into(), subject));

    for (i, (label, text)) in patches.iter().enumerate() {
        let path = top.path().join(format!("{i}.patch"));
        std::fs::write(&path, text).unwrap();
        let perl = get_maintainer_pl(top.path(), home.path(), &path);
        let ours: Vec<String> = m.for_patch(text).all().map(str::to_string).collect();
        assert_eq!(ours, perl, "{label}");
    }
}
