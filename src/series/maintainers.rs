//! A native reading of the kernel's `MAINTAINERS` file.
//!
//! The oracle is `scripts/get_maintainer.pl` (version 0.26, as shipped in
//! Linux 4.12) run as
//! `get_maintainer.pl --no-git --no-git-fallback --no-rolestats`: for a
//! patch or a list of files, [`Maintainers`] computes the same addresses in
//! the same order, split into [`Recipients::to`] (maintainers and
//! reviewers) and [`Recipients::cc`] (mailing lists).
//!
//! The Perl is followed closely, quirks included, because the output is
//! compared textually with what a kernel developer would get by hand:
//!
//! * `F:`/`X:` globs become regexes the way the Perl converts them (`.` is
//!   escaped, `*` is `.*`, `?` is `.`), anchored at the start only; a
//!   pattern not ending in `/` must have as many slashes as the file.
//! * A pattern naming a directory of the tree gets a trailing `/`, which
//!   only [`Maintainers::load`] (or [`Maintainers::parse_with_dirs`]) can
//!   know about.
//! * Sections are ordered per file by the depth of their last matching
//!   pattern, deepest first; `K:` keyword sections come after all files.
//! * Addresses pass through `.mailmap` and get_maintainer's duplicate
//!   removal (same name or same address, case-insensitively), and the chief
//!   penguin of `THE REST` is dropped as `--no-git-chief-penguins` does.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Errors from reading or parsing a MAINTAINERS file.
#[derive(Debug, thiserror::Error)]
pub enum MaintainersError {
    /// The file (MAINTAINERS or .mailmap) could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text has no `T:\tvalue` entry (for any tag letter `T`) at all,
    /// so it cannot be a MAINTAINERS file.
    #[error("no MAINTAINERS section found")]
    NoSections,
}

/// Who a patch goes to, as get_maintainer.pl would print it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipients {
    /// Maintainers (`M:`) and reviewers (`R:`), formatted `Name <address>`
    /// (or a bare address when the entry has no name), deduplicated, in
    /// get_maintainer's order.
    pub to: Vec<String>,
    /// Mailing lists (`L:`), bare addresses, in get_maintainer's order;
    /// subscribers-only lists are left out as get_maintainer does by default.
    pub cc: Vec<String>,
}

impl Recipients {
    /// Every address, `to` first: exactly the lines get_maintainer prints.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.to.iter().chain(&self.cc).map(String::as_str)
    }

    /// True when nobody at all was found.
    pub fn is_empty(&self) -> bool {
        self.to.is_empty() && self.cc.is_empty()
    }
}

/// A parsed MAINTAINERS file, ready to answer "who gets this patch?".
#[derive(Debug)]
pub struct Maintainers {
    /// get_maintainer's `@typevalue`: every non-blank line, in order.
    lines: Vec<Line>,
    /// Every section, in file order.
    sections: Vec<Section>,
    /// Indexes (into `lines`) of the `K:` entries.
    keyword_lines: Vec<usize>,
    mailmap: Mailmap,
    /// Patterns our regex engine could not compile, with the reason.
    skipped: Vec<String>,
}

/// One non-blank line of MAINTAINERS.
#[derive(Debug)]
enum Line {
    /// A `T:\tvalue` entry (any single capital letter).
    Entry {
        tag: char,
        value: String,
        kind: Kind,
    },
    /// Anything else: a section title or preamble prose.
    Text(String),
}

/// What an entry is used for when matching.
#[derive(Debug)]
enum Kind {
    /// Not used for matching (M, R, L, S, T, W, ...).
    Plain,
    /// `F:` or `X:`; `None` when the pattern did not compile.
    Path(Option<PathPattern>),
    /// `N:`, a regex on the file name.
    FileRegex(Option<Regex>),
    /// `K:`, a regex on the patch text.
    Keyword(Option<KeywordRegexes>),
}

/// An `F:`/`X:` pattern converted the way get_maintainer converts it.
#[derive(Debug)]
struct PathPattern {
    /// `^` followed by the converted pattern.
    regex: Regex,
    /// The pattern ends in `/`: it matches everything below.
    is_dir: bool,
    /// Number of `/` in the converted pattern.
    slashes: usize,
    /// Specificity used to order sections (get_maintainer's `$value_pd`).
    depth: i64,
}

