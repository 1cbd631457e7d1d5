//! English for the messages: counts with their noun in the right number
//! ("1 commit", "2 commits"), never "commit(s)".

/// `n` and the noun that goes with it: `count(1, "file", "files")` is
/// `1 file`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", noun(n, one, many))
}

/// The noun alone, for sentences that put the number elsewhere.
pub fn noun<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    #[test]
    fn singular_and_plural() {
        assert_eq!(super::count(1, "commit", "commits"), "1 commit");
        assert_eq!(super::count(0, "commit", "commits"), "0 commits");
        assert_eq!(super::count(2, "entry", "entries"), "2 entries");
    }
}
