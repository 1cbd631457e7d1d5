//! Stage 1: convert every caller of the old API.
//!
//! `mmu_notifier_invalidate_page(mm, addr)` becomes
//! `mmu_notifier_invalidate_range(mm, cstart, cend)` under the page-table
//! lock with the exact range of the entry changed there, bracketed by
//! `invalidate_range_start/end` at the sleepable level around the walk or
//! lookup that takes the lock, for the worst-case range, with the end on
//! every path out.  A shape the rules cannot prove safe is left untouched
//! and reported for review with the reason.

use std::collections::BTreeMap;

use tree_sitter::Node;

use crate::recipe::{Extent, Level, Recipe};
use crate::rewrite::plan::{ChangeUnit, ReviewItem, Stage};
use crate::rewrite::rule::Rule;
use crate::rewrite::syntax::*;
use crate::rewrite::text::declaration_insert;
use crate::rewrite::text::{
    block_comment, call_statement, indent_at, line_end, line_is_blank, line_start, removal_range,
};
use crate::rewrite::workspace::{UnitDraft, Workspace};
use crate::rewrite::{Refusal, RewriteError};
use crate::scan::kernel_c::{
    Parsed, call_args, callee_name, calls_in, enclosing_function, function_name, text,
};
use crate::scan::locks::Locks;
use crate::scan::{Detail, ScanReport, Site, ptl};

/// Stage 1: every call of the old API, one unit per subsystem.
pub(super) struct Callers;

impl Rule for Callers {
    fn stage(&self) -> &'static str {
        super::CALLERS
    }

    fn kept(&self) -> &'static str {
        "callers"
    }

    /// Converts every call site, one unit per subsystem.
    fn convert(
        &self,
        ws: &mut Workspace,
        recipe: &Recipe,
        report: &ScanReport,
        review: &mut Vec<ReviewItem>,
    ) -> Result<Vec<ChangeUnit>, RewriteError> {
        let before = ws.clone();
        let mut by_subsystem: BTreeMap<&str, Vec<&Site>> = BTreeMap::new();
        for s in report
            .sites
            .iter()
            .filter(|s| matches!(s.detail, Detail::Call { .. }))
        {
            by_subsystem.entry(&s.subsystem).or_default().push(s);
        }
        let locks = Locks::new(recipe, &report.lock_helpers);
        let mut units = Vec::new();
        for (subsystem, sites) in by_subsystem {
            let functions: Vec<String> = sites.iter().filter_map(|s| s.function.clone()).collect();
            let summary = format!("use range notifiers in {}", list_functions(&functions));
            let mut draft = UnitDraft::new(Stage::new(super::CALLERS), subsystem, &summary);
            let mut shapes = Vec::new();
            let mut by_file: BTreeMap<&str, Vec<&Site>> = BTreeMap::new();
            for s in sites {
                by_file.entry(&s.file).or_default().push(s);
            }
            for (file, sites) in by_file {
                let (src, tree) = ws.parsed(file)?;
                let mut seen_functions = Vec::new();
                for site in sites {
                    if seen_functions.contains(&site.function) {
                        review.push(ReviewItem {
                            file: file.to_string(),
                            line: site.line,
                            reason: "a second call in the same function: one bracket for both cannot be proven".into(),
                        });
                        continue;
                    }
                    seen_functions.push(site.function.clone());
                    let cx = CallCx {
                        recipe,
                        locks: &locks,
                        file,
                        src: &src,
                    };
                    match cx.convert_site(&tree, site) {
                        Ok(conv) => {
                            for (s, e, t) in conv.edits {
                                draft.replace(file, s, e, t);
                            }
                            draft.rationale.push(conv.rationale);
                            shapes.push(conv.shape);
                        }
                        Err(refusal) => refusal.review_or_stop(review, file, site.line)?,
                    }
                }
            }
            if !draft.is_empty() {
                draft.description = describe(recipe, &shapes);
                units.push(ws.commit(draft)?);
            }
        }
        super::accessed::name_young_tests(before, &mut units, recipe)?;
        Ok(units)
    }
}

/// A lookup that takes the lock, as the bracket's range needs it.
struct Lookup<'a, 't> {
    stmt: Node<'t>,
    call: Node<'t>,
    args: &'a [String],
    /// Its address argument, and the index of its page argument.
    addr: &'a str,
    page_arg: Option<usize>,
}

/// The worst case of a walk or lookup of `page`: the whole compound page,
/// aligned to its size, within the vma.
fn compound_page_range(names: &Names, page: &str, vma: &str, addr: &str) -> Vec<String> {
    let Names {
        start, end, span, ..
    } = names;
    vec![
        format!("{span} = PAGE_SIZE << compound_order({page});"),
        format!("{start} = max({vma}->vm_start, {addr} & ~({span} - 1));"),
        format!("{end} = min({vma}->vm_end, ALIGN({addr} + {span}, {span}));"),
    ]
}

struct CallCx<'a> {
    recipe: &'a Recipe,
    locks: &'a Locks<'a>,
    file: &'a str,
    src: &'a [u8],
}

/// The edits for one call, and why they are safe.
struct Conversion {
    edits: Vec<(usize, usize, String)>,
    rationale: String,
    shape: Shape,
}

/// What a converted call looked like, for the commit message (which
/// names functions, never lines).
#[derive(Debug, Clone)]
struct Shape {
    function: String,
    callee: String,
    /// The page-table lock was held at the call (else the call came
    /// after the unlock and was moved under it).
    held: bool,
    /// What takes the lock: a walk loop or a lookup, by function name.
    lock: String,
    walk: bool,
    /// The worst case the bracket covers, if any.
    huge: Option<WorstCase>,
}

/// What a worst-case bracket covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WorstCase {
    /// The whole compound page (a walk, or a lookup of a page whose
    /// entry may be of any size).
    CompoundPage,
    /// The PMD-aligned range (a lookup that may find a pmd).
    Pmd,
}

impl Shape {
    fn same_kind(&self, o: &Shape) -> bool {
        (&self.callee, self.held, &self.lock, self.walk, self.huge)
            == (&o.callee, o.held, &o.lock, o.walk, o.huge)
    }
}