/// A `K:` regex as get_maintainer applies it: before the first file
/// header of a patch to any line, afterwards only behind a `[+-]` prefix.
#[derive(Debug)]
struct KeywordRegexes {
    header: Regex,
    body: Regex,
}

/// A section: its title line and the entries that follow it.
#[derive(Debug, Clone, Copy)]
struct Section {
    /// Index of the first entry (get_maintainer's `$tvi`), the key by
    /// which sections are sorted and remembered.
    tvi: usize,
    /// Index of the title line (or of the first entry at the top of file).
    start: usize,
    /// One past the last entry.
    end: usize,
}

/// get_maintainer's `.mailmap` tables.
#[derive(Debug, Default)]
struct Mailmap {
    /// Keyed by `Name <address>` or by bare address: the real name.
    names: HashMap<String, String>,
    /// Keyed by `Name <address>` or by bare address: the real address.
    addresses: HashMap<String, String>,
}

impl Maintainers {
    /// Parses MAINTAINERS text without a tree: no pattern is known to be a
    /// directory (see [`Maintainers::parse_with_dirs`]) and there is no
    /// mailmap (see [`Maintainers::with_mailmap`]).
    pub fn parse(text: &str) -> Result<Maintainers, MaintainersError> {
        Self::parse_with_dirs(text, |_| false)
    }

    /// Parses MAINTAINERS text; `is_dir` answers get_maintainer's `-d`
    /// test, which turns an `F: drivers/foo` naming a directory into
    /// `drivers/foo/` (matching everything below it).  It is asked about
    /// the pattern after glob conversion, as the Perl does.
    pub fn parse_with_dirs(
        text: &str,
        is_dir: impl Fn(&str) -> bool,
    ) -> Result<Maintainers, MaintainersError> {
        let mut skipped = Vec::new();
        let lines: Vec<Line> = text
            .lines()
            .filter(|l| !l.chars().all(is_perl_space))
            .map(|l| parse_line(l, &is_dir, &mut skipped))
            .collect();
        let keyword_lines = (0..lines.len())
            .filter(|&i| matches!(lines[i], Line::Entry { tag: 'K', .. }))
            .collect();
        let mut m = Maintainers {
            lines,
            sections: Vec::new(),
            keyword_lines,
            mailmap: Mailmap::default(),
            skipped,
        };
        m.sections = m.find_sections();
        if m.sections.is_empty() {
            return Err(MaintainersError::NoSections);
        }
        Ok(m)
    }

    /// Reads `MAINTAINERS` and `.mailmap` (when present) from the top of a
    /// kernel tree, checking `F:` patterns against the tree's directories.
    pub fn load(tree: &Path) -> Result<Maintainers, MaintainersError> {
        let text = read_lossy(&tree.join("MAINTAINERS"))?;
        // Perl's `-d ""` is false, while `tree.join("")` is the tree itself.
        let m = Self::parse_with_dirs(&text, |p| !p.is_empty() && tree.join(p).is_dir())?;
        let mailmap = tree.join(".mailmap");
        if mailmap.is_file() {
            return Ok(m.with_mailmap(&read_lossy(&mailmap)?));
        }
        Ok(m)
    }

    /// Uses `text` (in `.mailmap` format) to rewrite names and addresses,
    /// as get_maintainer does by default (`--mailmap`).
    pub fn with_mailmap(mut self, text: &str) -> Maintainers {
        self.mailmap = Mailmap::parse(text);
        self
    }

    /// Number of sections.
    pub fn section_count(&self) -> usize {
        self.sections.len()
    }

    /// Patterns (`F:`, `X:`, `N:`, `K:`) that could not be compiled and
    /// therefore never match, each with the reason.  get_maintainer would
    /// die on them instead.
    pub fn skipped_patterns(&self) -> &[String] {
        &self.skipped
    }

