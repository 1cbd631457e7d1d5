//! The bracket API of the checked tree, learned from its own header.
//!
//! Kernels grew the API after 4.13: `mmu_notifier_invalidate_range_only_end()`
//! (an end that skips `->invalidate_range`), a start that can fail
//! (`mmu_notifier_invalidate_range_start_nonblock()`), and a
//! `struct mmu_notifier_range` argument.  Each of them is a wrapper, in the
//! tree's `include/linux/mmu_notifier.h`, of the primitives the recipe
//! names (`__mmu_notifier_invalidate_range_start`/`_end`).  So a function
//! defined in that header that calls a start primitive is a start, one that
//! returns a value can fail (after a failed start no end is due),
//! and one that calls an end primitive is an end.  Without the header (a
//! single file, a partial tree) the recipe's two names stand.

use std::collections::BTreeMap;

use tree_sitter::Node;

use super::Source;
use crate::recipe::CheckRules;
use crate::scan::kernel_c::{callee_name, calls_in, descendants_of_kind, function_name, text};

/// What a bracket call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Opens a bracket on its arguments; `can_fail`: only when it returns 0.
    Start { can_fail: bool },
    /// Closes the bracket opened on the same arguments.
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BracketApi {
    pub calls: BTreeMap<String, Role>,
    /// The header it was learned from, if any.
    pub learned_from: Option<String>,
    /// How many arguments each learned call takes (the header's
    /// declaration); empty for the fallback.
    pub arity: BTreeMap<String, usize>,
    /// The function that fills a range structure, and which of its
    /// arguments is which.
    pub init: RangeInit,
    /// Whether the header's init exists (the structure form), when it was
    /// learned from a header.
    pub header_has_init: Option<bool>,
    /// Whether the header's ops members (the recipe's range callbacks)
    /// take the range structure, when the header declares them.
    pub callbacks_take_range: Option<bool>,
}

/// `init(&range, mm, start, end)`: the positions of its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeInit {
    pub name: String,
    pub range: usize,
    pub mm: usize,
    pub start: usize,
    pub end: usize,
}

impl RangeInit {
    fn fallback(rules: &CheckRules) -> RangeInit {
        let [range, mm, start, end] = rules.range.init_args;
        RangeInit {
            name: rules.range.init.to_string(),
            range,
            mm,
            start,
            end,
        }
    }
}

impl BracketApi {
    /// The recipe's names alone.
    pub fn fallback(rules: &CheckRules) -> BracketApi {
        let mut calls = BTreeMap::new();
        calls.insert(
            rules.range_start.to_string(),
            Role::Start { can_fail: false },
        );
        calls.insert(rules.range_end.to_string(), Role::End);
        BracketApi {
            calls,
            learned_from: None,
            arity: BTreeMap::new(),
            init: RangeInit::fallback(rules),
            header_has_init: None,
            callbacks_take_range: None,
        }
    }

    /// The wrappers of `rules.bracket_header` among `files` (paths relative
    /// to the tree's root), or the fallback.
    pub fn learn(files: &[Source], rules: &CheckRules) -> BracketApi {
        let Some(header) = files.iter().find(|f| f.rel == rules.bracket_header) else {
            return BracketApi::fallback(rules);
        };
        let (learned, arity) = wrappers(header, rules);
        let callbacks_take_range = callbacks_take_range(&header.src, rules);
        if !learned.values().any(|r| matches!(r, Role::Start { .. }))
            || !learned.values().any(|r| *r == Role::End)
        {
            return BracketApi {
                callbacks_take_range,
                ..BracketApi::fallback(rules)
            };
        }
        let init = range_init(header, rules);
        // An init whose stores are not understood (a macro, another
        // style) still exists: the recipe's positions stand for it.
        let has_init = init.is_some() || defines(header, rules.range.init);
        BracketApi {
            calls: learned,
            learned_from: Some(header.rel.clone()),
            arity,
            header_has_init: Some(has_init),
            init: init.unwrap_or_else(|| RangeInit::fallback(rules)),
            callbacks_take_range,
        }
    }

    /// The key of a bracket call's arguments: a range structure passed by
    /// address or by pointer (`&range`, `range`) is the range variable.
    pub fn range_variable(arg: &str) -> &str {
        let mut a = arg.trim();
        loop {
            let before = a;
            a = a.trim_start_matches('&').trim();
            // `(range)`, not `(a) + (b)`.
            if a.starts_with('(') && a.ends_with(')') && !a[1..a.len() - 1].contains(['(', ')']) {
                a = a[1..a.len() - 1].trim();
            }
            if a == before {
                return a;
            }
        }
    }

    pub fn role(&self, name: &str) -> Option<Role> {
        self.calls.get(name).copied()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.calls.keys().map(String::as_str)
    }
}