/// The commit message of a callers unit: why the calls are wrong and what
/// replaces them, one pair of paragraphs per kind of call.
fn describe(recipe: &Recipe, shapes: &[Shape]) -> Vec<String> {
    let mut groups: Vec<Vec<&Shape>> = Vec::new();
    for s in shapes {
        match groups.iter_mut().find(|g| g[0].same_kind(s)) {
            Some(g) => g.push(s),
            None => groups.push(vec![s]),
        }
    }
    let mut out = Vec::new();
    for g in groups {
        let s = g[0];
        let names: Vec<String> = g.iter().map(|s| s.function.clone()).collect();
        let many = g.len() > 1;
        let (call, its) = if many {
            ("call", "their")
        } else {
            ("calls", "its")
        };
        let when = if s.held {
            "with the page-table lock held, where a callback must not sleep,"
        } else {
            "after the page-table lock is dropped, when the entry may already be in use again,"
        };
        let huge = match s.huge {
            None => "",
            Some(WorstCase::CompoundPage) => ", although the page may be a huge page",
            Some(WorstCase::Pmd) => ", although the entry may be a PMD",
        };
        out.push(format!(
            "{} {call} {}() {when} and for one page only{huge}.",
            join_functions(&names),
            s.callee
        ));
        let lock = if s.walk {
            format!("{its} {}() loop{}", s.lock, if many { "s" } else { "" })
        } else {
            format!("the {}() lookup", s.lock)
        };
        let range = match s.huge {
            None => "",
            Some(WorstCase::CompoundPage) => " over the whole compound page",
            Some(WorstCase::Pmd) => " over the PMD-aligned range",
        };
        out.push(format!(
            "Bracket {lock} with {}() and {}(){range}, where sleeping is allowed, and call {}() \
             for the entry changed, under the lock.",
            recipe.range_start, recipe.range_end, recipe.range_call
        ));
    }
    out
}

/// `a()`, `a() and b()`, `a(), b() and c()`.
fn join_functions(names: &[String]) -> String {
    let calls: Vec<String> = names.iter().map(|f| format!("{f}()")).collect();
    crate::rewrite::text::join_and(&calls)
}

/// How the page-table lock around the call is taken.
enum LockSite<'t> {
    /// A loop like `while (page_vma_mapped_walk(&pvmw))`.
    Walk { lp: Node<'t>, walk: Node<'t> },
    /// A lookup like `follow_pte_pmd(mm, addr, ..., &ptl)` in a statement.
    Lookup {
        stmt: Node<'t>,
        call: Node<'t>,
        /// What the entry it locks may map.
        extent: Extent,
        address_arg: usize,
        /// The page it looks for, if it takes one.
        page_arg: Option<usize>,
    },
}

/// Where the bracket goes and what it covers.
struct Bracket<'t> {
    /// The block that holds the region (the new locals are declared there).
    block: Node<'t>,
    /// The statements between the start and the end.
    region: Vec<Node<'t>>,
    /// The lines that compute the range.
    lines: Vec<String>,
    /// The comment that says why the range is a worst case.
    comment: Option<&'static [&'static str]>,
}

/// A page-table change before the call.
struct Change<'t> {
    entry: Entry,
    stmt: Node<'t>,
    block: Node<'t>,
}

/// Local names, chosen not to clash with the function's own.
struct Names {
    start: String,
    end: String,
    span: String,
    cstart: String,
    cend: String,
}

impl<'a> CallCx<'a> {
    fn convert_site(&self, tree: &Parsed, site: &Site) -> Result<Conversion, Refusal> {
        let call = self.find_call(tree, site)?;
        let func = enclosing_function(call).ok_or("the call is not inside a function")?;
        let fname = function_name(func, self.src).unwrap_or_default();
        if crate::scan::kernel_c::has_error(func) {
            return Err(format!("{fname}() does not parse cleanly").into());
        }
        let args = call_args(call, self.src);
        let [mm, _addr] = args.as_slice() else {
            return Err(format!("expected two arguments, found {}", args.len()).into());
        };
        let lock = self.lock_site(call, func)?;
        let names = Names::avoiding(&identifiers(func, self.src));
        let mut edits = Vec::new();
        let mut notes = Vec::new();

        let Bracket {
            block: bracket_block,
            region,
            lines: range_lines,
            comment,
        } = self.bracket(&lock, func, &names)?;
        self.check_sleepable(region[0], func, "the range start")?;
        self.insert_start(&mut edits, region[0], mm, &range_lines, comment, &names);
        self.declare(
            &mut edits,
            bracket_block,
            &names.bracket_decl(range_lines.len() == 3),
        );
        let exits = self.insert_ends(&mut edits, func, &region, mm, &names)?;
        notes.push(exits);

        let (held, evidence) = ptl::lock_at(call, func, self.src, self.locks);
        match held {
            Some(true) => {
                notes.push(self.replace_under_lock(&mut edits, call, &region, &lock, mm, &names)?)
            }
            Some(false) => {
                notes.push(self.move_under_lock(&mut edits, call, func, &region, mm, &names)?)
            }
            None => {
                return Err(format!(
                    "cannot tell whether the page-table lock is held at the call: {evidence}"
                )
                .into());
            }
        }
        let line = call.start_position().row + 1;
        let rationale = format!(
            "{}: {fname}() called {}() at line {line} ({evidence}). {}",
            self.file,
            site_callee(site),
            notes.join(" ")
        );
        let shape = Shape {
            function: fname.to_string(),
            callee: site_callee(site).to_string(),
            held: held == Some(true),
            lock: match &lock {
                LockSite::Walk { walk, .. } => callee_name(*walk, self.src),
                LockSite::Lookup { call, .. } => callee_name(*call, self.src),
            }
            .unwrap_or_default(),
            walk: matches!(lock, LockSite::Walk { .. }),
            // A span line: the whole compound page; else a PMD if any.
            huge: comment.map(|_| {
                if range_lines.len() == 3 {
                    WorstCase::CompoundPage
                } else {
                    WorstCase::Pmd
                }
            }),
        };
        Ok(Conversion {
            edits,
            rationale,
            shape,
        })
    }

