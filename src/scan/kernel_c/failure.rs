//! Naming the construct that keeps a definition from parsing.
//!
//! A reviewer told "lines 1442-8706 do not parse" can do nothing with it;
//! told "braces split across #ifdef/#else arms at line 1450" they can.
//! [`describe`] looks at the definition's own text and its first damaged
//! node, and names the kernel C construct behind it.

use tree_sitter::Node;

use super::prep::{
    directive_end, ident_end, is_ident_byte, is_ident_start, skip_blanks, skip_block_comment,
    skip_quoted,
};

/// Why a definition does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub construct: Construct,
    /// 1-based line of the construct.
    pub line: usize,
}

/// The kernel C constructs tree-sitter-c cannot parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Construct {
    /// `#ifdef A` / `if (x) {` / `#else` / `if (y) {` / `#endif`.
    SplitBraces,
    /// A conditional whose arms open or close different parentheses.
    SplitParens,
    /// A conditional arm that ends or starts inside a statement: `if (a)
    /// x; else` / `#else`, or an `if (...)` header without its body.
    SplitStatement,
    /// A statement as a macro argument: `ASSERT(p, return -EINVAL;);`.
    StatementArgument(String),
    /// `#if` between the parentheses of a call, a condition or a macro
    /// argument list.
    DirectiveInExpression,
    /// `#if` inside an initializer's braces.
    DirectiveInInitializer,
    /// Inline asm whose operands tree-sitter cannot read.
    Asm,
    /// A type where C expects an expression: `min_t(unsigned long, a, b)`,
    /// `va_arg(ap, int)`.
    TypeArgument(String),
    /// A macro used as a statement without a `;` (`FOO(x)` on its own).
    StatementMacro(String),
    /// A macro used where C expects a type, a declarator or a keyword
    /// (`DECLARE_X(name) = ...`, an unknown annotation).
    DeclarationMacro(String),
    /// `do { ... } while_each_thread(g, t);`: a loop closed by a macro.
    LoopMacro(String),
    /// `BEGIN_X(a) {` ... `END_X;`: a block opened by one macro's braces
    /// and closed by another macro.
    BlockMacro(String),
    /// More `{` than `}` or the reverse, for no reason seen.
    UnbalancedBraces,
    /// `##` or `#x` outside a macro definition.
    TokenPasting,
    /// Anything else: what tree-sitter choked on.
    Unclassified(String),
}

impl Construct {
    /// A stable short name, for counting.
    pub fn kind(&self) -> &'static str {
        match self {
            Construct::SplitBraces => "braces split across #if/#else arms",
            Construct::SplitParens => "parentheses split across #if/#else arms",
            Construct::SplitStatement => "a statement split across #if/#else arms",
            Construct::StatementArgument(_) => "a statement as a macro argument",
            Construct::DirectiveInExpression => "#if inside an expression or argument list",
            Construct::DirectiveInInitializer => "#if inside an initializer",
            Construct::Asm => "inline asm with a macro among its operands",
            Construct::TypeArgument(_) => "a type as a macro argument",
            Construct::StatementMacro(_) => "statement-like macro without a semicolon",
            Construct::DeclarationMacro(_) => "macro where C expects a type or declarator",
            Construct::LoopMacro(_) => "do-block closed by a loop macro",
            Construct::BlockMacro(_) => "block opened or closed by a macro",
            Construct::UnbalancedBraces => "unbalanced braces",
            Construct::TokenPasting => "token pasting outside a macro definition",
            Construct::Unclassified(_) => "other syntax tree-sitter-c cannot parse",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line = self.line;
        match &self.construct {
            Construct::TypeArgument(m) => {
                write!(f, "a type as a macro argument (`{m}(...)`) at line {line}")
            }
            Construct::StatementArgument(m) => write!(
                f,
                "a statement as an argument of the macro `{m}()` at line {line}"
            ),
            Construct::StatementMacro(m) => write!(
                f,
                "statement-like macro `{m}(...)` without a semicolon at line {line}"
            ),
            Construct::DeclarationMacro(m) => write!(
                f,
                "macro `{m}` where C expects a type or declarator at line {line}"
            ),
            Construct::BlockMacro(m) => write!(
                f,
                "a block opened after the macro `{m}(...)` and closed by another macro at line {line}"
            ),
            Construct::LoopMacro(m) => {
                write!(
                    f,
                    "do-block closed by the loop macro `{m}()` at line {line}"
                )
            }
            Construct::Unclassified(snippet) => write!(
                f,
                "syntax tree-sitter-c cannot parse at line {line} (`{snippet}`)"
            ),
            other => write!(f, "{} at line {line}", other.kind()),
        }
    }
}

