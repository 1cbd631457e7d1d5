//! The second recipe, `notifier-range` (Linux 4.20's `struct
//! mmu_notifier_range`): its shapes on our own fixtures, exactly, and on
//! the real 4.12 tree alone, after the invalidate-page series, and cut
//! into a series whose every commit builds.

use crate::common;

use std::path::{Path, PathBuf};

use kseries::recipe::{self, Recipe};
use kseries::rewrite::plan::Plan;
use kseries::scan::ScanReport;
use kseries::scan::model::Detail;

fn fixture(name: &str) -> PathBuf {
    common::project_root()
        .join("tests/fixtures/notifier_range")
        .join(name)
}

fn recipe() -> Recipe {
    recipe::by_id("notifier-range").expect("the recipe is registered")
}

/// A copy of fixture trees outside the repository (a path inside a git
/// work tree plans the whole work tree).
fn copy(parts: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    for p in parts {
        common::copy_dir(&fixture(p), &tree);
    }
    (dir, tree)
}

fn plan_of(tree: &Path) -> (ScanReport, Plan) {
    let r = recipe();
    let scan = kseries::scan::scan(tree, &r).unwrap();
    assert!(scan.summary.accounted, "every occurrence accounted for");
    let plan = kseries::rewrite::plan(tree, &scan, &r).unwrap();
    (scan, plan)
}

fn stages(plan: &Plan) -> Vec<&str> {
    plan.units.iter().map(|u| u.stage.as_str()).collect()
}

/// The fixture trees `parts` plan all three stages with nothing for
/// review, and `kseries rewrite` prints exactly the diff in `golden`.
fn converts_to_exactly(parts: &[&str], golden: &str) -> (tempfile::TempDir, PathBuf, Plan) {
    let (guard, tree) = copy(parts);
    let (_, plan) = plan_of(&tree);
    assert_eq!(stages(&plan), ["structure", "callers", "callbacks"]);
    assert!(plan.needs_review.is_empty(), "{:#?}", plan.needs_review);
    let diff = common::kseries_ok(&[
        "rewrite".as_ref(),
        "--recipe".as_ref(),
        "notifier-range".as_ref(),
        tree.as_os_str(),
    ]);
    let expected = std::fs::read(fixture(golden)).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&diff),
        String::from_utf8_lossy(&expected)
    );
    (guard, tree, plan)
}

#[test]
fn fixture_shapes_give_exactly_the_expected_diff() {
    converts_to_exactly(&["tree"], "tree.diff");
}

/// A converted tree needs nothing; one where a caller's file and a
/// callback's file went back to the old form (a half-converted tree, which
/// does not build) is reported file by file, and nothing is edited.
#[test]
fn a_converted_tree_needs_nothing_and_a_half_converted_one_is_named() {
    let (_g, tree) = copy(&["tree"]);
    let (_, plan) = plan_of(&tree);
    let outcome = kseries::rewrite::outcome(&tree, &plan).unwrap();
    for (path, (_, new)) in &outcome {
        std::fs::write(tree.join(path), new).unwrap();
    }
    let (_, again) = plan_of(&tree);
    assert!(again.units.is_empty(), "{:#?}", again.units);
    assert!(again.needs_review.is_empty(), "{:#?}", again.needs_review);

    // One file at a time: an old caller holds the callbacks' stage back.
    for old in ["mm/shapes.c", "drivers/widget/widget_mn.c"] {
        let converted = std::fs::read(tree.join(old)).unwrap();
        std::fs::copy(fixture("tree").join(old), tree.join(old)).unwrap();
        let (_, half) = plan_of(&tree);
        assert!(half.units.is_empty(), "{old}: {:#?}", half.units);
        assert!(
            half.needs_review
                .iter()
                .any(|r| r.file == old && r.reason.contains("half converted")),
            "{old}: {:#?}",
            half.needs_review
        );
        std::fs::write(tree.join(old), converted).unwrap();
    }
}

