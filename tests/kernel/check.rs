//! `kseries check`: the bug and clean fixtures under corpus/check/, the
//! output formats, exit codes, and the pristine 4.12 tree.
//!
//! Expected findings are written from reading the fixtures and the kernel
//! code (see the comments), not copied from the tool's output.

use crate::common;

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

struct Run {
    code: i32,
    stdout: String,
}

fn run(args: &[&str], path: &Path) -> Run {
    let out = Command::cargo_bin("kseries")
        .unwrap()
        .arg("check")
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
    }
}

fn json(path: &Path) -> (i32, Value) {
    let r = run(&["--format", "json"], path);
    let v = serde_json::from_str(&r.stdout).expect("check --format json prints JSON");
    (r.code, v)
}

/// `file:line code severity` for every diagnostic, sorted.
fn findings(report: &Value) -> Vec<String> {
    let mut v: Vec<String> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}:{} {} {}",
                d["file"].as_str().unwrap(),
                d["line"],
                d["code"].as_str().unwrap(),
                d["severity"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn fixtures(which: &str) -> std::path::PathBuf {
    common::corpus().join("check").join(which)
}

#[test]
fn every_historical_bug_is_flagged_at_its_line() {
    let (code, report) = json(&fixtures("bugs"));
    assert_eq!(code, 1, "errors make check exit 1");
    let expected = sorted(&[
        // 1UL << compound_order(page) added to `address` (line 14), and
        // HPAGE_PMD_NR as the end of the start and end calls (25, 27).
        "page_count_len.c:14 E4 error",
        "page_count_len.c:25 E4 error",
        "page_count_len.c:27 E4 error",
        // `addr += HPAGE_PMD_NR` steps a THP walk by 512 bytes.
        "page_count_len.c:35 E4 error",
        // ptep_clear_flush() then invalidate_range() with no bracket, in a
        // static function only called through rwc.rmap_one.
        "range_only.c:21 E3 error",
        // The lookup helper that opens a bracket for its caller: only its
        // `if (!ptep) goto out;` path after the start leaks; its success
        // returns, its wrapper and the callers' ends (in this file and in
        // another) pair up.  One caller in the other file forgets the
        // end on its busy path.
        "helper_leak.c:47 E2 error",
        "helper_leak_caller.c:35 E2 error",
        // The compound page's range from the walk's address, clamped to
        // the vma with min() / min_t(): start, atomic call and end.
        "unaligned_clamp.c:17 E5 error",
        "unaligned_clamp.c:19 E5 error",
        "unaligned_clamp.c:22 E5 error",
        // The accessed-bit test inside the bracket, of the vma's mm
        // directly and through a local.
        "young_in_bracket.c:17 W2 warning",
        "young_in_bracket.c:35 W2 warning",
        // .invalidate_range -> frob_flush -> mutex_lock; .change_pte ->
        // kmalloc(GFP_KERNEL).
        "sleeping_cb.c:53 W1 warning",
        "sleeping_cb.c:54 W1 warning",
        // start = address (an unproven parameter) for an HPAGE_PMD_SIZE
        // range, at the start and end calls; pws->address for a compound
        // page range, likewise.
        "unaligned_huge.c:16 E5 error",
        "unaligned_huge.c:18 E5 error",
        "unaligned_huge.c:26 E5 error",
        "unaligned_huge.c:29 E5 error",
        // haddr was masked, then stepped by PAGE_SIZE on one path.
        "unaligned_huge.c:40 E5 error",
        "unaligned_huge.c:42 E5 error",
        // goto out past the end (17), early return (28), break out of the
        // walk (43), an end with no start (52), an end with another range
        // (59) which leaves the start of line 57 open.
        "unpaired.c:17 E2 error",
        "unpaired.c:28 E2 error",
        "unpaired.c:43 E2 error",
        "unpaired.c:52 E2 error",
        "unpaired.c:57 E2 error",
        "unpaired.c:59 E2 error",
    ]);
    assert_eq!(findings(&report), expected);
    assert_eq!(report["summary"]["errors"], 22);
    assert_eq!(report["summary"]["warnings"], 4);
}

#[test]
fn messages_say_why() {
    let (_, report) = json(&fixtures("bugs"));
    let msg = |file: &str, line: u64| -> String {
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["file"] == file && d["line"] == line)
            .unwrap_or_else(|| panic!("no diagnostic at {file}:{line}"))["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let w1 = msg("sleeping_cb.c", 53);
    assert!(
        w1.contains("frob_invalidate_range -> frob_flush -> mutex_lock at line 22"),
        "{w1}"
    );
    assert!(msg("sleeping_cb.c", 54).contains("kmalloc(GFP_KERNEL) at line 46"));
    assert!(msg("unpaired.c", 17).contains("goto out"));
    assert!(msg("unpaired.c", 17).contains("at line 14"));
    assert!(msg("unpaired.c", 43).contains("break"));
    assert!(msg("range_only.c", 21).contains("ptep_clear_flush()"));
    assert!(msg("page_count_len.c", 14).contains("1UL << compound_order(page)"));
    assert!(msg("unaligned_huge.c", 40).contains("haddr += PAGE_SIZE` at line 39"));
    assert!(msg("unaligned_clamp.c", 17).contains("`start = address` at line 14"));
    let leak = msg("helper_leak.c", 47);
    assert!(
        leak.contains("goto out` at line 47") && leak.contains("at line 43"),
        "{leak}"
    );
    assert!(
        msg("helper_leak_caller.c", 35)
            .contains("returns with `mmu_notifier_invalidate_range_start(mm, *start, *end)` open")
    );
    assert!(msg("young_in_bracket.c", 17).contains("at line 15"));
}

#[test]
fn correct_code_passes_clean() {
    let (code, report) = json(&fixtures("clean"));
    // The only finding: a non-static TLB-flush helper whose bracket may
    // sit in a caller in another file, which is a note.
    assert_eq!(
        findings(&report),
        sorted(&["range_in_bracket.c:35 E3 note"])
    );
    assert_eq!(code, 0, "notes alone exit 0");
}

/// A tree whose header has the later bracket API: a start that can fail,
/// an end that skips `->invalidate_range`, a range structure.  The API
/// is learned from that header: without it, the same code reads as
/// brackets that never end.
#[test]
fn the_bracket_api_is_learned_from_the_trees_header() {
    let later = fixtures("later");
    let (code, report) = json(&later);
    assert_eq!(
        findings(&report),
        sorted(&[
            // An end after a start_nonblock() whose failure is not tested.
            "mm/reap_bugs.c:17 E2 error",
            // only_end() skipped by an early return.
            "mm/reap_bugs.c:28 E2 error",
        ])
    );
    assert_eq!(code, 1);

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mm")).unwrap();
    std::fs::copy(later.join("mm/reap.c"), dir.path().join("mm/reap.c")).unwrap();
    let (_, without) = json(dir.path());
    let e2: Vec<String> = findings(&without)
        .into_iter()
        .filter(|f| f.contains(" E2 "))
        .collect();
    assert!(
        e2.iter().any(|f| f.starts_with("mm/reap.c:")),
        "without the header, only_end() is no end: {e2:?}"
    );
}

#[test]
fn text_output_is_compiler_style() {
    let r = run(&[], &fixtures("bugs"));
    assert_eq!(r.code, 1);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("range_only.c:21:2: error[E3]: "))
        .unwrap_or_else(|| panic!("no E3 line in:\n{}", r.stdout));
    assert!(line.contains("mmu_notifier_invalidate_range(mm, address, address + PAGE_SIZE)"));
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("sleeping_cb.c:53:2: warning[W1]: "))
    );
    assert!(
        r.stdout
            .ends_with("22 errors, 4 warnings, 0 notes in 9 parsed of 9 files\n")
    );
}