/// The first damaged node (ERROR, or MISSING other than `;`) in `scope`.
pub fn first_damage(scope: Node) -> Option<Node> {
    if !super::is_damaged(scope) {
        return None;
    }
    if scope.is_error() || (scope.is_missing() && scope.kind() != ";") {
        return Some(scope);
    }
    let mut cursor = scope.walk();
    let children: Vec<Node> = scope.children(&mut cursor).collect();
    children.into_iter().find_map(first_damage)
}

/// Names what keeps `scope` (a definition, or a region's root) from
/// parsing.  `src` is the original text.
pub fn describe(scope: Node, src: &[u8]) -> Failure {
    let damage = first_damage(scope).unwrap_or(scope);
    let (start, end) = (scope.start_byte(), scope.end_byte().min(src.len()));
    let lex = Lexed::new(src, start, end);
    if let Some(f) = lex.split_conditional() {
        return f;
    }
    if let Some(f) = lex.directive_inside() {
        return f;
    }
    if let Some((name, at)) =
        lines(src, start, end).find_map(|(l, at)| loop_macro(l).map(|m| (m, at)))
    {
        return Failure {
            construct: Construct::LoopMacro(name),
            line: line_of(src, at),
        };
    }
    if lex.final_braces != 0 {
        return Failure {
            construct: lines(src, start, end)
                .find_map(|(l, at)| block_macro(l).map(|m| (Construct::BlockMacro(m), at)))
                .map_or(
                    (Construct::UnbalancedBraces, damage.start_byte()),
                    |(c, at)| (c, at),
                )
                .0,
            line: lines(src, start, end)
                .find_map(|(l, at)| block_macro(l).map(|_| at))
                .map_or(line_of(src, damage.start_byte()), |at| line_of(src, at)),
        };
    }
    if let Some((name, at)) = statement_argument(src, start, end) {
        return Failure {
            construct: Construct::StatementArgument(name),
            line: line_of(src, at),
        };
    }
    let at = damage.start_byte();
    let line = line_of(src, at);
    let construct = construct_at(src, damage, &lex);
    Failure { construct, line }
}

const STATEMENT_WORDS: &[&[u8]] = &[
    b"return",
    b"break",
    b"continue",
    b"goto",
    b"if",
    b"for",
    b"while",
    b"do",
    b"switch",
];

/// The first macro call in `[start, end)` with a statement among its
/// arguments (a `;` or a statement keyword outside a `({ ... })`).
fn statement_argument(src: &[u8], start: usize, end: usize) -> Option<(String, usize)> {
    let mut i = start;
    while i < end {
        match src[i] {
            b'/' if src.get(i + 1) == Some(&b'*') => i = skip_block_comment(src, i),
            b'"' | b'\'' => i = skip_quoted(src, i),
            c if is_ident_start(c) && (i == 0 || !is_ident_byte(src[i - 1])) => {
                let e = ident_end(src, i);
                let name = &src[i..e];
                let open = e + src[e..end].iter().take_while(|b| **b == b' ').count();
                if src.get(open) == Some(&b'(')
                    && !STATEMENT_WORDS.contains(&name)
                    && name != b"sizeof"
                    && let Some(close) = super::prep::balanced_parens_end(src, open)
                    && close <= end
                    && holds_statement(&src[open + 1..close - 1])
                {
                    return Some((String::from_utf8_lossy(name).into_owned(), i));
                }
                i = e;
            }
            _ => i += 1,
        }
    }
    None
}

fn holds_statement(args: &[u8]) -> bool {
    if memchr::memmem::find(args, b"({").is_some() {
        return false; // a statement expression is an expression
    }
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            b'/' if args.get(i + 1) == Some(&b'*') => i = skip_block_comment(args, i),
            b'"' | b'\'' => i = skip_quoted(args, i),
            b';' => return true,
            c if is_ident_start(c) && (i == 0 || !is_ident_byte(args[i - 1])) => {
                let e = ident_end(args, i);
                if STATEMENT_WORDS.contains(&&args[i..e]) {
                    return true;
                }
                i = e;
            }
            _ => i += 1,
        }
    }
    false
}

/// The lines of `[start, end)` with their offsets.
fn lines(src: &[u8], start: usize, end: usize) -> impl Iterator<Item = (&[u8], usize)> {
    src[start..end]
        .split(|&b| b == b'\n')
        .scan(start, |pos, l| {
            let at = *pos;
            *pos += l.len() + 1;
            Some((l, at))
        })
}

