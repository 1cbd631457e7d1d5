//! Deciding what each textual occurrence of the needle means.
//!
//! First pass, per file: every occurrence is looked up in the syntax tree
//! and given a meaning by the C construct it sits in (the function
//! actually called, the struct type of the initializer, the struct that
//! owns the member...).  Occurrences that belong to one construct (a
//! wrapper's name and the call inside it) are folded into one site by
//! their anchor.  Identifiers that are not part of the API wait for the
//! second pass, which knows every callback named by an ops entry.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use tree_sitter::Node;

use super::ctypes::{StructTable, declared_struct, expression_struct, initializer_struct};
use super::kernel_c::{
    declarator_name, enclosing_function, failure, function_name, has_error, has_storage,
    identifier_around, inside_error, is_ident_byte, text,
};
use super::model::{ApiRole, Detail, HookRole, Loc};
use super::ptl;
use crate::recipe::Recipe;

/// A parsed candidate file.
pub struct ParsedFile {
    pub rel: String,
    pub src: Vec<u8>,
    pub hits: Vec<usize>,
    /// `None` when the file was too large to parse.
    pub tree: Option<super::kernel_c::Parsed>,
    /// Byte offset of every line start, built on first use: a file with
    /// many occurrences must not be counted from its start for each.
    line_starts: OnceLock<Vec<usize>>,
}

impl ParsedFile {
    pub fn new(
        rel: String,
        src: Vec<u8>,
        hits: Vec<usize>,
        tree: Option<super::kernel_c::Parsed>,
    ) -> ParsedFile {
        ParsedFile {
            rel,
            src,
            hits,
            tree,
            line_starts: OnceLock::new(),
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', &self.src).map(|p| p + 1))
                .collect()
        })
    }
}

/// A site in the making: its anchor identifies the construct, so that
/// several occurrences inside one construct become one site.
#[derive(Debug, Clone)]
pub struct Draft {
    pub anchor: (usize, usize),
    pub detail: Detail,
    pub loc: Loc,
    pub end_line: usize,
    pub function: Option<String>,
    pub occurrences: usize,
}

/// An `.member = fn` entry waiting for its callback to be resolved.
#[derive(Debug, Clone)]
pub struct PendingEntry {
    pub draft_index: usize,
    pub callback: String,
    /// Byte offset of the callback identifier in the entry.
    pub value_offset: usize,
}

/// An identifier containing the needle that is not part of the API; it may
/// be a callback's name, which only the second pass knows.
#[derive(Debug, Clone)]
pub struct PendingIdent {
    pub name: String,
    pub offset: usize,
    pub loc: Loc,
    pub function: Option<String>,
    /// Why it would be unrelated if it is no callback.
    pub context: &'static str,
}

/// A macro whose body uses the API, waiting for its uses to be found.
#[derive(Debug, Clone)]
pub struct PendingMacro {
    pub draft_index: usize,
    pub name: String,
}

/// What the first pass learnt about one file.
#[derive(Default)]
pub struct FileFacts {
    pub drafts: Vec<Draft>,
    pub entries: Vec<PendingEntry>,
    pub idents: Vec<PendingIdent>,
    pub macros: Vec<PendingMacro>,
    /// Index of `drafts` by anchor (a file may hold many thousands).
    by_anchor: HashMap<(usize, usize), usize>,
}

impl FileFacts {
    /// Adds an occurrence to the draft with the same anchor, or a new one.
    fn add(&mut self, draft: Draft) -> usize {
        if let Some(&i) = self.by_anchor.get(&draft.anchor) {
            self.drafts[i].occurrences += draft.occurrences;
            return i;
        }
        self.by_anchor.insert(draft.anchor, self.drafts.len());
        self.drafts.push(draft);
        self.drafts.len() - 1
    }
}

pub struct Classifier<'a> {
    pub recipe: &'a Recipe,
    pub structs: &'a StructTable,
    pub locks: &'a super::locks::Locks<'a>,
}

