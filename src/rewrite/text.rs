//! Kernel-style text: indentation, 80-column calls, line-wise removal.

/// Display width of a line prefix, with tabs to the next multiple of 8.
pub fn display_width(s: &str) -> usize {
    s.chars()
        .fold(0, |w, c| if c == '\t' { (w / 8 + 1) * 8 } else { w + 1 })
}

/// Leading white space of the line that contains byte `at`.
pub fn indent_at(src: &[u8], at: usize) -> String {
    let start = line_start(src, at);
    let n = src[start..]
        .iter()
        .take_while(|&&b| b == b'\t' || b == b' ')
        .count();
    String::from_utf8_lossy(&src[start..start + n]).into_owned()
}

/// Byte offset where the line containing `at` starts.
pub fn line_start(src: &[u8], at: usize) -> usize {
    memchr::memrchr(b'\n', &src[..at]).map_or(0, |p| p + 1)
}

/// Byte offset just past the newline of the line containing `at`.
pub fn line_end(src: &[u8], at: usize) -> usize {
    memchr::memchr(b'\n', &src[at..]).map_or(src.len(), |p| at + p + 1)
}

/// White space that reaches display column `col`: tabs, then spaces, the
/// way the kernel aligns continuation lines under an opening parenthesis.
pub fn align_to(col: usize) -> String {
    format!("{}{}", "\t".repeat(col / 8), " ".repeat(col % 8))
}

/// `callee(args);` at `indent`, wrapped at 80 columns with continuation
/// lines aligned after the opening parenthesis.  Ends with a newline.
pub fn call_statement(indent: &str, callee: &str, args: &[String]) -> String {
    wrapped(indent, callee, args, ";")
}

/// A function head `head(params)` (`head` is e.g. `static void f`), wrapped
/// like [`call_statement`], followed by `tail` and a newline.
pub fn signature(head: &str, params: &[String], tail: &str) -> String {
    wrapped("", head, params, tail)
}

fn wrapped(indent: &str, callee: &str, args: &[String], tail: &str) -> String {
    let one = format!("{indent}{callee}({}){tail}", args.join(", "));
    if display_width(&one) <= 80 {
        return one + "\n";
    }
    let cont = align_to(display_width(indent) + callee.len() + 1);
    let mut out = format!("{indent}{callee}(");
    let mut line_width = display_width(&out);
    for (i, arg) in args.iter().enumerate() {
        let last = i + 1 == args.len();
        let piece = if last {
            format!("{arg}){tail}")
        } else {
            format!("{arg},")
        };
        let first_on_line = out.ends_with('(');
        let extra = if first_on_line {
            piece.len()
        } else {
            piece.len() + 1
        };
        if !first_on_line && line_width + extra > 80 {
            out.push('\n');
            out.push_str(&cont);
            line_width = display_width(&cont);
            out.push_str(&piece);
            line_width += piece.len();
        } else {
            if !first_on_line {
                out.push(' ');
            }
            out.push_str(&piece);
            line_width += extra;
        }
    }
    out + "\n"
}

/// A block comment at `indent`, one line per entry.  Ends with a newline.
pub fn block_comment(indent: &str, lines: &[&str]) -> String {
    let mut out = format!("{indent}/*\n");
    for l in lines {
        out.push_str(&format!("{indent} * {l}\n"));
    }
    out.push_str(&format!("{indent} */\n"));
    out
}

/// Whether the line that contains `at` is blank.
pub fn line_is_blank(src: &[u8], at: usize) -> bool {
    let s = line_start(src, at);
    let e = line_end(src, at);
    src[s..e].iter().all(|b| b.is_ascii_whitespace())
}

/// The byte range of whole lines `[from, to)` to delete when removing a
/// construct, extended so that no double blank line is left behind: when
/// the lines before and after are both blank (or the construct sits right
/// after an opening brace and before a blank line), one blank goes too.
pub fn removal_range(src: &[u8], from: usize, to: usize) -> (usize, usize) {
    let start = line_start(src, from);
    let end = line_end(src, to.saturating_sub(1).max(from));
    let blank_before = start > 0 && line_is_blank(src, start - 1);
    let blank_after = end < src.len() && line_is_blank(src, end);
    let after_brace = start > 0 && prev_line_ends_with(src, start, b'{');
    if blank_after && (blank_before || after_brace || start == 0) {
        return (start, line_end(src, end));
    }
    if blank_before && end < src.len() && next_line_starts_with(src, end, b'}') {
        return (line_start(src, start - 1), end);
    }
    (start, end)
}

fn prev_line_ends_with(src: &[u8], start: usize, c: u8) -> bool {
    src[..start].trim_ascii_end().last() == Some(&c)
}

fn next_line_starts_with(src: &[u8], at: usize, c: u8) -> bool {
    src[at..].trim_ascii_start().first() == Some(&c)
}