/// `NAME(args) {` on a line of its own inside a body: a macro whose
/// expansion ends with what the brace continues.
fn block_macro(line: &[u8]) -> Option<String> {
    let t = line.trim_ascii();
    if !t.ends_with(b"{") || line.first().is_some_and(|c| !c.is_ascii_whitespace()) {
        return None;
    }
    let e = ident_end(t, 0);
    let name = &t[..e];
    let rest = t[e..].trim_ascii_start();
    let keyword = [&b"if"[..], b"for", b"while", b"switch", b"do", b"else"].contains(&name);
    (e > 0
        && !keyword
        && rest.starts_with(b"(")
        && rest[..rest.len() - 1].trim_ascii_end().ends_with(b")"))
    .then(|| String::from_utf8_lossy(name).into_owned())
}

/// The construct around the first damaged node.
fn construct_at(src: &[u8], damage: Node, lex: &Lexed) -> Construct {
    let at = damage.start_byte();
    let line_text = line_around(src, at);
    if lex.asm_near(at) {
        return Construct::Asm;
    }
    if let Some(m) = type_argument(line_text) {
        return Construct::TypeArgument(m);
    }
    if pasting(line_text) {
        return Construct::TokenPasting;
    }
    if let Some(m) = statement_macro(src, at) {
        return Construct::StatementMacro(m);
    }
    if let Some(m) = declaration_macro(src, damage) {
        return Construct::DeclarationMacro(m);
    }
    Construct::Unclassified(snippet(line_text))
}

/// Whether a region's text reads as a function definition: a `{` at
/// parenthesis depth 0 right after a `)`, with no `=` before it.
pub fn looks_like_function(root: Node, src: &[u8]) -> bool {
    let (start, end) = (root.start_byte(), root.end_byte().min(src.len()));
    Lexed::new(src, start, end).opens_like_function
}

fn at_line_start(src: &[u8], i: usize) -> bool {
    src[..i]
        .iter()
        .rev()
        .take_while(|&&b| b != b'\n')
        .all(|b| *b == b' ' || *b == b'\t')
}

fn line_of(src: &[u8], at: usize) -> usize {
    memchr::memchr_iter(b'\n', &src[..at.min(src.len())]).count() + 1
}

fn line_around(src: &[u8], at: usize) -> &[u8] {
    let at = at.min(src.len());
    let s = memchr::memrchr(b'\n', &src[..at]).map_or(0, |p| p + 1);
    let e = memchr::memchr(b'\n', &src[at..]).map_or(src.len(), |p| at + p);
    &src[s..e]
}

fn snippet(line: &[u8]) -> String {
    let t = String::from_utf8_lossy(line.trim_ascii()).into_owned();
    if t.chars().count() > 40 {
        format!("{}...", t.chars().take(40).collect::<String>())
    } else {
        t
    }
}

/// The identifiers of a line, with their offsets.
fn words(line: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if is_ident_start(line[i]) && (i == 0 || !is_ident_byte(line[i - 1])) {
            let e = ident_end(line, i);
            out.push((i, &line[i..e]));
            i = e;
        } else {
            i += 1;
        }
    }
    out
}

const TYPE_WORDS: &[&[u8]] = &[
    b"unsigned",
    b"signed",
    b"int",
    b"long",
    b"short",
    b"char",
    b"struct",
    b"union",
    b"enum",
    b"const",
    b"void",
    b"bool",
    b"float",
    b"double",
    b"_Bool",
];

/// `NAME(type, ...)` or `NAME(x, type)`: a type word right after `(` or
/// `,` in an argument list, named by its macro.
fn type_argument(line: &[u8]) -> Option<String> {
    for (i, w) in words(line) {
        if !TYPE_WORDS.contains(&w) {
            continue;
        }
        let before = line[..i].trim_ascii_end();
        if !(before.ends_with(b"(") || before.ends_with(b",")) {
            continue;
        }
        // The macro: the identifier before the innermost open parenthesis.
        let mut depth = 0i32;
        for j in (0..i).rev() {
            match line[j] {
                b')' => depth += 1,
                b'(' if depth == 0 => {
                    let name_end = line[..j].trim_ascii_end().len();
                    let name_start = line[..name_end]
                        .iter()
                        .rposition(|c| !is_ident_byte(*c))
                        .map_or(0, |p| p + 1);
                    let name = &line[name_start..name_end];
                    if name.is_empty() || name == b"sizeof" || TYPE_WORDS.contains(&name) {
                        break; // a cast or sizeof: not a macro argument
                    }
                    return Some(String::from_utf8_lossy(name).into_owned());
                }
                b'(' => depth -= 1,
                _ => {}
            }
        }
    }
    None
}