/// What one occurrence turned out to be.
enum Meaning<'t> {
    Site {
        anchor: Node<'t>,
        at: Node<'t>,
        detail: Detail,
    },
    Entry {
        pair: Node<'t>,
        value: Node<'t>,
        detail: Detail,
    },
    Ident {
        node_start: usize,
        name: String,
        context: &'static str,
    },
    Lexical {
        reason: String,
        needs_review: bool,
    },
    /// The API used in the body of a macro: its uses are the real sites.
    Macro {
        reason: String,
        name: String,
    },
}

impl Classifier<'_> {
    pub fn first_pass(&self, file: &ParsedFile) -> FileFacts {
        let mut facts = FileFacts::default();
        let Some(tree) = &file.tree else {
            for &off in &file.hits {
                facts.add(self.lexical_draft(
                    file,
                    off,
                    "file too large to parse: review by hand".into(),
                    true,
                ));
            }
            return facts;
        };
        let lock_cache = ptl::LockCache::default();
        for &off in &file.hits {
            let end = off + self.recipe.needle.len();
            let node = tree
                .node_for_byte_range(off, end)
                .unwrap_or(tree.root_at(off));
            let meaning = self.meaning(node, off, end, &file.src);
            let meaning = self.with_lock_state(meaning, &file.src, &lock_cache);
            self.record(&mut facts, file, off, meaning);
        }
        facts
    }

    /// A call's `under_ptl` and evidence: is the page-table lock held
    /// where it runs?
    fn with_lock_state<'t>(
        &self,
        meaning: Meaning<'t>,
        src: &[u8],
        lock_cache: &ptl::LockCache<'t>,
    ) -> Meaning<'t> {
        let Meaning::Site {
            anchor,
            at,
            detail:
                Detail::Call {
                    callee,
                    args,
                    under_ptl: _,
                    ptl_evidence: _,
                },
        } = meaning
        else {
            return meaning;
        };
        let (under_ptl, ptl_evidence) = match enclosing_function(anchor) {
            Some(f) => ptl::lock_at_cached(anchor, f, src, self.locks, lock_cache),
            None => (None, "not inside a function".into()),
        };
        Meaning::Site {
            anchor,
            at,
            detail: Detail::Call {
                callee,
                args,
                under_ptl,
                ptl_evidence,
            },
        }
    }

    fn record(&self, facts: &mut FileFacts, file: &ParsedFile, off: usize, meaning: Meaning) {
        let src = &file.src;
        match meaning {
            Meaning::Site { anchor, at, detail } => {
                let detail = self.refuse_on_parse_error(anchor, detail, src);
                facts.add(draft(file, anchor, at, detail));
            }
            Meaning::Entry {
                pair,
                value,
                detail,
            } => {
                let callback = text(value, src).into_owned();
                let value_offset = value.start_byte();
                let i = facts.add(draft(file, pair, pair, detail));
                facts.entries.push(PendingEntry {
                    draft_index: i,
                    callback,
                    value_offset,
                });
            }
            Meaning::Ident {
                node_start,
                name,
                context,
            } => {
                let node = file
                    .tree
                    .as_ref()
                    .and_then(|t| t.node_for_byte_range(node_start, node_start));
                facts.idents.push(PendingIdent {
                    name,
                    offset: node_start,
                    loc: loc_of_offset(file, off),
                    function: node
                        .and_then(enclosing_function)
                        .and_then(|f| function_name(f, src)),
                    context,
                });
            }
            Meaning::Lexical {
                reason,
                needs_review,
            } => {
                facts.add(self.lexical_draft(file, off, reason, needs_review));
            }
            Meaning::Macro { reason, name } => {
                let draft_index = facts.add(self.lexical_draft(file, off, reason, true));
                if !facts.macros.iter().any(|m| m.draft_index == draft_index) {
                    facts.macros.push(PendingMacro { draft_index, name });
                }
            }
        }
    }

    fn lexical_draft(
        &self,
        file: &ParsedFile,
        off: usize,
        reason: String,
        needs_review: bool,
    ) -> Draft {
        let loc = loc_of_offset(file, off);
        let function = file
            .tree
            .as_ref()
            .and_then(|t| t.node_for_byte_range(off, off))
            .and_then(enclosing_function)
            .and_then(|f| function_name(f, &file.src));
        Draft {
            anchor: (off, off),
            detail: if needs_review {
                Detail::NeedsReview { reason }
            } else {
                Detail::Unrelated { reason }
            },
            end_line: loc.line,
            loc,
            function,
            occurrences: 1,
        }
    }

    /// A site of the API inside a definition that did not parse cleanly
    /// cannot be edited safely: it is reported for review instead.
    fn refuse_on_parse_error(&self, anchor: Node, detail: Detail, src: &[u8]) -> Detail {
        if matches!(
            detail,
            Detail::Unrelated { .. } | Detail::NeedsReview { .. }
        ) {
            return detail;
        }
        let scope = enclosing_function(anchor).unwrap_or(anchor);
        if has_error(scope) {
            let what = function_name(scope, src)
                .map_or_else(|| "its definition".to_string(), |f| format!("{f}()"));
            return Detail::NeedsReview {
                reason: format!(
                    "would be {} but {what} does not parse: {}",
                    detail.kind(),
                    failure::describe(scope, src)
                ),
            };
        }
        detail
    }

    fn meaning<'t>(&self, node: Node<'t>, start: usize, end: usize, src: &[u8]) -> Meaning<'t> {
        let (is, ie) = identifier_around(src, start, end);
        let name = String::from_utf8_lossy(&src[is..ie]).into_owned();
        match node.kind() {
            "comment" => return self.comment_meaning(node, &name, src),
            "string_literal" | "string_content" | "char_literal" | "system_lib_string"
            | "raw_string_literal" | "escape_sequence" => {
                return Meaning::Lexical {
                    reason: "string".into(),
                    needs_review: false,
                };
            }
            _ => {}
        }
        if inside_error(node) {
            return self.error_meaning(node, is, name, src);
        }
        if node.kind() == "preproc_arg" || in_macro_definition(node) {
            return self.macro_meaning(node, src, is, ie, name);
        }
        match node.kind() {
            "identifier" | "field_identifier" | "type_identifier" | "statement_identifier" => {
                self.identifier_meaning(node, name, src)
            }
            other => Meaning::Lexical {
                reason: format!("unrecognised context `{other}` around `{name}`"),
                needs_review: true,
            },
        }
    }

    fn is_api_name(&self, name: &str) -> bool {
        self.recipe.is_api_function(name) || self.recipe.is_arch_hook(name)
    }

    fn error_meaning<'t>(
        &self,
        node: Node<'t>,
        ident_start: usize,
        name: String,
        src: &[u8],
    ) -> Meaning<'t> {
        if self.is_api_name(&name) || self.recipe.is_ops_member(&name) {
            // Containment keeps an ERROR inside one top-level definition:
            // name the construct in it.
            let e = error_ancestor(node).unwrap_or(node);
            let scope = definition_level(e);
            return Meaning::Lexical {
                reason: format!(
                    "`{name}` sits in code that does not parse: {}",
                    failure::describe(scope, src)
                ),
                needs_review: true,
            };
        }
        Meaning::Ident {
            node_start: ident_start,
            name,
            context: "other identifier",
        }
    }

    fn macro_meaning<'t>(
        &self,
        node: Node<'t>,
        src: &[u8],
        is: usize,
        ie: usize,
        name: String,
    ) -> Meaning<'t> {
        let pasted = src[..is].trim_ascii_end().ends_with(b"##")
            || src[ie..].trim_ascii_start().starts_with(b"##");
        let member_access = {
            let before = src[..is].trim_ascii_end();
            before.ends_with(b".") || before.ends_with(b"->")
        };
        let definition = macro_definition(node);
        if self.is_api_name(&name)
            && !pasted
            && let Some(def) = definition
            && let Some(macro_name) = def.child_by_field_name("name")
        {
            let macro_name = text(macro_name, src).into_owned();
            return Meaning::Macro {
                reason: format!(
                    "`{name}` inside the macro `{macro_name}`: what it expands to is not known here"
                ),
                name: macro_name,
            };
        }
        if self.is_api_name(&name) || (self.recipe.is_ops_member(&name) && member_access) || pasted
        {
            return Meaning::Lexical {
                reason: format!(
                    "`{name}` inside a macro definition{}: what it expands to is not known here",
                    if pasted { " with token pasting" } else { "" }
                ),
                needs_review: true,
            };
        }
        Meaning::Lexical {
            reason: format!("other identifier in a macro definition: {name}"),
            needs_review: false,
        }
    }

    fn comment_meaning<'t>(&self, comment: Node<'t>, name: &str, src: &[u8]) -> Meaning<'t> {
        if let Some(owner) = described_declaration(comment)
            && let Some(Meaning::Site { anchor, at, detail }) =
                self.api_declaration_meaning(owner, src)
        {
            return Meaning::Site { anchor, at, detail };
        }
        Meaning::Lexical {
            reason: format!("comment (mentions {name})"),
            needs_review: false,
        }
    }

    /// The API meaning of a declaration a comment is attached to, if any.
    fn api_declaration_meaning<'t>(&self, decl: Node<'t>, src: &[u8]) -> Option<Meaning<'t>> {
        let name_node = match decl.kind() {
            "field_declaration" => member_name(decl)?,
            _ => declarator_name(decl)?,
        };
        let name = text(name_node, src).into_owned();
        let m = self.identifier_meaning(name_node, name, src);
        matches!(
            &m,
            Meaning::Site {
                detail: Detail::Api { .. },
                ..
            }
        )
        .then_some(m)
    }

    fn identifier_meaning<'t>(&self, id: Node<'t>, name: String, src: &[u8]) -> Meaning<'t> {
        if self.recipe.is_api_function(&name) {
            return self.api_function_meaning(id, name, src);
        }
        if self.recipe.is_arch_hook(&name) {
            return self.hook_meaning(id, name);
        }
        if id.kind() == "field_identifier" && self.recipe.is_ops_member(&name) {
            return self.member_meaning(id, src);
        }
        if self.recipe.is_ops_member(&name) {
            return self.lexical_member_meaning(id, src);
        }
        let context = if id.kind() == "field_identifier" {
            "other member"
        } else {
            "other identifier"
        };
        Meaning::Ident {
            node_start: id.start_byte(),
            name,
            context,
        }
    }

    fn api_function_meaning<'t>(&self, id: Node<'t>, name: String, src: &[u8]) -> Meaning<'t> {
        if let Some(func) = enclosing_function(id)
            && function_name(func, src).is_some_and(|n| self.recipe.is_api_function(&n))
        {
            return self.api_definition(func, src);
        }
        if let Some(def) = defined_by(id, "function_definition") {
            return self.api_definition(def, src);
        }
        if let Some(decl) = defined_by(id, "declaration") {
            let detail = Detail::Api {
                role: ApiRole::Declaration,
                name,
                config: self.config_of(decl, src),
                comment_lines: comment_lines_above(decl),
            };
            return Meaning::Site {
                anchor: decl,
                at: id,
                detail,
            };
        }
        if let Some(call) = called_by(id) {
            // The lock state is filled in by `with_lock_state`, which
            // shares its work between the calls of one file.
            let detail = Detail::Call {
                callee: name,
                args: super::kernel_c::call_args(call, src),
                under_ptl: None,
                ptl_evidence: String::new(),
            };
            return Meaning::Site {
                anchor: call,
                at: call,
                detail,
            };
        }
        if let Some(export) = exported_by(id, src) {
            let detail = Detail::Api {
                role: ApiRole::Export,
                name,
                config: None,
                comment_lines: None,
            };
            return Meaning::Site {
                anchor: export,
                at: export,
                detail,
            };
        }
        Meaning::Lexical {
            reason: format!("`{name}` used other than by a call (address taken?)"),
            needs_review: true,
        }
    }

    fn api_definition<'t>(&self, func: Node<'t>, src: &[u8]) -> Meaning<'t> {
        let name = function_name(func, src).unwrap_or_default();
        let config = self.config_of(func, src);
        let inline = has_storage(func, "inline", src);
        let role = if !inline {
            ApiRole::Definition
        } else if config.as_deref().is_some_and(|c| c.starts_with('!'))
            || (config.is_none() && body_is_empty(func))
        {
            ApiRole::Stub
        } else {
            ApiRole::Wrapper
        };
        let at = declarator_name(func).unwrap_or(func);
        let detail = Detail::Api {
            role,
            name,
            config,
            comment_lines: comment_lines_above(func),
        };
        Meaning::Site {
            anchor: func,
            at,
            detail,
        }
    }

    fn hook_meaning<'t>(&self, id: Node<'t>, name: String) -> Meaning<'t> {
        let (anchor, role) = if let Some(def) = defined_by(id, "function_definition") {
            (def, HookRole::Definition)
        } else if let Some(decl) = defined_by(id, "declaration") {
            (decl, HookRole::Declaration)
        } else if let Some(call) = called_by(id) {
            (call, HookRole::Call)
        } else {
            return Meaning::Lexical {
                reason: format!("`{name}` used other than by a call or declaration"),
                needs_review: true,
            };
        };
        let definition = role == HookRole::Definition;
        let detail = Detail::ArchHook {
            name,
            role,
            empty: definition.then(|| body_is_empty(anchor)),
            arch: None,
        };
        Meaning::Site {
            anchor,
            at: id,
            detail,
        }
    }

    fn member_meaning<'t>(&self, id: Node<'t>, src: &[u8]) -> Meaning<'t> {
        let member = text(id, src).into_owned();
        let parent = id.parent();
        match parent.map(|p| p.kind()) {
            Some("field_designator") => self.designator_meaning(parent.unwrap(), src),
            Some("field_expression") => {
                let fe = parent.unwrap();
                if let Some(func) = enclosing_function(fe)
                    && function_name(func, src).is_some_and(|n| self.recipe.is_api_function(&n))
                {
                    return self.api_definition(func, src);
                }
                let base = fe.child_by_field_name("argument");
                match base.and_then(|b| expression_struct(b, src, self.structs)) {
                    Some(s) if s == self.recipe.ops_struct => Meaning::Lexical {
                        reason: format!(
                            "->{member} of struct {s} used outside the API's definition"
                        ),
                        needs_review: true,
                    },
                    Some(s) => Meaning::Lexical {
                        reason: format!("{s} member"),
                        needs_review: false,
                    },
                    None => Meaning::Lexical {
                        reason: format!(
                            "cannot tell the struct type of `{}` in `{}`",
                            base.map(|b| text(b, src).into_owned()).unwrap_or_default(),
                            text(fe, src)
                        ),
                        needs_review: true,
                    },
                }
            }
            _ => match field_declaration_of(id) {
                Some(fd) => {
                    let owner = fd
                        .parent()
                        .and_then(|l| l.parent())
                        .filter(|s| s.kind() == "struct_specifier")
                        .and_then(|s| s.child_by_field_name("name"))
                        .map(|n| text(n, src).into_owned());
                    match owner {
                        Some(s) if s == self.recipe.ops_struct => {
                            let detail = Detail::Api {
                                role: ApiRole::Member,
                                name: member.to_string(),
                                config: self.config_of(fd, src),
                                comment_lines: comment_lines_above(fd),
                            };
                            Meaning::Site {
                                anchor: fd,
                                at: id,
                                detail,
                            }
                        }
                        Some(s) => Meaning::Lexical {
                            reason: format!("{s} member"),
                            needs_review: false,
                        },
                        None => Meaning::Lexical {
                            reason: format!("member `{member}` of an anonymous struct"),
                            needs_review: true,
                        },
                    }
                }
                None => Meaning::Lexical {
                    reason: format!("member name `{member}` in an unrecognised context"),
                    needs_review: true,
                },
            },
        }
    }

    /// The member name where the parser saw a plain identifier: iterator
    /// macros without a semicolon (`for_each_x(ops) ops->member(...)`)
    /// confuse tree-sitter.  Read `base->member` from the text and resolve
    /// `base` through the declarations in scope; anything else is review.
    fn lexical_member_meaning<'t>(&self, id: Node<'t>, src: &[u8]) -> Meaning<'t> {
        let member = text(id, src).into_owned();
        let before = src[..id.start_byte()].trim_ascii_end();
        let base = before
            .strip_suffix(b"->")
            .or_else(|| before.strip_suffix(b"."))
            .map(|b| b.trim_ascii_end())
            .map(|b| {
                let start = b
                    .iter()
                    .rposition(|c| !is_ident_byte(*c))
                    .map_or(0, |p| p + 1);
                String::from_utf8_lossy(&b[start..]).into_owned()
            })
            .filter(|b| !b.is_empty());
        let Some(base) = base else {
            return Meaning::Lexical {
                reason: format!(
                    "identifier `{member}` (the member's name) outside a member access"
                ),
                needs_review: true,
            };
        };
        match declared_struct(&base, id, src) {
            Some(s) if s == self.recipe.ops_struct => Meaning::Lexical {
                reason: format!("->{member} of struct {s} used outside the API's definition"),
                needs_review: true,
            },
            Some(s) => Meaning::Lexical {
                reason: format!("{s} member"),
                needs_review: false,
            },
            None => Meaning::Lexical {
                reason: format!("cannot tell the struct type of `{base}` in `{base}->{member}`"),
                needs_review: true,
            },
        }
    }

    fn designator_meaning<'t>(&self, designator: Node<'t>, src: &[u8]) -> Meaning<'t> {
        let member = designator
            .named_child(0)
            .map(|m| text(m, src).into_owned())
            .unwrap_or_default();
        let Some(pair) = designator
            .parent()
            .filter(|p| p.kind() == "initializer_pair")
        else {
            return Meaning::Lexical {
                reason: format!(".{member} designator outside an initializer"),
                needs_review: true,
            };
        };
        let list = pair.parent();
        let owner = list.and_then(|l| initializer_struct(l, src, self.structs));
        match owner {
            Some(s) if s == self.recipe.ops_struct => {
                let Some(value) = pair
                    .child_by_field_name("value")
                    .filter(|v| v.kind() == "identifier")
                else {
                    return Meaning::Lexical {
                        reason: format!(
                            ".{member} of struct {s} set to something other than a function name"
                        ),
                        needs_review: true,
                    };
                };
                let detail = Detail::OpsEntry {
                    ops: list
                        .and_then(initialised_variable)
                        .map(|v| text(v, src).into_owned())
                        .unwrap_or_default(),
                    member: member.clone(),
                    callback: text(value, src).into_owned(),
                    sets: self.other_callbacks(list.unwrap(), src),
                };
                Meaning::Entry {
                    pair,
                    value,
                    detail,
                }
            }
            Some(s) => Meaning::Lexical {
                reason: format!("{s} member"),
                needs_review: false,
            },
            None => Meaning::Lexical {
                reason: format!(".{member} in an initializer whose struct type is not known"),
                needs_review: true,
            },
        }
    }

    /// The replacement members the same initializer sets, by member.
    fn other_callbacks(&self, list: Node, src: &[u8]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut cursor = list.walk();
        for pair in list.named_children(&mut cursor) {
            if pair.kind() != "initializer_pair" {
                continue;
            }
            let Some(field) = pair
                .child_by_field_name("designator")
                .and_then(|d| d.named_child(0))
            else {
                continue;
            };
            let field = text(field, src);
            if self.recipe.replacement_members.contains(&field.as_ref())
                && let Some(v) = pair.child_by_field_name("value")
            {
                out.insert(field.into_owned(), text(v, src).into_owned());
            }
        }
        out
    }

    /// The preprocessor condition on the recipe's config symbol around a
    /// node: `CONFIG_X` or `!CONFIG_X`.
    fn config_of(&self, node: Node, src: &[u8]) -> Option<String> {
        let sym = self.recipe.api_config;
        let mut child = node;
        let mut n = node.parent();
        while let Some(p) = n {
            if matches!(p.kind(), "preproc_ifdef" | "preproc_if") {
                let cond = p
                    .child_by_field_name("name")
                    .or_else(|| p.child_by_field_name("condition"))
                    .map(|c| text(c, src).into_owned())
                    .unwrap_or_default();
                if cond.contains(sym) {
                    let negated =
                        text(p, src).starts_with("#ifndef") || cond.trim_start().starts_with('!');
                    let in_else = p
                        .child_by_field_name("alternative")
                        .is_some_and(|a| a.id() == child.id());
                    return Some(if negated != in_else {
                        format!("!{sym}")
                    } else {
                        sym.to_string()
                    });
                }
            }
            child = p;
            n = p.parent();
        }
        None
    }
}