    fn find_call<'t>(&self, tree: &'t Parsed, site: &Site) -> Result<Node<'t>, Refusal> {
        let at = offset_of(self.src, site.line, site.column)
            .ok_or("the file changed since the scan: the call's line is gone")?;
        let node = tree
            .node_for_byte_range(at, at)
            .ok_or("call not found at its scanned position")?;
        let mut n = Some(node);
        while let Some(c) = n {
            if c.kind() == "call_expression" {
                if callee_name(c, self.src).as_deref() == Some(site_callee(site)) {
                    return Ok(c);
                }
                break;
            }
            n = c.parent();
        }
        Err("the file changed since the scan: call not found at its position".into())
    }

    /// Where the lock is taken: an enclosing locked walk, else the last
    /// lookup before the call.
    fn lock_site<'t>(&self, call: Node<'t>, func: Node<'t>) -> Result<LockSite<'t>, Refusal> {
        let mut n = call.parent();
        while let Some(p) = n {
            if matches!(p.kind(), "while_statement" | "for_statement")
                && let Some(cond) = p.child_by_field_name("condition")
                && let Some(walk) = calls_in(cond).into_iter().find(|c| {
                    callee_name(*c, self.src).is_some_and(|f| self.recipe.walk_spec(&f).is_some())
                })
            {
                return Ok(LockSite::Walk { lp: p, walk });
            }
            n = p.parent();
        }
        let body = func
            .child_by_field_name("body")
            .ok_or("function without a body")?;
        let lookup = calls_in(body)
            .into_iter()
            .rev()
            .filter(|c| c.start_byte() < call.start_byte())
            .filter_map(|c| {
                let name = callee_name(c, self.src)?;
                let t = self
                    .locks
                    .taker(&name, &call_args(c, self.src).join(", "))?;
                Some((c, t.address_arg?, t))
            })
            .next();
        match lookup {
            Some((c, address_arg, t)) => Ok(LockSite::Lookup {
                stmt: statement_of(c),
                call: c,
                extent: t.extent,
                address_arg,
                page_arg: t.page_arg,
            }),
            None => Err(
                "no page-table walk or lookup that takes the lock was found before the call".into(),
            ),
        }
    }

    /// The block and statements the bracket spans, and the range lines.
    fn bracket<'t>(
        &self,
        lock: &LockSite<'t>,
        func: Node<'t>,
        names: &Names,
    ) -> Result<Bracket<'t>, Refusal> {
        match lock {
            LockSite::Walk { lp, walk } => self.walk_bracket(*lp, *walk, names),
            LockSite::Lookup {
                stmt,
                call,
                extent,
                address_arg,
                page_arg,
            } => {
                if stmt.kind() == "declaration" {
                    return Err(format!(
                        "the lock is taken in the initializer of a declaration (line {}): the bracket cannot go \
                         before it without mixing declarations and code",
                        stmt.start_position().row + 1
                    ).into());
                }
                let block = block_of(*stmt).ok_or("the lookup is not in a block")?;
                let args = call_args(*call, self.src);
                let addr = args.get(*address_arg).ok_or("lookup without an address")?;
                let region = self.lookup_region(block, *stmt, func);
                let lookup = Lookup {
                    stmt: *stmt,
                    call: *call,
                    args: &args,
                    addr,
                    page_arg: *page_arg,
                };
                let (lines, comment) = self.lookup_range(&lookup, *extent, names)?;
                Ok(Bracket {
                    block,
                    region,
                    lines,
                    comment,
                })
            }
        }
    }

    /// A walk loop: the bracket spans the loop, for the whole compound
    /// page the walk looks for (its state's initializer names the page,
    /// the vma and the address).
    fn walk_bracket<'t>(
        &self,
        lp: Node<'t>,
        walk: Node<'t>,
        names: &Names,
    ) -> Result<Bracket<'t>, Refusal> {
        let block = block_of(lp).ok_or("the walk loop is not in a block")?;
        let spec = self
            .recipe
            .walk_spec(&callee_name(walk, self.src).unwrap_or_default())
            .unwrap();
        let state = call_args(walk, self.src)
            .first()
            .cloned()
            .unwrap_or_default();
        let state = state.trim_start_matches('&');
        let init = self.walk_initializer(block, state, lp)?;
        let get = |m: &str| {
            init.get(m)
                .cloned()
                .ok_or(format!("`{state}` does not set .{m}"))
        };
        let (page, vma, addr) = (
            get(spec.page_member)?,
            get(spec.vma_member)?,
            get(spec.address_member)?,
        );
        Ok(Bracket {
            block,
            region: vec![lp],
            lines: compound_page_range(names, &page, &vma, &addr),
            comment: Some(self.recipe.walk_worst_case_comment),
        })
    }

    /// The range lines of a lookup's bracket, by what the lock it takes
    /// guards, and the comment a worst case gets.
    fn lookup_range(
        &self,
        lookup: &Lookup,
        extent: Extent,
        names: &Names,
    ) -> Result<(Vec<String>, Option<&'static [&'static str]>), Refusal> {
        let Names { start, end, .. } = names;
        let addr = lookup.addr;
        Ok(match extent {
            Extent::Pte => (
                vec![
                    format!("{start} = {addr};"),
                    format!("{end} = {addr} + PAGE_SIZE;"),
                ],
                None,
            ),
            Extent::Pmd | Extent::PteOrPmd => {
                let vma = self.vma_of(&lookup.args[0], lookup.stmt)?;
                (
                    vec![
                        format!("{start} = max({vma}->vm_start, {addr} & PMD_MASK);"),
                        format!("{end} = min({vma}->vm_end, ({addr} & PMD_MASK) + PMD_SIZE);"),
                    ],
                    Some(self.recipe.pmd_worst_case_comment),
                )
            }
            Extent::Unknown => {
                // What the lock guards is not known from the call: the
                // worst case is the whole compound page the lookup looks
                // for, aligned to its size.
                let page = lookup
                    .page_arg
                    .and_then(|i| lookup.args.get(i))
                    .ok_or_else(|| {
                        format!(
                            "{}() takes the lock on an entry of unknown size and no page to bound it: \
                             the bracket's range cannot be chosen",
                            callee_name(lookup.call, self.src).unwrap_or_default()
                        )
                    })?;
                let mm = self.lookup_mm(lookup.call, lookup.args)?;
                let vma = self.vma_of(&mm, lookup.stmt)?;
                (
                    compound_page_range(names, page, &vma, addr),
                    Some(self.recipe.lookup_worst_case_comment),
                )
            }
        })
    }

    /// The statements from a lookup to the end of its block, or up to a
    /// label that code before the lookup jumps to (`goto out` before the
    /// lookup: what follows `out:` runs without the bracket too).
    fn lookup_region<'t>(&self, block: Node<'t>, stmt: Node<'t>, func: Node<'t>) -> Vec<Node<'t>> {
        let after: Vec<Node> = statements(block)
            .into_iter()
            .filter(|s| s.start_byte() >= stmt.start_byte())
            .collect();
        let jumps_from_before: Vec<String> = descendants(func, &["goto_statement"])
            .into_iter()
            .filter(|g| g.end_byte() <= stmt.start_byte())
            .filter_map(|g| goto_label(g, self.src))
            .collect();
        let cut = after.iter().position(|s| {
            s.kind() == "labeled_statement"
                && s.child_by_field_name("label")
                    .is_some_and(|l| jumps_from_before.contains(&text(l, self.src).into_owned()))
        });
        match cut {
            Some(0) | None => after,
            Some(i) => after[..i].to_vec(),
        }
    }

    /// The mm a lookup looks in: its mm argument as the tree's definition
    /// says, else its first.
    fn lookup_mm(&self, call: Node, args: &[String]) -> Result<String, Refusal> {
        let name = callee_name(call, self.src).unwrap_or_default();
        let i = self
            .locks
            .taker(&name, &args.join(", "))
            .and_then(|t| t.mm_arg)
            .unwrap_or(0);
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("{name}() has no mm argument").into())
    }

    /// The vma whose `vm_mm` an mm expression is: `vma->vm_mm` directly,
    /// or a local initialised from it.
    fn vma_of(&self, mm: &str, at: Node) -> Result<String, Refusal> {
        if let Some(v) = mm.strip_suffix("->vm_mm") {
            return Ok(v.to_string());
        }
        let func = enclosing_function(at).ok_or("not in a function")?;
        for d in descendants(func, &["init_declarator"]) {
            let name = d
                .child_by_field_name("declarator")
                .map(|n| text(n, self.src).into_owned());
            let value = d
                .child_by_field_name("value")
                .map(|n| text(n, self.src).into_owned());
            if name.as_deref().map(|n| n.trim_start_matches('*')) == Some(mm)
                && let Some(v) = value.as_deref().and_then(|v| v.strip_suffix("->vm_mm"))
            {
                return Ok(v.to_string());
            }
        }
        Err(format!("cannot find the vma of `{mm}` to clamp the range to").into())
    }

    /// The designated initializer of the walk state, member → text, and a
    /// check that the address it names is not changed before the walk.
    fn walk_initializer(
        &self,
        block: Node,
        state: &str,
        lp: Node,
    ) -> Result<BTreeMap<String, String>, Refusal> {
        for decl in leading_declarations(block) {
            let declared = descendants(decl, &["init_declarator"]);
            for d in declared {
                let name = d
                    .child_by_field_name("declarator")
                    .map(|n| text(n, self.src).into_owned());
                if name.as_deref() != Some(state) {
                    continue;
                }
                let mut map = BTreeMap::new();
                for pair in descendants(d, &["initializer_pair"]) {
                    let field = pair
                        .child_by_field_name("designator")
                        .and_then(|x| x.named_child(0));
                    if let (Some(f), Some(v)) = (field, pair.child_by_field_name("value")) {
                        map.insert(
                            text(f, self.src).into_owned(),
                            text(v, self.src).into_owned(),
                        );
                    }
                }
                for value in map.values() {
                    if self.assigned_between(block, value, decl.end_byte(), lp.start_byte()) {
                        return Err(format!(
                            "`{value}` changes between the walk's setup and the walk"
                        )
                        .into());
                    }
                }
                return Ok(map);
            }
        }
        Err(
            format!("the walk state `{state}` is not initialised at the top of the function")
                .into(),
        )
    }

    fn assigned_between(&self, block: Node, name: &str, from: usize, to: usize) -> bool {
        descendants(block, &["assignment_expression", "update_expression"])
            .into_iter()
            .any(|a| {
                a.start_byte() >= from
                    && a.end_byte() <= to
                    && a.child_by_field_name("left")
                        .or_else(|| a.child_by_field_name("argument"))
                        .is_some_and(|l| text(l, self.src) == name)
            })
    }

    fn check_sleepable(&self, at: Node, func: Node, what: &str) -> Result<(), Refusal> {
        match ptl::lock_at(at, func, self.src, self.locks) {
            (Some(false), _) => Ok(()),
            (_, ev) => Err(format!(
                "{what} would go at line {} where the page-table lock may be held ({ev})",
                at.start_position().row + 1
            )
            .into()),
        }
    }

    fn insert_start(
        &self,
        edits: &mut Vec<(usize, usize, String)>,
        anchor: Node,
        mm: &str,
        lines: &[String],
        comment: Option<&[&str]>,
        names: &Names,
    ) {
        let at = line_start(self.src, anchor.start_byte());
        let indent = indent_at(self.src, anchor.start_byte());
        let mut text = String::new();
        let prev_blank_or_open = at == 0
            || line_is_blank(self.src, at - 1)
            || self.src[..at].trim_ascii_end().ends_with(b"{");
        if !prev_blank_or_open {
            text.push('\n');
        }
        if let Some(comment) = comment {
            text.push_str(&block_comment(&indent, comment));
        }
        for l in lines {
            text.push_str(&format!("{indent}{l}\n"));
        }
        text.push_str(&call_statement(
            &indent,
            self.recipe.range_start,
            &[mm.into(), names.start.clone(), names.end.clone()],
        ));
        text.push('\n');
        edits.push((at, at, text));
    }

    /// Declares new locals after the declarations that open `block`.
    fn declare(&self, edits: &mut Vec<(usize, usize, String)>, block: Node, decl: &str) {
        let (at, text) = declaration_insert(self.src, block, decl);
        edits.push((at, at, text));
    }

    /// Puts the range end after the bracketed region and before every
    /// jump out of it; says where, for the rationale.
    fn insert_ends(
        &self,
        edits: &mut Vec<(usize, usize, String)>,
        func: Node,
        region: &[Node],
        mm: &str,
        names: &Names,
    ) -> Result<String, Refusal> {
        let end_args = [mm.to_string(), names.start.clone(), names.end.clone()];
        let labels_inside: Vec<String> = region
            .iter()
            .flat_map(|s| descendants(*s, &["labeled_statement"]))
            .filter_map(|l| {
                l.child_by_field_name("label")
                    .map(|n| text(n, self.src).into_owned())
            })
            .collect();
        self.refuse_gotos_into(func, region, &labels_inside)?;
        let mut places = Vec::new();
        for jump in region.iter().flat_map(|s| {
            descendants(
                *s,
                &[
                    "return_statement",
                    "break_statement",
                    "continue_statement",
                    "goto_statement",
                ],
            )
        }) {
            if !self.leaves_region(jump, region, &labels_inside) {
                continue;
            }
            self.check_sleepable(jump, func, "a range end before this exit")?;
            let line = jump.start_position().row + 1;
            places.push(format!(
                "before the {} at line {line}",
                jump.kind().trim_end_matches("_statement")
            ));
            self.insert_before_jump(edits, jump, &end_args)?;
        }
        let last = *region.last().expect("a region has a statement");
        // `out: return x;` ends the region with a jump as much as `return
        // x;` does.
        let mut last_inner = last;
        while last_inner.kind() == "labeled_statement" {
            match last_inner.named_child(
                u32::try_from(last_inner.named_child_count().saturating_sub(1)).unwrap_or(0),
            ) {
                Some(inner) => last_inner = inner,
                None => break,
            }
        }
        if !is_jump(last_inner) {
            let indent = indent_at(self.src, region[0].start_byte());
            let stmt = call_statement(&indent, self.recipe.range_end, &end_args);
            let block = block_of(last).ok_or("region without a block")?;
            let ends_block = statements(block)
                .last()
                .is_some_and(|l| l.id() == last.id());
            if region.len() == 1 || !ends_block {
                let at = line_end(self.src, last.end_byte() - 1);
                edits.push((at, at, format!("\n{stmt}")));
                places.push(if region.len() == 1 {
                    format!("after the walk (line {})", last.end_position().row + 1)
                } else {
                    format!(
                        "after line {}, before what the code before the lookup jumps to",
                        last.end_position().row + 1
                    )
                });
            } else {
                let block = block_of(last).ok_or("region without a block")?;
                let close = block.end_byte() - 1;
                let at = line_start(self.src, close);
                edits.push((at, at, format!("\n{stmt}")));
                places.push(format!(
                    "at the end of the block (line {})",
                    block.end_position().row + 1
                ));
            }
        }
        Ok(format!(
            "{}() and {}() bracket the lock for the worst-case range; the end runs on every path out: {}.",
            self.recipe.range_start,
            self.recipe.range_end,
            places.join(", ")
        ))
    }

    fn leaves_region(&self, jump: Node, region: &[Node], labels_inside: &[String]) -> bool {
        match jump.kind() {
            "return_statement" => true,
            "goto_statement" => {
                goto_label(jump, self.src).is_none_or(|l| !labels_inside.contains(&l))
            }
            _ => match jump_target(jump) {
                // A break out of the walk loop itself lands right where
                // the end is put after the loop.
                Some(t) => !region.iter().any(|s| contains(*s, t)),
                None => true,
            },
        }
    }

    fn refuse_gotos_into(
        &self,
        func: Node,
        region: &[Node],
        labels_inside: &[String],
    ) -> Result<(), Refusal> {
        for g in descendants(func, &["goto_statement"]) {
            let inside = region.iter().any(|s| contains(*s, g));
            if !inside && goto_label(g, self.src).is_some_and(|l| labels_inside.contains(&l)) {
                return Err(format!(
                    "the goto at line {} enters the bracketed region from outside",
                    g.start_position().row + 1
                )
                .into());
            }
        }
        Ok(())
    }

    fn insert_before_jump(
        &self,
        edits: &mut Vec<(usize, usize, String)>,
        jump: Node,
        args: &[String],
    ) -> Result<(), Refusal> {
        let parent = jump.parent().ok_or("jump without a parent")?;
        let indent = indent_at(self.src, jump.start_byte());
        match parent.kind() {
            "compound_statement" | "labeled_statement" => {
                let at = line_start(self.src, jump.start_byte());
                edits.push((at, at, call_statement(&indent, self.recipe.range_end, args)));
                Ok(())
            }
            "if_statement" if parent.child_by_field_name("alternative").is_none() => {
                // `if (x)\n\tjump;` gains braces to hold two statements.
                let cond = parent
                    .child_by_field_name("condition")
                    .ok_or("if without condition")?;
                let if_indent = indent_at(self.src, parent.start_byte());
                edits.push((cond.end_byte(), cond.end_byte(), " {".into()));
                let (s, e) = (
                    line_start(self.src, jump.start_byte()),
                    line_end(self.src, jump.end_byte() - 1),
                );
                let jump_text = String::from_utf8_lossy(&self.src[s..e]).into_owned();
                let body = format!(
                    "{}{}{if_indent}}}\n",
                    call_statement(&indent, self.recipe.range_end, args),
                    jump_text
                );
                edits.push((s, e, body));
                Ok(())
            }
            _ => Err(format!(
                "cannot put the range end before the {} at line {}",
                jump.kind(),
                jump.start_position().row + 1
            )
            .into()),
        }
    }

    /// Page-table changes before `call` within `scope`, grouped by what
    /// they change.
    fn changes_before<'t>(
        &self,
        scope: &[Node<'t>],
        call: Node,
    ) -> Result<Vec<Change<'t>>, Refusal> {
        let mut out = Vec::new();
        for c in scope.iter().flat_map(|s| calls_in(*s)) {
            if c.start_byte() >= call.start_byte() {
                continue;
            }
            let Some(level) = callee_name(c, self.src).and_then(|n| self.recipe.modified_level(&n))
            else {
                continue;
            };
            let address = call_args(c, self.src)
                .get(1)
                .cloned()
                .ok_or("page-table change without an address")?;
            let stmt = statement_of(c);
            let block = block_of(stmt).ok_or("page-table change outside a block")?;
            out.push(Change {
                entry: Entry { level, address },
                stmt,
                block,
            });
        }
        if out.is_empty() {
            return Err("no page-table change found before the call".into());
        }
        Ok(out)
    }

    /// The call runs under the lock: it becomes the atomic range call with
    /// the exact range of what was changed.
    fn replace_under_lock(
        &self,
        edits: &mut Vec<(usize, usize, String)>,
        call: Node,
        region: &[Node],
        lock: &LockSite,
        mm: &str,
        names: &Names,
    ) -> Result<String, Refusal> {
        let scope: Vec<Node> = match lock {
            LockSite::Walk { lp, .. } => vec![
                lp.child_by_field_name("body")
                    .ok_or("walk loop without body")?,
            ],
            LockSite::Lookup { .. } => region.to_vec(),
        };
        let changes = self.changes_before(&scope, call)?;
        let groups = group_changes(&changes);
        let stmt = statement_of(call);
        if stmt.kind() != "expression_statement" {
            return Err("the call is not a statement of its own".into());
        }
        let indent = indent_at(self.src, stmt.start_byte());
        let range = if groups.len() == 1 {
            groups[0].0.exact_range()
        } else {
            self.assign_exact_ranges(edits, &groups, names)?;
            let holder =
                common_block(&changes, stmt).ok_or("the changes and the call share no block")?;
            self.declare(
                edits,
                holder,
                &format!("unsigned long {}, {};", names.cstart, names.cend),
            );
            (names.cstart.clone(), names.cend.clone())
        };
        let (s, e) = (
            line_start(self.src, stmt.start_byte()),
            line_end(self.src, stmt.end_byte() - 1),
        );
        edits.push((
            s,
            e,
            call_statement(
                &indent,
                self.recipe.range_call,
                &[mm.into(), range.0, range.1],
            ),
        ));
        Ok(format!(
            "Under the page-table lock it now calls {}() with the exact range of the entry changed there ({}).",
            self.recipe.range_call,
            describe_groups(&groups)
        ))
    }

    /// `cstart`/`cend` set right after the change in each branch.
    fn assign_exact_ranges(
        &self,
        edits: &mut Vec<(usize, usize, String)>,
        groups: &[(Entry, Vec<&Change>)],
        names: &Names,
    ) -> Result<(), Refusal> {
        let mut blocks = Vec::new();
        for (entry, changes) in groups {
            let block = changes[0].block;
            if changes.iter().any(|c| c.block.id() != block.id()) || blocks.contains(&block.id()) {
                return Err("page-table changes of different sizes share a branch".into());
            }
            blocks.push(block.id());
            let last = changes
                .iter()
                .map(|c| c.stmt)
                .max_by_key(|s| s.end_byte())
                .unwrap();
            let indent = indent_at(self.src, last.start_byte());
            let at = line_end(self.src, last.end_byte() - 1);
            let text = entry.assignments(&indent, &names.cstart, &names.cend);
            edits.push((at, at, text));
        }
        Ok(())
    }

    /// The call runs after the unlock: the atomic range call goes under
    /// the lock right after each change, and the old call goes (with a
    /// flag that only guarded it).
    fn move_under_lock(
        &self,
        edits: &mut Vec<(usize, usize, String)>,
        call: Node,
        func: Node,
        region: &[Node],
        mm: &str,
        names: &Names,
    ) -> Result<String, Refusal> {
        let changes = self.changes_before(region, call)?;
        let groups = group_changes(&changes);
        let straight = groups
            .iter()
            .all(|(_, cs)| cs.iter().all(|c| c.block.id() == cs[0].block.id()));
        if !straight {
            return self.move_before_unlock(edits, call, &groups, mm);
        }
        let mut inline = true;
        let mut texts = Vec::new();
        for (entry, changes) in &groups {
            let last = changes
                .iter()
                .map(|c| c.stmt)
                .max_by_key(|s| s.end_byte())
                .unwrap();
            let indent = indent_at(self.src, last.start_byte());
            let (s, e) = entry.exact_range();
            let text = call_statement(&indent, self.recipe.range_call, &[mm.into(), s, e]);
            inline &= text
                .lines()
                .all(|l| crate::rewrite::text::display_width(l) <= 80);
            texts.push((last, indent, entry, text));
        }
        for (last, indent, entry, text) in texts {
            let at = line_end(self.src, last.end_byte() - 1);
            let text = if inline {
                text
            } else {
                // Too long for 80 columns even wrapped: name the range.
                let (cs, ce) = (&names.cstart, &names.cend);
                entry.assignments(&indent, cs, ce)
                    + &call_statement(
                        &indent,
                        self.recipe.range_call,
                        &[mm.into(), cs.clone(), ce.clone()],
                    )
            };
            edits.push((at, at, text));
        }
        if !inline {
            let block = block_of(region[0]).ok_or("region without a block")?;
            self.declare(
                edits,
                block,
                &format!("unsigned long {}, {};", names.cstart, names.cend),
            );
        }
        let stmt = statement_of(call);
        let parent = stmt.parent().ok_or("call without parent")?;
        let mut note = String::new();
        let target = if parent.kind() == "if_statement"
            && parent.child_by_field_name("alternative").is_none()
        {
            if let Some(flag) = guard_flag(parent, self.src) {
                note = self.remove_dead_flag(edits, func, parent, &flag);
            }
            parent
        } else {
            stmt
        };
        let (s, e) = removal_range(self.src, target.start_byte(), target.end_byte());
        edits.push((s, e, String::new()));
        self.unbrace_single_statement(edits, target);
        Ok(format!(
            "The old call ran after the unlock; {}() now runs under the page-table lock right after each change ({}).{note}",
            self.recipe.range_call,
            describe_groups(&groups)
        ))
    }

    /// The changes happen on several paths before one unlock, and the old
    /// call (with the test that guarded it) runs right after that unlock:
    /// the range call, under the same test, goes right before it.
    fn move_before_unlock(
        &self,
        edits: &mut Vec<(usize, usize, String)>,
        call: Node,
        groups: &[(Entry, Vec<&Change>)],
        mm: &str,
    ) -> Result<String, Refusal> {
        let [(entry, _)] = groups else {
            return Err(format!(
                "page-table changes of different sizes ({}) on different paths before the unlock: \
                 no one exact range under the lock covers them",
                describe_groups(groups)
            )
            .into());
        };
        let stmt = statement_of(call);
        let parent = stmt.parent().ok_or("call without parent")?;
        let guard_if = (parent.kind() == "if_statement"
            && parent.child_by_field_name("alternative").is_none())
        .then_some(parent);
        let target = guard_if.unwrap_or(stmt);
        if target.parent().map(|p| p.kind()) != Some("compound_statement") {
            return Err(format!(
                "the call at line {} is not a statement of its block: the range call cannot be moved before the unlock",
                call.start_position().row + 1
            ).into());
        }
        let unlock = self.unlock_before(target).ok_or_else(|| {
            format!(
                "the changes happen on several paths and the call at line {} does not follow the unlock \
                 directly: where the range call belongs under the lock cannot be proven",
                call.start_position().row + 1
            )
        })?;
        let condition = guard_if.and_then(|g| g.child_by_field_name("condition"));
        if let Some(c) = condition {
            self.check_movable_condition(c, unlock)?;
        }
        let indent = indent_at(self.src, unlock.start_byte());
        let (s, e) = entry.exact_range();
        let moved = match condition {
            Some(c) => format!(
                "{indent}if {}\n{}",
                text(c, self.src),
                call_statement(
                    &format!("{indent}\t"),
                    self.recipe.range_call,
                    &[mm.into(), s, e]
                )
            ),
            None => call_statement(&indent, self.recipe.range_call, &[mm.into(), s, e]),
        };
        let at = line_start(self.src, unlock.start_byte());
        edits.push((at, at, moved));
        let (rs, re) = removal_range(self.src, target.start_byte(), target.end_byte());
        edits.push((rs, re, String::new()));
        Ok(format!(
            "The old call ran after the unlock (line {}) on every path that changed the page table ({}); \
             {}() now runs right before that unlock, under the page-table lock, {}with the exact range of the entry.",
            unlock.start_position().row + 1,
            describe_groups(groups),
            self.recipe.range_call,
            if condition.is_some() {
                "under the same test, "
            } else {
                ""
            }
        ))
    }

    /// The statement right before `stmt` in its block, if it drops the
    /// page-table lock (looking through a label).
    fn unlock_before<'t>(&self, stmt: Node<'t>) -> Option<Node<'t>> {
        let mut prev = stmt.prev_named_sibling()?;
        while prev.kind() == "comment" {
            prev = prev.prev_named_sibling()?;
        }
        let inner = if prev.kind() == "labeled_statement" {
            prev.named_child(u32::try_from(prev.named_child_count().checked_sub(1)?).ok()?)?
        } else {
            prev
        };
        let releases = inner.kind() == "expression_statement"
            && calls_in(inner).into_iter().any(|c| {
                callee_name(c, self.src)
                    .is_some_and(|n| self.locks.releases(&n, &call_args(c, self.src).join(", ")))
            });
        releases.then_some(inner)
    }

    /// A test may run before the unlock instead of after it only if it
    /// has no effect and reads nothing the unlock is given.
    fn check_movable_condition(&self, cond: Node, unlock: Node) -> Result<(), Refusal> {
        let line = cond.start_position().row + 1;
        let effects = descendants(
            cond,
            &[
                "call_expression",
                "assignment_expression",
                "update_expression",
            ],
        );
        if let Some(e) = effects.first() {
            return Err(format!(
                "the test of the call at line {line} has an effect (`{}`): it cannot move before the unlock",
                text(*e, self.src)
            ).into());
        }
        let given = identifiers(unlock, self.src);
        if let Some(id) = descendants(cond, &["identifier"])
            .into_iter()
            .map(|i| text(i, self.src).into_owned())
            .find(|i| given.contains(i))
        {
            return Err(format!(
                "the test of the call at line {line} reads `{id}`, which the unlock is given: it cannot move before the unlock"
            ).into());
        }
        Ok(())
    }

    /// `if (x) { removed; kept; }` keeps one statement: its braces go, as
    /// kernel style wants.
    fn unbrace_single_statement(&self, edits: &mut Vec<(usize, usize, String)>, removed: Node) {
        let Some(block) = removed
            .parent()
            .filter(|b| b.kind() == "compound_statement")
        else {
            return;
        };
        let Some(owner) = block.parent().filter(|o| {
            o.kind() == "if_statement"
                && o.child_by_field_name("alternative").is_none()
                && o.child_by_field_name("consequence")
                    .is_some_and(|c| c.id() == block.id())
        }) else {
            return;
        };
        let mut cursor = block.walk();
        let rest: Vec<Node> = block
            .named_children(&mut cursor)
            .filter(|c| c.id() != removed.id())
            .collect();
        let [kept] = rest.as_slice() else { return };
        let one_line = kept.start_position().row == kept.end_position().row;
        if kept.kind() == "comment" || kept.kind() == "declaration" || !one_line {
            return;
        }
        let open = block.start_byte();
        let close = block.end_byte() - 1;
        let opens_line = self.src[..open].ends_with(b" ");
        let close_alone = self.src[line_start(self.src, close)..close]
            .iter()
            .all(|b| *b == b'\t' || *b == b' ')
            && line_end(self.src, close) == close + 2;
        if !opens_line || !close_alone || owner.start_position().row != block.start_position().row {
            return;
        }
        edits.push((open - 1, open + 1, String::new()));
        let (s, e) = (line_start(self.src, close), line_end(self.src, close));
        edits.push((s, e, String::new()));
    }

    /// Removes a local flag whose only reads guarded the removed call.
    fn remove_dead_flag(
        &self,
        edits: &mut Vec<(usize, usize, String)>,
        func: Node,
        guard_if: Node,
        flag: &str,
    ) -> String {
        let mut removals = Vec::new();
        for id in descendants(func, &["identifier"]) {
            if text(id, self.src) != flag || contains(guard_if, id) {
                continue;
            }
            let parent = id.parent().map(|p| p.kind());
            let stmt = statement_of(id);
            let is_store = parent == Some("assignment_expression")
                && id
                    .parent()
                    .and_then(|p| p.child_by_field_name("left"))
                    .is_some_and(|l| l.id() == id.id())
                && stmt.kind() == "expression_statement";
            let is_lone_decl =
                stmt.kind() == "declaration" && descendants(stmt, &["identifier"]).len() == 1;
            if is_store || is_lone_decl {
                removals.push(stmt);
            } else {
                return format!(" `{flag}` is still read elsewhere and stays.");
            }
        }
        for stmt in removals {
            let (s, e) = (
                line_start(self.src, stmt.start_byte()),
                line_end(self.src, stmt.end_byte() - 1),
            );
            edits.push((s, e, String::new()));
        }
        format!(" The flag `{flag}` only guarded the old call and goes with it.")
    }
}