/// `} while_each_thread(g, t);`: a block closed by a macro call.
fn loop_macro(line: &[u8]) -> Option<String> {
    let t = line
        .trim_ascii_start()
        .strip_prefix(b"}")?
        .trim_ascii_start();
    let e = ident_end(t, 0);
    (e > 0 && t[e..].trim_ascii_start().starts_with(b"(") && !matches!(&t[..e], b"while" | b"else"))
        .then(|| String::from_utf8_lossy(&t[..e]).into_owned())
}

fn pasting(line: &[u8]) -> bool {
    !line.trim_ascii_start().starts_with(b"#") && memchr::memmem::find(line, b"##").is_some()
}

/// The damage is a statement that is only `NAME(...)` with no `;`: a
/// macro used as a statement.  Looks at the damaged line and the line
/// before it (tree-sitter reports the error where the next statement
/// starts).
fn statement_macro(src: &[u8], at: usize) -> Option<String> {
    let line_start = memchr::memrchr(b'\n', &src[..at]).map_or(0, |p| p + 1);
    let prev_start = if line_start > 0 {
        memchr::memrchr(b'\n', &src[..line_start - 1]).map_or(0, |p| p + 1)
    } else {
        0
    };
    for l in [
        line_around(src, at),
        &src[prev_start..line_start.saturating_sub(1)],
    ] {
        let t = l.trim_ascii();
        let e = ident_end(t, 0);
        if e == 0 || !t[e..].trim_ascii_start().starts_with(b"(") || !t.ends_with(b")") {
            continue;
        }
        let name = &t[..e];
        if [
            &b"if"[..],
            b"while",
            b"for",
            b"switch",
            b"return",
            b"sizeof",
        ]
        .contains(&name)
        {
            continue;
        }
        return Some(String::from_utf8_lossy(name).into_owned());
    }
    None
}

/// An ERROR node holding just an identifier (or a macro call) where a
/// declaration or type was expected: an unknown annotation or a
/// declaring macro.
fn declaration_macro(src: &[u8], damage: Node) -> Option<String> {
    if !damage.is_error() {
        return None;
    }
    let first = damage.named_child(0)?;
    if !matches!(
        first.kind(),
        "identifier" | "type_identifier" | "call_expression" | "macro_type_specifier"
    ) {
        return None;
    }
    let t = &src[first.start_byte()..first.end_byte().min(src.len())];
    let e = ident_end(t, 0);
    (e > 0).then(|| String::from_utf8_lossy(&t[..e]).into_owned())
}

/// The definition's text read once: conditional directive lines with the
/// brace and parenthesis depth at each, and where asm keywords are.
struct Lexed {
    directives: Vec<LexDirective>,
    asm: Vec<usize>,
    /// Braces and parentheses never closed, and closings never opened,
    /// by the end of the definition (taking every #if arm as written).
    final_braces: i32,
    /// Whether the first `{` at file level follows a `)` with no `=`
    /// before it: a function body.
    opens_like_function: bool,
}

struct LexDirective {
    word: Vec<u8>,
    line: usize,
    /// The last word or character of code before the directive.
    before: Vec<u8>,
    braces: i32,
    parens: i32,
    /// Depth of braces opened after `=` (initializers) at this point.
    initializer: bool,
}

