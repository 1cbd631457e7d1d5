//! Kernel C idioms that tree-sitter-c cannot parse, rewritten in place
//! into C it can: the same length, the same newlines, so offsets, lines
//! and columns stay those of the original (consumers read node text from
//! the original, so a rewritten token still reads as written).
//!
//! Each rule fires only on token sequences that are not valid C as
//! written, so code tree-sitter already parses is never changed:
//! - a macro next to a string literal (`printk(KERN_ERR DRV "x")`) becomes
//!   a string literal of the same length;
//! - a type as a macro argument (`min_t(unsigned long, a, b)`,
//!   `alloc_percpu(struct foo)`) becomes an identifier;
//! - identifiers where a declaration has no room for them (`STATIC int
//!   f(`, `long v ATTRIBUTE_UNUSED,`) are annotations and are blanked,
//!   when they look like one (`__x` or upper case);
//! - an iterator macro whose body is a statement other than a block or a
//!   call (`list_for_each_entry(p, h, m)` / `if (...)`) becomes `while`,
//!   which it is (with a block or a call as its body, tree-sitter reads a
//!   call and a statement, which every stage already understands);
//! - GNU case ranges (`case 1 ... 3:`);
//! - `offsetof(struct s, a[i].b)`: tree-sitter reads `offsetof` only with
//!   a plain member, so any other is read as a call;
//! - a macro invocation alone on a line at file level without its `;`
//!   (`ACPI_EXPORT_SYMBOL(f)`) reads as a directive line;
//! - an `#if` without `#else` whose body is not whole statements (`if
//!   (a) x; else` / `#endif`, an `#ifdef` inside an argument list) loses
//!   its directive lines: the code reads as configured in, which is how
//!   the lock analysis reads every `#ifdef` anyway.

use super::prep::{
    directive_end, ident_end, is_ident_byte, is_ident_start, skip_block_comment, skip_quoted,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ident,
    Str,
    Char,
    Num,
    Punct,
    Directive,
    /// Blanked by a rule.
    Gone,
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
}

const KEYWORDS: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "_Bool",
    "_Complex",
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_Generic",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local",
    "typeof",
    "__typeof__",
    "__typeof",
    "__attribute__",
    "__attribute",
    "asm",
    "__asm__",
    "__asm",
    "__extension__",
    "__restrict",
    "__restrict__",
    "__volatile__",
    "__const",
    "__label__",
    "__alignof__",
    "__auto_type",
    "__builtin_va_arg",
    "__builtin_offsetof",
];

/// Keywords that name a type on their own.
const TYPE_KEYWORDS: &[&str] = &[
    "int", "void", "char", "short", "long", "unsigned", "signed", "float", "double", "_Bool",
];

/// Keywords that may stand in a declaration's specifiers.
const DECL_KEYWORDS: &[&str] = &[
    "const", "volatile", "static", "inline", "extern", "register", "typedef", "auto",
];

const TAG_KEYWORDS: &[&str] = &["struct", "union", "enum"];

/// Rewrites the idioms in `out` (already blanked of annotations).
pub fn rewrite(out: &mut [u8]) {
    let mut toks = tokenize(out);
    conditionals(out, &mut toks);
    top_level_macros(out, &toks);
    offsetof_members(out, &toks);
    string_macros(out, &mut toks);
    type_arguments(out, &mut toks);
    declaration_annotations(out, &mut toks);
    iterator_macros(out, &toks);
    case_ranges(out, &toks);
}

fn tokenize(src: &[u8]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    while i < src.len() {
        let c = src[i];
        if c == b'\n' {
            line_start = true;
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let kind = match c {
            b'/' if src.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(src, i);
                continue;
            }
            b'/' if src.get(i + 1) == Some(&b'/') => {
                i = memchr::memchr(b'\n', &src[i..]).map_or(src.len(), |p| i + p);
                continue;
            }
            b'#' if line_start => {
                i = directive_end(src, i);
                Kind::Directive
            }
            b'"' => {
                i = skip_quoted(src, i);
                Kind::Str
            }
            b'\'' => {
                i = skip_quoted(src, i);
                Kind::Char
            }
            c if is_ident_start(c) => {
                i = ident_end(src, i);
                Kind::Ident
            }
            c if c.is_ascii_digit()
                || (c == b'.' && src.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                while i < src.len() && (is_ident_byte(src[i]) || src[i] == b'.') {
                    i += 1;
                }
                Kind::Num
            }
            b'.' if src[i..].starts_with(b"...") => {
                i += 3;
                Kind::Punct
            }
            _ => {
                i += 1;
                Kind::Punct
            }
        };
        line_start = false;
        toks.push(Tok {
            kind,
            start,
            end: i.min(src.len()),
        });
    }
    toks
}

