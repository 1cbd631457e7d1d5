//! Small text helpers: wrapping commit messages at checkpatch's 75
//! columns, fitting subjects, slugs and RFC 2047 header words.

/// checkpatch.pl warns about commit description lines longer than this.
pub const WIDTH: usize = 75;

/// Greedy word wrap of one paragraph at `width` columns, with `first` as
/// the prefix of the first line and `rest` of the following ones.  Lines
/// of the input that start with whitespace are code or quoted output and
/// are kept verbatim, since re-flowing them would change their meaning.
pub fn wrap_with(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(first);
    let mut line_has_word = false;
    let flush = |out: &mut String, line: &mut String, has: &mut bool| {
        if *has {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        line.clear();
        line.push_str(rest);
        *has = false;
    };
    for raw in text.lines() {
        if raw.starts_with([' ', '\t']) {
            flush(&mut out, &mut line, &mut line_has_word);
            out.push_str(raw.trim_end());
            out.push('\n');
            continue;
        }
        for word in raw.split_whitespace() {
            // A word longer than the width stays whole on its own line:
            // cutting an identifier or a URL would be worse than a long line.
            let needed = line.chars().count() + usize::from(line_has_word) + word.chars().count();
            if line_has_word && needed > width {
                flush(&mut out, &mut line, &mut line_has_word);
            }
            if line_has_word {
                line.push(' ');
            }
            line.push_str(word);
            line_has_word = true;
        }
    }
    flush(&mut out, &mut line, &mut line_has_word);
    out.truncate(out.trim_end_matches('\n').len());
    out
}

/// A paragraph wrapped at [`WIDTH`].
pub fn wrap(text: &str) -> String {
    wrap_with(text, WIDTH, "", "")
}

pub use crate::words::count;

/// A list item: `- ` and a hanging indent of two.
pub fn bullet(text: &str) -> String {
    wrap_with(text, WIDTH, "- ", "  ")
}

/// Outcome of fitting `prefix summary` into `max` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    pub subject: String,
    /// The summary had to be shortened (at a word boundary when possible).
    pub shortened: bool,
    /// A single word was too long and was cut inside.
    pub cut_mid_word: bool,
}

/// `prefix summary`, shortened word by word from the end until it fits.
/// Only when even the first word does not fit is it cut inside, and the
/// result says so.
pub fn fit_subject(prefix: &str, summary: &str, max: usize) -> Fitted {
    let summary = summary.trim().trim_end_matches('.');
    let full = format!("{prefix} {summary}");
    if full.chars().count() <= max {
        return Fitted {
            subject: full,
            shortened: false,
            cut_mid_word: false,
        };
    }
    let mut kept = String::new();
    for word in summary.split_whitespace() {
        let candidate = if kept.is_empty() {
            word.to_string()
        } else {
            format!("{kept} {word}")
        };
        if prefix.chars().count() + 1 + candidate.chars().count() > max {
            break;
        }
        kept = candidate;
    }
    // Trailing small words read badly once the rest is gone.
    while let Some((head, last)) = kept.rsplit_once(' ') {
        if [
            "a", "an", "the", "of", "in", "to", "and", "for", "with", "on",
        ]
        .contains(&last)
        {
            kept = head.to_string();
        } else {
            break;
        }
    }
    if kept.is_empty() {
        let room = max.saturating_sub(prefix.chars().count() + 1);
        let cut: String = summary.chars().take(room).collect();
        return Fitted {
            subject: format!("{prefix} {cut}"),
            shortened: true,
            cut_mid_word: true,
        };
    }
    Fitted {
        subject: format!("{prefix} {kept}"),
        shortened: true,
        cut_mid_word: false,
    }
}

/// b4's slug of a branch name: runs of non-word characters become `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_alphanumeric() || c == '_' {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

/// `Name <addr>` with a non-ASCII name encoded as an RFC 2047 `Q` word,
/// as git does for the From: header, so that mail headers stay ASCII.
pub fn encode_address(addr: &str) -> String {
    if addr.is_ascii() {
        return addr.to_string();
    }
    let Some((name, rest)) = addr.split_once(" <") else {
        return addr.to_string();
    };
    // An encoded word cannot sit inside a quoted string, and it needs no
    // quoting itself.
    let name = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(name);
    let mut word = String::from("=?UTF-8?q?");
    for b in name.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'*' | b'+' | b'-' | b'/' => {
                word.push(b as char)
            }
            _ => word.push_str(&format!("={b:02X}")),
        }
    }
    word.push_str("?=");
    format!("{word} <{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_75_and_keeps_code_lines() {
        let long = "word ".repeat(40);
        let w = wrap(&long);
        assert!(w.lines().all(|l| l.len() <= 75));
        assert_eq!(w.split_whitespace().count(), 40);
        let code = "Intro text.\n\tcall(x);\nmore";
        assert_eq!(wrap(code), "Intro text.\n\tcall(x);\nmore");
        let b = bullet(&long);
        assert!(b.starts_with("- word"));
        assert!(b.lines().skip(1).all(|l| l.starts_with("  word")));
    }

    #[test]
    fn subjects_are_shortened_at_word_boundaries() {
        let f = fit_subject("mm/rmap:", "use the range notifiers", 75);
        assert_eq!(f.subject, "mm/rmap: use the range notifiers");
        assert!(!f.shortened);
        let long = "convert every caller of the page notifier to the range notifier brackets with exact ranges";
        let f = fit_subject("mm/rmap:", long, 75);
        assert!(f.shortened && !f.cut_mid_word);
        assert!(f.subject.chars().count() <= 75);
        assert!(long.starts_with(f.subject.trim_start_matches("mm/rmap: ")));
        let f = fit_subject("x:", &"a".repeat(100), 75);
        assert!(f.cut_mid_word && f.subject.chars().count() == 75);
    }

    #[test]
    fn slug_and_encoding() {
        assert_eq!(slug("kseries/invalidate-page"), "kseries-invalidate-page");
        assert_eq!(
            encode_address("Radim Krčmář <rkrcmar@redhat.com>"),
            "=?UTF-8?q?Radim=20Kr=C4=8Dm=C3=A1=C5=99?= <rkrcmar@redhat.com>"
        );
        assert_eq!(encode_address("A B <a@b>"), "A B <a@b>");
        // get_maintainer quotes names with special characters; the quotes
        // must not end up inside the encoded word.
        assert_eq!(
            encode_address("\"Christian König\" <c@amd.com>"),
            "=?UTF-8?q?Christian=20K=C3=B6nig?= <c@amd.com>"
        );
    }
}
