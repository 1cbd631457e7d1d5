//! Benchmark: how much of the kernel kseries can analyse.
//!
//! Parses every `.c` and `.h` file of the 4.12 tree twice, in the same
//! run: with plain tree-sitter-c, and the way kseries does
//! (`kernel_c::parse`: offset-preserving preprocessing, then errors
//! contained in their own top-level definition).  For each it prints the
//! share of top-level function definitions that can be analysed (no
//! damage inside: no ERROR node, no missing `}`; for plain tree-sitter
//! also not swallowed by an ERROR node), the wall time, and for kseries
//! the ten most common constructs that still fail, with an example each.
//!
//! The denominator is the same for both: the top-level function
//! definitions kseries finds (in its main tree and in the definitions it
//! parsed apart; a definition parsed apart that tree-sitter cannot read
//! as a function at all counts as one failing definition).
//!
//! Run: `cargo bench --bench parse`.  Target: >= 99.5% for kseries.
//! `KSERIES_PARSE_DUMP=FILE` writes every failing definition's place and
//! construct to FILE.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kseries::scan::kernel_c::{self, failure};
use rayon::prelude::*;
use tree_sitter::{Node, Parser};

const TARGET: f64 = 99.5;

fn main() {
    let Some(tree) = common::kernel_tree() else {
        eprintln!("parse benchmark: no kernel tree, nothing measured");
        return;
    };
    let files = source_files(&tree);
    let bytes: u64 = files.iter().map(|(_, len)| len).sum();
    let files: Vec<PathBuf> = files.into_iter().map(|(p, _)| p).collect();
    // Warm the page cache, so both parsers read from memory.
    files.par_iter().for_each(|p| drop(std::fs::read(p)));

    let (t_plain, plain) = timed(|| {
        files
            .par_iter()
            .map(|p| plain_file(&std::fs::read(p).expect("read")))
            .reduce(Counts::default, Counts::add)
    });
    let (t_kseries, ours) = timed(|| {
        files
            .par_iter()
            .map(|p| kseries_file(&tree, p))
            .reduce(Counts::default, Counts::add)
    });

    let total = ours.functions;
    let share = |clean: usize| 100.0 * clean as f64 / total.max(1) as f64;
    println!(
        "parse benchmark on {} ({} files, {:.0} MiB, {} threads)",
        tree.display(),
        files.len(),
        bytes as f64 / (1 << 20) as f64,
        rayon::current_num_threads()
    );
    println!("  top-level function definitions (as kseries finds them): {total}");
    println!(
        "  plain tree-sitter-c  {:>7.3} s   analysable {:>6} ({:6.2}%)   ({} definitions seen)",
        secs(t_plain),
        plain.clean,
        share(plain.clean),
        plain.functions
    );
    println!(
        "  kseries parse        {:>7.3} s   analysable {:>6} ({:6.2}%)   target >= {TARGET}%: {}",
        secs(t_kseries),
        ours.clean,
        share(ours.clean),
        if share(ours.clean) >= TARGET {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  kseries / plain time {:>7.2}x   ({} files with definitions parsed apart, {} definitions parsed apart)",
        secs(t_kseries) / secs(t_plain),
        ours.files_with_regions,
        ours.regions
    );
    println!("  most common constructs that still fail:");
    let mut kinds: Vec<(&String, &(usize, String))> = ours.failures.iter().collect();
    kinds.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    for (kind, (n, example)) in kinds.iter().take(10) {
        println!("    {n:>6}  {kind}  (e.g. {example})");
    }
    if let Some(dump) = std::env::var_os("KSERIES_PARSE_DUMP") {
        std::fs::write(&dump, ours.dump.join("\n")).expect("write the dump");
        println!("  every failing definition: {}", Path::new(&dump).display());
    }
}

#[derive(Default)]
struct Counts {
    functions: usize,
    clean: usize,
    regions: usize,
    files_with_regions: usize,
    /// construct → (count, an example `file:line: detail`)
    failures: BTreeMap<String, (usize, String)>,
    dump: Vec<String>,
}

impl Counts {
    fn add(mut self, other: Counts) -> Counts {
        self.functions += other.functions;
        self.clean += other.clean;
        self.regions += other.regions;
        self.files_with_regions += other.files_with_regions;
        for (k, (n, ex)) in other.failures {
            let e = self.failures.entry(k).or_insert((0, ex));
            e.0 += n;
        }
        self.dump.extend(other.dump);
        self
    }
}

/// Plain tree-sitter-c on the original bytes.
fn plain_file(src: &[u8]) -> Counts {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_c::LANGUAGE.into())
        .expect("grammar");
    let tree = parser.parse(src, None).expect("tree");
    let mut c = Counts::default();
    for f in top_level_functions(tree.root_node()) {
        c.functions += 1;
        if !kernel_c::inside_error(f) && !kernel_c::has_error(f) {
            c.clean += 1;
        }
    }
    c
}

/// kseries' parse: every tree of the file.
fn kseries_file(root: &Path, path: &Path) -> Counts {
    let src = std::fs::read(path).expect("read");
    let rel = path
        .strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string();
    let pre = kernel_c::preprocess(&src);
    assert!(
        pre.len() == src.len()
            && src
                .iter()
                .zip(&pre)
                .all(|(a, b)| (*a == b'\n') == (*b == b'\n')),
        "{rel}: preprocessing must keep every offset and newline"
    );
    let parsed = kernel_c::parse(&src);
    let mut c = Counts {
        regions: parsed.regions().len(),
        files_with_regions: usize::from(!parsed.regions().is_empty()),
        ..Default::default()
    };
    let fail = |c: &mut Counts, scope: Node| {
        let f = failure::describe(scope, &src);
        let place = format!("{rel}:{}", f.line);
        c.dump.push(format!("{place}: {f}"));
        c.failures
            .entry(f.construct.kind().to_string())
            .or_insert((0, place))
            .0 += 1;
    };
    for (i, r) in parsed.roots().into_iter().enumerate() {
        let functions = top_level_functions(r);
        if i > 0 && functions.is_empty() && failure::looks_like_function(r, &src) {
            c.functions += 1;
            fail(&mut c, r);
            continue;
        }
        for f in functions {
            c.functions += 1;
            if kernel_c::has_error(f) {
                fail(&mut c, f);
            } else {
                c.clean += 1;
            }
        }
    }
    c
}

/// Function definitions at file level (through preprocessor
/// conditionals), not inside another construct.
fn top_level_functions(root: Node) -> Vec<Node> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        let mut cursor = n.walk();
        for child in n.named_children(&mut cursor) {
            match child.kind() {
                "function_definition" => out.push(child),
                "preproc_if" | "preproc_ifdef" | "preproc_else" | "preproc_elif"
                | "preproc_elifdef" | "ERROR" => stack.push(child),
                _ => {}
            }
        }
    }
    out
}

fn source_files(root: &Path) -> Vec<(PathBuf, u64)> {
    let walked = kseries::scan::walk::walk_sources(root, |_| None).expect("walk the tree");
    walked
        .files
        .into_iter()
        .filter_map(|p| {
            let len = std::fs::metadata(&p).ok()?.len();
            (len as usize <= kseries::scan::walk::MAX_PARSE_BYTES).then_some((p, len))
        })
        .collect()
}

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let t = Instant::now();
    let v = f();
    (t.elapsed(), v)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
