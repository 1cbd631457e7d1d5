//! Offset-preserving preprocessing: kernel C that tree-sitter-c cannot
//! read is replaced with spaces of the same length (newlines kept), so
//! every byte offset, line and column of the tree stays valid against the
//! original text, which is what every consumer reads node text from.
//!
//! - Annotations that expand to attributes or to nothing (`__init`,
//!   `__iomem`, `__releases(x)` ...).
//! - The `struct` keyword inside `container_of()` and its kin, whose
//!   argument is a type.
//! - Inline assembly: the template and operand list of `asm (...)` become
//!   an empty string.  Operands often hold macros (`_ASM_EXTABLE(1b, 4b)`
//!   between the strings), which tree-sitter cannot recover from and which
//!   used to turn the rest of a file into one ERROR node; what an asm
//!   statement does is never needed by the analysis.

/// Annotations that expand to attributes or to nothing.
const BARE_ANNOTATIONS: &[&str] = &[
    "__init",
    "__exit",
    "__initdata",
    "__exitdata",
    "__initconst",
    "__devinit",
    "__devexit",
    "__meminit",
    "__meminitdata",
    "__init_or_module",
    "__iomem",
    "__user",
    "__kernel",
    "__rcu",
    "__percpu",
    "__force",
    "__bitwise",
    "__nocast",
    "__safe",
    "__private",
    "__read_mostly",
    "__ro_after_init",
    "__maybe_unused",
    "__always_unused",
    "__used",
    "__cold",
    "__hot",
    "__ref",
    "__refdata",
    "__visible",
    "__weak",
    "__sched",
    "__kprobes",
    "notrace",
    "asmlinkage",
    "__always_inline",
    "noinline",
    "__must_check",
    "__noreturn",
    "__pure",
    "__flatten",
    "__latent_entropy",
    "__randomize_layout",
    "__packed",
    "__deprecated",
    "__noclone",
    "__irq_entry",
    "__lockfunc",
    "__cacheline_aligned",
    "__cacheline_aligned_in_smp",
    "__page_aligned_bss",
    "__page_aligned_data",
    "__inline__",
    "__inline",
    "__malloc",
];

/// Annotations that take a parenthesised argument list.
const CALL_ANNOTATIONS: &[&str] = &[
    "__releases",
    "__acquires",
    "__must_hold",
    "__aligned",
    "__section",
    "__printf",
    "__scanf",
    "__alloc_size",
];

/// The GNU C spellings of inline assembly, and the kernel's macro for
/// `asm goto` (its argument is an asm template and operand list too).
const ASM_KEYWORDS: &[&str] = &["asm", "__asm__", "__asm", "asm_volatile_goto"];

/// Qualifiers that may stand between an asm keyword and its parenthesis.
const ASM_QUALIFIERS: &[&str] = &[
    "volatile",
    "__volatile__",
    "__volatile",
    "goto",
    "inline",
    "__inline__",
];

/// The text tree-sitter is given for `src`: the same length, the same
/// newlines, with what it cannot parse blanked.
pub fn preprocess(src: &[u8]) -> Vec<u8> {
    let mut out = blank_words(src);
    super::dialect::rewrite(&mut out);
    debug_assert!(
        src.iter()
            .zip(&out)
            .all(|(a, b)| (*a == b'\n') == (*b == b'\n')),
        "preprocessing keeps every newline where it was"
    );
    out
}

/// Annotations and asm operands, by the word that introduces them.
fn blank_words(src: &[u8]) -> Vec<u8> {
    let mut out = src.to_vec();
    let mut i = 0;
    while i < src.len() {
        match src[i] {
            b'/' if src.get(i + 1) == Some(&b'*') => i = skip_block_comment(src, i),
            b'/' if src.get(i + 1) == Some(&b'/') => i = skip_line(src, i),
            b'"' | b'\'' => i = skip_quoted(src, i),
            c if is_ident_start(c) && (i == 0 || !is_ident_byte(src[i - 1])) => {
                let end = ident_end(src, i);
                i = blank_word(src, &mut out, i, end);
            }
            _ => i += 1,
        }
    }
    out
}

/// Blanks what the word at `[start, end)` introduces; returns where to
/// go on.
fn blank_word(src: &[u8], out: &mut [u8], start: usize, end: usize) -> usize {
    let word = &src[start..end];
    let is = |list: &[&str]| list.iter().any(|a| a.as_bytes() == word);
    if is(BARE_ANNOTATIONS) {
        blank(out, start, end);
    } else if is(CALL_ANNOTATIONS) {
        if let Some(close) = balanced_parens_end(src, end) {
            blank(out, start, close);
            return close;
        }
    } else if is(ASM_KEYWORDS) {
        if names_a_register(src, start) {
            // `register long r asm("r3") = x;`: an asm label on a
            // declarator, which tree-sitter cannot parse; it says nothing
            // the analysis needs.
            if let Some(close) = asm_parens_end(src, end) {
                blank(out, start, close);
                return close;
            }
        }
        return blank_asm_operands(src, out, end);
    }
    end
}

/// Whether the asm keyword at `start` follows a declarator (an
/// identifier that is not a statement keyword).
fn names_a_register(src: &[u8], start: usize) -> bool {
    let before = src[..start].trim_ascii_end();
    let word_start = before
        .iter()
        .rposition(|c| !is_ident_byte(*c))
        .map_or(0, |p| p + 1);
    let word = &before[word_start..];
    !word.is_empty()
        && is_ident_start(word[0])
        && !matches!(
            word,
            b"else" | b"do" | b"return" | b"volatile" | b"__volatile__"
        )
}