fn draft(file: &ParsedFile, anchor: Node, at: Node, detail: Detail) -> Draft {
    let detail = with_arch(detail, &file.rel);
    let at_pos = at.start_position();
    Draft {
        anchor: (anchor.start_byte(), anchor.end_byte()),
        loc: Loc {
            file: file.rel.clone(),
            line: at_pos.row + 1,
            column: at_pos.column + 1,
        },
        end_line: anchor.end_position().row + 1,
        function: enclosing_function(anchor).and_then(|f| function_name(f, &file.src)),
        detail,
        occurrences: 1,
    }
}

fn with_arch(detail: Detail, rel: &str) -> Detail {
    match detail {
        Detail::ArchHook {
            name, role, empty, ..
        } => {
            let arch = rel
                .strip_prefix("arch/")
                .and_then(|r| r.split('/').next())
                .map(str::to_string);
            Detail::ArchHook {
                name,
                role,
                empty,
                arch,
            }
        }
        d => d,
    }
}

pub fn loc_of_offset(file: &ParsedFile, off: usize) -> Loc {
    let starts = file.line_starts();
    // The last line start at or before `off` (there is always line 1's, 0).
    let line = starts.partition_point(|&s| s <= off);
    Loc {
        file: file.rel.clone(),
        line,
        column: off - starts[line - 1] + 1,
    }
}

