//! A hand-made plan of the invalidate_page migration on the Linux 4.12
//! tree, standing in for `rewrite` until it exists: the tests and the
//! benchmark call [`invalidate_page_plan`], which the real
//! `kseries::rewrite` can replace one for one (same `Plan` out).
//!
//! The edits are small but coherent: each unit leaves the tree building
//! in spirit (callers first, then dead callbacks, then KVM, then the API).
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use kseries::rewrite::plan::{ChangeUnit, Edit, FileEdit, Plan, Stage, git_blob_id};

/// Builds a plan unit by unit with textual operations on the files as
/// they are after the earlier units; each file of a unit becomes one
/// `FileEdit` whose single edit spans what changed.
pub struct PlanBuilder {
    tree: PathBuf,
    current: HashMap<String, Vec<u8>>,
    units: Vec<ChangeUnit>,
}

pub struct UnitBuilder<'a> {
    plan: &'a mut PlanBuilder,
    unit: ChangeUnit,
    /// path -> (content before this unit, content now)
    touched: Vec<(String, Vec<u8>, Vec<u8>)>,
}

impl PlanBuilder {
    pub fn new(tree: &Path) -> PlanBuilder {
        PlanBuilder {
            tree: tree.to_path_buf(),
            current: HashMap::new(),
            units: Vec::new(),
        }
    }

    fn content(&mut self, path: &str) -> Vec<u8> {
        let tree = &self.tree;
        self.current
            .entry(path.to_string())
            .or_insert_with(|| {
                std::fs::read(tree.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
            })
            .clone()
    }

    pub fn unit(&mut self, stage: Stage, subsystem: &str, summary: &str) -> UnitBuilder<'_> {
        UnitBuilder {
            plan: self,
            unit: ChangeUnit {
                stage,
                subsystem: subsystem.into(),
                summary: summary.into(),
                description: Vec::new(),
                rationale: Vec::new(),
                review_notes: Vec::new(),
                files: Vec::new(),
            },
            touched: Vec::new(),
        }
    }

    pub fn finish(self) -> Plan {
        Plan {
            recipe: "invalidate-page".into(),
            tree: self.tree.display().to_string(),
            units: self.units,
            needs_review: Vec::new(),
        }
    }
}

impl UnitBuilder<'_> {
    fn file(&mut self, path: &str) -> &mut Vec<u8> {
        if !self.touched.iter().any(|t| t.0 == path) {
            let c = self.plan.content(path);
            self.touched.push((path.to_string(), c.clone(), c));
        }
        &mut self.touched.iter_mut().find(|t| t.0 == path).unwrap().2
    }

    /// Replaces the one occurrence of `old` in `path`.
    pub fn replace(mut self, path: &str, old: &str, new: &str) -> Self {
        let f = self.file(path);
        let s = String::from_utf8(f.clone()).unwrap();
        assert_eq!(s.matches(old).count(), 1, "{path}: `{old}` must occur once");
        *f = s.replacen(old, new, 1).into_bytes();
        self
    }

    /// Removes whole lines from the one starting with (or containing the
    /// start of) `start` through the line that ends `end`, and one blank
    /// line after them.
    pub fn remove(mut self, path: &str, start: &str, end: &str) -> Self {
        let f = self.file(path);
        let s = String::from_utf8(f.clone()).unwrap();
        assert_eq!(
            s.matches(start).count(),
            1,
            "{path}: `{start}` must occur once"
        );
        let at = s.find(start).unwrap();
        let from = s[..at].rfind('\n').map_or(0, |i| i + 1);
        let stop = at
            + s[at..]
                .find(end)
                .unwrap_or_else(|| panic!("{path}: no `{end}`"))
            + end.len();
        let mut to = s[stop..].find('\n').map_or(s.len(), |i| stop + i + 1);
        if s[to..].starts_with('\n') {
            to += 1;
        }
        *f = format!("{}{}", &s[..from], &s[to..]).into_bytes();
        self
    }

    /// Removes a function (or any block) whose first line contains
    /// `start`, through its closing `}` at column 0.
    pub fn remove_fn(self, path: &str, start: &str) -> Self {
        self.remove(path, start, "\n}")
    }

    pub fn why(mut self, text: &str) -> Self {
        self.unit.rationale.push(text.into());
        self
    }

    pub fn review(mut self, text: &str) -> Self {
        self.unit.review_notes.push(text.into());
        self
    }

    pub fn done(mut self) {
        for (path, before, after) in std::mem::take(&mut self.touched) {
            let pre = before
                .iter()
                .zip(&after)
                .take_while(|(a, b)| a == b)
                .count();
            let max_suf = before.len().min(after.len()) - pre;
            let suf = before
                .iter()
                .rev()
                .zip(after.iter().rev())
                .take(max_suf)
                .take_while(|(a, b)| a == b)
                .count();
            self.unit.files.push(FileEdit {
                path: path.clone(),
                base_blob: git_blob_id(&before),
                edits: vec![Edit {
                    start: pre,
                    end: before.len() - suf,
                    text: String::from_utf8(after[pre..after.len() - suf].to_vec()).unwrap(),
                }],
            });
            self.plan.current.insert(path, after);
        }
        self.plan.units.push(self.unit);
    }
}