#[test]
fn sarif_has_the_shape_code_scanning_reads() {
    let r = run(&["--format", "sarif"], &fixtures("bugs"));
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run0 = &v["runs"][0];
    let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["E1", "E2", "E3", "E4", "E5", "E6", "W1", "W2", "N1"]
    );
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), 26);
    let e3 = results.iter().find(|r| r["ruleId"] == "E3").unwrap();
    assert_eq!(e3["level"], "error");
    assert!(
        e3["message"]["text"]
            .as_str()
            .unwrap()
            .contains("invalidate_range")
    );
    let loc = &e3["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "range_only.c");
    assert_eq!(loc["region"]["startLine"], 21);
    assert_eq!(loc["region"]["startColumn"], 2);
    let w1 = results.iter().find(|r| r["ruleId"] == "W1").unwrap();
    assert_eq!(w1["level"], "warning");
    // ruleIndex points at the rule in the driver's list.
    assert_eq!(w1["ruleIndex"], 6);
}

#[test]
fn warnings_alone_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures("bugs").join("sleeping_cb.c"),
        dir.path().join("sleeping_cb.c"),
    )
    .unwrap();
    let (code, report) = json(dir.path());
    assert_eq!(report["summary"]["warnings"], 2);
    assert_eq!(report["summary"]["errors"], 0);
    assert_eq!(code, 0);
}