/// The function definition or declaration that `id` names, if `id` is
/// the declared name (not a use inside it).
pub fn defined_by<'t>(id: Node<'t>, kind: &str) -> Option<Node<'t>> {
    let mut n = id.parent()?;
    loop {
        match n.kind() {
            k if k == kind => {
                return declarator_name(n).filter(|d| d.id() == id.id()).map(|_| n);
            }
            "function_declarator"
            | "pointer_declarator"
            | "parenthesized_declarator"
            | "init_declarator"
            | "attributed_declarator" => n = n.parent()?,
            _ => return None,
        }
    }
}

/// The call expression whose callee is `id`.
pub fn called_by(id: Node) -> Option<Node> {
    let call = id.parent().filter(|p| p.kind() == "call_expression")?;
    call.child_by_field_name("function")
        .filter(|f| f.id() == id.id())
        .map(|_| call)
}

fn exported_by<'t>(id: Node<'t>, src: &[u8]) -> Option<Node<'t>> {
    let call = id
        .parent()?
        .parent()
        .filter(|c| c.kind() == "call_expression")?;
    let f = call.child_by_field_name("function")?;
    text(f, src).starts_with("EXPORT_SYMBOL").then_some(call)
}

/// The `#define` a node sits in.
fn macro_definition(node: Node) -> Option<Node> {
    let mut n = Some(node);
    while let Some(p) = n {
        if matches!(p.kind(), "preproc_def" | "preproc_function_def") {
            return Some(p);
        }
        n = p.parent();
    }
    None
}