/// The whole migration on the 4.12 tree, 13 units.
pub fn invalidate_page_plan(tree: &Path) -> Plan {
    let mut p = PlanBuilder::new(tree);
    p.unit(
        Stage::new("callers"), "mm", "use mmu_notifier_invalidate_range() in rmap walkers")
        .replace(
            "mm/rmap.c",
            "\t\t\tmmu_notifier_invalidate_page(vma->vm_mm, address);",
            "\t\t\tmmu_notifier_invalidate_range(vma->vm_mm, address,\n\t\t\t\t\t\t      address + PAGE_SIZE);",
        )
        .replace(
            "mm/rmap.c",
            "\t\tmmu_notifier_invalidate_page(mm, address);",
            "\t\tmmu_notifier_invalidate_range(mm, address,\n\t\t\t\t\t      address + PAGE_SIZE);",
        )
        .why("page_mkclean_one() and try_to_unmap_one() change the entry under the page-table lock, so the atomic range callback is the one to call there.")
        .done();
    p.unit(
        Stage::new("callers"), "fs/dax", "use mmu_notifier_invalidate_range() when cleaning entries")
        .replace(
            "fs/dax.c",
            "\t\t\tmmu_notifier_invalidate_page(vma->vm_mm, address);",
            "\t\t\tmmu_notifier_invalidate_range(vma->vm_mm, address,\n\t\t\t\t\t\t      address + PAGE_SIZE);",
        )
        .done();

    p.unit(
        Stage::new("callbacks"),
        "drivers/iommu/amd",
        "remove the unused invalidate_page callback",
    )
    .remove_fn(
        "drivers/iommu/amd_iommu_v2.c",
        "static void mn_invalidate_page(",
    )
    .remove(
        "drivers/iommu/amd_iommu_v2.c",
        "\t.invalidate_page        = mn_invalidate_page,",
        ",",
    )
    .why("mn_invalidate_range() already flushes any range, one page included.")
    .done();
    p.unit(
        Stage::new("callbacks"),
        "drivers/iommu/intel",
        "remove the unused invalidate_page callback",
    )
    .remove_fn(
        "drivers/iommu/intel-svm.c",
        "static void intel_invalidate_page(",
    )
    .remove(
        "drivers/iommu/intel-svm.c",
        "\t.invalidate_page = intel_invalidate_page,",
        ",",
    )
    .done();
    p.unit(
        Stage::new("callbacks"),
        "drivers/xen",
        "remove the unused invalidate_page callback",
    )
    .remove_fn("drivers/xen/gntdev.c", "static void mn_invl_page(")
    .remove(
        "drivers/xen/gntdev.c",
        "\t.invalidate_page        = mn_invl_page,",
        ",",
    )
    .why("mn_invl_page() only forwarded one page to mn_invl_range_start().")
    .done();
    p.unit(
        Stage::new("callbacks"),
        "drivers/infiniband/core",
        "remove the unused invalidate_page callback",
    )
    .remove_fn(
        "drivers/infiniband/core/umem_odp.c",
        "static void ib_umem_notifier_invalidate_page(",
    )
    .remove(
        "drivers/infiniband/core/umem_odp.c",
        "\t.invalidate_page            = ib_umem_notifier_invalidate_page,",
        ",",
    )
    .done();
    p.unit(
        Stage::new("callbacks"),
        "drivers/infiniband/hw/hfi1",
        "remove the unused invalidate_page callback",
    )
    .remove(
        "drivers/infiniband/hw/hfi1/mmu_rb.c",
        "static inline void mmu_notifier_page(struct mmu_notifier *, struct mm_struct *,",
        "unsigned long);",
    )
    .remove_fn(
        "drivers/infiniband/hw/hfi1/mmu_rb.c",
        "static inline void mmu_notifier_page(struct mmu_notifier *mn,",
    )
    .remove(
        "drivers/infiniband/hw/hfi1/mmu_rb.c",
        "\t.invalidate_page = mmu_notifier_page,",
        ",",
    )
    .done();
    p.unit(
        Stage::new("callbacks"),
        "drivers/gpu/drm/amd/amdgpu",
        "remove the unused invalidate_page callback",
    )
    .remove_fn(
        "drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c",
        "/**\n * amdgpu_mn_invalidate_page - ",
    )
    .remove(
        "drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c",
        "\t.invalidate_page = amdgpu_mn_invalidate_page,",
        ",",
    )
    .done();
    p.unit(
        Stage::new("callbacks"), "drivers/misc/sgi-gru", "remove the unused invalidate_page callback")
        .remove_fn("drivers/misc/sgi-gru/grutlbpurge.c", "static void gru_invalidate_page(")
        .remove("drivers/misc/sgi-gru/grutlbpurge.c", "\t.invalidate_page\t= gru_invalidate_page,", ",")
        .review("the mmu_invalidate_page statistics counter of the GRU driver is kept (it is user-visible in /proc) but no longer incremented.")
        .done();
    p.unit(
        Stage::new("callbacks"),
        "drivers/misc/mic/scif",
        "remove the unused invalidate_page callback",
    )
    .remove_fn(
        "drivers/misc/mic/scif/scif_dma.c",
        "static void scif_mmu_notifier_invalidate_page(",
    )
    .remove(
        "drivers/misc/mic/scif/scif_dma.c",
        "\t.invalidate_page = scif_mmu_notifier_invalidate_page,",
        ",",
    )
    .done();
    p.unit(
        Stage::new("callbacks"),
        "arch/powerpc/platforms/powernv",
        "remove the unused invalidate_page callback",
    )
    .remove_fn(
        "arch/powerpc/platforms/powernv/npu-dma.c",
        "static void pnv_npu2_mn_invalidate_page(",
    )
    .remove(
        "arch/powerpc/platforms/powernv/npu-dma.c",
        "\t.invalidate_page = pnv_npu2_mn_invalidate_page,",
        ",",
    )
    .done();

    let hook = "kvm_arch_mmu_notifier_invalidate_page(struct kvm *kvm,\n\t\t\t\t\t\t\t unsigned long address)\n{\n}\n\n";
    let mut kvm = p
        .unit(Stage::new("kvm"), "virt/kvm", "replace the invalidate_page hook with a range hook")
        .remove_fn("virt/kvm/kvm_main.c", "static void kvm_mmu_notifier_invalidate_page(")
        .remove("virt/kvm/kvm_main.c", "\t.invalidate_page\t= kvm_mmu_notifier_invalidate_page,", ",")
        .replace(
            "virt/kvm/kvm_main.c",
            "\t\tkvm_flush_remote_tlbs(kvm);\n\n\tspin_unlock(&kvm->mmu_lock);\n\tsrcu_read_unlock(&kvm->srcu, idx);\n}\n\nstatic void kvm_mmu_notifier_invalidate_range_end(",
            "\t\tkvm_flush_remote_tlbs(kvm);\n\n\tspin_unlock(&kvm->mmu_lock);\n\n\tkvm_arch_mmu_notifier_invalidate_range(kvm, start, end);\n\n\tsrcu_read_unlock(&kvm->srcu, idx);\n}\n\nstatic void kvm_mmu_notifier_invalidate_range_end(",
        )
        .replace(
            "virt/kvm/kvm_main.c",
            "static inline struct kvm *mmu_notifier_to_kvm(struct mmu_notifier *mn)\n{\n\treturn container_of(mn, struct kvm, mmu_notifier);\n}\n",
            "static inline struct kvm *mmu_notifier_to_kvm(struct mmu_notifier *mn)\n{\n\treturn container_of(mn, struct kvm, mmu_notifier);\n}\n\n__weak void kvm_arch_mmu_notifier_invalidate_range(struct kvm *kvm,\n\t\t\t\t\t\t   unsigned long start,\n\t\t\t\t\t\t   unsigned long end)\n{\n}\n",
        )
        .replace(
            "include/linux/kvm_host.h",
            "void kvm_arch_flush_shadow_all(struct kvm *kvm);\n",
            "void kvm_arch_flush_shadow_all(struct kvm *kvm);\nvoid kvm_arch_mmu_notifier_invalidate_range(struct kvm *kvm,\n\t\t\t\t\t    unsigned long start,\n\t\t\t\t\t    unsigned long end);\n",
        );
    for arch in ["arm", "arm64", "mips", "powerpc"] {
        kvm = kvm.replace(
            &format!("arch/{arch}/include/asm/kvm_host.h"),
            &format!("static inline void {hook}"),
            "",
        );
    }
    kvm.replace(
        "arch/x86/include/asm/kvm_host.h",
        "void kvm_arch_mmu_notifier_invalidate_page(struct kvm *kvm,\n\t\t\t\t\t   unsigned long address);\n",
        "",
    )
    .replace(
        "arch/x86/kvm/x86.c",
        "void kvm_arch_mmu_notifier_invalidate_page(struct kvm *kvm,\n\t\t\t\t\t   unsigned long address)\n{\n",
        "void kvm_arch_mmu_notifier_invalidate_range(struct kvm *kvm,\n\t\t\t\t\t    unsigned long start,\n\t\t\t\t\t    unsigned long end)\n{\n\tunsigned long apic_address;\n\n",
    )
    .replace(
        "arch/x86/kvm/x86.c",
        "\tif (address == gfn_to_hva(kvm, APIC_DEFAULT_PHYS_BASE >> PAGE_SHIFT))\n",
        "\tapic_address = gfn_to_hva(kvm, APIC_DEFAULT_PHYS_BASE >> PAGE_SHIFT);\n\tif (start <= apic_address && apic_address < end)\n",
    )
    .why("The empty hooks of arm, arm64, mips and powerpc go; a weak empty range hook in generic code stands for them.")
    .review("arch/x86/kvm/x86.c: kvm_arch_mmu_notifier_invalidate_page() is converted, not removed: the APIC access page reload now runs from invalidate_range_start() for every range that contains the page.")
    .done();

    p.unit(
        Stage::new("api"), "mm", "remove the invalidate_page API")
        .remove("include/linux/mmu_notifier.h", "\t/*\n\t * Before this is invoked any secondary MMU", "unsigned long address);")
        .remove("include/linux/mmu_notifier.h", "extern void __mmu_notifier_invalidate_page(", "unsigned long address);")
        .remove_fn("include/linux/mmu_notifier.h", "static inline void mmu_notifier_invalidate_page(struct mm_struct *mm,\n\t\t\t\t\t  unsigned long address)\n{\n\tif")
        .remove_fn("include/linux/mmu_notifier.h", "static inline void mmu_notifier_invalidate_page(")
        .remove_fn("mm/mmu_notifier.c", "void __mmu_notifier_invalidate_page(")
        .done();
    p.finish()
}