#[test]
fn bad_input_exits_two() {
    let r = run(&[], Path::new("/nonexistent/kseries-check"));
    assert_eq!(r.code, 2);
    let file = fixtures("bugs").join("unpaired.c");
    assert_eq!(run(&[], &file).code, 2, "a file is not a tree");
}

#[test]
fn e1_reports_the_corpus_uses_of_the_old_api() {
    let (code, report) = json(&common::corpus());
    assert_eq!(code, 1);
    let e1: Vec<String> = findings(&report)
        .into_iter()
        .filter(|f| f.contains(" E1 ") && !f.starts_with("check/"))
        .collect();
    // The corpus README lists them: 3 calls in mm/shrink.c, 3 ops entries
    // (widget, gizmo, kvm), the arch hooks of foo and bar and KVM's call,
    // the two uses scan cannot decide (the macro in blob_compat.h, the
    // call in broken.c, which does not parse), the three uses of that macro
    // in blob_flush.c, the two pre-4.11 callers in legacy_rmap.c, and the
    // API itself (notes).
    let errors = e1.iter().filter(|f| f.ends_with("error")).count();
    let notes = e1.iter().filter(|f| f.ends_with("note")).count();
    assert_eq!(errors, 3 + 3 + 4 + 2 + 3 + 2, "{e1:#?}");
    assert!(e1.contains(&"fs/blobfs/blob_flush.c:21 E1 error".to_string()));
    assert!(e1.contains(&"mm/legacy_rmap.c:70 E1 error".to_string()));
    assert!(e1.contains(&"fs/blobfs/blob_compat.h:6 E1 error".to_string()));
    assert!(e1.contains(&"fs/blobfs/broken.c:8 E1 error".to_string()));
    assert_eq!(notes, 5, "{e1:#?}");
    assert!(e1.contains(&"mm/shrink.c:36 E1 error".to_string()));
    assert!(e1.contains(&"drivers/widget/widget_mn.c:17 E1 error".to_string()));
}

/// A tree of one file, written by the test.
fn tree_with(name: &str, content: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), content).unwrap();
    dir
}