impl Names {
    fn avoiding(used: &std::collections::HashSet<String>) -> Names {
        let plain = ["start", "end", "span", "cstart", "cend"];
        let prefix = if plain.iter().any(|n| used.contains(*n)) {
            "mmun_"
        } else {
            ""
        };
        let n = |s: &str| format!("{prefix}{s}");
        Names {
            start: n("start"),
            end: n("end"),
            span: n("span"),
            cstart: n("cstart"),
            cend: n("cend"),
        }
    }

    fn bracket_decl(&self, with_span: bool) -> String {
        if with_span {
            format!("unsigned long {}, {}, {};", self.start, self.end, self.span)
        } else {
            format!("unsigned long {}, {};", self.start, self.end)
        }
    }
}

/// `f()`, `f() and g()`, `f(), g() and h()`; past three, a count.
fn list_functions(names: &[String]) -> String {
    let calls: Vec<String> = names.iter().map(|f| format!("{f}()")).collect();
    match calls.as_slice() {
        [] => "their callers".into(),
        [one] => one.clone(),
        _ if calls.len() <= 3 => join_functions(names),
        _ => format!("{} functions", calls.len()),
    }
}

fn site_callee(site: &Site) -> &str {
    match &site.detail {
        Detail::Call { callee, .. } => callee,
        _ => "",
    }
}