// A small repository with history, for the tests that do not need the
// real tree (needs the including test binary to have `mod common;`).

const MAINTAINERS: &str = "\
List of maintainers

MEMORY MANAGEMENT
M:\tAndrew Morton <akpm@example.org>
L:\tlinux-mm@example.org
S:\tMaintained
F:\tinclude/linux/mm*.h
F:\tmm/

AMD IOMMU (AMD-VI)
M:\tJoerg Roedel <joro@example.org>
L:\tiommu@example.org
S:\tMaintained
F:\tdrivers/iommu/amd_iommu*.[ch]

THE REST
M:\tLinus Torvalds <torvalds@example.org>
L:\tlinux-kernel@example.org
S:\tBuried alive in reporters
F:\t*
F:\t*/
";

const RMAP: &str = "\
void page_mkclean_one(struct vm_area_struct *vma, unsigned long address)
{
\tif (ret)
\t\tmmu_notifier_invalidate_page(vma->vm_mm, address);
}
";

const AMD: &str = "\
static void mn_invalidate_page(struct mmu_notifier *mn,
\t\t\t       struct mm_struct *mm,
\t\t\t       unsigned long address)
{
\t__mn_flush_page(mn, address);
}

static const struct mmu_notifier_ops iommu_mn = {
\t.release\t\t= mn_release,
\t.invalidate_page        = mn_invalidate_page,
\t.invalidate_range       = mn_invalidate_range,
};
";