#[test]
fn shapes_it_cannot_prove_are_named_and_keep_the_flag_days_back() {
    let (_g, tree) = copy(&["tree", "review"]);
    let (_, plan) = plan_of(&tree);
    assert_eq!(stages(&plan), ["structure"], "{:#?}", plan.needs_review);
    let reasons: Vec<String> = plan.needs_review.iter().map(|r| r.to_string()).collect();
    let has = |needle: &str| {
        assert!(
            reasons.iter().any(|r| r.contains(needle)),
            "no review item with {needle:?}: {reasons:#?}"
        )
    };
    has("mm/helper.c:10: open_for_caller(): a start whose end");
    has("mm/helper.c:17: close_in_caller(): an end whose start");
    has("mm/helper.c:23: named_range(): the function already uses the name `range`");
    has("mm/helper.c:32: moving_end(): `e` changes between the start and the end");
    has("the callers' flag day is not made");
    has("the callbacks stage is kept");
    // The API is reshaped, not removed: the gate says what would not build.
    has("changing the API under them would not build");
    // Nothing of the untouchable file is edited.
    assert!(plan.units[0].files.iter().all(|f| f.path != "mm/helper.c"));
}

/// A tree whose `__` start takes a `blockable` flag its wrapper passes as
/// a constant: the flag becomes a member, the wrapper stores the constant,
/// the callbacks read `range->blockable`.  Nothing of the old form is
/// left, a second plan needs nothing, and `check` finds nothing.
#[test]
fn a_tree_whose_start_takes_blockable_gets_it_as_a_member() {
    let (_g, tree, plan) = converts_to_exactly(&["blockable"], "blockable.diff");
    let outcome = kseries::rewrite::outcome(&tree, &plan).unwrap();
    for (path, (_, new)) in &outcome {
        std::fs::write(tree.join(path), new).unwrap();
    }
    let all: String = [
        "include/linux/mmu_notifier.h",
        "mm/mmu_notifier.c",
        "drivers/gadget/gadget_mn.c",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(tree.join(f)).unwrap())
    .collect();
    for old in ["bool blockable)", "blockable);", "(mn, mm", "(mm, 0, -1UL)"] {
        assert!(!all.contains(old), "{old:?} is left: {all}");
    }
    assert!(all.contains("\tbool blockable;\n"), "{all}");
    assert!(all.contains("range->blockable = true;"), "{all}");
    assert!(all.contains("!range->blockable"), "{all}");
    let (_, again) = plan_of(&tree);
    assert!(again.units.is_empty(), "{:#?}", again.units);
    assert!(again.needs_review.is_empty(), "{:#?}", again.needs_review);
    assert_eq!(check_findings(&tree), []);
}

/// The fixture tree `name` with `from` replaced by `to` in its header
/// plans nothing and names, first, at `header:line` of the line `at` of
/// the changed header, a reason that contains `reason`.
fn header_edit_is_reported(name: &str, from: &str, to: &str, at: &str, reason: &str) {
    let header = "include/linux/mmu_notifier.h";
    edit_is_reported(&[name], header, (from, to), (header, at), reason);
}

/// The fixture trees `parts` with `edit.0` replaced by `edit.1` in `path`
/// plan nothing and name, first, at `file:line` of the first line of
/// `at = (file, text)` that holds the text, a reason that contains
/// `reason`.
fn edit_is_reported(
    parts: &[&str],
    path: &str,
    edit: (&str, &str),
    at: (&str, &str),
    reason: &str,
) {
    let (_g, tree) = copy(parts);
    let file = tree.join(path);
    let src = std::fs::read_to_string(&file).unwrap();
    let changed = src.replace(edit.0, edit.1);
    assert_ne!(src, changed);
    std::fs::write(&file, &changed).unwrap();
    let line = 1 + std::fs::read_to_string(tree.join(at.0))
        .unwrap()
        .lines()
        .position(|l| l.contains(at.1))
        .unwrap_or_else(|| panic!("no line with {:?} in {}", at.1, at.0));
    let (_, plan) = plan_of(&tree);
    assert!(plan.units.is_empty(), "{:#?}", plan.units);
    let first = &plan.needs_review[0];
    assert_eq!((first.file.as_str(), first.line), (at.0, line), "{first}");
    assert!(first.reason.contains(reason), "{:#?}", plan.needs_review);
}

