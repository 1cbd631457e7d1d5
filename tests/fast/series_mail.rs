//! What `series` writes for the lists, on small repositories made here:
//! commit messages without tool output, the evidence below `---`,
//! subjects, recipients (get_maintainer.pl, --to/--cc, the hooks, lists
//! only), the editable cover letter, and `--check`.

use crate::common;
use crate::series_plan;

use std::fs;
use std::path::{Path, PathBuf};

use kseries::rewrite::plan::Plan;
use kseries::series::{
    self, CoverSource, MaintainerSource, SeriesError, SeriesOptions, SeriesReport, Verification,
};
use series_plan::{small_plan as plan, small_repo as repo};

fn opts(out: &Path) -> SeriesOptions {
    SeriesOptions {
        date: Some(1_499_007_600),
        output_dir: Some(out.to_path_buf()),
        ..SeriesOptions::default()
    }
}

fn make(dir: &Path, plan: &Plan, o: &SeriesOptions) -> Result<SeriesReport, SeriesError> {
    series::make_series(dir, plan, o, &Verification::default(), None)
}

fn read(p: &Option<PathBuf>) -> String {
    fs::read_to_string(p.as_ref().expect("a file was written")).unwrap()
}

/// The message part of a patch mail (after the headers, before `---`) and
/// what follows the `---`.
fn split_mail(mail: &str) -> (&str, &str) {
    let body = &mail[mail.find("\n\n").unwrap() + 2..];
    body.split_once("\n---\n").unwrap()
}

fn header(mail: &str, name: &str) -> Option<String> {
    let head = &mail[..mail.find("\n\n").unwrap()];
    let mut lines = head.lines().peekable();
    while let Some(l) = lines.next() {
        if let Some(v) = l.strip_prefix(&format!("{name}: ")) {
            let mut v = v.to_string();
            while lines.peek().is_some_and(|n| n.starts_with([' ', '\t'])) {
                v.push(' ');
                v.push_str(lines.next().unwrap().trim());
            }
            return Some(v);
        }
    }
    None
}

/// An executable script in `dir`.
fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// The evidence goes below `---`, where `git am` drops it; the message says
/// what and why with no file positions.
#[test]
fn evidence_goes_below_the_line_and_git_am_drops_it() {
    let (t, dir) = repo();
    let mut p = plan(&dir);
    p.units[0].description = vec![
        "Why the calls are wrong.".into(),
        "What replaces them.".into(),
    ];
    p.units[0].rationale = vec!["mm/rmap.c: page_mkclean_one() called it at line 4.".into()];
    p.units[0].review_notes = vec!["check the range".into()];
    let out = t.path().join("out");
    let r = make(&dir, &p, &opts(&out)).unwrap();
    let mail = read(&r.patches[0].file);
    let (message, below) = split_mail(&mail);
    assert_eq!(
        message,
        "Why the calls are wrong.\n\nWhat replaces them.\n\nSigned-off-by: Ada Kernel <ada@example.org>"
    );
    assert!(
        below.starts_with(
            "mm/rmap.c: page_mkclean_one() called it at line 4.\n\nPlease check:\n- check the range\n\n mm/rmap.c | "
        ),
        "{below}"
    );
    // A unit without a description of its own gets the recipe's words.
    let mail2 = read(&r.patches[1].file);
    let (m2, _) = split_mail(&mail2);
    assert!(m2.starts_with("Now that nothing calls mmu_notifier_invalidate_page(), the\n->invalidate_page() callback of drivers/iommu/amd is never called"), "{m2}");

    // git am keeps the message and drops the evidence.
    let (_t2, clone) = {
        let t2 = tempfile::tempdir().unwrap();
        let c = t2.path().join("c");
        common::git(t2.path(), &["clone", "-q", dir.to_str().unwrap(), "c"]).unwrap();
        (t2, c)
    };
    common::git(&clone, &["checkout", "-q", &r.base]).unwrap();
    common::git(
        &clone,
        &[
            "am",
            "-q",
            r.patches[0].file.as_ref().unwrap().to_str().unwrap(),
        ],
    )
    .unwrap();
    let log = common::git(&clone, &["log", "-1", "--format=%B"]).unwrap();
    assert!(log.contains("What replaces them."), "{log}");
    assert!(
        !log.contains("line 4") && !log.contains("Please check"),
        "{log}"
    );
}