const HEADER: &str = "\
struct mmu_notifier_ops {
\tvoid (*invalidate_page)(struct mmu_notifier *mn,
\t\t\t\tstruct mm_struct *mm,
\t\t\t\tunsigned long address);

\tvoid (*invalidate_range)(struct mmu_notifier *mn);
};
";

/// A repository with history: mm/rmap.c and the AMD driver have a few
/// commits each with their subsystem's prefix; the header has none.
pub fn small_repo() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("linux");
    for (path, text) in [
        ("MAINTAINERS", MAINTAINERS),
        ("mm/rmap.c", RMAP),
        ("drivers/iommu/amd_iommu_v2.c", AMD),
        ("include/linux/mmu_notifier.h", HEADER),
    ] {
        fs::create_dir_all(dir.join(path).parent().unwrap()).unwrap();
        fs::write(dir.join(path), text).unwrap();
    }
    let g = |args: &[&str]| crate::common::git(&dir, args).unwrap();
    g(&["init", "-q", "-b", "master"]);
    g(&["add", "-A"]);
    g(&["commit", "-qm", "initial import"]);
    for (path, subject) in [
        ("mm/rmap.c", "mm, rmap: account THP pages"),
        ("drivers/iommu/amd_iommu_v2.c", "iommu/amd: fix a leak"),
        ("mm/rmap.c", "mm: fix a comment in rmap"),
        ("mm/rmap.c", "mm, rmap: simplify the walk"),
        (
            "drivers/iommu/amd_iommu_v2.c",
            "iommu/amd: use the right domain",
        ),
    ] {
        let mut t = fs::read_to_string(dir.join(path)).unwrap();
        t.push_str(&format!("/* {subject} */\n"));
        fs::write(dir.join(path), t).unwrap();
        g(&["commit", "-qam", subject]);
    }
    g(&["config", "user.name", "Ada Kernel"]);
    g(&["config", "user.email", "ada@example.org"]);
    (tmp, dir)
}

pub fn small_plan(dir: &Path) -> Plan {
    let mut p = PlanBuilder::new(dir);
    p.unit(
        Stage::new("callers"),
        "mm",
        "use mmu_notifier_invalidate_range()",
    )
    .replace(
        "mm/rmap.c",
        "mmu_notifier_invalidate_page(vma->vm_mm, address);",
        "mmu_notifier_invalidate_range(vma->vm_mm, address,\n\t\t\t\t\t      address + PAGE_SIZE);",
    )
    .done();
    p.unit(
        Stage::new("callbacks"),
        "drivers/iommu/amd",
        "remove the unused invalidate_page callback",
    )
    .remove_fn(
        "drivers/iommu/amd_iommu_v2.c",
        "static void mn_invalidate_page(",
    )
    .remove("drivers/iommu/amd_iommu_v2.c", "\t.invalidate_page ", ",")
    .done();
    p.unit(Stage::new("api"), "mm", "remove the invalidate_page API")
        .remove(
            "include/linux/mmu_notifier.h",
            "\tvoid (*invalidate_page)",
            "address);",
        )
        .done();
    p.finish()
}