/// The header's bracket wrappers with their roles, and the number of
/// parameters each takes.
fn wrappers(
    header: &Source,
    rules: &CheckRules,
) -> (BTreeMap<String, Role>, BTreeMap<String, usize>) {
    let src = &header.src;
    let mut out = BTreeMap::new();
    let mut arity = BTreeMap::new();
    for def in descendants_of_kind(header.tree.root_node(), "function_definition") {
        let Some(name) = function_name(def, src) else {
            continue;
        };
        let Some(body) = def.child_by_field_name("body") else {
            continue;
        };
        let called: Vec<String> = calls_in(body)
            .into_iter()
            .filter_map(|c| callee_name(c, src))
            .collect();
        let returns_value = def
            .child_by_field_name("type")
            .is_some_and(|t| text(t, src) != "void");
        let is_start = called
            .iter()
            .any(|c| rules.start_primitives.contains(&c.as_str()));
        let is_end = called
            .iter()
            .any(|c| rules.end_primitives.contains(&c.as_str()));
        if is_start || is_end {
            arity.insert(name.clone(), parameters(def).len());
        }
        if is_start {
            out.insert(
                name,
                Role::Start {
                    can_fail: returns_value,
                },
            );
        } else if is_end {
            out.insert(name, Role::End);
        }
    }
    (out, arity)
}

/// The parameter declarations of a function definition (none for
/// `(void)`).
fn parameters(def: Node) -> Vec<Node> {
    let Some(params) = parameter_list(def) else {
        return Vec::new();
    };
    let mut c = params.walk();
    params
        .named_children(&mut c)
        .filter(|p| p.kind() == "parameter_declaration")
        .filter(|p| p.child_by_field_name("declarator").is_some())
        .collect()
}

/// The parameter list of a function definition.
pub(crate) fn parameter_list(def: Node) -> Option<Node> {
    let mut d = def.child_by_field_name("declarator");
    while let Some(x) = d {
        if x.kind() == "function_declarator" {
            return x.child_by_field_name("parameters");
        }
        d = x.child_by_field_name("declarator");
    }
    None
}

/// The header's range init: a function with a pointer to the range
/// structure among its parameters that stores other parameters in its
/// mm, start and end members (`range->start = start;`).
fn range_init(header: &Source, rules: &CheckRules) -> Option<RangeInit> {
    let src = &header.src;
    let tag = format!("struct {}", rules.range.tag);
    for def in descendants_of_kind(header.tree.root_node(), "function_definition") {
        let params = parameters(def);
        let names: Vec<String> = params
            .iter()
            .map(|p| {
                crate::scan::kernel_c::declarator_name(*p)
                    .map(|n| text(n, src).into_owned())
                    .unwrap_or_default()
            })
            .collect();
        let Some(range) = params
            .iter()
            .position(|p| squash_ws(&text(*p, src)).starts_with(&squash_ws(&tag)))
        else {
            continue;
        };
        let Some(body) = def.child_by_field_name("body") else {
            continue;
        };
        // `range->start = start;`, or `.start = start` in a compound
        // literal stored through the pointer.
        let param = |value: Node| names.iter().position(|n| *n == text(value, src).trim());
        let stored = |member: &str| -> Option<usize> {
            let assigned = descendants_of_kind(body, "assignment_expression")
                .into_iter()
                .find_map(|a| {
                    let l = a.child_by_field_name("left")?;
                    let lhs = squash_ws(&text(l, src));
                    (lhs == format!("{}->{member}", names[range]))
                        .then(|| param(a.child_by_field_name("right")?))
                        .flatten()
                });
            assigned.or_else(|| {
                descendants_of_kind(body, "initializer_pair")
                    .into_iter()
                    .find_map(|p| {
                        let field = descendants_of_kind(p, "field_identifier")
                            .into_iter()
                            .next()?;
                        (text(field, src) == member)
                            .then(|| param(p.child_by_field_name("value")?))
                            .flatten()
                    })
            })
        };
        let (Some(mm), Some(start), Some(end)) = (
            stored(rules.range.mm_member),
            stored(rules.range.start_member),
            stored(rules.range.end_member),
        ) else {
            continue;
        };
        let name = function_name(def, src)?;
        return Some(RangeInit {
            name,
            range,
            mm,
            start,
            end,
        });
    }
    None
}

/// Whether `header` defines `name` as a function or a function-like
/// macro.
fn defines(header: &Source, name: &str) -> bool {
    let src = &header.src;
    let root = header.tree.root_node();
    descendants_of_kind(root, "function_definition")
        .into_iter()
        .any(|d| function_name(d, src).is_some_and(|n| n == name))
        || descendants_of_kind(root, "preproc_function_def")
            .into_iter()
            .filter_map(|d| d.child_by_field_name("name"))
            .any(|n| text(n, src) == name)
}

