//! Reading `make`'s output: the compiler's error lines out of hundreds of
//! lines of warnings, missing headers, missing Makefile rules.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

/// The compiler's error lines (`file:line:col: error: ...` and
/// `fatal error: ...`), in order; warnings and make's chatter are dropped.
pub(crate) fn error_lines(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|line| line.contains(" error: ") || line.contains(": error:"))
        .map(str::to_string)
        .collect()
}

/// Include names gcc could not find: `fatal error: <name>: No such file or directory`.
pub(crate) fn missing_includes(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| {
            let rest = line.split_once("fatal error: ")?.1;
            let name = rest.strip_suffix(": No such file or directory")?;
            Some(name.trim().to_string())
        })
        .collect()
}

/// Whether make had no rule for the target (a file no Makefile builds, or
/// a directory without a Makefile).
pub(crate) fn no_make_rule(output: &str) -> bool {
    output.contains("No rule to make target")
        || output.contains("Makefile: No such file or directory")
}

/// Whether any file of `tree` has a path ending in `include_name` (so an
/// include of it *could* resolve, and its absence is the code's fault,
/// not the tree's).
pub(crate) fn tree_has_file_ending_with(tree: &Path, include_name: &str) -> bool {
    let Some(base) = Path::new(include_name).file_name() else {
        return false;
    };
    let suffix = Path::new(include_name);
    let mut stack = vec![tree.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if entry.file_name() != ".git" {
                    stack.push(path);
                }
            } else if entry.file_name() == base && path.ends_with(suffix) {
                return true;
            }
        }
    }
    false
}

/// An error line with the tree prefix and the line/column numbers removed,
/// so that the same error before and after a patch (which moves lines)
/// compares equal.
pub(crate) fn normalise(line: &str, tree: &Path) -> String {
    let tree = format!("{}/", tree.display());
    let line = line.replace(&tree, "");
    strip_line_numbers(&line)
}

/// `a.c:12:5: error: x` becomes `a.c: error: x`.
fn strip_line_numbers(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find(':') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && after[digits..].starts_with(':') {
            // Drop ":<digits>" and look at the next ':' again.
            rest = &after[digits..];
        } else {
            out.push(':');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The errors of `after` that are not among `before` (compared normalised,
/// each earlier error absorbing one later occurrence).
pub(crate) fn new_errors(
    after: &[String],
    after_tree: &Path,
    before: &[String],
    before_tree: &Path,
) -> Vec<String> {
    let mut known: HashMap<String, usize> = HashMap::new();
    for line in before {
        *known.entry(normalise(line, before_tree)).or_default() += 1;
    }
    after
        .iter()
        .filter(|line| {
            let key = normalise(line, after_tree);
            match known.get_mut(&key) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            }
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
  CC      mm/rmap.o
/src/linux/mm/rmap.c: In function 'foo':
/src/linux/mm/rmap.c:12:5: warning: unused variable 'x' [-Wunused-variable]
/src/linux/mm/rmap.c:40:1: error: expected ';' before '}' token
   40 | }
      | ^
make[2]: *** [/src/linux/scripts/Makefile.build:302: mm/rmap.o] Error 1
";

    #[test]
    fn only_error_lines_are_kept() {
        assert_eq!(
            error_lines(OUTPUT),
            ["/src/linux/mm/rmap.c:40:1: error: expected ';' before '}' token"]
        );
    }

    #[test]
    fn missing_headers_are_found() {
        let out = "/t/drivers/gpu/drm/amd/amdgpu/../include/vega10/soc15ip.h:3:10: fatal error: \
                   DC/dce_12_0_sh_mask.h: No such file or directory";
        assert_eq!(missing_includes(out), ["DC/dce_12_0_sh_mask.h"]);
        assert!(missing_includes(OUTPUT).is_empty());
    }

    #[test]
    fn line_numbers_do_not_make_errors_new() {
        let before = vec!["/a/linux/mm/x.c:10:2: error: boom".to_string()];
        let after = vec![
            "/b/linux/mm/x.c:14:2: error: boom".to_string(),
            "/b/linux/mm/x.c:20:1: error: new one".to_string(),
        ];
        let new = new_errors(
            &after,
            Path::new("/b/linux"),
            &before,
            Path::new("/a/linux"),
        );
        assert_eq!(new, ["/b/linux/mm/x.c:20:1: error: new one"]);
    }

    #[test]
    fn line_numbers_are_stripped_but_other_colons_kept() {
        assert_eq!(
            strip_line_numbers("mm/x.c:10:2: error: a::b 3:x"),
            "mm/x.c: error: a::b 3:x"
        );
    }
}
