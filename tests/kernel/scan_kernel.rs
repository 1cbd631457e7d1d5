//! `kseries scan` on the real Linux 4.12 tree.  Skips loudly without the
//! tarball; fails with KSERIES_REQUIRE_KERNEL=1.

use crate::common;

use serde_json::Value;
use std::collections::BTreeSet;

fn scan(tree: &std::path::Path) -> Value {
    let out = common::kseries_ok(&["scan", "--format", "json", tree.to_str().unwrap()]);
    serde_json::from_slice(&out).unwrap()
}

fn of_kind<'a>(r: &'a Value, kind: &str) -> Vec<&'a Value> {
    r["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == kind)
        .collect()
}

fn set(items: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    items.into_iter().collect()
}

fn file_fn(s: &Value, key: &str) -> String {
    format!(
        "{} {}",
        s["file"].as_str().unwrap(),
        s[key].as_str().unwrap_or("-")
    )
}

#[test]
fn inventory_of_linux_4_12() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let r = scan(&tree);

    let calls = of_kind(&r, "call");
    assert_eq!(
        set(calls.iter().map(|c| file_fn(c, "function"))),
        set([
            "fs/dax.c dax_mapping_entry_mkclean".to_string(),
            "mm/rmap.c page_mkclean_one".to_string(),
            "mm/rmap.c try_to_unmap_one".to_string(),
        ])
    );
    for c in &calls {
        let expect_locked = c["file"] == "mm/rmap.c";
        assert_eq!(c["under_ptl"], expect_locked, "ptl state of {c}");
    }

    let ops_files = set([
        "arch/powerpc/platforms/powernv/npu-dma.c",
        "drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c",
        "drivers/infiniband/core/umem_odp.c",
        "drivers/infiniband/hw/hfi1/mmu_rb.c",
        "drivers/iommu/amd_iommu_v2.c",
        "drivers/iommu/intel-svm.c",
        "drivers/misc/mic/scif/scif_dma.c",
        "drivers/misc/sgi-gru/grutlbpurge.c",
        "drivers/xen/gntdev.c",
        "virt/kvm/kvm_main.c",
    ]
    .map(String::from));
    let entries = of_kind(&r, "ops-entry");
    let callbacks = of_kind(&r, "callback");
    assert_eq!(entries.len(), 10);
    assert_eq!(callbacks.len(), 10);
    assert_eq!(
        set(entries
            .iter()
            .map(|e| e["file"].as_str().unwrap().to_string())),
        ops_files
    );
    assert_eq!(
        set(callbacks
            .iter()
            .map(|e| e["file"].as_str().unwrap().to_string())),
        ops_files
    );
    // Each callback is the function its entry names, and the entry points back.
    for cb in &callbacks {
        let entry = entries
            .iter()
            .find(|e| e["file"] == cb["entry"]["file"] && e["line"] == cb["entry"]["line"])
            .unwrap();
        assert_eq!(entry["callback"], cb["name"]);
        assert!(cb["end_line"].as_u64() > cb["line"].as_u64());
    }
    let hfi1 = callbacks
        .iter()
        .find(|c| c["file"] == "drivers/infiniband/hw/hfi1/mmu_rb.c")
        .unwrap();
    assert_eq!(
        hfi1["name"], "mmu_notifier_page",
        "a callback whose name does not say invalidate_page"
    );

    let hooks = of_kind(&r, "arch-hook");
    let defs: BTreeSet<(String, bool)> = hooks
        .iter()
        .filter(|h| h["role"] == "definition")
        .map(|h| {
            (
                h["arch"].as_str().unwrap().to_string(),
                h["empty"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        defs,
        [
            ("arm", true),
            ("arm64", true),
            ("mips", true),
            ("powerpc", true),
            ("x86", false)
        ]
        .map(|(a, e)| (a.to_string(), e))
        .into_iter()
        .collect()
    );
    let x86_def = hooks
        .iter()
        .find(|h| h["arch"] == "x86" && h["role"] == "definition")
        .unwrap();
    assert_eq!(x86_def["file"], "arch/x86/kvm/x86.c");
    let decls: Vec<_> = hooks
        .iter()
        .filter(|h| h["role"] == "declaration")
        .collect();
    assert_eq!(decls.len(), 1);
    assert_eq!(decls[0]["file"], "arch/x86/include/asm/kvm_host.h");
    let hook_calls: Vec<_> = hooks.iter().filter(|h| h["role"] == "call").collect();
    assert_eq!(hook_calls.len(), 1);
    assert_eq!(hook_calls[0]["file"], "virt/kvm/kvm_main.c");

    let api = of_kind(&r, "api");
    assert_eq!(
        set(api.iter().map(|a| format!(
            "{} {} {}",
            a["file"].as_str().unwrap(),
            a["role"].as_str().unwrap(),
            a["name"].as_str().unwrap()
        ))),
        set([
            "include/linux/mmu_notifier.h member invalidate_page",
            "include/linux/mmu_notifier.h declaration __mmu_notifier_invalidate_page",
            "include/linux/mmu_notifier.h wrapper mmu_notifier_invalidate_page",
            "include/linux/mmu_notifier.h stub mmu_notifier_invalidate_page",
            "mm/mmu_notifier.c definition __mmu_notifier_invalidate_page",
        ]
        .map(String::from))
    );

    // No false friend is a site: everything else is unrelated, and the
    // cleancache/frontswap members are named for what they are.
    assert!(
        of_kind(&r, "needs-review").is_empty(),
        "{:?}",
        of_kind(&r, "needs-review")
    );
    for s in r["sites"].as_array().unwrap() {
        let f = s["file"].as_str().unwrap();
        if [
            "drivers/xen/tmem.c",
            "mm/zswap.c",
            "mm/cleancache.c",
            "mm/frontswap.c",
        ]
        .contains(&f)
        {
            assert_eq!(s["kind"], "unrelated", "{s}");
        }
    }
    let member_reasons: BTreeSet<String> = of_kind(&r, "unrelated")
        .iter()
        .filter(|s| s["file"] == "drivers/xen/tmem.c" || s["file"] == "mm/zswap.c")
        .map(|s| s["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        member_reasons.contains("cleancache_ops member")
            && member_reasons.contains("frontswap_ops member"),
        "{member_reasons:?}"
    );

    // Every textual occurrence is accounted for: compare with git grep.
    let grep = common::git(
        &tree,
        &["grep", "-o", "invalidate_page", "--", "*.c", "*.h"],
    )
    .unwrap();
    let s = &r["summary"];
    assert_eq!(
        s["occurrences"].as_u64().unwrap() as usize,
        grep.lines().count()
    );
    assert_eq!(s["accounted"], true);
}
