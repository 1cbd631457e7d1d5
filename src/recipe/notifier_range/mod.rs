//! The Linux 4.20 migration of the range notifiers to
//! `struct mmu_notifier_range`: callers set up a range with
//! `mmu_notifier_range_init()` and pass `&range` to
//! `mmu_notifier_invalidate_range_start()` / `_end()`, and every
//! `->invalidate_range_start` / `->invalidate_range_end` callback takes
//! `const struct mmu_notifier_range *range`.
//!
//! A signature change cannot be split per driver and still build, so the
//! series has two declared flag days (see [`STAGES`]).  Everything this
//! recipe needs to know about the tree's API (the wrappers, the `__`
//! functions, the stubs, the ops members' parameters) is learnt from the
//! tree's own header, the `__` functions' implementation and the scan, by
//! the names below.  A parameter a `__` function takes beyond the
//! wrappers' is read from its implementation: one it passes on to the ops
//! member (4.19's `blockable`) joins the structure, and each wrapper (the
//! blocking start, 4.19's `_nonblock` that returns the result) stores the
//! constant it passed for it; one it passes to no ops call (4.15's
//! `only_end`) stays a parameter after the range, and each wrapper of the
//! end (the plain one, `_only_end`) keeps passing its constant (see
//! `api::Wrapper`).

mod api;
mod callbacks;
mod callers;
mod params;
mod structure;

use super::{ApiFate, Messages, Recipe, StageSpec};
use crate::rewrite::plan::ReviewItem;
use crate::rewrite::rule::{Rule, Wait};
use crate::rewrite::workspace::Workspace;
use crate::rewrite::{ChangeUnit, RewriteError};
use crate::scan::ScanReport;

/// The stages' names, as plans and `Wait`s refer to them.
const STRUCTURE: &str = "structure";
const CALLERS: &str = "callers";
const CALLBACKS: &str = "callbacks";

/// The structure the migration introduces, and its initialiser.
pub const RANGE_STRUCT: &str = "mmu_notifier_range";
pub const RANGE_INIT: &str = "mmu_notifier_range_init";
/// The name of the range variable a caller declares and of the callbacks'
/// parameter (as upstream named them).
pub const RANGE_VAR: &str = "range";
/// The `__` functions the wrappers call (the wrappers are
/// `Recipe::range_start` / `range_end`).
pub const INNER_START: &str = "__mmu_notifier_invalidate_range_start";
pub const INNER_END: &str = "__mmu_notifier_invalidate_range_end";
/// The ops members whose signature changes.
pub const MEMBERS: &[&str] = &["invalidate_range_start", "invalidate_range_end"];

pub fn recipe() -> Recipe {
    Recipe {
        id: "notifier-range",
        needle: "invalidate_range_",
        ops_member: MEMBERS[0],
        ops_members: MEMBERS,
        // The scan records, per callback, what the same ops sets for these
        // (`sets`): how the callbacks stage tells a start from an end.
        replacement_members: MEMBERS,
        // The scan sees calls of these names as the API's.  The wrappers
        // of the `__` start and end (which constant each passes, what it
        // returns) are learnt from the header; one the header defines that
        // is not listed here is named for review, since its callers were
        // not scanned.
        api_functions: &[
            "mmu_notifier_invalidate_range_start",
            // Linux 4.19: the start that may not block, for the OOM reaper.
            "mmu_notifier_invalidate_range_start_nonblock",
            "mmu_notifier_invalidate_range_end",
            // Linux 4.15: the end that skips ->invalidate_range, for a
            // range whose secondary TLBs were flushed page by page.
            "mmu_notifier_invalidate_range_only_end",
            INNER_START,
            INNER_END,
        ],
        arch_hooks: &[],
        messages: MESSAGES,
        api_fate: ApiFate::Reshaped,
        stages: STAGES,
        rules,
        // The bracket, lock and page-table knowledge is the same API's.
        ..super::invalidate_page::recipe()
    }
}

const MESSAGES: Messages = Messages {
    title: "mm/mmu_notifier: contextual information for range notifiers",
    what: "the Linux 4.20 conversion of the range notifiers to struct mmu_notifier_range",
    cover: &[
        "mmu_notifier_invalidate_range_start() and _end() pass (mm, start, end) to every \
         ->invalidate_range_start() and ->invalidate_range_end() callback. Adding anything \
         a callback should know about an invalidation (why it happens, whether it may \
         block) means changing every caller and every callback each time.",
        "This series puts the arguments in a struct mmu_notifier_range, set up once with \
         mmu_notifier_range_init() and passed by pointer. Locals that only held the bounds \
         become range.start and range.end; callbacks read range->mm, range->start and \
         range->end.",
    ],
};