#[test]
fn subjects_say_the_version_only_from_v2_and_take_rfc_and_a_prefix() {
    let (t, dir) = repo();
    let out = t.path().join("out");
    let r = make(&dir, &plan(&dir), &opts(&out)).unwrap();
    assert_eq!(
        r.cover.subject,
        "[PATCH 0/3] mm: remove mmu_notifier_invalidate_page()"
    );
    let cover = r.cover.file.clone().unwrap();
    assert_eq!(cover, out.join("0000-cover-letter.patch"));
    let first = read(&r.patches[0].file);
    assert_eq!(
        header(&first, "Subject").unwrap(),
        "[PATCH 1/3] mm, rmap: use mmu_notifier_invalidate_range()"
    );
    assert!(
        r.patches[0]
            .file
            .as_ref()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("0001-mm-rmap-")
    );

    // Leftover patches of the first posting are refused, then replaced.
    let e = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            branch: "other".into(),
            ..opts(&out)
        },
    )
    .unwrap_err();
    assert!(matches!(e, SeriesError::OutputNotEmpty(_)), "{e}");

    let r = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            rfc: true,
            subject_prefix: "PATCH mm-unstable".into(),
            force: true,
            ..opts(&out)
        },
    )
    .unwrap();
    assert!(
        r.cover.subject.starts_with("[RFC PATCH mm-unstable 0/3] "),
        "{}",
        r.cover.subject
    );
    let first = read(&r.patches[0].file);
    assert!(
        header(&first, "Subject")
            .unwrap()
            .starts_with("[RFC PATCH mm-unstable 1/3] "),
        "{first}"
    );
    assert!(read(&r.cover.file).contains("Subject: [RFC PATCH mm-unstable 0/3] "));
}

/// `--to`/`--cc` for every patch, and git send-email's hooks run on each
/// patch file in the tree.
#[test]
fn to_cc_and_the_hooks_add_recipients() {
    let (t, dir) = repo();
    let log = t.path().join("hook.log");
    let hook = script(
        t.path(),
        "hook.sh",
        &format!(
            "#!/bin/sh\necho \"$PWD $1\" >> {}\ncase \"$1\" in *iommu*) echo 'Iommu Person <iommu@example.net>';; esac\necho\n",
            log.display()
        ),
    );
    let out = t.path().join("out");
    let r = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            to: vec!["Extra To <to@example.net>".into()],
            cc: vec!["cc-list@example.net".into()],
            to_cmd: Some(hook.display().to_string()),
            cc_cmd: Some("echo hooked-list@example.net; true".into()),
            ..opts(&out)
        },
    )
    .unwrap();
    for p in &r.patches {
        let mail = read(&p.file);
        let to = header(&mail, "To").unwrap();
        let cc = header(&mail, "Cc").unwrap();
        assert!(to.starts_with("Extra To <to@example.net>"), "{to}");
        assert!(cc.contains("cc-list@example.net"), "{cc}");
        assert!(cc.contains("hooked-list@example.net"), "{cc}");
        assert_eq!(
            to.contains("iommu@example.net"),
            p.subject.starts_with("iommu/"),
            "{to}"
        );
    }
    let cover = read(&r.cover.file);
    let to = header(&cover, "To").unwrap();
    assert!(to.contains("Extra To <to@example.net>") && to.contains("iommu@example.net"));
    // Once per patch (not the cover letter), in the tree, with the file
    // (staged: the patches are installed only once every step worked).
    let calls = fs::read_to_string(&log).unwrap();
    let mut calls: Vec<(String, String)> = calls
        .lines()
        .map(|l| {
            let (cwd, file) = l.split_once(' ').unwrap();
            let name = Path::new(file).file_name().unwrap().to_string_lossy();
            (cwd.to_string(), name.into_owned())
        })
        .collect();
    calls.sort();
    let want: Vec<(String, String)> = r
        .patches
        .iter()
        .map(|p| {
            let file = p.file.as_ref().unwrap();
            (
                dir.canonicalize().unwrap().display().to_string(),
                file.file_name().unwrap().to_string_lossy().into_owned(),
            )
        })
        .collect();
    assert_eq!(calls, want);

    // A failing hook stops the run and is named.
    let e = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            cc_cmd: Some("exit 3".into()),
            force: true,
            ..opts(&out)
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("--cc-cmd \"exit 3\" on "), "{e}");
}