    /// Recipients for a unified diff or a `git format-patch` email.
    ///
    /// Like get_maintainer, the files are the names on `---`/`+++` lines
    /// minus their first path component (so a rename that changes content
    /// contributes both names, and `/dev/null` becomes `dev/null`), and
    /// `K:` keywords are matched against every line before the first file
    /// header (mail headers, commit message) and against `+`/`-` lines
    /// after it.
    ///
    /// Version 0.26 reads nothing else: a pure rename (no `---`/`+++`
    /// lines) touches no file, and a removed line starting `-- ` reads as a
    /// file header.  Callers that care should add the renamed paths with
    /// [`Maintainers::for_files`].
    pub fn for_patch(&self, patch_text: &str) -> Recipients {
        let (mut files, keyword_hits) = self.scan_patch(patch_text);
        // The Perl sorts and deduplicates the files of a patch.
        files.sort();
        files.dedup();
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        self.recipients(&files, keyword_hits)
    }

    /// Recipients for files given by path relative to the top of the tree,
    /// in the order given (like `get_maintainer.pl -f FILE...`, except that
    /// `K:` keywords are not looked up since the contents are not read).
    pub fn for_files(&self, files: &[&str]) -> Recipients {
        self.recipients(files, Vec::new())
    }

    /// Titles of the sections covering `file`, most specific first: the
    /// subsystems a patch to it belongs to.
    pub fn sections_for_file(&self, file: &str) -> Vec<&str> {
        self.matching_sections(file)
            .into_iter()
            .map(|s| self.title(s))
            .collect()
    }

    fn title(&self, s: Section) -> &str {
        match &self.lines[s.start] {
            Line::Text(t) => t,
            Line::Entry { value, .. } => value,
        }
    }

    fn is_entry(&self, i: usize) -> bool {
        matches!(self.lines[i], Line::Entry { .. })
    }

    /// The Perl's `find_first_section` / `find_starting_index` /
    /// `find_ending_index` walk: a section is a run of entries, titled by
    /// the line before it.  Preamble prose has no entries and is skipped.
    fn find_sections(&self) -> Vec<Section> {
        let n = self.lines.len();
        let mut tvi = (0..n).find(|&i| self.is_entry(i)).unwrap_or(n);
        let mut sections = Vec::new();
        while tvi < n {
            let (start, end) = self.section_bounds(tvi);
            if start < end {
                sections.push(Section { tvi, start, end });
            }
            tvi = end + 1;
        }
        sections
    }

    /// Start (title) and end (exclusive) of the section around line `i`.
    fn section_bounds(&self, i: usize) -> (usize, usize) {
        let mut start = i;
        while start > 0 && self.is_entry(start) {
            start -= 1;
        }
        let mut end = i;
        while end < self.lines.len() && self.is_entry(end) {
            end += 1;
        }
        (start, end)
    }