/// A constant the rules cannot prove (a wrapper that passes a call for
/// the extra member) is named, not guessed.
#[test]
fn a_blockable_wrapper_that_passes_no_constant_is_reported_not_guessed() {
    header_edit_is_reported(
        "blockable",
        "end, true);",
        "end, may_block());",
        "static inline void mmu_notifier_invalidate_range_start(",
        "`may_block()` for `blockable`, not a constant",
    );
}

/// A header with a blocking and a non-blocking wrapper of the `__` start
/// (Linux 4.19), whose non-blocking start a caller tests in an `if` in a
/// loop (and negated, in another function) and ends after: each wrapper
/// stores the constant it passed and the non-blocking one returns the
/// result; each caller sets up the range right before the `if`.  Nothing
/// of the old form is left, a second plan needs nothing, `check` finds
/// nothing, and every file builds before and after, with and without the
/// notifiers.
#[test]
fn a_tree_with_a_non_blocking_start_gets_both_wrappers_converted() {
    let (_g, tree) = copy(&["nonblock"]);
    builds(&tree, NONBLOCK_FILES, NONBLOCK_CALLERS);
    let (_g, tree, plan) = converts_to_exactly(&["nonblock"], "nonblock.diff");
    // The commit message names the second wrapper.
    assert!(
        plan.units[1]
            .description
            .iter()
            .any(|d| d.starts_with("mmu_notifier_invalidate_range_start_nonblock() changes")),
        "{:#?}",
        plan.units[1].description
    );
    let outcome = kseries::rewrite::outcome(&tree, &plan).unwrap();
    for (path, (_, new)) in &outcome {
        std::fs::write(tree.join(path), new).unwrap();
    }
    let converted = Converted {
        files: NONBLOCK_FILES,
        callers: NONBLOCK_CALLERS,
    };
    converted.is_whole(
        &tree,
        &[
            "bool blockable)",
            "end, true)",
            "end, false)",
            "_nonblock(mm",
            "_nonblock(struct mm_struct",
            "(mm, start, end)",
            "(mm, a->first, a->last)",
        ],
        &[
            "\trange->blockable = true;\n",
            "\trange->blockable = false;\n",
            "return __mmu_notifier_invalidate_range_start(range);",
            "mmu_notifier_invalidate_range_start_nonblock(struct mmu_notifier_range *range)",
            "if (mmu_notifier_invalidate_range_start_nonblock(&range)) {",
            "if (!mmu_notifier_invalidate_range_start_nonblock(&range)) {",
        ],
    );
}

/// The C files of a converted fixture tree, and those of its callers.
struct Converted<'a> {
    files: &'a [&'a str],
    callers: &'a [&'a str],
}

impl Converted<'_> {
    /// Every file builds, nothing of `old` is left in them or the header,
    /// each of `new` is there, a second plan needs nothing and `check`
    /// finds nothing.
    fn is_whole(&self, tree: &Path, old: &[&str], new: &[&str]) {
        builds(tree, self.files, self.callers);
        let all: String = self
            .files
            .iter()
            .chain(["include/linux/mmu_notifier.h"].iter())
            .map(|f| std::fs::read_to_string(tree.join(f)).unwrap())
            .collect();
        for old in old {
            assert!(!all.contains(old), "{old:?} is left: {all}");
        }
        for new in new {
            assert!(all.contains(new), "no {new:?}: {all}");
        }
        let (_, again) = plan_of(tree);
        assert!(again.units.is_empty(), "{:#?}", again.units);
        assert!(again.needs_review.is_empty(), "{:#?}", again.needs_review);
        assert_eq!(check_findings(tree), []);
    }
}