/// The entry a change touches: its level and the address expression.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    level: Level,
    address: String,
}

impl Entry {
    /// Exact range of the entry: a pte is one page, a pmd the aligned PMD.
    fn exact_range(&self) -> (String, String) {
        let addr = &self.address;
        match self.level {
            Level::Pmd => (
                format!("{addr} & PMD_MASK"),
                format!("({addr} & PMD_MASK) + PMD_SIZE"),
            ),
            Level::Pte => (addr.to_string(), format!("{addr} + PAGE_SIZE")),
        }
    }

    /// The statements that set the locals `cs` and `ce` to the exact range.
    fn assignments(&self, indent: &str, cs: &str, ce: &str) -> String {
        let addr = &self.address;
        match self.level {
            Level::Pmd => {
                format!("{indent}{cs} = {addr} & PMD_MASK;\n{indent}{ce} = {cs} + PMD_SIZE;\n")
            }
            Level::Pte => format!("{indent}{cs} = {addr};\n{indent}{ce} = {cs} + PAGE_SIZE;\n"),
        }
    }

    fn describe(&self) -> String {
        let addr = &self.address;
        match self.level {
            Level::Pmd => format!("a pmd at `{addr} & PMD_MASK` for PMD_SIZE"),
            Level::Pte => format!("a pte: one page at `{addr}`"),
        }
    }
}

