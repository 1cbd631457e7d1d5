//! `kseries scan` on the bundled corpus and on bad input.

use crate::common;

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn scan_json(path: &Path) -> Value {
    let out = common::kseries_ok(&["scan", "--format", "json", path.to_str().unwrap()]);
    serde_json::from_slice(&out).expect("scan --format json prints JSON")
}

fn sites<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == kind)
        .collect()
}

fn places(sites: &[&Value]) -> Vec<String> {
    let mut v: Vec<String> = sites
        .iter()
        .map(|s| format!("{}:{}", s["file"].as_str().unwrap(), s["line"]))
        .collect();
    v.sort();
    v
}

/// Counts the needle in every .c/.h file independently of the scanner.
fn count_occurrences(root: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            let p = e.path();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file()
                && matches!(p.extension().and_then(|x| x.to_str()), Some("c" | "h"))
            {
                let text = std::fs::read(&p).unwrap();
                n += text.windows(15).filter(|w| w == b"invalidate_page").count();
            }
        }
    }
    n
}

#[test]
fn corpus_inventory_is_complete_and_exact() {
    let report = scan_json(&common::corpus());

    let calls = sites(&report, "call");
    assert_eq!(
        calls
            .iter()
            .map(|c| (c["function"].as_str().unwrap(), c["under_ptl"].as_bool()))
            .collect::<Vec<_>>(),
        vec![
            ("legacy_wrprotect_one", Some(false)),
            ("legacy_unmap_one", Some(false)),
            ("shrink_wrprotect_one", Some(true)),
            ("shrink_clear_pte", Some(false)),
            ("shrink_list", Some(true)),
        ],
        "calls with their page-table lock state"
    );
    assert_eq!(
        calls[2]["args"],
        serde_json::json!(["vma->vm_mm", "address"])
    );

    let entries = sites(&report, "ops-entry");
    let callbacks: Vec<&str> = entries
        .iter()
        .map(|e| e["callback"].as_str().unwrap())
        .collect();
    assert_eq!(
        callbacks,
        [
            "gizmo_invalidate_page",
            "widget_zap",
            "kvm_mmu_notifier_invalidate_page"
        ]
    );

    let cbs = sites(&report, "callback");
    assert_eq!(
        places(&cbs),
        [
            "drivers/gizmo/gizmo_svm.c:24",
            "drivers/widget/widget_tlb.c:15",
            "virt/kvm/kvm_main.c:24"
        ]
    );
    let widget = cbs.iter().find(|c| c["name"] == "widget_zap").unwrap();
    assert_eq!(
        widget["is_static"], false,
        "defined in another file, not static"
    );
    assert_eq!(widget["declarations"][0]["file"], "drivers/widget/widget.h");
    assert_eq!(
        widget["other_users"][0]["file"],
        "drivers/widget/widget_tlb.c"
    );
    assert_eq!(
        widget["sets"]["invalidate_range_start"],
        "widget_range_start"
    );
    let gizmo = cbs
        .iter()
        .find(|c| c["name"] == "gizmo_invalidate_page")
        .unwrap();
    assert_eq!(
        gizmo["declarations"][0]["line"], 12,
        "forward declaration found"
    );

    let hooks = sites(&report, "arch-hook");
    let hook_roles: Vec<(String, String, Value)> = hooks
        .iter()
        .map(|h| {
            (
                h["file"].as_str().unwrap().to_string(),
                h["role"].as_str().unwrap().to_string(),
                h["empty"].clone(),
            )
        })
        .collect();
    assert_eq!(
        hook_roles,
        vec![
            (
                "arch/bar/include/asm/kvm_host.h".into(),
                "declaration".into(),
                Value::Null
            ),
            (
                "arch/bar/kvm/bar.c".into(),
                "definition".into(),
                Value::Bool(false)
            ),
            (
                "arch/foo/include/asm/kvm_host.h".into(),
                "definition".into(),
                Value::Bool(true)
            ),
            ("virt/kvm/kvm_main.c".into(), "call".into(), Value::Null),
        ]
    );

    let api: Vec<(String, String)> = sites(&report, "api")
        .iter()
        .map(|a| {
            (
                a["role"].as_str().unwrap().into(),
                a["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        api,
        [
            ("member", "invalidate_page"),
            ("declaration", "__mmu_notifier_invalidate_page"),
            ("wrapper", "mmu_notifier_invalidate_page"),
            ("stub", "mmu_notifier_invalidate_page"),
            ("definition", "__mmu_notifier_invalidate_page"),
        ]
        .map(|(r, n)| (r.to_string(), n.to_string()))
    );
    let member = &sites(&report, "api")[0];
    assert_eq!(
        member["comment_lines"],
        serde_json::json!([15, 18]),
        "the member's doc comment"
    );

    // False friends are accounted for, never sites.
    for s in report["sites"].as_array().unwrap() {
        let file = s["file"].as_str().unwrap();
        if file.contains("cleancache")
            || file.starts_with("mm/swapcache")
            || file == "fs/blobfs/blob.c"
        {
            assert_eq!(s["kind"], "unrelated", "false friend taken for a site: {s}");
        }
    }
    let reasons: Vec<&str> = sites(&report, "unrelated")
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"cleancache_ops member"));
    assert!(reasons.contains(&"string"));
    assert!(reasons.contains(&"other identifier: fscache_invalidate_page"));

    let review: Vec<String> = sites(&report, "needs-review")
        .iter()
        .map(|s| format!("{}:{}", s["file"].as_str().unwrap(), s["line"]))
        .collect();
    assert_eq!(
        review,
        [
            "fs/blobfs/blob_compat.h:6",
            "fs/blobfs/blob_compat.h:9",
            "fs/blobfs/blob_flush.c:10",
            "fs/blobfs/blob_flush.c:21",
            "fs/blobfs/blob_flush.c:27",
            "fs/blobfs/broken.c:8"
        ]
    );

    let summary = &report["summary"];
    assert_eq!(summary["occurrences"], count_occurrences(&common::corpus()));
    let by_kind: u64 = summary["occurrences_by_kind"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(Value::from(by_kind), summary["occurrences"]);
    assert_eq!(summary["accounted"], true);
}

#[test]
fn lock_helpers_are_learned_from_the_tree_not_listed() {
    let report = scan_json(&common::corpus());
    let recipe = kseries::recipe::by_id("invalidate-page").unwrap();
    let helper = |name: &str| {
        assert!(
            !recipe.lock_acquire.iter().any(|op| op.function == name),
            "{name} must be learned, not listed in the recipe"
        );
        report["lock_helpers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .unwrap_or_else(|| panic!("{name} not learned: {}", report["lock_helpers"]))
            .clone()
    };
    // A __cond_lock() wrapper of a lookup that returns 0 with *ptlp held.
    let follow = helper("follow_pte");
    assert_eq!(follow["held"], "on-zero");
    assert_eq!(follow["extent"], "pte");
    assert_eq!(
        (&follow["mm_arg"], &follow["address_arg"]),
        (&Value::from(0), &Value::from(1))
    );
    assert_eq!(follow["file"], "include/linux/mm.h");
    assert!(
        follow["why"]
            .as_str()
            .unwrap()
            .contains("__cond_lock() wrapper of __follow_pte()"),
        "{follow}"
    );
    assert_eq!(helper("__follow_pte")["held"], "on-zero");
    // The pre-4.11 shape: returns the pte (non-NULL) with *ptlp held; the
    // lock is a bare spin_lock(ptl), so its size is not known, but the
    // page it looks for bounds it.
    let legacy = helper("page_lock_pte");
    assert_eq!(legacy["held"], "on-non-zero");
    assert_eq!(legacy["extent"], "unknown");
    assert_eq!(
        [
            &legacy["page_arg"],
            &legacy["mm_arg"],
            &legacy["address_arg"]
        ],
        [&Value::from(0), &Value::from(1), &Value::from(2)]
    );
    let inner = helper("__page_lock_pte");
    assert!(
        inner["why"].as_str().unwrap().contains("spin_lock()"),
        "{inner}"
    );
    // A call under a learned helper says which and why.
    let via_macro = sites(&report, "needs-review")
        .into_iter()
        .find(|s| s["function"] == "blob_flush_one")
        .unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        via_macro.contains(
            "held there (taken by follow_pte() at line 18, which returns 0 with *ptlp locked"
        ),
        "{via_macro}"
    );
}

#[test]
fn a_macro_that_hides_the_api_is_reported_with_every_use() {
    let report = scan_json(&common::corpus());
    let review = sites(&report, "needs-review");
    let at = |place: &str| {
        *review
            .iter()
            .find(|s| format!("{}:{}", s["file"].as_str().unwrap(), s["line"]) == place)
            .unwrap_or_else(|| panic!("no site at {place}"))
    };
    let def = at("fs/blobfs/blob_compat.h:6");
    assert_eq!(def["occurrences"], 1);
    assert!(
        def["reason"]
            .as_str()
            .unwrap()
            .contains("used at 2 place(s)"),
        "{def}"
    );
    let direct = at("fs/blobfs/blob_flush.c:21");
    assert_eq!(
        direct["occurrences"], 0,
        "the needle is in the macro, not here"
    );
    assert_eq!(direct["function"], "blob_flush_one");
    assert!(
        direct["reason"]
            .as_str()
            .unwrap()
            .contains("through the macro `blob_notify` (fs/blobfs/blob_compat.h:6)"),
        "{direct}"
    );
    let nested = at("fs/blobfs/blob_flush.c:10");
    assert!(
        nested["reason"]
            .as_str()
            .unwrap()
            .contains("in the body of the macro `blob_notify_base`"),
        "{nested}"
    );
    let outer = at("fs/blobfs/blob_flush.c:27");
    assert_eq!(outer["function"], "blob_flush");
    assert!(
        outer["reason"]
            .as_str()
            .unwrap()
            .contains("through the macro `blob_notify_base`"),
        "{outer}"
    );
    assert_eq!(report["summary"]["accounted"], true);
}

/// Each fixture puts a construct tree-sitter cannot parse in a function
/// before an API site of the same file.  Plain tree-sitter loses what
/// follows it; kseries keeps it inside its own definition and names it.
#[test]
fn unparseable_code_stays_in_its_own_definition() {
    use kseries::scan::kernel_c;
    let cases = [
        (
            "arch/bar/kvm/bar.c",
            "bar_read_msr",
            None,
            "kvm_arch_mmu_notifier_invalidate_page",
        ),
        (
            "mm/shrink.c",
            "shrink_budget",
            Some("braces split across #if/#else arms at line 51"),
            "mmu_notifier_invalidate_page(mm, address)",
        ),
        (
            "virt/kvm/kvm_main.c",
            "kvm_kick_all",
            Some(
                "a block opened after the macro `KVM_VCPUS_BEGIN(...)` and closed by another macro at line 19",
            ),
            "kvm_arch_mmu_notifier_invalidate_page(kvm, address)",
        ),
    ];
    for (file, bad, construct, site) in cases {
        let src = std::fs::read(common::corpus().join(file)).unwrap();
        let text = String::from_utf8_lossy(&src);
        let site_at = text.find(site).unwrap();
        let bad_at = text.find(&format!("{bad}(")).unwrap();
        assert!(bad_at < site_at, "{file}: the construct comes first");

        let mut plain = tree_sitter::Parser::new();
        plain.set_language(&tree_sitter_c::LANGUAGE.into()).unwrap();
        let plain = plain.parse(&src, None).unwrap();
        // Plain tree-sitter loses a site inside an ERROR, or inside a
        // function (or a function it was nested into) that is damaged.
        let damaged = |at: usize| {
            let n = plain.root_node().descendant_for_byte_range(at, at).unwrap();
            let mut f = kernel_c::enclosing_function(n);
            let mut any_damaged = f.is_none();
            while let Some(func) = f {
                any_damaged |= kernel_c::has_error(func);
                f = kernel_c::enclosing_function(func);
            }
            kernel_c::inside_error(n) || any_damaged
        };
        assert!(
            damaged(bad_at),
            "{file}: plain tree-sitter cannot parse {bad}"
        );
        if construct.is_some() {
            assert!(
                damaged(site_at),
                "{file}: the fixture must defeat plain tree-sitter"
            );
        }

        let parsed = kernel_c::parse(&src);
        let node = parsed.node_for_byte_range(site_at, site_at).unwrap();
        assert!(!kernel_c::inside_error(node), "{file}: site swallowed");
        let func = kernel_c::enclosing_function(node).unwrap();
        assert!(
            !kernel_c::has_error(func),
            "{file}: site's function damaged"
        );
        let bad_node = parsed.node_for_byte_range(bad_at, bad_at).unwrap();
        let scope = kernel_c::enclosing_function(bad_node).unwrap_or(parsed.root_at(bad_at));
        match construct {
            None => assert!(
                !kernel_c::has_error(scope),
                "{file}: {bad} parses once blanked"
            ),
            Some(c) => {
                let why = kernel_c::failure::describe(scope, &src).to_string();
                assert!(why.contains(c), "{file}: {why}");
            }
        }
    }
}

#[test]
fn table_output_groups_by_subsystem_and_accounts() {
    let text = String::from_utf8(common::kseries_ok(&[
        "scan".as_ref(),
        common::corpus().as_os_str(),
    ]))
    .unwrap();
    assert!(
        text.contains("\nmm\n") && text.contains("\ndrivers/widget\n"),
        "{text}"
    );
    assert!(text.contains("every occurrence accounted for"), "{text}");
    assert!(
        text.contains("shrink_wrprotect_one(), under the page-table lock"),
        "{text}"
    );
    // The member an ops entry sets is named from the report's recipe.
    assert!(
        text.contains("widget_mn_ops: .invalidate_page = widget_zap;"),
        "{text}"
    );
}

fn scan_fails(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::cargo_bin("kseries")
        .unwrap()
        .arg("scan")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "expected exit 2");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn bad_paths_exit_2_and_say_which() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = scan_fails(&[missing.as_os_str()]);
    assert!(
        err.contains("nope") && err.contains("no such file"),
        "{err}"
    );

    let file = dir.path().join("f.c");
    std::fs::write(&file, "int x;\n").unwrap();
    let err = scan_fails(&[file.as_os_str()]);
    assert!(
        err.contains("f.c") && err.contains("not a directory"),
        "{err}"
    );

    let out = Command::cargo_bin("kseries")
        .unwrap()
        .args(["scan", "--recipe", "nosuch", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalidate-page"));
}

#[test]
fn unreadable_file_is_named() {
    // Root reads everything: run the scan as an unprivileged user.
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let secret = tree.join("secret.c");
    std::fs::write(
        &secret,
        "void f(void) { mmu_notifier_invalidate_page(0, 0); }\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    // The unprivileged user may not reach the build directory (a CI
    // checkout can sit in a private directory): run a copy from here.
    let bin = dir.path().join("kseries");
    std::fs::copy(assert_cmd::cargo::cargo_bin("kseries"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout
        == b"0\n";
    let mut cmd = if is_root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        std::process::Command::new(&bin)
    };
    let out = cmd.arg("scan").arg(&tree).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("secret.c") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn odd_files_do_not_crash_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Non-UTF-8 bytes around a real call.
    std::fs::write(
        root.join("latin1.c"),
        b"/* caf\xe9 */\nvoid f(struct mm_struct *mm)\n{\n\tmmu_notifier_invalidate_page(mm, 0);\n}\n",
    )
    .unwrap();
    // A symlink loop and a symlinked source file.
    std::os::unix::fs::symlink(".", root.join("loop")).unwrap();
    std::os::unix::fs::symlink("latin1.c", root.join("alias.c")).unwrap();
    // A huge generated file: searched, not parsed, reported for review.
    let mut huge = Vec::with_capacity(9 << 20);
    while huge.len() < (9 << 20) {
        huge.extend_from_slice(
            b"static const int table_entry_padding_0123456789[] = { 1, 2, 3 };\n",
        );
    }
    huge.extend_from_slice(b"/* invalidate_page */\n");
    std::fs::write(root.join("huge.h"), &huge).unwrap();

    let report = scan_json(root);
    assert_eq!(sites(&report, "call").len(), 1, "{report}");
    let review = sites(&report, "needs-review");
    assert_eq!(review.len(), 1);
    assert!(review[0]["reason"].as_str().unwrap().contains("too large"));
    let skipped = report["summary"]["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["file"] == "alias.c"),
        "{skipped:?}"
    );
    assert_eq!(report["summary"]["accounted"], true);
}