fn squash_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the header's ops members for the range callbacks take the
/// range structure (`None`: the header does not declare them).
fn callbacks_take_range(header: &[u8], rules: &CheckRules) -> Option<bool> {
    let text = strip_c_comments(&String::from_utf8_lossy(header));
    let tag = format!("struct {}", rules.range.tag);
    let shapes: Vec<bool> = rules
        .range
        .callbacks
        .iter()
        .filter_map(|m| member_declaration(&text, m))
        .map(|(_, params)| squash_ws(&params).contains(&tag))
        .collect();
    let first = *shapes.first()?;
    Some(first)
}

/// `ret (*member)(params);` in `header` (comments stripped): the return
/// type and the parameter list's text.
pub(crate) fn member_declaration(header: &str, member: &str) -> Option<(String, String)> {
    let pointer = format!("(*{member})");
    let at = header.find(&pointer)?;
    let ret_start = header[..at].rfind([';', '{', '}']).map_or(0, |i| i + 1);
    let ret = header[ret_start..at].trim().to_string();
    let rest = &header[at + pointer.len()..];
    let open = rest.find('(')?;
    let mut depth = 0usize;
    for (i, c) in rest[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((ret, rest[open + 1..open + i].to_string()));
                }
            }
            _ => {}
        }
    }
    None
}

