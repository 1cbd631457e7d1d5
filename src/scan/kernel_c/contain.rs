//! Containment: a construct tree-sitter cannot recover from stays inside
//! its own top-level definition.
//!
//! tree-sitter's error recovery can turn everything after one bad
//! construct into a single ERROR node, or let an unbalanced brace swallow
//! the definitions that follow.  Where an ERROR (or a definition with a
//! missing `}`) spans more than one top-level definition, the definitions
//! it covers are parsed again one at a time; each one that does not parse
//! on its own becomes a *region* with its own tree, and the main tree is
//! parsed again without the regions.  Every tree is parsed from the same
//! text with tree-sitter's included ranges, so all offsets, lines and
//! columns are those of the original file.
//!
//! Top-level definitions are found lexically: kernel style closes a
//! definition with `}` in column 0.  Preprocessor conditionals that open
//! in one definition and close in another are left to the main tree, so
//! that every region parses with balanced `#if`/`#endif`.

use std::ops::Range;

use tree_sitter::{Node, Parser, Point, Tree};

use super::prep::{directive_end, skip_blanks, skip_block_comment, skip_quoted};

/// How many times the main tree is parsed again after setting regions
/// apart; each round isolates what still spreads.
const MAX_ROUNDS: usize = 4;

/// A kernel C file as kseries reads it: the main tree, and the top-level
/// definitions that could not be parsed along with it, each in a tree of
/// its own.  It dereferences to the main tree.
pub struct Parsed {
    main: Tree,
    regions: Vec<Region>,
}

/// A top-level definition parsed on its own, because parsed with the rest
/// of the file its error spread into other definitions.
pub struct Region {
    /// From its first to its last byte, in the original file.
    pub span: Range<usize>,
    pub tree: Tree,
}

impl std::ops::Deref for Parsed {
    type Target = Tree;
    fn deref(&self) -> &Tree {
        &self.main
    }
}

impl Parsed {
    /// The tree of everything but the regions.
    pub fn main(&self) -> &Tree {
        &self.main
    }

    /// The definitions parsed apart, in file order.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The root of the main tree and of every region, in file order of
    /// the regions (the main tree first).
    pub fn roots(&self) -> Vec<Node<'_>> {
        std::iter::once(self.main.root_node())
            .chain(self.regions.iter().map(|r| r.tree.root_node()))
            .collect()
    }

    /// The root of the tree that holds byte `offset`.
    pub fn root_at(&self, offset: usize) -> Node<'_> {
        self.regions
            .iter()
            .find(|r| r.span.contains(&offset))
            .map_or(self.main.root_node(), |r| r.tree.root_node())
    }

    /// The smallest node spanning `[start, end)`, from the tree that holds
    /// `start`.
    pub fn node_for_byte_range(&self, start: usize, end: usize) -> Option<Node<'_>> {
        self.root_at(start).descendant_for_byte_range(start, end)
    }

    /// Every node of `kind` in every tree, in source order.
    pub fn descendants_of_kind(&self, kind: &str) -> Vec<Node<'_>> {
        let mut out: Vec<Node> = self
            .roots()
            .into_iter()
            .flat_map(|r| super::descendants_of_kind(r, kind))
            .collect();
        out.sort_by_key(|n| n.start_byte());
        out
    }

    /// Whether `node` belongs to a region (a definition parsed apart).
    pub fn in_region(&self, node: Node) -> bool {
        self.regions
            .iter()
            .any(|r| r.span.contains(&node.start_byte()))
    }
}