    fn entries(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (usize, char, &str, &Kind)> {
        range.filter_map(|i| match &self.lines[i] {
            Line::Entry { tag, value, kind } => Some((i, *tag, value.as_str(), kind)),
            Line::Text(_) => None,
        })
    }

    /// Sections covering `file`, deepest first (ties in file order; the
    /// Perl leaves ties in hash order, which is random).
    fn matching_sections(&self, file: &str) -> Vec<Section> {
        let mut hits: Vec<(i64, Section)> = self
            .sections
            .iter()
            .filter_map(|&s| self.section_depth(s, file).map(|d| (d, s)))
            .collect();
        hits.sort_by_key(|&(depth, s)| (std::cmp::Reverse(depth), s.tvi));
        hits.into_iter().map(|(_, s)| s).collect()
    }

    /// How specifically section `s` covers `file`, or `None`.  Exclusions
    /// win over everything; then the *last* matching `F:` or `N:` entry of
    /// the section sets the depth, exactly as the Perl overwrites
    /// `$hash{$tvi}` (with `--pattern-depth=0` nothing is cut off).
    fn section_depth(&self, s: Section, file: &str) -> Option<i64> {
        let excluded = self.entries(s.start..s.end).any(|(_, tag, _, kind)| {
            tag == 'X' && matches!(kind, Kind::Path(Some(p)) if p.matches(file))
        });
        if excluded {
            return None;
        }
        let mut depth = None;
        for (_, tag, _, kind) in self.entries(s.start..s.end) {
            match kind {
                Kind::Path(Some(p)) if tag == 'F' && p.matches(file) => depth = Some(p.depth),
                Kind::FileRegex(Some(re)) if re.is_match(file) => depth = Some(0),
                _ => {}
            }
        }
        depth
    }

    /// The files a patch touches and the `K:` lines it hits, the way
    /// get_maintainer reads a patch file line by line.
    fn scan_patch(&self, text: &str) -> (Vec<String>, Vec<usize>) {
        let mut files = Vec::new();
        let mut hits = Vec::new();
        let mut in_diff = false;
        for raw in text.split_inclusive('\n') {
            let line = raw.strip_suffix('\n').unwrap_or(raw);
            if let Some(name) = diff_file_name(line) {
                files.push(strip_first_component(name).to_string());
                in_diff = true;
            } else if is_hunk_header(line) {
                // The Perl only looks at these for --git-blame.
            } else {
                hits.extend(
                    self.keyword_lines
                        .iter()
                        .copied()
                        .filter(|&k| self.keyword_matches(k, in_diff, line, raw)),
                );
            }
        }
        (files, hits)
    }

    fn keyword_matches(&self, k: usize, in_diff: bool, line: &str, raw: &str) -> bool {
        let Line::Entry {
            kind: Kind::Keyword(Some(re)),
            ..
        } = &self.lines[k]
        else {
            return false;
        };
        let re = if in_diff { &re.body } else { &re.header };
        // Perl's `$` also matches before the line's trailing newline, and
        // `\s` can match that newline: try the line without and with it.
        re.is_match(line) || (line.len() != raw.len() && re.is_match(raw))
    }

    /// get_maintainer's `get_maintainers` + `merge_email`.
    fn recipients(&self, files: &[&str], keyword_hits: Vec<usize>) -> Recipients {
        let mut c = Collector::default();
        for file in files {
            for s in self.matching_sections(file) {
                self.add_categories(s, &mut c);
            }
        }
        // The Perl sorts the keyword line numbers as strings.
        let mut keys: Vec<String> = keyword_hits.iter().map(usize::to_string).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let k: usize = k.parse().expect("formatted just above");
            let (start, end) = self.section_bounds(k);
            self.add_categories(Section { tvi: k, start, end }, &mut c);
        }
        c.finish(&self.mailmap)
    }

    /// get_maintainer's `add_categories`: collect the section's lists,
    /// maintainers and reviewers.
    fn add_categories(&self, s: Section, c: &mut Collector) {
        for (i, tag, value, _) in self.entries(s.start + 1..s.end) {
            match tag {
                'L' => c.push_list(value),
                'M' | 'R' => c.push_people(&self.with_person_name(i, value)),
                _ => {}
            }
        }
    }

    /// An `M:`/`R:` entry without a name takes it from a preceding `P:`.
    fn with_person_name(&self, i: usize, value: &str) -> String {
        let (name, address) = parse_email(value);
        if name.is_empty()
            && i > 0
            && let Line::Entry {
                tag: 'P',
                value: person,
                ..
            } = &self.lines[i - 1]
        {
            return format_email(person, &address);
        }
        value.to_string()
    }
}

/// The state get_maintainer keeps while collecting addresses.
#[derive(Default)]
struct Collector {
    email_to: Vec<String>,
    list_to: Vec<String>,
    names_in_use: HashSet<String>,
    addresses_in_use: HashSet<String>,
    lists_seen: HashSet<String>,
}

impl Collector {
    /// `L:` values may carry a remark after the address; subscribers-only
    /// lists are dropped (`--no-s` is the default).
    fn push_list(&mut self, value: &str) {
        let (address, remark) = match value.split_once(is_perl_space) {
            Some((a, rest)) => (a, rest.trim_start_matches(is_perl_space)),
            None => (value, ""),
        };
        if remark.contains("subscribers-only") {
            return;
        }
        if self.lists_seen.insert(address.to_ascii_lowercase()) {
            self.list_to.push(address.to_string());
        }
    }