/// Stage 1 adds the structure and its initialiser, unused, so it builds.
/// Stage 2 changes the wrappers, the `__` functions and every caller in one
/// commit (the `__` functions still call the ops members with the
/// structure's fields).  Stage 3 changes the ops members, their calls and
/// every callback in one commit.
const STAGES: &[StageSpec] = &[
    StageSpec {
        name: STRUCTURE,
        title: "structure",
        fallback: "Add struct mmu_notifier_range and mmu_notifier_range_init(), unused for now.",
        flag_day: None,
    },
    StageSpec {
        name: CALLERS,
        title: "callers",
        fallback: "Pass a struct mmu_notifier_range to mmu_notifier_invalidate_range_start() \
                   and _end(), and convert every caller.",
        flag_day: Some(
            "mmu_notifier_invalidate_range_start() and _end() change their signature: the \
             wrappers, the __mmu_notifier functions and every caller change in one commit, \
             since a caller left with the old arguments would not build.",
        ),
    },
    StageSpec {
        name: CALLBACKS,
        title: "callbacks",
        fallback: "Pass a const struct mmu_notifier_range to ->invalidate_range_start() and \
                   ->invalidate_range_end(), and convert every callback.",
        flag_day: Some(
            "->invalidate_range_start() and ->invalidate_range_end() of struct \
             mmu_notifier_ops change their signature: the members, the calls through them \
             and every driver's callback change in one commit, since a callback left with \
             the old parameters would not build.",
        ),
    },
];

/// The rules of the stages above.  The flag days wait for everything
/// before them: one use left for review would not build after them.
fn rules() -> Vec<Box<dyn Rule>> {
    vec![Box::new(Structure), Box::new(Callers), Box::new(Callbacks)]
}

/// Stage 1: the structure and its initialiser, unused yet.
struct Structure;
/// Stage 2 (flag day): the wrappers, the `__` functions and every caller.
struct Callers;
/// Stage 3 (flag day): the ops members, the calls through them and every
/// callback.
struct Callbacks;

impl Rule for Structure {
    fn stage(&self) -> &'static str {
        STRUCTURE
    }

    fn kept(&self) -> &'static str {
        "the structure stage"
    }

    fn convert(
        &self,
        ws: &mut Workspace,
        recipe: &Recipe,
        report: &ScanReport,
        review: &mut Vec<ReviewItem>,
    ) -> Result<Vec<ChangeUnit>, RewriteError> {
        structure::convert(ws, recipe, report, review)
    }
}

impl Rule for Callers {
    fn stage(&self) -> &'static str {
        CALLERS
    }

    fn wait(&self) -> Wait {
        Wait::For(&[STRUCTURE])
    }

    fn kept(&self) -> &'static str {
        "the callers stage"
    }

    fn convert(
        &self,
        ws: &mut Workspace,
        recipe: &Recipe,
        report: &ScanReport,
        review: &mut Vec<ReviewItem>,
    ) -> Result<Vec<ChangeUnit>, RewriteError> {
        callers::convert(ws, recipe, report, review)
    }
}

impl Rule for Callbacks {
    fn stage(&self) -> &'static str {
        CALLBACKS
    }

    fn wait(&self) -> Wait {
        Wait::For(&[STRUCTURE, CALLERS])
    }

    fn kept(&self) -> &'static str {
        "the callbacks stage"
    }

    fn convert(
        &self,
        ws: &mut Workspace,
        recipe: &Recipe,
        report: &ScanReport,
        review: &mut Vec<ReviewItem>,
    ) -> Result<Vec<ChangeUnit>, RewriteError> {
        callbacks::convert(ws, recipe, report, review)
    }
}

/// A review item at `file:line` (no file: about the whole plan).
fn item(file: &str, line: usize, reason: String) -> ReviewItem {
    ReviewItem {
        file: file.to_string(),
        line,
        reason,
    }
}

/// The 1-based line of byte `at`.
fn line_of(src: &[u8], at: usize) -> usize {
    memchr::memchr_iter(b'\n', &src[..at]).count() + 1
}

/// A flag day that is not made: the uses it would leave behind, then why
/// (after the change they would not build).
fn not_made(
    review: &mut Vec<ReviewItem>,
    refused: Vec<ReviewItem>,
    stage: &str,
    noun: (&str, &str),
    old: &str,
    change: &str,
) {
    let n = refused.len();
    review.extend(refused);
    review.push(item(
        "",
        0,
        format!(
            "the {stage}' flag day is not made: {} above {} {old}, and after {change} {} would \
             not build",
            crate::words::count(n, noun.0, noun.1),
            crate::words::noun(n, "keeps", "keep"),
            crate::words::noun(n, "it", "they")
        ),
    ));
}
