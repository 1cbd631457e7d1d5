//! A property on the real Linux 4.12 tree: kernel C that tree-sitter
//! cannot parse, put into a different function of a file, changes neither
//! how any site of that file is classified nor the rewrite's edits.
//!
//! In every file with an API site, three constructs go into functions
//! that precede the first site (the nearest ones that no other code of
//! the file names, so that no site depends on them): an inline asm with a
//! macro among its operands, braces split across `#ifdef`/`#else`, and a
//! block opened by one statement-like macro and closed by another.  The
//! scan and the plan of the modified tree must be those of the pristine
//! tree, with line numbers and byte offsets moved by what was inserted.
//! Skips loudly without the tarball; fails with KSERIES_REQUIRE_KERNEL=1.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kseries::scan::kernel_c;
use serde_json::Value;

const ASM: &str =
    "\tasm volatile(\"1: nop\\n\"\n\t\t     _ASM_EXTABLE(1b, 2b)\n\t\t     : : \"i\" (0));\n";
const SPLIT_BRACES: &str = "#ifdef CONFIG_KSERIES_PROBE\n\tif (kseries_probe_a()) {\n#else\n\tif (kseries_probe_b()) {\n#endif\n\t\tkseries_probe();\n\t}\n";
const BLOCK_MACRO: &str =
    "\tKSERIES_PROBE_BEGIN(probe) {\n\t\tkseries_probe();\n\tKSERIES_PROBE_END;\n";

/// What went into one file: at which line and byte, how much.
#[derive(Debug, Clone, Default)]
struct Inserted {
    /// (0-based line before which text went in, lines, byte offset, bytes)
    at: Vec<(usize, usize, usize, usize)>,
}

impl Inserted {
    fn line(&self, line: usize) -> usize {
        line + self
            .at
            .iter()
            .filter(|(l, ..)| line > *l)
            .map(|(_, n, ..)| n)
            .sum::<usize>()
    }

    fn offset(&self, off: usize) -> usize {
        off + self
            .at
            .iter()
            .filter(|(_, _, o, _)| off >= *o)
            .map(|(.., b)| b)
            .sum::<usize>()
    }
}

#[test]
fn unparseable_code_elsewhere_changes_no_site_and_no_edit() {
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let started = std::time::Instant::now();
    let recipe = kseries::recipe::by_id("invalidate-page").unwrap();
    let scan_and_plan = |root: &Path| {
        let r = kseries::scan::scan(root, &recipe).expect("scan");
        let p = kseries::rewrite::plan(root, &r, &recipe).expect("plan");
        (
            serde_json::to_value(&r).unwrap(),
            serde_json::to_value(&p).unwrap(),
        )
    };
    let (before, before_plan) = scan_and_plan(&tree);

    let (_tmp, clone) = common::fresh_clone(&tree);
    let mut inserted: BTreeMap<String, Inserted> = BTreeMap::new();
    let mut probed = 0;
    for (file, lines) in site_lines(&before) {
        let path = clone.join(&file);
        let src = std::fs::read(&path).unwrap();
        let (new, ins) = insert_constructs(&src, &lines);
        assert!(!ins.at.is_empty(), "{file}: nowhere to put the constructs");
        // The constructs really are what tree-sitter cannot parse.
        let reparsed = kernel_c::parse(&new);
        let damaged = kernel_c::has_error(reparsed.root_node())
            || reparsed
                .regions()
                .iter()
                .any(|r| kernel_c::has_error(r.tree.root_node()));
        if !damaged {
            let _ = std::fs::write(std::env::temp_dir().join("contain_kernel_probe.c"), &new);
        }
        assert!(
            damaged,
            "{file}: the inserted constructs must not parse ({ins:?})"
        );
        std::fs::write(&path, &new).unwrap();
        inserted.insert(file, ins);
        probed += 1;
    }
    let (after, after_plan) = scan_and_plan(&clone);

    // Every site, as the pristine tree's report predicts it.
    let expected: Vec<Value> = before["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| shift_site(s, &inserted))
        .collect();
    let got = after["sites"].as_array().unwrap();
    assert_eq!(got.len(), expected.len(), "the number of sites changed");
    for (e, g) in expected.iter().zip(got) {
        assert_eq!(
            g, e,
            "a site changed with unparseable code elsewhere in its file"
        );
    }
    assert_eq!(after["summary"]["accounted"], true);

    // The same units with the same edits, moved by what was inserted.
    let units = |p: &Value| p["units"].as_array().unwrap().clone();
    let (b, a) = (units(&before_plan), units(&after_plan));
    assert_eq!(a.len(), b.len(), "{after_plan:#}");
    for (bu, au) in b.iter().zip(&a) {
        for key in ["stage", "subsystem", "summary"] {
            assert_eq!(au[key], bu[key]);
        }
        let files = |u: &Value| u["files"].as_array().unwrap().clone();
        for (bf, af) in files(bu).iter().zip(files(au).iter()) {
            let path = bf["path"].as_str().unwrap();
            assert_eq!(af["path"], bf["path"]);
            let ins = inserted.get(path).cloned().unwrap_or_default();
            let expect: Vec<Value> = bf["edits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    for k in ["start", "end"] {
                        e[k] = Value::from(ins.offset(e[k].as_u64().unwrap() as usize));
                    }
                    e
                })
                .collect();
            assert_eq!(af["edits"], Value::from(expect), "edits of {path} changed");
        }
    }
    assert_eq!(after_plan["needs_review"], before_plan["needs_review"]);
    eprintln!(
        "contain_kernel: {probed} files probed, {} sites and {} units unchanged, in {:.0?}",
        got.len(),
        a.len(),
        started.elapsed()
    );
}