    /// `push_email_addresses`: one entry may hold several comma-separated
    /// addresses.
    fn push_people(&mut self, value: &str) {
        for one in split_address_list(value) {
            self.push_person(one);
        }
    }

    /// `push_email_address`: the first entry with a given name or address
    /// (case-insensitively) wins.
    fn push_person(&mut self, value: &str) {
        let (name, address) = parse_email(value);
        if address.is_empty() {
            return;
        }
        let lc_name = name.to_ascii_lowercase();
        let lc_address = address.to_ascii_lowercase();
        if (!name.is_empty() && self.names_in_use.contains(&lc_name))
            || self.addresses_in_use.contains(&lc_address)
        {
            return;
        }
        self.email_to.push(format_email(&name, &address));
        if !name.is_empty() {
            self.names_in_use.insert(lc_name);
        }
        self.addresses_in_use.insert(lc_address);
    }

    /// Mailmap and duplicate removal over everything, then drop the chief
    /// penguin, then print each distinct line once (`merge_email`).
    fn finish(mut self, mailmap: &Mailmap) -> Recipients {
        let mut dedup = Deduplicator::default();
        for e in self.email_to.iter_mut().chain(self.list_to.iter_mut()) {
            *e = dedup.apply(e, mailmap);
        }
        self.email_to.retain(|e| !CHIEF_PENGUIN.is_match(e));
        let mut seen = HashSet::new();
        let mut keep = |e: &String| !e.is_empty() && seen.insert(e.clone());
        let to = self.email_to.into_iter().filter(&mut keep).collect();
        let cc = self.list_to.into_iter().filter(&mut keep).collect();
        Recipients { to, cc }
    }
}

/// get_maintainer's `deduplicate_email`: an address seen before under
/// another name (or a name seen with another address) is printed the way
/// it was first seen.
#[derive(Default)]
struct Deduplicator {
    by_name: HashMap<String, (String, String)>,
    by_address: HashMap<String, (String, String)>,
}

impl Deduplicator {
    fn apply(&mut self, email: &str, mailmap: &Mailmap) -> String {
        let (name, address) = parse_email(email);
        let email = mailmap.map(&format_email(&name, &address));
        let (name, address) = parse_email(&email);
        let known = if name.is_empty() {
            None
        } else {
            self.by_name.get(&name.to_ascii_lowercase())
        }
        .or_else(|| self.by_address.get(&address.to_ascii_lowercase()))
        .cloned();
        let (name, address) = match known {
            Some(first) => first,
            None => {
                let pair = (name.clone(), address.clone());
                self.by_name.insert(name.to_ascii_lowercase(), pair.clone());
                self.by_address.insert(address.to_ascii_lowercase(), pair);
                (name, address)
            }
        };
        mailmap.map(&format_email(&name, &address))
    }
}

impl Mailmap {
    /// get_maintainer's `read_mailmap`, which knows the four forms of
    /// git-shortlog's mailmap.
    fn parse(text: &str) -> Mailmap {
        static FORMS: LazyLock<[Regex; 4]> = LazyLock::new(|| {
            [
                r"^([^<]+)<([^>]+)>$",
                r"^<([^>]+)>[\t\n\x0B\x0C\r ]*<([^>]+)>$",
                r"^(.+)<([^>]+)>[\t\n\x0B\x0C\r ]*<([^>]+)>$",
                r"^(.+)<([^>]+)>[\t\n\x0B\x0C\r ]*(.+)[\t\n\x0B\x0C\r ]*<([^>]+)>$",
            ]
            .map(|re| Regex::new(re).expect("static regex"))
        });
        let mut m = Mailmap::default();
        for line in text.lines() {
            let line = line
                .split('#')
                .next()
                .unwrap_or("")
                .trim_matches(is_perl_space);
            if line.is_empty() {
                continue;
            }
            if let Some(c) = FORMS[0].captures(line) {
                let (name, address) = parse_email(&format!("{} <{}>", rtrim(&c[1]), &c[2]));
                m.names.insert(address, name);
            } else if let Some(c) = FORMS[1].captures(line) {
                m.addresses.insert(c[2].to_string(), c[1].to_string());
            } else if let Some(c) = FORMS[2].captures(line) {
                let (name, address) = parse_email(&format!("{} <{}>", rtrim(&c[1]), &c[2]));
                m.names.insert(c[3].to_string(), name);
                m.addresses.insert(c[3].to_string(), address);
            } else if let Some(c) = FORMS[3].captures(line) {
                let (name, address) = parse_email(&format!("{} <{}>", rtrim(&c[1]), &c[2]));
                let (wname, waddress) = parse_email(&format!("{} <{}>", rtrim(&c[3]), &c[4]));
                let wrong = format_email(&wname, &waddress);
                m.names.insert(wrong.clone(), name);
                m.addresses.insert(wrong, address);
            }
        }
        m
    }