/// With the kernel's script in the tree it decides, as in b4; `native`
/// keeps the built-in parser.  A patch no person maintains goes To its
/// lists, and the report says so.
#[test]
fn get_maintainer_pl_decides_when_the_tree_has_it() {
    if std::process::Command::new("perl")
        .arg("-e1")
        .status()
        .is_err()
    {
        panic!("perl is needed (the kernel's scripts are perl)");
    }
    let (t, dir) = repo();
    // Our own stand-in for the kernel's script: it prints roles the way
    // get_maintainer.pl does, and who asked.
    script(
        &dir,
        "scripts/get_maintainer.pl",
        "#!/usr/bin/perl\nmy $f = $ARGV[-1];\nopen(my $h, '<', $f) or die;\nlocal $/; my $t = <$h>;\n\
         if ($t =~ /amd_iommu_v2/) { print \"Script Maint <script\\@example.org> (maintainer:AMD IOMMU (AMD-VI))\\n\"; }\n\
         print \"script-list\\@example.org (open list:AMD IOMMU (AMD-VI))\\n\";\n",
    );
    let out = t.path().join("out");
    let r = make(&dir, &plan(&dir), &opts(&out)).unwrap();
    assert_eq!(r.maintainers, "scripts/get_maintainer.pl");
    assert_eq!(r.patches[1].to, vec!["Script Maint <script@example.org>"]);
    assert_eq!(r.patches[1].cc, vec!["script-list@example.org"]);
    assert!(!r.patches[1].lists_only);
    // The mm patches: lists only, and To the list.
    assert!(r.patches[0].lists_only && r.patches[2].lists_only);
    assert!(r.patches[0].to.is_empty());
    let mail = read(&r.patches[0].file);
    assert_eq!(
        header(&mail, "To").as_deref(),
        Some("script-list@example.org")
    );
    assert_eq!(header(&mail, "Cc"), None);

    let native = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            maintainers: MaintainerSource::Native,
            force: true,
            ..opts(&out)
        },
    )
    .unwrap();
    assert_eq!(native.maintainers, "MAINTAINERS (native parser)");
    assert_eq!(
        native.patches[1].to,
        vec![
            "Joerg Roedel <joro@example.org>",
            "Linus Torvalds <torvalds@example.org>"
        ]
    );

    // --maintainers script on a tree without the script is an error.
    fs::remove_file(dir.join("scripts/get_maintainer.pl")).unwrap();
    let e = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            maintainers: MaintainerSource::Script,
            force: true,
            ..opts(&out)
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("scripts/get_maintainer.pl"), "{e}");
}

/// The cover letter is kseries' own until the user edits the branch
/// description (or gives a file); the edit stays with the branch and
/// carries over to the next version.
#[test]
fn the_cover_letter_is_editable_and_kept_with_the_branch() {
    let (t, dir) = repo();
    let out = t.path().join("out");
    let r = make(&dir, &plan(&dir), &opts(&out)).unwrap();
    assert_eq!(r.cover.source, CoverSource::Generated);
    let cover = read(&r.cover.file);
    let blurb = &cover[cover.find("\n\n").unwrap()..cover.find("Ada Kernel (3):").unwrap()];
    assert_eq!(blurb.matches("kseries").count(), 1, "said once: {blurb}");
    assert!(blurb.contains("Generated by kseries "), "{blurb}");
    assert!(cover.contains("invalidate-page recipe"), "{cover}");
    // git's shortlog lists the patches; the blurb does not list them again.
    // git's shortlog wraps long subjects.
    let flat = cover.split_whitespace().collect::<Vec<_>>().join(" ");
    for p in &r.patches {
        assert_eq!(
            flat.matches(&p.subject).count(),
            1,
            "{}: {cover}",
            p.subject
        );
    }
    let desc = common::git(
        &dir,
        &["config", "branch.kseries/invalidate-page.description"],
    )
    .unwrap();
    assert!(
        desc.starts_with("mm: remove mmu_notifier_invalidate_page()\n\nSince commit"),
        "{desc}"
    );

    // Untouched, it is written anew.
    let again = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            force: true,
            ..opts(&out)
        },
    )
    .unwrap();
    assert_eq!(again.cover.source, CoverSource::Generated);

    // The user edits it (as `git branch --edit-description` does).
    common::git(
        &dir,
        &[
            "config",
            "branch.kseries/invalidate-page.description",
            "mm: kill invalidate_page\n\nMy own words.\n",
        ],
    )
    .unwrap();
    let r = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            force: true,
            ..opts(&out)
        },
    )
    .unwrap();
    assert_eq!(r.cover.source, CoverSource::BranchDescription);
    assert_eq!(r.cover.subject, "[PATCH 0/3] mm: kill invalidate_page");
    let cover = read(&r.cover.file);
    assert!(
        cover.contains("\n\nMy own words.\n\nAda Kernel (3):\n"),
        "{cover}"
    );

    // Version 2 on a new branch keeps it, with its own changes section.
    let out2 = t.path().join("v2");
    let v2 = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            branch: "mn/v2".into(),
            reroll_count: 2,
            previous_branch: Some("kseries/invalidate-page".into()),
            changes: vec!["reworded".into()],
            ..opts(&out2)
        },
    )
    .unwrap();
    assert_eq!(v2.cover.source, CoverSource::BranchDescription);
    let cover = read(&v2.cover.file);
    assert!(
        cover.contains("Subject: [PATCH v2 0/3] mm: kill invalidate_page"),
        "{cover}"
    );
    assert!(
        cover.contains("My own words.\n\nChanges since v1:\n\n- reworded\n"),
        "{cover}"
    );

    // A file wins, and is kept as the branch description.
    let file = t.path().join("cover.txt");
    fs::write(&file, "mm: from a file\n\nFile text.\n").unwrap();
    let r = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            cover_letter: Some(file),
            force: true,
            ..opts(&out)
        },
    )
    .unwrap();
    assert_eq!(r.cover.source, CoverSource::File);
    assert!(read(&r.cover.file).contains("Subject: [PATCH 0/3] mm: from a file"));
    let desc = common::git(
        &dir,
        &["config", "branch.kseries/invalidate-page.description"],
    )
    .unwrap();
    assert_eq!(desc.trim_end(), "mm: from a file\n\nFile text.");
    let r = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            force: true,
            title: Some("mm: a title of its own".into()),
            ..opts(&out)
        },
    )
    .unwrap();
    assert_eq!(r.cover.source, CoverSource::BranchDescription);
    assert_eq!(r.cover.subject, "[PATCH 0/3] mm: a title of its own");
}