/// Parses preprocessed text `pre` (the same length as the original) with
/// containment.
pub fn parse_contained(pre: &[u8]) -> Parsed {
    let lines = LineIndex::new(pre);
    let whole = 0..pre.len();
    let mut main = parse_ranges(pre, &lines, std::slice::from_ref(&whole));
    if !is_damaged(main.root_node()) {
        return Parsed {
            main,
            regions: Vec::new(),
        };
    }
    let chunks = definitions(pre);
    let mut isolated: Vec<Option<Tree>> = (0..chunks.len()).map(|_| None).collect();
    let mut tried = vec![false; chunks.len()];
    for _ in 0..MAX_ROUNDS {
        let spread = spreading_chunks(main.root_node(), &chunks);
        let fresh: Vec<usize> = spread
            .iter()
            .copied()
            .filter(|&c| isolated[c].is_none())
            .collect();
        if fresh.is_empty() {
            break;
        }
        let mut progress = false;
        for &c in &fresh {
            if tried[c] {
                continue;
            }
            tried[c] = true;
            let tree = parse_ranges(pre, &lines, &chunks[c].ranges);
            if is_damaged(tree.root_node()) {
                isolated[c] = Some(tree);
                progress = true;
            }
        }
        if !progress {
            // Every definition the error covers parses on its own: the
            // error comes from how they meet.  Set them all apart.
            for &c in &fresh {
                isolated[c] = Some(parse_ranges(pre, &lines, &chunks[c].ranges));
            }
        }
        main = parse_ranges(pre, &lines, &complement(&chunks, &isolated, pre.len()));
    }
    let regions = chunks
        .iter()
        .zip(isolated)
        .filter_map(|(c, t)| {
            t.map(|tree| Region {
                span: c.span.clone(),
                tree,
            })
        })
        .collect();
    Parsed { main, regions }
}

/// Damage that can spread: an ERROR node, or a MISSING `}` (an
/// unbalanced brace that made a definition swallow what follows).  A
/// MISSING `;` after an iterator macro is harmless and does not count.
pub fn is_damaged(node: Node) -> bool {
    if !node.has_error() {
        return false;
    }
    if node.is_error() || (node.is_missing() && node.kind() != ";") {
        return true;
    }
    let mut cursor = node.walk();
    node.children(&mut cursor).any(is_damaged)
}

/// Chunks covered by a damaged definition-level node that spans more than
/// one of them.
fn spreading_chunks(root: Node, chunks: &[Chunk]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        let mut cursor = n.walk();
        for child in n.children(&mut cursor) {
            if !is_damaged(child) {
                continue;
            }
            if child.kind().starts_with("preproc_") && !child.is_error() {
                stack.push(child);
                continue;
            }
            let covered = chunks_overlapping(chunks, child.start_byte(), child.end_byte());
            if covered.len() > 1 {
                out.extend(covered);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn chunks_overlapping(chunks: &[Chunk], start: usize, end: usize) -> Vec<usize> {
    let first = chunks.partition_point(|c| c.span.end <= start);
    (first..chunks.len())
        .take_while(|&i| chunks[i].span.start < end)
        .collect()
}

/// Everything but the isolated chunks.
fn complement(chunks: &[Chunk], isolated: &[Option<Tree>], len: usize) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut pos = 0;
    for (c, t) in chunks.iter().zip(isolated) {
        if t.is_none() {
            continue;
        }
        for r in &c.ranges {
            if r.start > pos {
                out.push(pos..r.start);
            }
            pos = r.end;
        }
    }
    if pos < len {
        out.push(pos..len);
    }
    if out.is_empty() {
        out.push(0..0);
    }
    out
}

fn parse_ranges(pre: &[u8], lines: &LineIndex, ranges: &[Range<usize>]) -> Tree {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_c::LANGUAGE.into())
        .expect("tree-sitter-c grammar matches the tree-sitter runtime");
    let whole = ranges.len() == 1 && ranges[0] == (0..pre.len());
    if !whole {
        let included: Vec<tree_sitter::Range> = ranges
            .iter()
            .map(|r| tree_sitter::Range {
                start_byte: r.start,
                end_byte: r.end,
                start_point: lines.point(r.start),
                end_point: lines.point(r.end),
            })
            .collect();
        parser
            .set_included_ranges(&included)
            .expect("included ranges are sorted and disjoint");
    }
    parser
        .parse(pre, None)
        .expect("parse without a timeout or cancellation flag always returns a tree")
}

/// Byte offset to row and column.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(src: &[u8]) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', src).map(|p| p + 1));
        LineIndex { starts }
    }

    fn point(&self, offset: usize) -> Point {
        let row = self.starts.partition_point(|&s| s <= offset) - 1;
        Point {
            row,
            column: offset - self.starts[row],
        }
    }
}

