//! The MAINTAINERS parser: fixture tests on an invented MAINTAINERS file,
//! and parity with the real `scripts/get_maintainer.pl` on Linux 4.12.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kseries::series::maintainers::{Maintainers, MaintainersError, Recipients};

fn fixture_dir() -> PathBuf {
    common::project_root().join("tests/fixtures/maintainers")
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture_dir().join(name)).expect("fixture")
}

fn fixture() -> Maintainers {
    Maintainers::parse(&fixture_text("MAINTAINERS")).expect("fixture parses")
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn preamble_is_not_a_section() {
    let m = fixture();
    assert_eq!(m.section_count(), 8);
    // The preamble mentions "F: Files and directories..." indented: not an
    // entry, so no file is ever sent to it.
    assert_eq!(
        m.sections_for_file("drivers/x.c"),
        ["DRIVERS CORE", "THE REST"]
    );
}

#[test]
fn directory_pattern_covers_everything_below() {
    let r = fixture().for_files(&["mm/deep/down/rmap.c"]);
    assert_eq!(r.to, strings(&["Mia Memory <mia@example.org>"]));
    assert_eq!(
        r.cc,
        strings(&["mem@lists.example.org", "everything@lists.example.org"])
    );
}

#[test]
fn file_pattern_is_more_specific_than_its_directory() {
    let m = fixture();
    assert_eq!(
        m.sections_for_file("mm/notifier.c"),
        ["MEMORY NOTIFIER", "MEMORY THINGS", "THE REST"]
    );
    let r = m.for_files(&["mm/notifier.c"]);
    // Reviewers go in To with the maintainers.  Mia's address was already
    // taken (in another case, under another name) by the more specific
    // section, so get_maintainer prints it the way it first saw it; the
    // list is deduplicated case-insensitively too.
    assert_eq!(
        r.to,
        strings(&[
            "Nora Notifier <nora@example.org>",
            "Rex Reviewer <rex@example.org>",
            "\"M. Memory\" <MIA@Example.org>",
        ])
    );
    assert_eq!(
        r.cc,
        strings(&["MEM@lists.example.org", "everything@lists.example.org"])
    );
}

#[test]
fn glob_matches_within_one_directory_level() {
    let m = fixture();
    assert_eq!(
        m.sections_for_file("include/linux/memory.h"),
        ["MEMORY THINGS", "THE REST"]
    );
    // `*` becomes `.*`, but a pattern without a trailing slash needs the
    // file at the same depth.
    assert_eq!(
        m.sections_for_file("include/linux/mem/pool.h"),
        ["THE REST"]
    );
    assert_eq!(
        m.sections_for_file("tools/mem1.c"),
        ["MEMORY THINGS", "THE REST"]
    );
    assert_eq!(m.sections_for_file("tools/mem12.c"), ["THE REST"]);
}

#[test]
fn exclusion_beats_the_directory_pattern() {
    let m = fixture();
    assert_eq!(
        m.sections_for_file("drivers/legacy/old.c"),
        ["LEGACY DRIVERS", "THE REST"]
    );
    let r = m.for_files(&["drivers/legacy/old.c"]);
    assert_eq!(r.to, strings(&["\"Leg, Acy\" <legacy@example.org>"]));
    // The subscribers-only list is left out, as with get_maintainer's --no-s.
    assert_eq!(r.cc, strings(&["everything@lists.example.org"]));
}

#[test]
fn name_regex_matches_anywhere_in_the_path() {
    let m = fixture();
    // N: sections rank at depth 0: after any real path pattern.
    assert_eq!(
        m.sections_for_file("drivers/gpu_glue/core.c"),
        ["DRIVERS CORE", "GPU GLUE", "THE REST"]
    );
    assert_eq!(
        m.sections_for_file("lib/my_gpu_helper.c"),
        ["GPU GLUE", "THE REST"]
    );
}

#[test]
fn keyword_in_added_line_adds_its_section_last() {
    let r = fixture().for_patch(&fixture_text("keyword.patch"));
    assert_eq!(
        r.to,
        strings(&[
            "Dan Drivers <dan@example.org>",
            "Gina Gpu <gina@example.org>",
            "Tom Trace <tom@example.org>",
        ])
    );
    assert_eq!(
        r.cc,
        strings(&[
            "drivers@lists.example.org",
            "everything@lists.example.org",
            "trace@lists.example.org",
        ])
    );
}

#[test]
fn keyword_in_context_line_is_ignored_but_not_in_the_mail_header() {
    let m = fixture();
    let patch = fixture_text("notifier.patch");
    let r = m.for_patch(&patch);
    assert!(!r.to.iter().any(|a| a.contains("tom@")), "{r:?}");
    assert_eq!(r.to.len(), 3, "{r:?}");
    // Before the first file header every line counts (subject, body...).
    let with_subject = patch.replace("fix a comment", "fix trace_widget comment");
    let r = m.for_patch(&with_subject);
    assert_eq!(
        r.to.last().map(String::as_str),
        Some("Tom Trace <tom@example.org>")
    );
    assert_eq!(
        r.cc.last().map(String::as_str),
        Some("trace@lists.example.org")
    );
}

#[test]
fn patch_and_files_agree_and_the_chief_penguin_is_dropped() {
    let m = fixture();
    let by_patch = m.for_patch(&fixture_text("notifier.patch"));
    assert_eq!(by_patch, m.for_files(&["mm/notifier.c"]));
    let everyone: Vec<&str> = by_patch.all().collect();
    assert!(
        !everyone.iter().any(|a| a.contains("torvalds")),
        "{everyone:?}"
    );
    // THE REST still contributes its list.
    assert!(everyone.contains(&"everything@lists.example.org"));
}

#[test]
fn rename_patch_covers_both_names() {
    let r = fixture().for_patch(&fixture_text("rename.patch"));
    assert_eq!(
        r.to,
        strings(&[
            "\"Leg, Acy\" <legacy@example.org>",
            "Dan Drivers <dan@example.org>"
        ])
    );
    assert_eq!(
        r.cc,
        strings(&["everything@lists.example.org", "drivers@lists.example.org"])
    );
}

#[test]
fn person_line_names_a_bare_address_and_mailmap_applies() {
    let m = fixture();
    let r = m.for_files(&["fs/pat.c"]);
    assert_eq!(
        r.to,
        strings(&[
            "Pat Person <pat@example.org>",
            "Olaf Old <olaf@old.example.org>"
        ])
    );
    let m = m.with_mailmap(&fixture_text("mailmap"));
    let r = m.for_files(&["fs/pat.c"]);
    assert_eq!(
        r.to,
        strings(&[
            "Pat Person <pat@example.org>",
            "Olaf Newer <olaf@new.example.org>"
        ])
    );
}

#[test]
fn deduplication_across_files_and_sections() {
    let r = fixture().for_files(&["mm/notifier.c", "mm/rmap.c", "include/linux/notifier.h"]);
    let unique: BTreeSet<&String> = r.to.iter().chain(&r.cc).collect();
    assert_eq!(unique.len(), r.to.len() + r.cc.len(), "{r:?}");
    assert_eq!(r.to.len(), 3);
    assert_eq!(r.cc.len(), 2);
}

#[test]
fn load_knows_which_patterns_are_directories() {
    let dir = tempfile::tempdir().unwrap();
    let text = "FOO DRIVER\nM:\tFay Foo <fay@example.org>\nS:\tMaintained\nF:\tsrc/foo\n";
    std::fs::write(dir.path().join("MAINTAINERS"), text).unwrap();
    std::fs::create_dir_all(dir.path().join("src/foo")).unwrap();
    let loaded = Maintainers::load(dir.path()).unwrap();
    assert_eq!(loaded.sections_for_file("src/foo/a.c"), ["FOO DRIVER"]);
    assert_eq!(
        loaded.for_files(&["src/foo/a.c"]).to,
        strings(&["Fay Foo <fay@example.org>"])
    );
    // Without the tree, `src/foo` can only be a file.
    let parsed = Maintainers::parse(text).unwrap();
    assert!(parsed.for_files(&["src/foo/a.c"]).is_empty());
    assert_eq!(parsed.sections_for_file("src/foo"), ["FOO DRIVER"]);
}

#[test]
fn prose_is_not_a_maintainers_file() {
    let err = Maintainers::parse("just some\ntext\n").unwrap_err();
    assert!(matches!(err, MaintainersError::NoSections), "{err}");
    let err = Maintainers::load(Path::new("/nonexistent/kseries")).unwrap_err();
    assert!(matches!(err, MaintainersError::Io { .. }), "{err}");
}

#[test]
fn recipients_round_trip_through_json() {
    let r = fixture().for_files(&["mm/notifier.c"]);
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.starts_with("{\"to\":["), "{json}");
    assert_eq!(serde_json::from_str::<Recipients>(&json).unwrap(), r);
}