/// The C files of the nonblock fixture, and those of its callers.
const NONBLOCK_FILES: &[&str] = &[
    "mm/mmu_notifier.c",
    "mm/reaper.c",
    "drivers/gizmo/gizmo_mn.c",
];
const NONBLOCK_CALLERS: &[&str] = &["mm/reaper.c"];

/// Every one of `files` in the fixture tree at `tree` builds as the
/// kernel's C (gnu89, declarations first), with the notifiers and, for
/// the `callers`, without them (the stubs).
fn builds(tree: &Path, files: &[&str], callers: &[&str]) {
    let cc = |file: &str, config: bool| {
        let mut cmd = std::process::Command::new("cc");
        cmd.current_dir(tree).args([
            "-std=gnu89",
            "-fsyntax-only",
            "-Wall",
            "-Wdeclaration-after-statement",
            "-Werror",
            "-Iinclude",
        ]);
        if config {
            cmd.arg("-DCONFIG_MMU_NOTIFIER");
        }
        let out = cmd.arg(file).output().expect("cc runs");
        assert!(
            out.status.success(),
            "{file} (notifiers {config}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for file in files {
        cc(file, true);
    }
    for file in callers {
        cc(file, false);
    }
}

/// A wrapper of the `__` start the rules cannot read is named at its line
/// with why, and nothing is changed: one that passes no constant, one
/// whose body does something with the result, and one the recipe does not
/// list (its callers were not scanned as the API's).
#[test]
fn a_second_wrapper_it_cannot_read_is_reported_not_guessed() {
    let nonblock = "static inline int mmu_notifier_invalidate_range_start_nonblock(";
    header_edit_is_reported(
        "nonblock",
        "end, false);",
        "end, may_block());",
        nonblock,
        "mmu_notifier_invalidate_range_start_nonblock() calls \
         __mmu_notifier_invalidate_range_start(): it passes `may_block()` for `blockable`, not a \
         constant",
    );
    header_edit_is_reported(
        "nonblock",
        "return __mmu_notifier_invalidate_range_start(mm, start, end, false);",
        "return -__mmu_notifier_invalidate_range_start(mm, start, end, false);",
        nonblock,
        "the call is neither a statement of its own nor the value returned",
    );
    header_edit_is_reported(
        "nonblock",
        "_start_nonblock(",
        "_start_try(",
        "static inline int mmu_notifier_invalidate_range_start_try(",
        "the recipe does not list mmu_notifier_invalidate_range_start_try() among the API's \
         functions",
    );
}

/// A start an `if` tests together with something else (here after a
/// `||`, which may skip it) has no proven place for its initialiser: it is
/// named at its line, and the callers' flag day is not made.
#[test]
fn a_start_tested_with_more_than_its_result_is_reported_not_guessed() {
    let (_g, tree) = copy(&["nonblock"]);
    let path = tree.join("mm/reaper.c");
    let src = std::fs::read_to_string(&path).unwrap();
    let test = "if (mmu_notifier_invalidate_range_start_nonblock(mm, start, end)) {";
    let changed = src.replace(
        test,
        "if (a->last == a->first ||\n\t\t\t    mmu_notifier_invalidate_range_start_nonblock(mm, start, end)) {",
    );
    assert_ne!(src, changed);
    std::fs::write(&path, &changed).unwrap();
    let line = 1 + changed
        .lines()
        .position(|l| l.contains("\t    mmu_notifier_invalidate_range_start_nonblock("))
        .unwrap();
    let (_, plan) = plan_of(&tree);
    assert_eq!(stages(&plan), ["structure"], "{:#?}", plan.needs_review);
    let reasons: Vec<String> = plan.needs_review.iter().map(|r| r.to_string()).collect();
    let expected = format!(
        "mm/reaper.c:{line}: reap_areas(): the start is neither a statement of its own nor the \
         whole test of an `if`"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with(&expected)),
        "{expected:?} not in {reasons:#?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("the callers' flag day is not made"))
    );
}