    /// get_maintainer's `mailmap_email`: an entry for the whole
    /// `Name <address>` wins over one for the bare address.
    fn map(&self, line: &str) -> String {
        let (mut name, mut address) = parse_email(line);
        let email = format_email(&name, &address);
        let key = if self.names.contains_key(&email) || self.addresses.contains_key(&email) {
            email
        } else {
            address.clone()
        };
        if let Some(n) = self.names.get(&key) {
            name = n.clone();
        }
        if let Some(a) = self.addresses.get(&key) {
            address = a.clone();
        }
        format_email(&name, &address)
    }
}

/// `Linus Torvalds <torvalds@linux-foundation.org>` used as a regex, as the
/// Perl does, to drop him unless `--git-chief-penguins`.
static CHIEF_PENGUIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format_email(
        "Linus Torvalds",
        "torvalds@linux-foundation.org",
    ))
    .expect("static regex")
});

/// Perl's `\s` on byte strings (no Unicode spaces).
fn is_perl_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0B' | '\x0C' | '\r' | ' ')
}

fn rtrim(s: &str) -> &str {
    s.trim_end_matches(is_perl_space)
}

fn read_lossy(path: &Path) -> Result<String, MaintainersError> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|source| MaintainersError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Parses one non-blank line: `^([A-Z]):\s*(.*)` is an entry, anything
/// else is kept as text (titles, preamble).
fn parse_line(line: &str, is_dir: &impl Fn(&str) -> bool, skipped: &mut Vec<String>) -> Line {
    let b = line.as_bytes();
    if b.len() < 2 || !b[0].is_ascii_uppercase() || b[1] != b':' {
        return Line::Text(line.trim_end_matches('\r').to_string());
    }
    let tag = b[0] as char;
    // Leading blanks go; trailing ones stay, as in the Perl.
    let value = line[2..].trim_start_matches(is_perl_space);
    let mut report = |what: &str, e: regex::Error| skipped.push(format!("{tag}: {what}: {e}"));
    match tag {
        'F' | 'X' => {
            let glob = glob_to_regex(value, is_dir);
            let kind = Kind::Path(PathPattern::new(&glob).map_err(|e| report(value, e)).ok());
            Line::Entry {
                tag,
                value: glob,
                kind,
            }
        }
        'N' => {
            let re = perl_x_regex("", value).map_err(|e| report(value, e)).ok();
            Line::Entry {
                tag,
                value: value.to_string(),
                kind: Kind::FileRegex(re),
            }
        }
        'K' => {
            let re = KeywordRegexes::new(value)
                .map_err(|e| report(value, e))
                .ok();
            Line::Entry {
                tag,
                value: value.to_string(),
                kind: Kind::Keyword(re),
            }
        }
        _ => Line::Entry {
            tag,
            value: value.to_string(),
            kind: Kind::Plain,
        },
    }
}

/// The Perl's conversion of an `F:`/`X:` glob to a regex, plus a trailing
/// `/` when the converted text names a directory.
fn glob_to_regex(glob: &str, is_dir: &impl Fn(&str) -> bool) -> String {
    let mut re = glob
        .replace('.', r"\.")
        .replace('*', ".*")
        .replace('?', ".");
    if !re.ends_with('/') && !re.is_empty() && is_dir(&re) {
        re.push('/');
    }
    re
}