/// One top-level definition, lexically: the text up to and including a
/// line that starts with `}`, minus the conditional directive lines whose
/// partners lie in another definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub span: Range<usize>,
    pub ranges: Vec<Range<usize>>,
}

/// The file cut into top-level definitions at every `}` in column 0
/// (outside comments and literals).
pub fn definitions(src: &[u8]) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut directives: Vec<Directive> = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    while i < src.len() {
        let c = src[i];
        if line_start {
            let first = skip_blanks(src, i);
            if src.get(first) == Some(&b'#') {
                let end = (directive_end(src, first) + 1).min(src.len());
                if let Some(d) = Directive::read(src, i, end) {
                    directives.push(d);
                }
                i = end;
                continue;
            }
            if c == b'}' {
                let end = memchr::memchr(b'\n', &src[i..]).map_or(src.len(), |p| i + p + 1);
                chunks.push(chunk(start, end, &std::mem::take(&mut directives)));
                start = end;
                i = end;
                continue;
            }
        }
        line_start = false;
        match c {
            b'\n' => {
                line_start = true;
                i += 1;
            }
            b'/' if src.get(i + 1) == Some(&b'*') => i = skip_block_comment(src, i),
            b'/' if src.get(i + 1) == Some(&b'/') => {
                i = memchr::memchr(b'\n', &src[i..]).map_or(src.len(), |p| i + p)
            }
            b'"' | b'\'' => i = skip_quoted(src, i),
            _ => i += 1,
        }
    }
    if start < src.len() {
        chunks.push(chunk(start, src.len(), &directives));
    }
    chunks
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cond {
    Open,
    Middle,
    Close,
}

#[derive(Debug, Clone)]
struct Directive {
    cond: Cond,
    line: Range<usize>,
}

impl Directive {
    fn read(src: &[u8], start: usize, end: usize) -> Option<Directive> {
        let hash = skip_blanks(src, start);
        let word_start = skip_blanks(src, hash + 1);
        let word_end = super::prep::ident_end(src, word_start);
        let cond = match &src[word_start..word_end] {
            b"if" | b"ifdef" | b"ifndef" => Cond::Open,
            b"else" | b"elif" | b"elifdef" | b"elifndef" => Cond::Middle,
            b"endif" => Cond::Close,
            _ => return None,
        };
        Some(Directive {
            cond,
            line: start..end,
        })
    }
}