impl Lexed {
    fn new(src: &[u8], start: usize, end: usize) -> Lexed {
        let mut directives = Vec::new();
        let mut asm = Vec::new();
        let (mut braces, mut parens) = (0i32, 0i32);
        let mut init_stack: Vec<bool> = Vec::new();
        let mut last = 0u8;
        let mut last_word: Vec<u8> = Vec::new();
        let mut first_open: Option<bool> = None;
        let mut assigns = false;
        let mut i = start;
        while i < end {
            let c = src[i];
            if c == b'#' && at_line_start(src, i) {
                let word_start = skip_blanks(src, i + 1);
                let word = src[word_start..ident_end(src, word_start)].to_vec();
                directives.push(LexDirective {
                    word,
                    line: line_of(src, i),
                    before: last_word.clone(),
                    braces,
                    parens,
                    initializer: init_stack.last().copied().unwrap_or(false),
                });
                i = directive_end(src, i);
                continue;
            }
            match c {
                b'/' if src.get(i + 1) == Some(&b'*') => {
                    i = skip_block_comment(src, i);
                    continue;
                }
                b'/' if src.get(i + 1) == Some(&b'/') => {
                    i = memchr::memchr(b'\n', &src[i..]).map_or(end, |p| i + p);
                    continue;
                }
                b'"' | b'\'' => {
                    i = skip_quoted(src, i);
                    last = b'"';
                    continue;
                }
                c if is_ident_start(c) && (i == 0 || !is_ident_byte(src[i - 1])) => {
                    let e = ident_end(src, i);
                    if matches!(
                        &src[i..e],
                        b"asm" | b"__asm__" | b"__asm" | b"asm_volatile_goto"
                    ) {
                        asm.push(i);
                    }
                    last_word = src[i..e].to_vec();
                    i = e;
                    last = b'a';
                    continue;
                }
                b'=' if braces == 0 && parens == 0 => assigns = true,
                b'{' => {
                    if braces == 0 && parens == 0 && first_open.is_none() {
                        first_open = Some(last == b')' && !assigns);
                    }
                    let nested = init_stack.last().copied().unwrap_or(false)
                        && matches!(last, b',' | b'{' | b'=');
                    init_stack.push(last == b'=' || nested);
                    braces += 1;
                }
                b'}' => {
                    init_stack.pop();
                    braces -= 1;
                }
                b'(' => parens += 1,
                b')' => parens -= 1,
                _ => {}
            }
            if !c.is_ascii_whitespace() {
                last = c;
                last_word = vec![c];
            }
            i += 1;
        }
        Lexed {
            directives,
            asm,
            final_braces: braces,
            opens_like_function: first_open == Some(true),
        }
    }

    /// A conditional whose arms change the brace (or parenthesis) depth
    /// differently, or one arm changes it at all while another exists.
    fn split_conditional(&self) -> Option<Failure> {
        let mut stack: Vec<(usize, Vec<(i32, i32)>)> = Vec::new();
        let mut found: Option<(usize, bool)> = None;
        for (k, d) in self.directives.iter().enumerate() {
            match d.word.as_slice() {
                b"if" | b"ifdef" | b"ifndef" => stack.push((k, vec![(d.braces, d.parens)])),
                b"else" | b"elif" => {
                    if let Some((_, marks)) = stack.last_mut() {
                        marks.push((d.braces, d.parens));
                    }
                }
                b"endif" => {
                    let Some((open, mut marks)) = stack.pop() else {
                        continue;
                    };
                    marks.push((d.braces, d.parens));
                    if marks.len() < 3 {
                        // No #else: an arm that opens a block it does not
                        // close is split only if the definition is
                        // unbalanced overall.
                        let (b0, p0) = marks[0];
                        let (b1, p1) = marks[1];
                        if (b1 != b0 && self.final_braces != 0) || p1 != p0 {
                            found = found.or(Some((open, b1 != b0)));
                        }
                        continue;
                    }
                    let deltas: Vec<(i32, i32)> = marks
                        .windows(2)
                        .map(|w| (w[1].0 - w[0].0, w[1].1 - w[0].1))
                        .collect();
                    if deltas.iter().any(|d| d.0 != 0) {
                        found = found.or(Some((open, true)));
                    } else if deltas.iter().any(|d| d.1 != 0) {
                        found = found.or(Some((open, false)));
                    }
                }
                _ => {}
            }
        }
        if found.is_none()
            && let Some(d) = self.directives.iter().find(|d| {
                matches!(d.word.as_slice(), b"else" | b"elif" | b"endif")
                    && (d.before == b"else" || d.before == b")")
            })
        {
            return Some(Failure {
                construct: Construct::SplitStatement,
                line: d.line,
            });
        }
        let (k, braces) = found?;
        Some(Failure {
            construct: if braces {
                Construct::SplitBraces
            } else {
                Construct::SplitParens
            },
            line: self.directives[k].line,
        })
    }

    /// A conditional directive inside parentheses or an initializer.
    fn directive_inside(&self) -> Option<Failure> {
        let d = self.directives.iter().find(|d| {
            matches!(
                d.word.as_slice(),
                b"if" | b"ifdef" | b"ifndef" | b"else" | b"elif"
            ) && (d.parens > 0 || d.initializer)
        })?;
        Some(Failure {
            construct: if d.parens > 0 {
                Construct::DirectiveInExpression
            } else {
                Construct::DirectiveInInitializer
            },
            line: d.line,
        })
    }

    fn asm_near(&self, at: usize) -> bool {
        self.asm.iter().any(|&a| a <= at && at - a < 400)
    }
}