impl PathPattern {
    fn new(converted: &str) -> Result<PathPattern, regex::Error> {
        let slashes = converted.matches('/').count();
        let is_dir = converted.ends_with('/');
        let depth = if converted.starts_with(".*") {
            -1 // `*` and `*/` of THE REST: the least specific of all
        } else {
            slashes as i64 + i64::from(!is_dir)
        };
        Ok(PathPattern {
            regex: Regex::new(&format!("^{converted}"))?,
            is_dir,
            slashes,
            depth,
        })
    }

    /// get_maintainer's `file_match_pattern`: a directory pattern matches
    /// everything below; otherwise the file must be at the same depth.
    fn matches(&self, file: &str) -> bool {
        self.regex.is_match(file) && (self.is_dir || file.matches('/').count() == self.slashes)
    }
}

impl KeywordRegexes {
    fn new(keyword: &str) -> Result<KeywordRegexes, regex::Error> {
        Ok(KeywordRegexes {
            header: perl_x_regex("", keyword)?,
            // Textual concatenation on purpose: an alternation in the
            // keyword escapes the prefix in the Perl too.
            body: perl_x_regex("^[+-].*", keyword)?,
        })
    }
}

/// Compiles `prefix` + `pattern` with Perl's `/x`.  Rust's verbose mode
/// also ignores blanks inside `[...]`, where Perl keeps them, so those
/// (and `#`) are escaped first.
fn perl_x_regex(prefix: &str, pattern: &str) -> Result<Regex, regex::Error> {
    let mut out = String::from("(?x)");
    out.push_str(prefix);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal in both engines.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().expect("peeked"));
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str(r"\]");
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            ' ' | '\t' | '#' if in_class => out.push_str(&format!(r"\x{:02X}", c as u32)),
            _ => out.push(c),
        }
    }
    Regex::new(&out)
}

/// The name on a `---`/`+++` line (get_maintainer's
/// `^\+\+\+\s+(\S+)` / `^---\s+(\S+)`).
fn diff_file_name(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("+++")
        .or_else(|| line.strip_prefix("---"))?;
    let trimmed = rest.trim_start_matches(is_perl_space);
    if trimmed.len() == rest.len() {
        return None;
    }
    let name = trimmed.split(is_perl_space).next().unwrap_or("");
    (!name.is_empty()).then_some(name)
}

/// `s@^[^/]*/@@`: drop `a/`, `b/` or whatever the first component is.
fn strip_first_component(name: &str) -> &str {
    name.split_once('/').map_or(name, |(_, rest)| rest)
}

/// `^\@\@ -(\d+),(\d+)`.
fn is_hunk_header(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("@@ -") else {
        return false;
    };
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let n = digits(rest);
    n > 0 && rest[n..].strip_prefix(',').is_some_and(|r| digits(r) > 0)
}

/// Splits a maintainer entry holding several comma-separated addresses
/// (get_maintainer's `rfc822_validlist` case).  Commas inside quotes or
/// angle brackets, or pieces without an `@` (like `Lee, Chun-Yi <...>`),
/// mean a single entry.
fn split_address_list(value: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut quoted, mut angle, mut from) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                pieces.push(value[from..i].trim_matches(is_perl_space));
                from = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(value[from..].trim_matches(is_perl_space));
    pieces.retain(|p| !p.is_empty());
    if pieces.len() > 1 && pieces.iter().all(|p| p.contains('@')) {
        pieces
    } else {
        vec![value]
    }
}

/// get_maintainer's `parse_email`: `(name, address)`, the name quoted when
/// it has characters other than ASCII letters, digits, `_`, blank or `-`.
fn parse_email(formatted: &str) -> (String, String) {
    static NAMED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^([^<]+)<(.+@.*)>.*$").expect("static regex"));
    static BRACKETED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[\t\n\x0B\x0C\r ]*<(.+@[^\t\n\x0B\x0C\r ]*)>.*$").expect("static regex")
    });
    static BARE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(.+@[^\t\n\x0B\x0C\r ]*).*$").expect("static regex"));
    let (name, address) = if let Some(c) = NAMED.captures(formatted) {
        (c[1].to_string(), c[2].to_string())
    } else if let Some(c) = BRACKETED.captures(formatted) {
        (String::new(), c[1].to_string())
    } else if let Some(c) = BARE.captures(formatted) {
        (String::new(), c[1].to_string())
    } else {
        (String::new(), String::new())
    };
    (
        quote_name(&name),
        address.trim_matches(is_perl_space).to_string(),
    )
}