fn in_macro_definition(node: Node) -> bool {
    let mut n = Some(node);
    while let Some(p) = n {
        if matches!(
            p.kind(),
            "preproc_def" | "preproc_function_def" | "preproc_arg"
        ) {
            return true;
        }
        n = p.parent();
    }
    false
}

/// The top-level definition (or file-level ERROR) a node sits in: the
/// outermost ancestor whose parent is the translation unit or a
/// preprocessor conditional around definitions.
fn definition_level(node: Node) -> Node {
    let conditional = |k: &str| {
        matches!(
            k,
            "translation_unit" | "preproc_if" | "preproc_ifdef" | "preproc_else" | "preproc_elif"
        )
    };
    let mut found = node;
    let mut n = node;
    while let Some(p) = n.parent() {
        if conditional(p.kind()) && !conditional(n.kind()) {
            found = n;
        }
        n = p;
    }
    found
}

fn error_ancestor(node: Node) -> Option<Node> {
    let mut n = Some(node);
    while let Some(p) = n {
        if p.is_error() {
            return Some(p);
        }
        n = p.parent();
    }
    None
}

/// The field declaration a member name belongs to (through function
/// pointer declarators).
fn field_declaration_of(id: Node) -> Option<Node> {
    let mut n = id.parent()?;
    loop {
        match n.kind() {
            "field_declaration" => return Some(n),
            "function_declarator"
            | "pointer_declarator"
            | "parenthesized_declarator"
            | "array_declarator" => n = n.parent()?,
            _ => return None,
        }
    }
}