/// Files with a site that is not `unrelated`, and the lines of all their
/// sites.
fn site_lines(report: &Value) -> BTreeMap<String, BTreeSet<usize>> {
    let sites = report["sites"].as_array().unwrap();
    let api_files: BTreeSet<&str> = sites
        .iter()
        .filter(|s| s["kind"] != "unrelated")
        .map(|s| s["file"].as_str().unwrap())
        .collect();
    let mut out: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for s in sites {
        let f = s["file"].as_str().unwrap();
        if api_files.contains(f) {
            let (a, b) = (
                s["line"].as_u64().unwrap() as usize,
                s["end_line"].as_u64().unwrap() as usize,
            );
            out.entry(f.to_string()).or_default().extend(a..=b);
        }
    }
    out
}

/// The three constructs in functions before the file's first site.
fn insert_constructs(src: &[u8], site_lines: &BTreeSet<usize>) -> (Vec<u8>, Inserted) {
    let first_site = *site_lines.iter().next().unwrap();
    let parsed = kernel_c::parse(src);
    let text = String::from_utf8_lossy(src);
    // Top-level functions with no site, that nothing else in the file
    // names (a site could depend on what it does).
    let mut candidates: Vec<(usize, usize)> = Vec::new(); // (body line, body byte)
    for f in parsed.descendants_of_kind("function_definition") {
        if kernel_c::enclosing_function(f).is_some() || kernel_c::has_error(f) {
            continue;
        }
        let (a, b) = (f.start_position().row + 1, f.end_position().row + 1);
        if (a..=b).any(|l| site_lines.contains(&l)) {
            continue;
        }
        let Some(name) = kernel_c::function_name(f, src) else {
            continue;
        };
        if text.matches(name.as_str()).count() != 1 {
            continue;
        }
        let Some(body) = f.child_by_field_name("body") else {
            continue;
        };
        if body.start_position().row == body.end_position().row {
            continue; // a one-line body: no line to insert after
        }
        candidates.push((body.start_position().row + 1, body.start_byte()));
    }
    // The nearest before the first site, else the first after.
    let mut before: Vec<(usize, usize)> = candidates
        .iter()
        .copied()
        .filter(|(l, _)| *l < first_site)
        .collect();
    before.sort();
    let mut picks: Vec<(usize, usize)> = before.iter().rev().take(3).copied().collect();
    if picks.is_empty() {
        picks = candidates.iter().take(3).copied().collect();
    }
    let mut ins = Inserted::default();
    if picks.is_empty() {
        // No function to use: a new one before the top-level item that
        // holds the first site.
        let item = top_level_item(parsed.root_node(), first_site - 1);
        let item_line = item.start_position().row;
        let at = line_offset(src, item_line);
        let func = format!(
            "static void kseries_probe_fn(void)\n{{\n{ASM}{SPLIT_BRACES}{BLOCK_MACRO}}}\n\n"
        );
        let mut out = src.to_vec();
        out.splice(at..at, func.bytes());
        ins.at
            .push((item_line, func.matches('\n').count(), at, func.len()));
        return (out, ins);
    }
    // One construct per function while there are functions, the rest in
    // the last one.
    let constructs = [ASM, SPLIT_BRACES, BLOCK_MACRO];
    let mut by_function: BTreeMap<(usize, usize), String> = BTreeMap::new();
    for (i, c) in constructs.iter().enumerate() {
        let f = picks[i.min(picks.len() - 1)];
        by_function.entry(f).or_default().push_str(c);
    }
    let mut out = src.to_vec();
    // Insert from the end, so offsets before stay valid.
    for ((line, body), text) in by_function.iter().rev() {
        let at = memchr::memchr(b'\n', &src[*body..]).map_or(src.len(), |p| body + p + 1);
        out.splice(at..at, text.bytes());
        ins.at
            .push((*line, text.matches('\n').count(), at, text.len()));
    }
    (out, ins)
}