/// A 4.19-shaped header (on the nonblock tree): the `__` end takes an
/// `only_end` flag its implementation uses itself and passes to no
/// callback, and a second end wrapper passes `true` for it.  The flag
/// stays a parameter after the range, each end wrapper keeps passing its
/// constant, and a caller that ends with the second wrapper pairs it with
/// its start and passes `&range`.  Nothing of the old form is left, a
/// second plan needs nothing, `check` finds nothing, and every file builds
/// before and after, with and without the notifiers.
#[test]
fn a_tree_whose_end_keeps_a_parameter_of_its_own_gets_both_ends_converted() {
    let parts = ["nonblock", "onlyend"];
    let files: Vec<&str> = NONBLOCK_FILES
        .iter()
        .copied()
        .chain(["mm/mover.c"])
        .collect();
    let callers = ["mm/reaper.c", "mm/mover.c"];
    let (_g, tree) = copy(&parts);
    builds(&tree, &files, &callers);
    let (_g, tree, plan) = converts_to_exactly(&parts, "onlyend.diff");
    let said = |needle: &str| {
        assert!(
            plan.units[1]
                .description
                .iter()
                .any(|d| d.starts_with(needle)),
            "no {needle:?} in {:#?}",
            plan.units[1].description
        )
    };
    said("mmu_notifier_invalidate_range_only_end() changes the same way");
    said("__mmu_notifier_invalidate_range_end() keeps `only_end` as a parameter");
    let outcome = kseries::rewrite::outcome(&tree, &plan).unwrap();
    for (path, (_, new)) in &outcome {
        std::fs::write(tree.join(path), new).unwrap();
    }
    let converted = Converted {
        files: &files,
        callers: &callers,
    };
    converted.is_whole(
        &tree,
        &[
            "end, true)",
            "end, false)",
            "_only_end(mm",
            "_only_end(struct mm_struct",
            "(mm, start, end)",
            "bool only_end;",
            "range->only_end",
        ],
        &[
            "__mmu_notifier_invalidate_range_end(range, false);",
            "__mmu_notifier_invalidate_range_end(range, true);",
            "__mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range,\n\t\t\t\t\t bool only_end)\n{",
            "if (!only_end && mn->ops->invalidate_range)",
            "mmu_notifier_invalidate_range_only_end(&range);",
            "\tbool blockable;\n",
        ],
    );
}

/// A parameter of a `__` function beyond the wrappers' that the rules
/// cannot place is named where its implementation is, never mapped onto a
/// member or kept by guess: one the implementation does not take (the
/// header alone has it), and one the implementation passes to an ops
/// member inside an expression.
#[test]
fn an_extra_parameter_it_cannot_classify_is_reported_not_guessed() {
    let cannot = "__mmu_notifier_invalidate_range_end() takes (mm, start, end, only_end) where \
                  the wrappers take (mm, start, end), and whether `only_end` is a member of the \
                  range or a parameter of its own cannot be told";
    let definition = (
        "mm/mmu_notifier.c",
        "void __mmu_notifier_invalidate_range_end(",
    );
    edit_is_reported(
        &["blockable"],
        "include/linux/mmu_notifier.h",
        (
            "unsigned long start, unsigned long end);\n\nstatic",
            "unsigned long start, unsigned long end,\n\t\t\t\t  bool only_end);\n\nstatic",
        ),
        definition,
        &format!("{cannot}: its definition takes (mm, start, end)"),
    );
    edit_is_reported(
        &["nonblock", "onlyend"],
        "mm/mmu_notifier.c",
        (
            "mn->ops->invalidate_range_end(mn, mm, start, end);",
            "mn->ops->invalidate_range_end(mn, mm, start, end + only_end);",
        ),
        definition,
        &format!("{cannot}: it passes `end + only_end` to ->invalidate_range_end()"),
    );
}