fn member_name(field: Node) -> Option<Node> {
    let mut d = field.child_by_field_name("declarator")?;
    loop {
        if d.kind() == "field_identifier" {
            return Some(d);
        }
        d = d.child_by_field_name("declarator")?;
    }
}

/// The declaration a comment documents: the next named sibling, when
/// nothing but white space separates them.
fn described_declaration(comment: Node) -> Option<Node> {
    let mut next = comment.next_named_sibling()?;
    while next.kind() == "comment" {
        next = next.next_named_sibling()?;
    }
    let gap = next
        .start_position()
        .row
        .saturating_sub(comment.end_position().row);
    (gap <= 1
        && matches!(
            next.kind(),
            "field_declaration" | "function_definition" | "declaration"
        ))
    .then_some(next)
}

/// Lines of the comment block right above a declaration.
fn comment_lines_above(decl: Node) -> Option<(usize, usize)> {
    let mut first = None;
    let mut expect_row = decl.start_position().row;
    let mut prev = decl.prev_named_sibling();
    while let Some(p) = prev.filter(|p| p.kind() == "comment") {
        if p.end_position().row + 1 < expect_row {
            break;
        }
        first = Some(p);
        expect_row = p.start_position().row;
        prev = p.prev_named_sibling();
    }
    let first = first?;
    let last = decl.prev_named_sibling()?;
    Some((first.start_position().row + 1, last.end_position().row + 1))
}

fn initialised_variable(list: Node) -> Option<Node> {
    let init = list.parent().filter(|p| p.kind() == "init_declarator")?;
    let mut d = init.child_by_field_name("declarator")?;
    while d.kind() != "identifier" {
        d = d.child_by_field_name("declarator")?;
    }
    Some(d)
}

/// Whether a function's body holds no statement (comments aside).
pub fn body_is_empty(func: Node) -> bool {
    let Some(body) = func.child_by_field_name("body") else {
        return false;
    };
    let mut cursor = body.walk();
    body.named_children(&mut cursor)
        .all(|c| c.kind() == "comment")
}