/// A chunk's included ranges: its span without the conditional lines
/// that pair with lines outside it.
fn chunk(start: usize, end: usize, directives: &[Directive]) -> Chunk {
    let mut unmatched = vec![false; directives.len()];
    let mut open: Vec<Vec<usize>> = Vec::new();
    for (i, d) in directives.iter().enumerate() {
        match d.cond {
            Cond::Open => open.push(vec![i]),
            Cond::Middle => match open.last_mut() {
                Some(group) => group.push(i),
                None => unmatched[i] = true,
            },
            Cond::Close => {
                if open.pop().is_none() {
                    unmatched[i] = true;
                }
            }
        }
    }
    for group in open {
        for i in group {
            unmatched[i] = true;
        }
    }
    let mut ranges = Vec::new();
    let mut pos = start;
    for (d, _) in directives.iter().zip(&unmatched).filter(|(_, u)| **u) {
        if d.line.start > pos {
            ranges.push(pos..d.line.start);
        }
        pos = d.line.end;
    }
    if pos < end {
        ranges.push(pos..end);
    }
    Chunk {
        span: start..end,
        ranges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_end_at_column_zero_braces_and_keep_their_own_conditionals() {
        let src = b"#ifdef A\nint f(void)\n{\n#ifdef B\n\treturn 1;\n#endif\n\treturn 0;\n}\n\nint g(void)\n{\n\treturn 2;\n}\n#endif\n";
        let chunks = definitions(src);
        assert_eq!(chunks.len(), 3);
        let text = |r: &Range<usize>| String::from_utf8_lossy(&src[r.clone()]).into_owned();
        // `#ifdef A` pairs with the `#endif` of the last chunk: left out.
        assert!(text(&chunks[0].ranges[0]).starts_with("int f(void)"));
        assert!(
            chunks[0]
                .ranges
                .iter()
                .any(|r| text(r).contains("#ifdef B"))
        );
        assert_eq!(chunks[2].ranges, Vec::<Range<usize>>::new());
    }
}

#[cfg(test)]
mod containment {
    use super::super::{
        enclosing_function, failure, function_name, has_error, inside_error, parse,
    };

    /// `f` calls `target()`; the file has `bad` before it.
    fn site_in_g(bad: &str) -> String {
        format!(
            "static int f(int a)\n{{\n{bad}\n\treturn a;\n}}\n\nstatic void g(void)\n{{\n\tif (x)\n\t\ttarget(1);\n}}\n"
        )
    }

    fn check_contained(bad: &str, construct: &str) {
        let src = site_in_g(bad);
        let parsed = parse(src.as_bytes());
        let at = src.find("target").unwrap();
        let node = parsed.node_for_byte_range(at, at + 6).unwrap();
        assert!(!inside_error(node), "{construct}: the call is swallowed");
        let g = enclosing_function(node).expect("g is a function");
        assert_eq!(function_name(g, src.as_bytes()).as_deref(), Some("g"));
        assert!(!has_error(g), "{construct}: g must parse cleanly");
        // f itself is damaged, and the reason names the construct.
        let f_at = src.find("return a").unwrap();
        let f_node = parsed.node_for_byte_range(f_at, f_at + 6).unwrap();
        let scope = enclosing_function(f_node).unwrap_or(parsed.root_at(f_at));
        if has_error(scope) || inside_error(f_node) {
            let why = failure::describe(scope, src.as_bytes()).to_string();
            assert!(why.contains(construct), "{why}");
        }
    }

    #[test]
    fn asm_with_a_macro_operand_parses_after_blanking() {
        let bad = "\tasm volatile(\"1: rdmsr\\n\"\n\t\t     \"2:\\n\"\n\t\t     _ASM_EXTABLE(1b, 2b)\n\t\t     : \"=a\"(a) : \"c\"(a));";
        let src = site_in_g(bad);
        let parsed = parse(src.as_bytes());
        assert!(
            !has_error(parsed.root_node()),
            "asm blanked, nothing left to fail"
        );
        check_contained(bad, "asm");
    }

    #[test]
    fn braces_split_across_ifdef_arms_stay_in_their_definition() {
        let bad = "#ifdef CONFIG_A\n\tif (a > 1) {\n#else\n\tif (a > 2) {\n#endif\n\t\ta++;\n\t}";
        check_contained(bad, "braces split across #if/#else arms at line 3");
        let src = site_in_g(bad);
        let parsed = parse(src.as_bytes());
        assert_eq!(parsed.regions().len(), 1, "f parsed apart");
    }

    #[test]
    fn a_do_block_closed_by_a_macro_stays_in_its_definition() {
        let bad = "\tdo {\n\t\ta++;\n\t} while_each_item(a, b);";
        check_contained(bad, "loop macro `while_each_item()`");
    }

    #[test]
    fn a_statement_as_macro_argument_is_named() {
        let bad = "\tCHECK_OR(a != 0, return -1;);";
        check_contained(bad, "statement as an argument of the macro `CHECK_OR()`");
    }
}