/// A call of the removed API hidden in a macro: scan says needs-review,
/// and check fails on it (it is a use of the API all the same) and counts
/// it, while an occurrence that may be another API's is a note.
#[test]
fn a_use_scan_cannot_decide_is_a_finding() {
    let dir = tree_with(
        "hidden.h",
        b"#define flush_one(mm, a)\tmmu_notifier_invalidate_page(mm, a)\n\
          #define other_op(o, p)\t((o)->invalidate_page(p))\n",
    );
    let (code, report) = json(dir.path());
    assert_eq!(
        findings(&report),
        ["hidden.h:1 E1 error", "hidden.h:2 N1 note"],
        "{report:#}"
    );
    assert_eq!(code, 1, "an undecided use of the API fails the check");
    assert_eq!(report["summary"]["undecided"], 2);
    let text = run(&[], dir.path()).stdout;
    assert!(
        text.contains("hidden.h:1:") && text.contains("cannot decide"),
        "{text}"
    );
    assert!(
        text.contains("2 of them are about code kseries could not decide"),
        "{text}"
    );

    // Only the note: the check passes, and still says it.
    let dir = tree_with(
        "other.h",
        b"#define other_op(o, p)\t((o)->invalidate_page(p))\n",
    );
    let (code, report) = json(dir.path());
    assert_eq!(findings(&report), ["other.h:1 N1 note"]);
    assert_eq!(code, 0);
}

/// A file larger than the parse limit: its use of the removed API is an
/// error at its line, and the rules that could not run on it say so.
#[test]
fn an_api_use_in_a_file_too_large_to_parse_is_a_finding() {
    let mut src = b"void f(struct mm_struct *mm, unsigned long a)\n{\n".to_vec();
    src.extend_from_slice(b"\tmmu_notifier_invalidate_range_start(mm, a, a + 4096);\n");
    src.extend_from_slice(b"\tmmu_notifier_invalidate_page(mm, a);\n}\n");
    // Our own filler: a comment of 9 MiB.
    src.extend_from_slice(b"/* ");
    src.resize(src.len() + (9 << 20), b'x');
    src.extend_from_slice(b" */\n");
    let dir = tree_with("huge.c", &src);
    let (code, report) = json(dir.path());
    assert_eq!(code, 1, "{:#}", report["diagnostics"]);
    assert_eq!(
        findings(&report),
        ["huge.c:1 N1 note", "huge.c:4 E1 error"],
        "{:#}",
        report["diagnostics"]
    );
    assert_eq!(report["summary"]["undecided"], 2);
    assert_eq!(report["summary"]["errors"], 1);
    let msgs: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains("too large to parse")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("larger than the parse limit")),
        "{msgs:?}"
    );
}