/// C text with its comments blanked (for a declaration search that must
/// not match a comment's words).
pub(crate) fn strip_c_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/*").into_iter().chain(rest.find("//")).min() {
        out.push_str(&rest[..i]);
        let end = if rest[i..].starts_with("/*") {
            rest[i..].find("*/").map_or(rest.len(), |e| i + e + 2)
        } else {
            rest[i..].find('\n').map_or(rest.len(), |e| i + e)
        };
        out.push(' ');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(rel: &str, text: &str) -> Source {
        Source {
            rel: rel.into(),
            src: text.as_bytes().to_vec(),
            tree: crate::scan::kernel_c::parse(text.as_bytes()),
        }
    }

    #[test]
    fn wrappers_of_the_primitives_are_the_api() {
        let rules = crate::recipe::invalidate_page::check_rules();
        let h = source(
            "include/linux/mmu_notifier.h",
            "#ifdef CONFIG_MMU_NOTIFIER\n\
             static inline void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *r)\n\
             { if (mm_has_notifiers(r->mm)) __mmu_notifier_invalidate_range_start(r); }\n\
             static inline int mmu_notifier_invalidate_range_start_nonblock(struct mmu_notifier_range *r)\n\
             { int ret = 0; if (mm_has_notifiers(r->mm)) ret = __mmu_notifier_invalidate_range_start(r); return ret; }\n\
             static inline void mmu_notifier_invalidate_range_end(struct mmu_notifier_range *r)\n\
             { if (mm_has_notifiers(r->mm)) __mmu_notifier_invalidate_range_end(r, false); }\n\
             static inline void mmu_notifier_invalidate_range_only_end(struct mmu_notifier_range *r)\n\
             { if (mm_has_notifiers(r->mm)) __mmu_notifier_invalidate_range_end(r, true); }\n\
             #else\n\
             static inline void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *r) { }\n\
             #endif\n",
        );
        let api = BracketApi::learn(&[h], &rules);
        assert_eq!(
            api.learned_from.as_deref(),
            Some("include/linux/mmu_notifier.h")
        );
        assert_eq!(
            api.role("mmu_notifier_invalidate_range_start"),
            Some(Role::Start { can_fail: false })
        );
        assert_eq!(
            api.role("mmu_notifier_invalidate_range_start_nonblock"),
            Some(Role::Start { can_fail: true })
        );
        assert_eq!(
            api.role("mmu_notifier_invalidate_range_only_end"),
            Some(Role::End)
        );
        assert_eq!(
            api.role("mmu_notifier_invalidate_range_end"),
            Some(Role::End)
        );
        assert_eq!(api.calls.len(), 4);
    }

    #[test]
    fn without_the_header_the_recipe_names_stand() {
        let rules = crate::recipe::invalidate_page::check_rules();
        let api = BracketApi::learn(&[source("mm/x.c", "void f(void) { }")], &rules);
        assert_eq!(api, BracketApi::fallback(&rules));
        assert_eq!(
            api.role(rules.range_start),
            Some(Role::Start { can_fail: false })
        );
    }

    #[test]
    fn the_init_and_the_callbacks_shape_are_learned_from_the_header() {
        let rules = crate::recipe::invalidate_page::check_rules();
        // An init that takes more than the bounds, in another order: the
        // positions come from what it stores where.
        let h = source(
            "include/linux/mmu_notifier.h",
            "struct mmu_notifier_ops {\n\
             \t/* (*invalidate_range_start)(mn, mm, start, end) once */\n\
             \tint (*invalidate_range_start)(struct mmu_notifier *mn,\n\
             \t\tconst struct mmu_notifier_range *range);\n\
             };\n\
             static inline void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *r)\n\
             { __mmu_notifier_invalidate_range_start(r); }\n\
             static inline void mmu_notifier_invalidate_range_end(struct mmu_notifier_range *r)\n\
             { __mmu_notifier_invalidate_range_end(r, false); }\n\
             static inline void mmu_notifier_range_init(struct mmu_notifier_range *range,\n\
             \tint event, struct vm_area_struct *vma, struct mm_struct *mm,\n\
             \tunsigned long start, unsigned long end)\n\
             {\n\
             \trange->vma = vma;\n\
             \trange->event = event;\n\
             \trange->mm = mm;\n\
             \trange->start = start;\n\
             \trange->end = end;\n\
             }\n",
        );
        let api = BracketApi::learn(&[h], &rules);
        assert_eq!(
            api.init,
            RangeInit {
                name: "mmu_notifier_range_init".into(),
                range: 0,
                mm: 3,
                start: 4,
                end: 5,
            }
        );
        assert_eq!(api.header_has_init, Some(true));
        assert_eq!(api.callbacks_take_range, Some(true));
        assert_eq!(
            api.arity.get("mmu_notifier_invalidate_range_start"),
            Some(&1)
        );
    }

    #[test]
    fn an_old_header_has_no_init_and_three_argument_brackets() {
        let rules = crate::recipe::invalidate_page::check_rules();
        let h = source(
            "include/linux/mmu_notifier.h",
            "struct mmu_notifier_ops {\n\
             \tvoid (*invalidate_range_start)(struct mmu_notifier *mn,\n\
             \t\tstruct mm_struct *mm, unsigned long start, unsigned long end);\n\
             };\n\
             static inline void mmu_notifier_invalidate_range_start(struct mm_struct *mm,\n\
             \tunsigned long start, unsigned long end)\n\
             { __mmu_notifier_invalidate_range_start(mm, start, end); }\n\
             static inline void mmu_notifier_invalidate_range_end(struct mm_struct *mm,\n\
             \tunsigned long start, unsigned long end)\n\
             { __mmu_notifier_invalidate_range_end(mm, start, end); }\n",
        );
        let api = BracketApi::learn(&[h], &rules);
        assert_eq!(api.header_has_init, Some(false));
        assert_eq!(api.callbacks_take_range, Some(false));
        assert_eq!(api.arity.get("mmu_notifier_invalidate_range_end"), Some(&3));
        // The recipe's positions stand for the init it does not have.
        assert_eq!(api.init.name, rules.range.init);
    }

    #[test]
    fn an_init_by_compound_literal_or_by_macro_is_an_init() {
        let rules = crate::recipe::invalidate_page::check_rules();
        let brackets = "static inline void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *r)\n\
             { __mmu_notifier_invalidate_range_start(r); }\n\
             static inline void mmu_notifier_invalidate_range_end(struct mmu_notifier_range *r)\n\
             { __mmu_notifier_invalidate_range_end(r, false); }\n";
        let literal = format!(
            "{brackets}static inline void mmu_notifier_range_init(struct mmu_notifier_range *r,\n\
             \tunsigned long end, unsigned long start, struct mm_struct *mm)\n\
             {{ *r = (struct mmu_notifier_range){{ .mm = mm, .start = start, .end = end }}; }}\n"
        );
        let api = BracketApi::learn(&[source(rules.bracket_header, &literal)], &rules);
        assert_eq!((api.init.mm, api.init.start, api.init.end), (3, 2, 1));
        let mac = format!(
            "{brackets}#define mmu_notifier_range_init(r, mm, s, e) frob_fill((r), (mm), (s), (e))\n"
        );
        let api = BracketApi::learn(&[source(rules.bracket_header, &mac)], &rules);
        assert_eq!(api.header_has_init, Some(true));
        assert_eq!(api.init, RangeInit::fallback(&rules));
    }

    #[test]
    fn a_range_is_named_by_its_variable() {
        assert_eq!(BracketApi::range_variable("&range"), "range");
        assert_eq!(BracketApi::range_variable("&(range)"), "range");
        assert_eq!(BracketApi::range_variable("r"), "r");
        assert_eq!(BracketApi::range_variable("&p->range"), "p->range");
        assert_eq!(BracketApi::range_variable("(a)+(b)"), "(a)+(b)");
    }
}