fn text<'a>(src: &'a [u8], t: &Tok) -> &'a [u8] {
    &src[t.start..t.end]
}

fn is_word(src: &[u8], t: &Tok, words: &[&str]) -> bool {
    t.kind == Kind::Ident && words.iter().any(|w| w.as_bytes() == text(src, t))
}

fn is_plain_ident(src: &[u8], t: &Tok) -> bool {
    t.kind == Kind::Ident && !is_word(src, t, KEYWORDS)
}

fn is_punct(src: &[u8], t: &Tok, p: u8) -> bool {
    t.kind == Kind::Punct && text(src, t) == [p]
}

/// `__x`, or upper case with at least two letters: how the kernel spells
/// macros that annotate declarations.
fn looks_like_annotation(word: &[u8]) -> bool {
    word.starts_with(b"__")
        || (word.iter().filter(|c| c.is_ascii_alphabetic()).count() >= 2
            && !word.iter().any(|c| c.is_ascii_lowercase()))
}

fn blank(out: &mut [u8], t: &mut Tok) {
    super::prep::blank(out, t.start, t.end);
    t.kind = Kind::Gone;
}

/// Indexes of the code tokens (no directives, nothing blanked).
fn code(toks: &[Tok]) -> Vec<usize> {
    (0..toks.len())
        .filter(|&i| !matches!(toks[i].kind, Kind::Directive | Kind::Gone))
        .collect()
}

/// `printk(KERN_ERR PFX "x")`, `"%" PRIu64 "\n"`, `__stringify(X) ":"`:
/// a macro next to a string literal is a string literal.
fn string_macros(out: &mut [u8], toks: &mut [Tok]) {
    // Right to left, then left to right, so that chains (`KERN_ERR PFX
    // "x"`, `"a" X Y`) become strings one after the other.
    let c = code(toks);
    for k in (0..c.len()).rev() {
        string_macro_at(out, toks, &c, k, true);
    }
    let c = code(toks);
    for k in 0..c.len() {
        string_macro_at(out, toks, &c, k, false);
    }
}

/// Makes the macro (or macro call) at `c[k]` a string literal if the
/// string it stands next to is on the side `before_string` says.
fn string_macro_at(out: &mut [u8], toks: &mut [Tok], c: &[usize], k: usize, before_string: bool) {
    let t = toks[c[k]];
    if !is_plain_ident(out, &t) || matches!(text(out, &t), b"L" | b"u" | b"U" | b"u8") {
        return;
    }
    let mut last = k;
    if c.get(k + 1).is_some_and(|&n| is_punct(out, &toks[n], b'(')) {
        let Some(close) = matching(out, toks, c, k + 1) else {
            return;
        };
        last = close;
    }
    let next_str = c.get(last + 1).is_some_and(|&n| toks[n].kind == Kind::Str);
    let prev_str = k > 0 && toks[c[k - 1]].kind == Kind::Str;
    let (start, end) = (t.start, toks[c[last]].end);
    let adjacent = if before_string { next_str } else { prev_str };
    if !adjacent || end - start < 2 || out[start..end].contains(&b'\n') {
        return;
    }
    super::prep::blank(out, start, end);
    out[start] = b'"';
    out[end - 1] = b'"';
    toks[c[k]] = Tok {
        kind: Kind::Str,
        start,
        end,
    };
    for &i in &c[k + 1..=last] {
        toks[i].kind = Kind::Gone;
    }
}