/// Linux 4.12 as released: the old API is everywhere it was, three
/// drivers sleep in `->invalidate_page`, and the rest of the mm code keeps
/// the rules.
#[test]
fn pristine_4_12() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let started = std::time::Instant::now();
    let (code, report) = json(&tree);
    eprintln!("kseries check on 4.12: {:?}", started.elapsed());
    assert_eq!(code, 1);
    let all = findings(&report);
    let e1_errors: Vec<&String> = all.iter().filter(|f| f.contains(" E1 error")).collect();
    let expected_e1 = sorted(&[
        // The three callers (git grep 'mmu_notifier_invalidate_page(').
        "fs/dax.c:701 E1 error",
        "mm/rmap.c:905 E1 error",
        "mm/rmap.c:1468 E1 error",
        // The ten `.invalidate_page =` entries of struct mmu_notifier_ops
        // (cleancache and frontswap ops are not this API).
        "arch/powerpc/platforms/powernv/npu-dma.c:643 E1 error",
        "drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c:218 E1 error",
        "drivers/infiniband/core/umem_odp.c:240 E1 error",
        "drivers/infiniband/hw/hfi1/mmu_rb.c:85 E1 error",
        "drivers/iommu/amd_iommu_v2.c:439 E1 error",
        "drivers/iommu/intel-svm.c:288 E1 error",
        "drivers/misc/mic/scif/scif_dma.c:238 E1 error",
        "drivers/misc/sgi-gru/grutlbpurge.c:272 E1 error",
        "drivers/xen/gntdev.c:525 E1 error",
        "virt/kvm/kvm_main.c:496 E1 error",
        // kvm_arch_mmu_notifier_invalidate_page: the empty stubs of arm,
        // arm64, mips and powerpc, x86's declaration and definition, and
        // KVM's call.
        "arch/arm/include/asm/kvm_host.h:227 E1 error",
        "arch/arm64/include/asm/kvm_host.h:328 E1 error",
        "arch/mips/include/asm/kvm_host.h:941 E1 error",
        "arch/powerpc/include/asm/kvm_host.h:69 E1 error",
        "arch/x86/include/asm/kvm_host.h:1368 E1 error",
        "arch/x86/kvm/x86.c:6711 E1 error",
        "virt/kvm/kvm_main.c:344 E1 error",
    ]);
    assert_eq!(
        e1_errors.into_iter().cloned().collect::<Vec<_>>(),
        expected_e1
    );
    // Sleeping ->invalidate_page callbacks, read in the 4.12 sources:
    // amdgpu_mn_invalidate_page takes rmn->lock (a mutex); umem_odp's
    // takes context->umem_rwsem with down_read; gntdev's mn_invl_page
    // calls mn_invl_range_start, which takes priv->lock (a mutex).  The
    // others spin (intel-svm's qi_submit_sync, the npu's MMIO wait, GRU's
    // and scif's spinlocks) or only queue work (hfi1).
    let w1: Vec<&String> = all.iter().filter(|f| f.contains(" W1 ")).collect();
    assert_eq!(
        w1.into_iter().cloned().collect::<Vec<_>>(),
        sorted(&[
            "drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c:218 W1 warning",
            "drivers/infiniband/core/umem_odp.c:240 W1 warning",
            "drivers/xen/gntdev.c:525 W1 warning",
        ])
    );
    let gntdev = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file"] == "drivers/xen/gntdev.c" && d["code"] == "W1")
        .unwrap();
    assert!(
        gntdev["message"]
            .as_str()
            .unwrap()
            .contains("mn_invl_page -> mn_invl_range_start -> mutex_lock at line 477")
    );
    // Every other finding: none is an error.  The brackets of mm/ pair
    // up (including mprotect's lazily opened one and copy_page_range's
    // `if (is_cow)` pair), every huge range is masked or asserted, and
    // mm/memory.c's TLB-flush helper calls invalidate_range under a bracket
    // far up the unmap path: a note.
    let rest: Vec<&String> = all
        .iter()
        .filter(|f| !f.contains(" E1 ") && !f.contains(" W1 "))
        .collect();
    assert_eq!(
        rest.into_iter().cloned().collect::<Vec<_>>(),
        sorted(&["mm/memory.c:250 E3 note"])
    );
}