type Groups<'c, 't> = Vec<(Entry, Vec<&'c Change<'t>>)>;

fn group_changes<'c, 't>(changes: &'c [Change<'t>]) -> Groups<'c, 't> {
    let mut groups: Groups = Vec::new();
    for c in changes {
        match groups.iter_mut().find(|(k, _)| *k == c.entry) {
            Some((_, v)) => v.push(c),
            None => groups.push((c.entry.clone(), vec![c])),
        }
    }
    groups
}

fn describe_groups(groups: &[(Entry, Vec<&Change>)]) -> String {
    groups
        .iter()
        .map(|(entry, _)| entry.describe())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The innermost block holding every change and the call.
fn common_block<'t>(changes: &[Change<'t>], stmt: Node<'t>) -> Option<Node<'t>> {
    let mut b = block_of(stmt);
    while let Some(block) = b {
        if changes.iter().all(|c| contains(block, c.stmt)) {
            return Some(block);
        }
        b = block.parent().and_then(|p| {
            if p.kind() == "compound_statement" {
                Some(p)
            } else {
                block_of(p)
            }
        });
    }
    None
}

/// `if (flag)` with a plain identifier: the flag's name.
fn guard_flag(if_stmt: Node, src: &[u8]) -> Option<String> {
    let cond = if_stmt.child_by_field_name("condition")?;
    let inner = cond.named_child(0)?;
    (inner.kind() == "identifier").then(|| text(inner, src).into_owned())
}

/// The byte offset of a 1-based line and column.
fn offset_of(src: &[u8], line: usize, column: usize) -> Option<usize> {
    let start = if line <= 1 {
        0
    } else {
        memchr::memchr_iter(b'\n', src).nth(line - 2)? + 1
    };
    let at = start + column.saturating_sub(1);
    (at <= src.len()).then_some(at)
}