/// `--check` runs the tree's checkpatch.pl --strict on every patch and
/// reports what it says.
#[test]
fn check_runs_the_trees_checkpatch_on_every_patch() {
    let (t, dir) = repo();
    let log = t.path().join("checkpatch.log");
    // Our stand-in prints a report in checkpatch's format: a finding for
    // the AMD patch.
    script(
        &dir,
        "scripts/checkpatch.pl",
        &format!(
            "#!/usr/bin/perl\nopen(my $l, '>>', '{}'); print $l join(' ', @ARGV), \"\\n\";\n\
             my $f = $ARGV[-1]; open(my $h, '<', $f) or die; local $/; my $t = <$h>;\n\
             if ($t =~ /amd_iommu_v2/) {{ print \"WARNING: Missing a blank line after declarations\\n#20: FILE: drivers/iommu/amd_iommu_v2.c:3:\\n+\\tint a;\\n\\ntotal: 0 errors, 1 warnings, 0 checks, 12 lines checked\\n\"; }}\n\
             else {{ print \"total: 0 errors, 0 warnings, 0 checks, 9 lines checked\\n\\n$f has no obvious style problems and is ready for submission.\\n\"; }}\n",
            log.display()
        ),
    );
    let out = t.path().join("out");
    let r = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            checkpatch: true,
            ..opts(&out)
        },
    )
    .unwrap();
    let calls = fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().count(),
        3,
        "patches only, not the cover: {calls}"
    );
    assert!(calls.lines().all(|l| l.starts_with("--strict ")), "{calls}");
    let c: Vec<_> = r
        .patches
        .iter()
        .map(|p| p.checkpatch.clone().unwrap())
        .collect();
    assert!(c[0].clean() && c[2].clean());
    assert_eq!((c[1].errors, c[1].warnings, c[1].checks), (0, 1, 0));
    assert_eq!(
        c[1].findings,
        vec![
            "WARNING: Missing a blank line after declarations\n#20: FILE: drivers/iommu/amd_iommu_v2.c:3:\n+\tint a;"
        ]
    );

    // On the command line: the finding is printed, and the exit status says
    // the series is not clean.
    let plan_file = t.path().join("plan.json");
    fs::write(&plan_file, serde_json::to_string(&plan(&dir)).unwrap()).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_kseries"))
        .args(["series", "--check", "--force", "--plan"])
        .arg(&plan_file)
        .arg("-o")
        .arg(&out)
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("checkpatch: 0 errors, 1 warning, 0 checks"),
        "{stdout}"
    );
    assert!(
        stdout.contains("patch 2: WARNING: Missing a blank line after declarations"),
        "{stdout}"
    );

    // A tree without the script: a clear error.
    fs::remove_file(dir.join("scripts/checkpatch.pl")).unwrap();
    let e = make(
        &dir,
        &plan(&dir),
        &SeriesOptions {
            checkpatch: true,
            force: true,
            ..opts(&out)
        },
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("has no scripts/checkpatch.pl"),
        "{e}"
    );
}