/// Where and what to insert to declare `decl` (e.g. `unsigned long a;`)
/// among the declarations that open `block`, in kernel style.
pub fn declaration_insert(src: &[u8], block: tree_sitter::Node, decl: &str) -> (usize, String) {
    let decls = super::syntax::leading_declarations(block);
    match decls.last() {
        // Declarations are followed by a blank line in kernel style; where
        // they are not, the new one goes first so that it does not end up
        // last before a statement.
        Some(last) if !line_is_blank(src, line_end(src, last.end_byte() - 1)) => {
            let first = decls[0];
            (
                line_start(src, first.start_byte()),
                format!("{}{decl}\n", indent_at(src, first.start_byte())),
            )
        }
        Some(last) => (
            line_end(src, last.end_byte() - 1),
            format!("{}{decl}\n", indent_at(src, last.start_byte())),
        ),
        None => {
            let first = super::syntax::statements(block).into_iter().next();
            let indent = first.map_or("\t".into(), |f| indent_at(src, f.start_byte()));
            (
                line_end(src, block.start_byte()),
                format!("{indent}{decl}\n\n"),
            )
        }
    }
}

/// `a`, `a and b`, `a, b and c`: a list in a sentence.
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Replaces `old` by `new` in a block comment, then re-wraps the
/// paragraphs it changed at 80 columns with their own ` * ` prefix.
///
/// `None` when the comment names both, "old and new" (across line breaks
/// too): dropping one name would change the number of the sentence's
/// subject ("X and Y detect" would need "Y detects"), which a renaming
/// cannot get right, so such a comment is left as it is.
pub fn rename_in_comment(comment: &str, old: &str, new: &str) -> Option<String> {
    let flat = comment.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat.replace(" * ", " ");
    if flat.contains(&format!("{old} and {new}")) || flat.contains(&format!("{new} and {old}")) {
        return None;
    }
    let lines: Vec<&str> = comment.split('\n').collect();
    let prefix_len = |l: &str| {
        let t = l.trim_start();
        if t.starts_with('*') && !t.starts_with("*/") {
            let after = &t[1..];
            l.len() - after.len() + (after.len() - after.trim_start().len())
        } else {
            0
        }
    };
    // Paragraphs: runs of ` * text` lines with the same prefix.
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let p = prefix_len(lines[i]);
        let is_text = p > 0 && !lines[i][p..].trim().is_empty();
        if !is_text {
            out.push(lines[i].replace(old, new));
            i += 1;
            continue;
        }
        let prefix = &lines[i][..p];
        let mut j = i;
        while j < lines.len()
            && prefix_len(lines[j]) == p
            && &lines[j][..p] == prefix
            && !lines[j][p..].trim().is_empty()
        {
            j += 1;
        }
        let para: Vec<&str> = lines[i..j].iter().map(|l| &l[p..]).collect();
        // Re-wrap only from the first line naming `old` to the end of its
        // sentence: the rest of the paragraph keeps its lines.
        let Some(k) = para.iter().position(|l| l.contains(old)) else {
            out.extend(lines[i..j].iter().map(|l| l.to_string()));
            i = j;
            continue;
        };
        let end = (k + 1..para.len())
            .find(|&m| para[m - 1].trim_end().ends_with('.'))
            .unwrap_or(para.len());
        out.extend(lines[i..i + k].iter().map(|l| l.to_string()));
        let joined = para[k..end].join(" ");
        {
            let words: Vec<&str> = joined.split_whitespace().collect();
            let text = words.join(" ").replace(old, new);
            let mut line = prefix.to_string();
            for w in text.split(' ') {
                if line.len() > prefix.len() && display_width(&line) + 1 + w.len() > 80 {
                    out.push(line);
                    line = prefix.to_string();
                }
                if line.len() > prefix.len() {
                    line.push(' ');
                }
                line.push_str(w);
            }
            out.push(line);
        }
        out.extend(lines[i + end..j].iter().map(|l| l.to_string()));
        i = j;
    }
    Some(out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_calls_at_80_columns_under_the_paren() {
        let args = [
            "vma->vm_mm".to_string(),
            "address & PMD_MASK".into(),
            "(address & PMD_MASK) + PMD_SIZE".into(),
        ];
        let s = call_statement("\t\t", "mmu_notifier_invalidate_range", &args);
        for line in s.lines() {
            assert!(display_width(line) <= 80, "{line:?}");
        }
        assert_eq!(
            s,
            "\t\tmmu_notifier_invalidate_range(vma->vm_mm, address & PMD_MASK,\n\
             \t\t\t\t\t      (address & PMD_MASK) + PMD_SIZE);\n"
        );
        // Deeper, the last argument cannot fit even alone: the caller must
        // see that (callers name the range in locals then).
        let deep = call_statement("\t\t\t", "mmu_notifier_invalidate_range", &args);
        assert!(deep.lines().any(|l| display_width(l) > 80));
    }

    #[test]
    fn comment_renames_are_exact_or_left_out() {
        let one = "/*\n * Called from old_cb() when a page goes.\n */";
        assert_eq!(
            rename_in_comment(one, "old_cb", "new_range_cb").as_deref(),
            Some("/*\n * Called from new_range_cb() when a page goes.\n */")
        );
        // Both named: "old_cb and new_cb detect" cannot become "new_cb
        // detect"; the comment is left alone.
        let both = "/*\n * If we don't, old_cb\n * and new_cb detect it.\n */";
        assert_eq!(rename_in_comment(both, "old_cb", "new_cb"), None);
    }

    #[test]
    fn removal_leaves_no_double_blank_line() {
        let src = b"a;\n\nint f(void)\n{\n}\n\nb;\n";
        let from = 4;
        let to = src.len() - 4;
        let (s, e) = removal_range(src, from, to);
        let mut out = src[..s].to_vec();
        out.extend_from_slice(&src[e..]);
        assert_eq!(String::from_utf8(out).unwrap(), "a;\n\nb;\n");
    }
}