#[test]
fn two_headers_with_the_api_are_not_guessed_between() {
    let (_g, tree) = copy(&["tree"]);
    common::copy_dir(&fixture("tree/include"), &tree.join("tools/include"));
    let (_, plan) = plan_of(&tree);
    assert!(plan.units.is_empty(), "{:#?}", plan.units);
    assert!(
        plan.needs_review[0]
            .reason
            .contains("include/linux/mmu_notifier.h, tools/include/linux/mmu_notifier.h"),
        "{:#?}",
        plan.needs_review
    );
}

/// Calls of the bracket wrappers with the old arguments, and callbacks
/// whose definition still takes them.
struct OldForm {
    calls: usize,
    old_calls: Vec<String>,
    callbacks: usize,
    old_callbacks: Vec<String>,
}

fn old_form(tree: &Path) -> OldForm {
    let r = recipe();
    let scan = kseries::scan::scan(tree, &r).unwrap();
    assert!(scan.summary.accounted);
    let undecided: Vec<_> = scan.of_kind("needs-review").collect();
    assert!(undecided.is_empty(), "{undecided:#?}");
    let mut out = OldForm {
        calls: 0,
        old_calls: Vec::new(),
        callbacks: 0,
        old_callbacks: Vec::new(),
    };
    for s in &scan.sites {
        match &s.detail {
            Detail::Call { callee, args, .. } => {
                out.calls += 1;
                if args.len() != 1 {
                    out.old_calls.push(format!(
                        "{}:{} {callee}({})",
                        s.file,
                        s.line,
                        args.join(", ")
                    ));
                }
            }
            Detail::Callback { name, .. } => {
                out.callbacks += 1;
                let src = std::fs::read_to_string(tree.join(&s.file)).unwrap();
                let head: String = src
                    .lines()
                    .skip(s.line - 1)
                    .take_while(|l| !l.starts_with('{'))
                    .collect::<Vec<_>>()
                    .join(" ");
                let params = head.split_once('(').map_or("", |(_, p)| p);
                if params.split(',').count() != 2 || !params.contains("struct mmu_notifier_range *")
                {
                    out.old_callbacks
                        .push(format!("{}:{} {name}: {head}", s.file, s.line));
                }
            }
            _ => {}
        }
    }
    out
}

/// Applies the recipe's plan to `clone` and checks that every call and
/// callback it had is in the new form.
fn convert_and_check(clone: &Path) -> Plan {
    let before = old_form(clone);
    assert!(before.calls > 0 && before.callbacks > 0);
    assert_eq!(
        before.old_calls.len(),
        before.calls,
        "{:#?}",
        before.old_calls
    );
    assert_eq!(before.old_callbacks.len(), before.callbacks);
    let checked_before = check_findings(clone);
    let (_, plan) = plan_of(clone);
    assert!(plan.needs_review.is_empty(), "{:#?}", plan.needs_review);
    assert_eq!(stages(&plan), ["structure", "callers", "callbacks"]);
    let outcome = kseries::rewrite::outcome(clone, &plan).unwrap();
    kseries::rewrite::apply::apply(clone, &outcome).unwrap();
    let after = old_form(clone);
    eprintln!(
        "notifier-range: {} calls and {} callbacks converted",
        before.calls, before.callbacks
    );
    assert_eq!(
        (after.calls, after.callbacks),
        (before.calls, before.callbacks)
    );
    assert!(after.old_calls.is_empty(), "{:#?}", after.old_calls);
    assert!(after.old_callbacks.is_empty(), "{:#?}", after.old_callbacks);
    // check, with this recipe, is clean: no error, and nothing the
    // conversion brought (what the tree had before stays, e.g. the other
    // migration's W1 in the order where it has not run).
    let checked_after = check_findings(clone);
    assert!(
        checked_after
            .iter()
            .all(|(_, severity, _)| severity != "Error"),
        "{checked_after:#?}"
    );
    let new: Vec<_> = checked_after
        .iter()
        .filter(|d| !checked_before.contains(d))
        .collect();
    assert!(new.is_empty(), "the conversion brought {new:#?}");
    plan
}