/// Index (into `c`) of the `)` matching the `(` at `c[open]`.
fn matching(src: &[u8], toks: &[Tok], c: &[usize], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (k, &i) in c.iter().enumerate().skip(open) {
        let t = &toks[i];
        if t.kind != Kind::Punct {
            continue;
        }
        match text(src, t) {
            b"(" | b"[" | b"{" => depth += 1,
            b")" | b"]" | b"}" => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether the identifier at `c[k]` followed by `(` is called (or is a
/// macro used like a call), rather than declared: what comes before it
/// cannot end a declaration's type.
fn is_called(src: &[u8], toks: &[Tok], c: &[usize], k: usize) -> bool {
    if !is_plain_ident(src, &toks[c[k]]) {
        return false;
    }
    let Some(&p) = k.checked_sub(1).and_then(|p| c.get(p)) else {
        return true;
    };
    let prev = &toks[p];
    !(is_plain_ident(src, prev)
        || is_word(src, prev, TYPE_KEYWORDS)
        || is_word(src, prev, DECL_KEYWORDS)
        || is_word(src, prev, TAG_KEYWORDS)
        || is_punct(src, prev, b'*'))
}

/// `min_t(unsigned long, a, b)`, `alloc_percpu(struct foo)`: an argument
/// that is only a type becomes an identifier of the same length.
fn type_arguments(out: &mut [u8], toks: &mut [Tok]) {
    let c = code(toks);
    for k in 0..c.len().saturating_sub(1) {
        if !is_punct(out, &toks[c[k + 1]], b'(') || !is_called(out, toks, &c, k) {
            continue;
        }
        let Some(close) = matching(out, toks, &c, k + 1) else {
            continue;
        };
        let mut arg_start = k + 2;
        let mut depth = 0i32;
        for j in k + 2..=close {
            let t = toks[c[j]];
            if t.kind == Kind::Punct {
                match text(out, &t) {
                    b"(" | b"[" | b"{" => depth += 1,
                    b")" | b"]" | b"}" if depth > 0 => depth -= 1,
                    _ => {}
                }
            }
            let ends_arg =
                depth == 0 && t.kind == Kind::Punct && (text(out, &t) == b"," || j == close);
            if !ends_arg {
                continue;
            }
            if j > arg_start && is_type_name(out, toks, &c[arg_start..j]) {
                let (s, e) = (toks[c[arg_start]].start, toks[c[j - 1]].end);
                if !out[s..e].contains(&b'\n') {
                    for b in &mut out[s..e] {
                        *b = b'_';
                    }
                    toks[c[arg_start]] = Tok {
                        kind: Kind::Ident,
                        start: s,
                        end: e,
                    };
                    for &i in &c[arg_start + 1..j] {
                        toks[i].kind = Kind::Gone;
                    }
                }
            }
            arg_start = j + 1;
        }
    }
}

/// Only type keywords, qualifiers, `struct X` and `*`, with at least one
/// keyword that makes it a type.
fn is_type_name(src: &[u8], toks: &[Tok], arg: &[usize]) -> bool {
    let mut keyword = false;
    let mut after_tag = false;
    for &i in arg {
        let t = &toks[i];
        if after_tag {
            if !is_plain_ident(src, t) {
                return false;
            }
            after_tag = false;
        } else if is_word(src, t, TAG_KEYWORDS) {
            keyword = true;
            after_tag = true;
        } else if is_word(src, t, TYPE_KEYWORDS) {
            keyword = true;
        } else if !(is_word(src, t, &["const", "volatile"]) || is_punct(src, t, b'*')) {
            return false;
        }
    }
    keyword && !after_tag
}

/// Identifiers a declaration has no room for are annotations: `STATIC
/// int f(`, `int __naked f(`, `long v ATTRIBUTE_UNUSED,`.  Only those that
/// look like one (`__x`, upper case) are blanked, and only when the rest
/// is a whole declaration: a type and a name.
fn declaration_annotations(out: &mut [u8], toks: &mut [Tok]) {
    let c = code(toks);
    for k in 0..c.len() {
        let t = toks[c[k]];
        let terminator = t.kind == Kind::Punct
            && matches!(
                text(out, &t),
                b"(" | b";" | b"," | b"=" | b"[" | b")" | b":"
            );
        if !terminator || k == 0 {
            continue;
        }
        // The run of declaration words before the terminator.
        let mut run = Vec::new();
        let mut j = k;
        while j > 0 {
            let p = &toks[c[j - 1]];
            let word = is_plain_ident(out, p)
                || is_word(out, p, TYPE_KEYWORDS)
                || is_word(out, p, DECL_KEYWORDS)
                || is_word(out, p, TAG_KEYWORDS)
                || is_punct(out, p, b'*');
            if !word {
                break;
            }
            run.push(c[j - 1]);
            j -= 1;
        }
        run.reverse();
        let opens_declaration = j == 0 || {
            let p = &toks[c[j - 1]];
            p.kind == Kind::Punct && matches!(text(out, p), b";" | b"{" | b"}" | b"(" | b"," | b")")
        };
        if !opens_declaration || !pointer_only_before_name(out, toks, &run) {
            continue;
        }
        for i in extra_identifiers(out, toks, &run, text(out, &t) == b"(") {
            blank(out, &mut toks[i]);
        }
    }
}

/// `*` may only stand right before the declared name: `A * B * C` is an
/// expression, not a declaration.
fn pointer_only_before_name(src: &[u8], toks: &[Tok], run: &[usize]) -> bool {
    match run.iter().position(|&i| is_punct(src, &toks[i], b'*')) {
        None => true,
        Some(first) => {
            let after = &run[first..];
            let stars = after
                .iter()
                .take_while(|&&i| is_punct(src, &toks[i], b'*'))
                .count();
            after.len() - stars <= 1
        }
    }
}

/// The identifiers of a declaration run beyond its type and its name, if
/// they all look like annotations.
fn extra_identifiers(src: &[u8], toks: &[Tok], run: &[usize], function: bool) -> Vec<usize> {
    let mut idents = Vec::new();
    let mut has_type_keyword = false;
    let mut after_tag = false;
    let mut before_type = Vec::new();
    for (n, &i) in run.iter().enumerate() {
        let t = &toks[i];
        if after_tag {
            after_tag = false; // the tag names the type
            has_type_keyword = true;
            continue;
        }
        if is_word(src, t, TAG_KEYWORDS) {
            after_tag = true;
        } else if is_word(src, t, TYPE_KEYWORDS) {
            has_type_keyword = true;
        } else if is_plain_ident(src, t) {
            // Nothing but an annotation stands right before a type
            // keyword (`noinline_for_stack void f(`).
            let next = run.get(n + 1).map(|&j| &toks[j]);
            if next.is_some_and(|x| is_word(src, x, TYPE_KEYWORDS) || is_word(src, x, TAG_KEYWORDS))
            {
                before_type.push(i);
            } else {
                idents.push(i);
            }
        }
    }
    if !before_type.is_empty() {
        return before_type;
    }
    let needed = if has_type_keyword { 1 } else { 2 };
    if idents.len() <= needed {
        return Vec::new();
    }
    let annotation = |i: &usize| looks_like_annotation(text(src, &toks[*i]));
    let mut keep: Vec<usize> = Vec::new();
    if function {
        // The name is the last identifier before `(`.
        keep.push(*idents.last().unwrap());
    }
    let plain: Vec<usize> = idents
        .iter()
        .copied()
        .filter(|i| !keep.contains(i) && !annotation(i))
        .collect();
    keep.extend(plain);
    if keep.len() > needed {
        return Vec::new(); // two plain identifiers too many: not ours to guess
    }
    // All annotation-looking: the last ones are the type (and name).
    let mut rest: Vec<usize> = idents
        .iter()
        .copied()
        .filter(|i| !keep.contains(i))
        .collect();
    while keep.len() < needed {
        match rest.pop() {
            Some(i) => keep.push(i),
            None => return Vec::new(),
        }
    }
    rest
}

/// `list_for_each_entry(p, head, member)` followed by `if (...)`, `x =
/// y;` or another statement that is not a block or a call is a loop: its
/// name becomes `while` (the arguments read as a comma expression).  Iterator macros are named `*for_each*` / `*foreach*` in
/// the kernel.
fn iterator_macros(out: &mut [u8], toks: &[Tok]) {
    let c = code(toks);
    for (k, t, depth) in words_with_depth(out, toks, &c) {
        let word = text(out, &t);
        let iterator = memchr::memmem::find(word, b"for_each").is_some()
            || memchr::memmem::find(word, b"foreach").is_some();
        if depth <= 0 || t.kind != Kind::Ident || !iterator || word.len() < 5 {
            continue;
        }
        if !c.get(k + 1).is_some_and(|&n| is_punct(out, &toks[n], b'(')) {
            continue;
        }
        let at_statement_start = k == 0 || {
            let p = &toks[c[k - 1]];
            (p.kind == Kind::Punct && matches!(text(out, p), b";" | b"{" | b"}" | b")" | b":"))
                || is_word(out, p, &["else", "do"])
        };
        let Some(close) = matching(out, toks, &c, k + 1) else {
            continue;
        };
        // With a block (`list_for_each_entry(...) {`) or a call as the
        // body, tree-sitter reads a call and a statement (missing a `;`),
        // which every stage already understands; any other body (`if`,
        // `x = y;`, `*p = 0;`) is an error to repair.
        let next = |j: usize| c.get(close + j).map(|&n| toks[n]);
        let followed_by_statement = match next(1) {
            None => false,
            Some(n) if n.kind == Kind::Punct => !matches!(text(out, &n), b"{" | b";" | b")"),
            Some(n) if is_plain_ident(out, &n) => !next(2).is_some_and(|m| is_punct(out, &m, b'(')),
            Some(n) => n.kind == Kind::Ident && !is_word(out, &n, &["else"]),
        };
        if at_statement_start && followed_by_statement {
            super::prep::blank(out, t.start, t.end);
            out[t.start..t.start + 5].copy_from_slice(b"while");
        }
    }
}

/// The code tokens of `c` that are not punctuation, with their index in
/// `c` and the brace depth they are at.
fn words_with_depth(src: &[u8], toks: &[Tok], c: &[usize]) -> Vec<(usize, Tok, i32)> {
    let mut depth = 0i32;
    let mut out = Vec::new();
    for (k, &i) in c.iter().enumerate() {
        let t = toks[i];
        if t.kind != Kind::Punct {
            out.push((k, t, depth));
            continue;
        }
        match text(src, &t) {
            b"{" => depth += 1,
            b"}" => depth -= 1,
            _ => {}
        }
    }
    out
}

/// `case 1 ... 3:` becomes `case 1 |   3:`.
fn case_ranges(out: &mut [u8], toks: &[Tok]) {
    let c = code(toks);
    let mut in_case = false;
    for &i in &c {
        let t = toks[i];
        if is_word(out, &t, &["case"]) {
            in_case = true;
        } else if t.kind == Kind::Punct && text(out, &t) == b":" {
            in_case = false;
        } else if in_case && t.kind == Kind::Punct && text(out, &t) == b"..." {
            out[t.start..t.end].copy_from_slice(b"|  ");
        }
    }
}

/// An `#if`/`#endif` pair without `#else` whose body is not whole
/// statements loses its two directive lines.
fn conditionals(out: &mut [u8], toks: &mut [Tok]) {
    let mut stack: Vec<(usize, bool)> = Vec::new(); // (token, has #else)
    let mut pairs = Vec::new();
    for i in 0..toks.len() {
        if toks[i].kind != Kind::Directive {
            continue;
        }
        match directive_word(out, &toks[i]) {
            b"if" | b"ifdef" | b"ifndef" => stack.push((i, false)),
            b"else" | b"elif" | b"elifdef" | b"elifndef" => {
                if let Some(top) = stack.last_mut() {
                    top.1 = true;
                }
            }
            b"endif" => {
                if let Some((open, has_else)) = stack.pop()
                    && !has_else
                    && !is_if_zero(out, &toks[open])
                {
                    pairs.push((open, i));
                }
            }
            _ => {}
        }
    }
    for (open, close) in pairs {
        if !whole_statements(out, toks, open, close) {
            let (a, b) = (toks[open], toks[close]);
            super::prep::blank(out, a.start, a.end);
            super::prep::blank(out, b.start, b.end);
            toks[open].kind = Kind::Gone;
            toks[close].kind = Kind::Gone;
        }
    }
}

fn directive_word<'a>(src: &'a [u8], t: &Tok) -> &'a [u8] {
    let mut i = t.start + 1;
    while i < t.end && (src[i] == b' ' || src[i] == b'\t') {
        i += 1;
    }
    &src[i..ident_end(src, i).min(t.end)]
}

fn is_if_zero(src: &[u8], t: &Tok) -> bool {
    let line = &src[t.start..t.end];
    let rest = line
        .strip_prefix(b"#")
        .map(|r| r.trim_ascii_start())
        .and_then(|r| r.strip_prefix(b"if"))
        .map(|r| r.trim_ascii());
    rest == Some(b"0")
}

/// Whether the tokens between two directives are whole statements or
/// declarations, and start where a statement may start.
fn whole_statements(src: &[u8], toks: &[Tok], open: usize, close: usize) -> bool {
    let is_code = |t: &Tok| !matches!(t.kind, Kind::Directive | Kind::Gone);
    let before = toks[..open].iter().rev().find(|t| is_code(t));
    let starts_clean = before
        .is_none_or(|t| t.kind == Kind::Punct && matches!(text(src, t), b";" | b"{" | b"}" | b":"));
    let inner: Vec<&Tok> = toks[open + 1..close]
        .iter()
        .filter(|t| is_code(t))
        .collect();
    let Some(last) = inner.last() else {
        return starts_clean;
    };
    if is_word(src, inner[0], &["else"]) {
        return false; // the `else` of an `if` before the conditional
    }
    let (mut braces, mut parens) = (0i32, 0i32);
    for t in &inner {
        if t.kind == Kind::Punct {
            match text(src, t) {
                b"{" => braces += 1,
                b"}" => braces -= 1,
                b"(" => parens += 1,
                b")" => parens -= 1,
                _ => {}
            }
        }
    }
    let ends_clean = last.kind == Kind::Punct && matches!(text(src, last), b";" | b"}");
    starts_clean && ends_clean && braces == 0 && parens == 0
}

/// `ACPI_EXPORT_SYMBOL(f)` alone on its line at file level, with no `;`,
/// before the next declaration: its first byte becomes `#`, so that it
/// reads as a directive line (which it is as good as).
fn top_level_macros(out: &mut [u8], toks: &[Tok]) {
    let all: Vec<usize> = (0..toks.len())
        .filter(|&i| toks[i].kind != Kind::Gone)
        .collect();
    let c = code(toks);
    for (k, t, depth) in words_with_depth(out, toks, &c) {
        // `#` and a letter: what tree-sitter reads as a directive name.
        let directive_like = out[t.start].is_ascii_alphabetic();
        if depth != 0
            || !directive_like
            || !is_plain_ident(out, &t)
            || (t.start > 0 && out[t.start - 1] != b'\n')
        {
            continue;
        }
        if !c.get(k + 1).is_some_and(|&n| is_punct(out, &toks[n], b'(')) {
            continue;
        }
        let Some(close) = matching(out, toks, &c, k + 1) else {
            continue;
        };
        let close_end = toks[c[close]].end;
        if out[t.start..close_end].contains(&b'\n')
            || !out[close_end..]
                .iter()
                .take_while(|&&b| b != b'\n')
                .all(|b| b.is_ascii_whitespace())
        {
            continue;
        }
        // What comes before: the end of a declaration, a directive, or
        // nothing.
        let pos = all.iter().position(|&i| i == c[k]).unwrap_or(0);
        let before_ok = pos == 0 || {
            let p = &toks[all[pos - 1]];
            p.kind == Kind::Directive
                || (p.kind == Kind::Punct && matches!(text(out, p), b";" | b"}"))
        };
        let next_declares = c.get(close + 1).is_some_and(|&n| {
            let x = &toks[n];
            x.kind == Kind::Ident && x.start > 0 && out[..x.start].ends_with(b"\n")
        });
        if before_ok && next_declares {
            out[t.start] = b'#';
        }
    }
}

/// `offsetof(struct s, a[i].b)`: tree-sitter's `offsetof` takes a plain
/// member only; with anything else the name is changed in its first byte
/// (`_ffsetof`), so that it reads as the call it is as good as.
fn offsetof_members(out: &mut [u8], toks: &[Tok]) {
    let c = code(toks);
    for k in 0..c.len().saturating_sub(1) {
        if text(out, &toks[c[k]]) != b"offsetof" || !is_punct(out, &toks[c[k + 1]], b'(') {
            continue;
        }
        let Some(close) = matching(out, toks, &c, k + 1) else {
            continue;
        };
        let comma = (k + 2..close).find(|&j| is_punct(out, &toks[c[j]], b','));
        if comma.is_some_and(|j| close - j != 2) {
            out[toks[c[k]].start] = b'_';
        }
    }
}