/// The end of the parenthesised operands after an asm keyword and its
/// qualifiers.
fn asm_parens_end(src: &[u8], after_keyword: usize) -> Option<usize> {
    let mut i = skip_space(src, after_keyword);
    while i < src.len() && is_ident_start(src[i]) {
        let end = ident_end(src, i);
        if !ASM_QUALIFIERS.iter().any(|q| q.as_bytes() == &src[i..end]) {
            return None;
        }
        i = skip_space(src, end);
    }
    balanced_parens_end(src, i)
}

/// `asm [qualifiers] ( template : operands )` becomes `asm [qualifiers]
/// ("" ...spaces...)`: a well-formed asm statement of the same length.
fn blank_asm_operands(src: &[u8], out: &mut [u8], after_keyword: usize) -> usize {
    let Some(close) = asm_parens_end(src, after_keyword) else {
        return after_keyword;
    };
    let open = src[..close]
        .iter()
        .enumerate()
        .skip(after_keyword)
        .find(|(_, c)| **c == b'(')
        .map_or(after_keyword, |(i, _)| i);
    if close - open < 4 {
        return close; // `asm ("")` at most: nothing to blank
    }
    // The empty template goes where two bytes of one line are free (the
    // operands often start on the line after the parenthesis).
    let Some(at) = (open + 1..close - 2).find(|&p| src[p] != b'\n' && src[p + 1] != b'\n') else {
        return close;
    };
    blank(out, open + 1, close - 1);
    out[at] = b'"';
    out[at + 1] = b'"';
    close
}

fn skip_space(src: &[u8], mut i: usize) -> usize {
    while i < src.len() && src[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

pub(super) fn blank(out: &mut [u8], from: usize, to: usize) {
    for b in &mut out[from..to] {
        if *b != b'\n' {
            *b = b' ';
        }
    }
}

/// The end (exclusive) of a `( ... )` group starting at or after `from`
/// (only white space may come before it).  Comments and literals inside
/// are skipped.
pub(super) fn balanced_parens_end(src: &[u8], from: usize) -> Option<usize> {
    let mut i = skip_space(src, from);
    if src.get(i) != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    while i < src.len() {
        match src[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'"' | b'\'' => {
                i = skip_quoted(src, i);
                continue;
            }
            b'/' if src.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(src, i);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

pub fn skip_block_comment(src: &[u8], i: usize) -> usize {
    memchr::memmem::find(&src[i + 2..], b"*/").map_or(src.len(), |p| i + 2 + p + 2)
}

pub(super) fn skip_line(src: &[u8], i: usize) -> usize {
    memchr::memchr(b'\n', &src[i..]).map_or(src.len(), |p| i + p + 1)
}

/// The end of a string or character literal starting at `i` (an
/// unterminated one ends at its line's end).
pub fn skip_quoted(src: &[u8], i: usize) -> usize {
    let quote = src[i];
    let mut j = i + 1;
    while j < src.len() {
        match src[j] {
            b'\\' => j += 2,
            b'\n' => return j + 1,
            c if c == quote => return j + 1,
            _ => j += 1,
        }
    }
    src.len()
}

/// Past the spaces and tabs at `i`.
pub fn skip_blanks(src: &[u8], mut i: usize) -> usize {
    while i < src.len() && (src[i] == b' ' || src[i] == b'\t') {
        i += 1;
    }
    i
}

/// The end of the directive line that starts at or after `i`, past its
/// continuation lines: the offset of its final newline (or of the end).
pub fn directive_end(src: &[u8], mut i: usize) -> usize {
    loop {
        let Some(p) = memchr::memchr(b'\n', &src[i..]) else {
            return src.len();
        };
        let nl = i + p;
        if src[..nl].trim_ascii_end().ends_with(b"\\") {
            i = nl + 1;
            continue;
        }
        return nl;
    }
}

pub fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

pub fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

pub fn ident_end(src: &[u8], mut i: usize) -> usize {
    while i < src.len() && is_ident_byte(src[i]) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_blanked_and_offsets_kept() {
        let src = b"static void __init f(void __iomem *p) __releases(x) { /* __init */ }";
        let out = preprocess(src);
        assert_eq!(out.len(), src.len());
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains("__iomem") && !s.contains("__releases"));
        assert!(s.contains("/* __init */"), "comments stay: {s}");
    }

    #[test]
    fn asm_operands_become_an_empty_template_of_the_same_length() {
        let src = b"void f(void)\n{\n\tasm volatile(\"1: rdmsr\\n\"\n\t\t     _ASM_EXTABLE(1b, 2b)\n\t\t     : \"=a\"(lo) : \"c\"(msr));\n}\n";
        let out = preprocess(src);
        assert_eq!(out.len(), src.len());
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.matches('\n').count(), 6, "newlines kept: {s}");
        assert!(
            s.contains("asm volatile(\"\"") && !s.contains("_ASM_EXTABLE"),
            "{s}"
        );
    }

    #[test]
    fn asm_operands_starting_on_the_next_line_keep_every_newline() {
        let src = b"\t__asm__ __volatile__(\n\t\t\"nop\" __SC \"x\"\n\t\t: \"=r\" (t));\n";
        let out = preprocess(src);
        assert_eq!(
            out.iter().filter(|&&b| b == b'\n').count(),
            src.iter().filter(|&&b| b == b'\n').count()
        );
        assert!(String::from_utf8(out).unwrap().contains("\"\""));
    }

    #[test]
    fn asm_as_part_of_a_longer_word_is_left_alone() {
        let src = b"int myasm(int x) { return x; } void g(void) { __asm__ __volatile__(\"nop\" ::: \"memory\"); }";
        let s = String::from_utf8(preprocess(src)).unwrap();
        assert!(s.starts_with("int myasm(int x)"), "{s}");
        assert!(
            s.contains("__asm__ __volatile__(\"\"") && !s.contains("memory"),
            "{s}"
        );
    }
}