/// `kseries check --recipe notifier-range` on `tree`: per diagnostic its
/// code, severity and file (lines move with the conversion).
fn check_findings(tree: &Path) -> Vec<(String, String, String)> {
    let report = kseries::check::check(tree, &recipe()).unwrap();
    report
        .diagnostics
        .iter()
        .map(|d| (d.code.clone(), format!("{:?}", d.severity), d.file.clone()))
        .collect()
}

#[test]
fn on_4_12_alone_every_call_and_callback_is_converted() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let (_g, clone) = common::fresh_clone(&tree);
    convert_and_check(&clone);
}

#[test]
fn on_4_12_after_the_invalidate_page_series_every_call_and_callback_is_converted() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let (_g, clone) = common::fresh_clone(&tree);
    let first = recipe::by_id("invalidate-page").unwrap();
    let scan = kseries::scan::scan(&clone, &first).unwrap();
    let plan = kseries::rewrite::plan(&clone, &scan, &first).unwrap();
    assert!(plan.needs_review.is_empty(), "{:#?}", plan.needs_review);
    let outcome = kseries::rewrite::outcome(&clone, &plan).unwrap();
    kseries::rewrite::apply::apply(&clone, &outcome).unwrap();
    common::git(&clone, &["commit", "-qam", "invalidate-page"]).unwrap();
    convert_and_check(&clone);
}

#[test]
fn on_4_12_every_commit_of_the_series_builds_and_the_cover_explains_the_flag_days() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let (g, clone) = common::fresh_clone(&tree);
    common::git(&clone, &["config", "user.name", "Ada Kernel"]).unwrap();
    common::git(&clone, &["config", "user.email", "ada@example.org"]).unwrap();
    let (scan, plan) = plan_of(&clone);
    assert!(plan.needs_review.is_empty(), "{:#?}", plan.needs_review);
    let files_of = |kind: &str| -> std::collections::BTreeSet<String> {
        scan.of_kind(kind).map(|s| s.file.clone()).collect()
    };
    let out = g.path().join("out");
    let opts = kseries::series::SeriesOptions {
        output_dir: Some(out.clone()),
        branch: "kseries/notifier-range".into(),
        ..kseries::series::SeriesOptions::default()
    };
    let checker = kseries::series::KbuildCheck {
        build_dir: None,
        jobs: 2,
    };
    let r = kseries::series::make_series(
        &clone,
        &plan,
        &opts,
        &kseries::series::Verification::default(),
        Some(&checker),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.patches.len(), 3);
    for p in &r.patches {
        eprintln!("{:2} {} {:?}", p.number, p.subject, p.build);
        assert!(
            matches!(p.build, Some(kseries::series::BuildOutcome::Built { .. })),
            "{p:#?}"
        );
    }
    // Each flag day is one commit with every caller, or every callback.
    let touched = |n: usize| -> std::collections::BTreeSet<String> {
        r.patches[n].files.iter().cloned().collect()
    };
    assert!(files_of("call").is_subset(&touched(1)), "{:?}", touched(1));
    assert!(
        files_of("callback").is_subset(&touched(2)),
        "{:?}",
        touched(2)
    );
    let cover = std::fs::read_to_string(r.cover.file.as_ref().unwrap()).unwrap();
    let flat = cover.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("patch 2 is a flag day:"), "{cover}");
    assert!(flat.contains("patch 3 is a flag day:"), "{cover}");
    assert!(!flat.contains("patch 1 is a flag day"), "{cover}");
}
