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
        }
    }

    /// The wrappers of `rules.bracket_header` among `files` (paths relative
    /// to the tree's root), or the fallback.
    pub fn learn(files: &[Source], rules: &CheckRules) -> BracketApi {
        let Some(header) = files.iter().find(|f| f.rel == rules.bracket_header) else {
            return BracketApi::fallback(rules);
        };
        let learned = wrappers(header, rules);
        if !learned.values().any(|r| matches!(r, Role::Start { .. }))
            || !learned.values().any(|r| *r == Role::End)
        {
            return BracketApi::fallback(rules);
        }
        BracketApi {
            calls: learned,
            learned_from: Some(header.rel.clone()),
        }
    }

    pub fn role(&self, name: &str) -> Option<Role> {
        self.calls.get(name).copied()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.calls.keys().map(String::as_str)
    }
}

fn wrappers(header: &Source, rules: &CheckRules) -> BTreeMap<String, Role> {
    let src = &header.src;
    let mut out = BTreeMap::new();
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
        if called
            .iter()
            .any(|c| rules.start_primitives.contains(&c.as_str()))
        {
            out.insert(
                name,
                Role::Start {
                    can_fail: returns_value,
                },
            );
        } else if called
            .iter()
            .any(|c| rules.end_primitives.contains(&c.as_str()))
        {
            out.insert(name, Role::End);
        }
    }
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
}