/// get_maintainer's `format_email` with `--n` (names on, the default).
fn format_email(name: &str, address: &str) -> String {
    let name = quote_name(name);
    let address = address.trim_matches(is_perl_space);
    if name.is_empty() {
        address.to_string()
    } else {
        format!("{name} <{address}>")
    }
}

/// Trims, drops one pair of surrounding quotes, and re-quotes when RFC 822
/// needs it (Perl's ASCII `\w`: any non-ASCII letter needs quotes too).
fn quote_name(name: &str) -> String {
    let name = name.trim_matches(is_perl_space);
    let name = name.strip_prefix('"').unwrap_or(name);
    let name = name.strip_suffix('"').unwrap_or(name);
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '-');
    if name.chars().all(plain) {
        return name.to_string();
    }
    // s/(?<!\\)"/\\"/g on the original text.
    let mut out = String::from("\"");
    let mut prev = None;
    for c in name.chars() {
        if c == '"' && prev != Some('\\') {
            out.push('\\');
        }
        out.push(c);
        prev = Some(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_like_the_perl() {
        assert_eq!(
            format_email("H. Peter Anvin", "hpa@zytor.com"),
            "\"H. Peter Anvin\" <hpa@zytor.com>"
        );
        assert_eq!(
            format_email("\"Yan, Zheng\"", "z@r.com"),
            "\"Yan, Zheng\" <z@r.com>"
        );
        assert_eq!(
            format_email("Jörg Rödel", "j@8.org"),
            "\"Jörg Rödel\" <j@8.org>"
        );
        assert_eq!(
            format_email("Plain-Name_x", "p@x.org"),
            "Plain-Name_x <p@x.org>"
        );
        assert_eq!(format_email("", "p@x.org"), "p@x.org");
    }

    #[test]
    fn parse_email_forms() {
        assert_eq!(
            parse_email("A B <a@b.c> (x)"),
            ("A B".into(), "a@b.c".into())
        );
        assert_eq!(parse_email(" <a@b.c>"), (String::new(), "a@b.c".into()));
        assert_eq!(
            parse_email("a@b.c (moderated)"),
            (String::new(), "a@b.c".into())
        );
    }

    #[test]
    fn diff_headers_and_hunks() {
        assert_eq!(diff_file_name("+++ b/mm/rmap.c"), Some("b/mm/rmap.c"));
        assert_eq!(diff_file_name("--- a/x\t2017-01-01"), Some("a/x"));
        assert_eq!(diff_file_name("---"), None);
        assert_eq!(diff_file_name("----x"), None);
        assert_eq!(strip_first_component("/dev/null"), "dev/null");
        assert!(is_hunk_header("@@ -1,7 +1,7 @@"));
        assert!(!is_hunk_header("@@ -1 +1 @@"));
    }

    #[test]
    fn verbose_regex_keeps_blanks_in_classes() {
        let re = perl_x_regex("", "a[ ]b # comment").unwrap();
        assert!(re.is_match("a b"));
        assert!(!re.is_match("ab"));
    }

    #[test]
    fn address_lists_split_only_on_real_lists() {
        assert_eq!(
            split_address_list("a@b.c, D <d@e.f>"),
            vec!["a@b.c", "D <d@e.f>"]
        );
        assert_eq!(
            split_address_list("Lee, Chun-Yi <j@s.com>"),
            vec!["Lee, Chun-Yi <j@s.com>"]
        );
        assert_eq!(
            split_address_list("\"Yan, Z\" <z@r.com>"),
            vec!["\"Yan, Z\" <z@r.com>"]
        );
    }
}