/// The structure form of the bracket API (Linux 4.20's
/// `struct mmu_notifier_range`), learned from the tree's own header:
/// brackets pair by their range variable, the bounds of a range are those
/// of its init, E2-E5 and W2 hold as in the old form, and a tree half way
/// between the two generations says so (E6).
#[test]
fn the_structure_form_is_checked_like_the_old_one() {
    let (code, report) = json(&fixtures("range"));
    assert_eq!(code, 1);
    assert_eq!(
        findings(&report),
        sorted(&[
            // E6: a range_start callback with (mm, start, end) in an ops
            // whose header takes the range, and a start and an end still
            // passed the bounds.
            "drivers/frob/half_mn.c:9 E6 error",
            "drivers/frob/half_mn.c:30 E6 error",
            "drivers/frob/half_mn.c:32 E6 error",
            // The ops in one file, a range_end callback of the old form
            // defined in another: reported at the ops entry.
            "drivers/frob/split_ops.c:15 E6 error",
            // goto out past the end; an early return; the end of another
            // range than the one started (both reported); a helper's
            // caller that returns with the helper's bracket open.
            "mm/pairing_bugs.c:20 E2 error",
            "mm/pairing_bugs.c:34 E2 error",
            "mm/pairing_bugs.c:46 E2 error",
            "mm/pairing_bugs.c:48 E2 error",
            "mm/pairing_bugs.c:66 E2 error",
            // A lone invalidate_range() through rwc.rmap_one; HPAGE_PMD_NR
            // as the end given to the init; an HPAGE_PMD_SIZE range from an
            // unproven address given to the init; an accessed-bit test in
            // the bracket of the range's mm.
            "mm/rules_bugs.c:19 E3 error",
            "mm/rules_bugs.c:38 E4 error",
            "mm/rules_bugs.c:48 E5 error",
            "mm/rules_bugs.c:63 W2 warning",
        ])
    );
    let message = |file: &str, line: u64| -> String {
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["file"] == file && d["line"] == line)
            .map(|d| d["message"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(message("drivers/frob/half_mn.c", 9).contains("half-converted"));
    assert!(
        message("drivers/frob/split_ops.c", 15).contains("defined at drivers/frob/split_cb.c:12")
    );
    assert!(message("drivers/frob/half_mn.c", 30).contains("mmu_notifier_range_init()"));
    assert!(message("mm/pairing_bugs.c", 48).contains(
        "`mmu_notifier_invalidate_range_end(&second)` does not match the open \
         `mmu_notifier_invalidate_range_start(&first)` at line 46 (another range)"
    ));
    assert!(message("mm/rules_bugs.c", 38).contains("HPAGE_PMD_NR"));
}

/// The reverse half: code of the structure form in a tree whose header
/// still has `(mm, start, end)` brackets and no init.
#[test]
fn structure_form_code_under_an_old_header_is_half_converted() {
    let dir = tempfile::tempdir().unwrap();
    let inc = dir.path().join("include/linux");
    std::fs::create_dir_all(&inc).unwrap();
    std::fs::create_dir_all(dir.path().join("mm")).unwrap();
    std::fs::write(
        inc.join("mmu_notifier.h"),
        "struct mmu_notifier_ops {\n\
         \tvoid (*invalidate_range_start)(struct mmu_notifier *mn,\n\
         \t\tstruct mm_struct *mm, unsigned long start, unsigned long end);\n\
         \tvoid (*invalidate_range_end)(struct mmu_notifier *mn,\n\
         \t\tstruct mm_struct *mm, unsigned long start, unsigned long end);\n\
         };\n\
         static inline void mmu_notifier_invalidate_range_start(struct mm_struct *mm,\n\
         \t\tunsigned long start, unsigned long end)\n\
         { __mmu_notifier_invalidate_range_start(mm, start, end); }\n\
         static inline void mmu_notifier_invalidate_range_end(struct mm_struct *mm,\n\
         \t\tunsigned long start, unsigned long end)\n\
         { __mmu_notifier_invalidate_range_end(mm, start, end); }\n",
    )
    .unwrap();
    let range = fixtures("range");
    std::fs::copy(range.join("mm/clean.c"), dir.path().join("mm/clean.c")).unwrap();
    std::fs::create_dir_all(dir.path().join("drivers")).unwrap();
    std::fs::copy(
        range.join("drivers/frob/frob_mn.c"),
        dir.path().join("drivers/frob_mn.c"),
    )
    .unwrap();
    let (code, report) = json(dir.path());
    assert_eq!(code, 1);
    let e6: Vec<String> = findings(&report)
        .into_iter()
        .filter(|f| f.contains(" E6 "))
        .collect();
    let src = std::fs::read_to_string(range.join("mm/clean.c")).unwrap();
    // Every start, end and init call of mm/clean.c, found by reading it.
    let mut expected: Vec<String> = src
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            l.starts_with("mmu_notifier_invalidate_range_start(")
                || l.starts_with("mmu_notifier_invalidate_range_end(")
                || l.starts_with("mmu_notifier_range_init(")
        })
        .map(|(i, _)| format!("mm/clean.c:{} E6 error", i + 1))
        .collect();
    // Both callbacks of the driver take the range the header lacks.
    expected.push("drivers/frob_mn.c:8 E6 error".into());
    expected.push("drivers/frob_mn.c:15 E6 error".into());
    expected.sort();
    assert!(expected.len() > 10, "{expected:?}");
    assert_eq!(e6, expected);
}