/// The file-level item (looking into preprocessor conditionals) that
/// holds 0-based line `row`.
fn top_level_item(root: tree_sitter::Node, row: usize) -> tree_sitter::Node {
    let mut n = root;
    loop {
        let mut cursor = n.walk();
        let child = n
            .named_children(&mut cursor)
            .find(|c| c.start_position().row <= row && row <= c.end_position().row);
        match child {
            Some(c) if c.kind().starts_with("preproc_if") || c.kind() == "preproc_else" => n = c,
            Some(c) => return c,
            None => return n,
        }
    }
}

fn line_offset(src: &[u8], line0: usize) -> usize {
    if line0 == 0 {
        return 0;
    }
    memchr::memchr_iter(b'\n', src)
        .nth(line0 - 1)
        .map_or(src.len(), |p| p + 1)
}

/// A site of the pristine report, as it reads after the insertions.
fn shift_site(site: &Value, inserted: &BTreeMap<String, Inserted>) -> Value {
    let own = site["file"].as_str().unwrap().to_string();
    shift_value(site, &own, inserted)
}

fn shift_value(v: &Value, own: &str, inserted: &BTreeMap<String, Inserted>) -> Value {
    let shift = |file: &str, line: u64| -> Value {
        match inserted.get(file) {
            Some(ins) => Value::from(ins.line(line as usize)),
            None => Value::from(line),
        }
    };
    match v {
        Value::Object(map) => {
            let file = map
                .get("file")
                .and_then(Value::as_str)
                .unwrap_or(own)
                .to_string();
            let mut out = serde_json::Map::new();
            for (k, x) in map {
                let y = match (k.as_str(), x) {
                    ("line" | "end_line", Value::Number(n)) => shift(&file, n.as_u64().unwrap()),
                    ("comment_lines", Value::Array(a)) => Value::Array(
                        a.iter()
                            .map(|n| shift(&file, n.as_u64().unwrap()))
                            .collect(),
                    ),
                    (_, Value::String(s)) => Value::String(shift_text(s, &file, inserted)),
                    _ => shift_value(x, &file, inserted),
                };
                out.insert(k.clone(), y);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| shift_value(x, own, inserted)).collect()),
        other => other.clone(),
    }
}

/// Line numbers in evidence and reasons: `line N`, `lines N-M` of the
/// site's own file, and `path:N` of any file.
fn shift_text(s: &str, own: &str, inserted: &BTreeMap<String, Inserted>) -> String {
    let line_re = regex::Regex::new(r"\b(lines?) (\d+)(-(\d+))?").unwrap();
    let place_re = regex::Regex::new(r"([\w./-]+\.[ch]):(\d+)").unwrap();
    let own_ins = inserted.get(own);
    let s = line_re.replace_all(s, |c: &regex::Captures| {
        let n = |i: usize| c[i].parse::<usize>().unwrap();
        let map = |l: usize| own_ins.map_or(l, |ins| ins.line(l));
        match c.get(4) {
            Some(_) => format!("{} {}-{}", &c[1], map(n(2)), map(n(4))),
            None => format!("{} {}", &c[1], map(n(2))),
        }
    });
    place_re
        .replace_all(&s, |c: &regex::Captures| {
            let l: usize = c[2].parse().unwrap();
            let l = inserted.get(&c[1]).map_or(l, |ins| ins.line(l));
            format!("{}:{l}", &c[1])
        })
        .into_owned()
}
