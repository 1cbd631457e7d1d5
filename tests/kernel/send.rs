//! `kseries send` against a real SMTP server (aiosmtpd) on 127.0.0.1.
//!
//! Needs python3 with aiosmtpd (Debian: python3-aiosmtpd), git, and for
//! the comparison test git send-email (Debian: git-email), for TLS the
//! openssl command.  Without them the tests skip loudly; with
//! `KSERIES_REQUIRE_KERNEL=1` they fail instead.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use kseries::send::{self, Encryption, Password, SendError, SendOptions, SuppressCc};

const SENDER: &str = "Sender Person <sender@example.org>";
const AUTHOR_NAME: &str = "Jürgen Groß";
const AUTHOR: &str = "Jürgen Groß <jgross@example.com>";
const MAINT: &str = "Maintainer One <maint@example.org>";
const LIST: &str = "linux-kernel@vger.example.org";

fn require() -> bool {
    std::env::var("KSERIES_REQUIRE_KERNEL").is_ok_and(|v| v == "1")
}

fn skip(what: &str) {
    if require() {
        panic!("KSERIES_REQUIRE_KERNEL=1 but {what}");
    }
    // Straight to the process's stderr: libtest would swallow eprintln!
    // of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED (not passed): {what}; set KSERIES_REQUIRE_KERNEL=1 to fail instead ***\n"
    );
}

/// A python3 that can import aiosmtpd.
fn python() -> Option<&'static str> {
    static PY: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *PY.get_or_init(|| {
        ["/usr/bin/python3", "python3"].into_iter().find(|py| {
            Command::new(py)
                .args(["-c", "import aiosmtpd"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    })
}

macro_rules! need_smtp {
    () => {
        match python() {
            Some(p) => p,
            None => {
                skip("python3 with aiosmtpd is missing (apt-get install python3-aiosmtpd)");
                return;
            }
        }
    };
}

/// The fixture series and an SMTP server started with the given
/// arguments, capturing into `fx.root/cap`: `(fx, cap, server)`.  Skips
/// the test when python3-aiosmtpd is missing.
macro_rules! smtp_fixture {
    ($($arg:expr),* $(,)?) => {{
        let py = need_smtp!();
        let fx = fixture();
        let cap = fx.root.join("cap");
        let srv = Server::start(py, &cap, &[$($arg),*]);
        (fx, cap, srv)
    }};
}

struct Server {
    child: Child,
    port: u16,
    capture: PathBuf,
}

impl Server {
    fn start(py: &str, capture: &Path, args: &[&str]) -> Server {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut child = Command::new(py)
            .arg(script)
            .arg("--capture")
            .arg(capture)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start smtp_server.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("smtp server did not start: {line:?}"))
            .trim()
            .parse()
            .unwrap();
        Server {
            child,
            port,
            capture: capture.to_path_buf(),
        }
    }

    /// Wait (bounded) for the server to exit by itself.
    fn wait_exit(mut self) {
        for _ in 0..50 {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("smtp server did not exit");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Captured {
    meta: serde_json::Value,
    /// The message with CRLF turned back into LF.
    msg: Vec<u8>,
}

impl Captured {
    fn rcpts(&self) -> BTreeSet<String> {
        self.meta["rcpt_tos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_ascii_lowercase())
            .collect()
    }
    fn headers(&self) -> Vec<(String, String)> {
        let text = String::from_utf8_lossy(&self.msg);
        let head = text.split("\n\n").next().unwrap();
        let mut out: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                let last = out.last_mut().unwrap();
                last.1.push(' ');
                last.1.push_str(line.trim());
            } else if let Some((n, v)) = line.split_once(':') {
                out.push((n.to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        out
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v)
    }
    fn header_addrs(&self, name: &str) -> BTreeSet<String> {
        self.header(name).map(|v| addrs(&v)).unwrap_or_default()
    }
    fn body(&self) -> &[u8] {
        let i = self.msg.windows(2).position(|w| w == b"\n\n").unwrap();
        &self.msg[i + 2..]
    }
}

/// Every `x@y` token in a header value, lowercased.
fn addrs(v: &str) -> BTreeSet<String> {
    v.split(|c: char| c.is_whitespace() || "<>,\"".contains(c))
        .filter(|t| t.contains('@'))
        .map(str::to_ascii_lowercase)
        .collect()
}

fn captured(dir: &Path) -> Vec<Captured> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .map(|j| {
            let meta = serde_json::from_slice(&std::fs::read(&j).unwrap()).unwrap();
            let raw = std::fs::read(j.with_extension("eml")).unwrap();
            let mut msg = Vec::with_capacity(raw.len());
            for (i, &b) in raw.iter().enumerate() {
                if !(b == b'\r' && raw.get(i + 1) == Some(&b'\n')) {
                    msg.push(b);
                }
            }
            Captured { meta, msg }
        })
        .collect()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = common::sender_git(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    repo: PathBuf,
    series: PathBuf,
    base: String,
    head_tree: String,
}

/// A repository with 3 commits by a non-ASCII author and a format-patch
/// series with a cover letter, To: and Cc:.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let repo = root.join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "master"]);
    git(&repo, &["config", "user.name", "Sender Person"]);
    git(&repo, &["config", "user.email", "sender@example.org"]);
    std::fs::write(
        repo.join("driver.c"),
        "int probe(void)\n{\n\treturn 0;\n}\n",
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    let commits: [(&str, &str, &str); 3] = [
        (
            "driver.c",
            "int probe(void)\n{\n\treturn -ENODEV;\n}\n",
            "drv: fail probe without hardware\n\nProbing must fail when nothing is there.\n.config users: nothing changes.\n\nCc: stable@vger.example.org # 5.10+\nSigned-off-by: Jürgen Groß <jgross@example.com>\n",
        ),
        (
            "README",
            "Grüße aus dem Treiber\n.\n",
            "drv: add a README\n\nDocument the driver (UTF-8 content).\n\nAcked-by: Ack Er <acker@example.net>\nSigned-off-by: Jürgen Groß <jgross@example.com>\n",
        ),
        (
            "driver.c",
            "int probe(void)\n{\n\treturn -ENXIO;\n}\n",
            "drv: use ENXIO\n\nSigned-off-by: Jürgen Groß <jgross@example.com>\n",
        ),
    ];
    for (f, content, msg) in commits {
        std::fs::write(repo.join(f), content).unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "--author", AUTHOR, "-m", msg]);
    }
    let head_tree = git(&repo, &["rev-parse", "HEAD^{tree}"]);
    let series = root.join("series");
    git(
        &repo,
        &[
            "format-patch",
            "-q",
            "--cover-letter",
            "--to",
            MAINT,
            "--cc",
            LIST,
            "-o",
            series.to_str().unwrap(),
            &format!("{base}..HEAD"),
        ],
    );
    // Fill in the cover letter, as a submitter would.
    let cover = series.join("0000-cover-letter.patch");
    let text = std::fs::read_to_string(&cover)
        .unwrap()
        .replace("*** SUBJECT HERE ***", "drv: probe fixes")
        .replace(
            "*** BLURB HERE ***",
            "Three small fixes for the drv driver.",
        );
    std::fs::write(&cover, text).unwrap();
    Fixture {
        _tmp: tmp,
        root,
        repo,
        series,
        base,
        head_tree,
    }
}

fn opts(fx: &Fixture, port: u16) -> SendOptions {
    SendOptions {
        series: fx.series.clone(),
        from: Some(SENDER.into()),
        send: true,
        smtp_server: Some("127.0.0.1".into()),
        smtp_server_port: Some(port),
        smtp_encryption: Some(Encryption::None),
        git_dir: Some(fx.repo.clone()),
        ..SendOptions::default()
    }
}

fn run(o: &SendOptions) -> (Result<send::SendReport, SendError>, String) {
    let mut out = Vec::new();
    let r = send::send(o, &mut out);
    (r, String::from_utf8(out).unwrap())
}

/// Sort captured messages into thread order: the root, then by `[PATCH i/n]`.
fn thread_order(mut v: Vec<Captured>) -> Vec<Captured> {
    let num = |c: &Captured| {
        let s = c.header("subject").unwrap();
        let inside = &s[s.find('[').unwrap() + 1..s.find(']').unwrap()];
        let frac = inside.split_whitespace().last().unwrap();
        frac.split('/').next().unwrap().parse::<u32>().unwrap()
    };
    v.sort_by_key(num);
    v
}

#[test]
fn confirm_send_then_git_am_reproduces_the_tree() {
    let (fx, _cap, srv) = smtp_fixture!();
    let (r, out) = run(&opts(&fx, srv.port));
    let rep = r.unwrap_or_else(|e| panic!("send failed: {e}\n{out}"));
    assert_eq!(rep.sent.len(), 4, "{out}");
    let got = thread_order(captured(&srv.capture));
    assert_eq!(got.len(), 4);

    // Threading: the cover is the root; every patch replies to it.
    let root_id = got[0].header("message-id").unwrap();
    assert!(got[0].header("in-reply-to").is_none());
    for c in &got[1..] {
        assert_eq!(c.header("in-reply-to").as_deref(), Some(root_id.as_str()));
        assert_eq!(c.header("references").as_deref(), Some(root_id.as_str()));
    }
    // Dates one second apart, in order.
    let dates: Vec<String> = got.iter().map(|c| c.header("date").unwrap()).collect();
    let secs = |d: &str| {
        let t = d.split_whitespace().nth(4).unwrap();
        let p: Vec<i64> = t.split(':').map(|x| x.parse().unwrap()).collect();
        p[0] * 3600 + p[1] * 60 + p[2]
    };
    for w in dates.windows(2) {
        assert_eq!(
            (secs(&w[1]) - secs(&w[0])).rem_euclid(86400),
            1,
            "{dates:?}"
        );
    }
    // Sender, RFC 2047 author in body, 8BITMIME declared for the UTF-8 patch.
    for c in &got {
        assert_eq!(c.header("from").as_deref(), Some(SENDER));
        assert_eq!(c.meta["mail_from"], "sender@example.org");
    }
    let p2 = &got[2];
    assert!(
        p2.body()
            .starts_with(format!("From: {AUTHOR}\n\n").as_bytes())
    );
    assert!(
        p2.meta["mail_options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "BODY=8BITMIME"),
        "{:?}",
        p2.meta
    );
    // The body bytes are exactly the patch file's body.
    let files: Vec<PathBuf> = {
        let mut v: Vec<_> = std::fs::read_dir(&fx.series)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "patch"))
            .collect();
        v.sort();
        v
    };
    for (c, f) in got.iter().zip(&files) {
        let file = std::fs::read(f).unwrap();
        let body = &file[file.windows(2).position(|w| w == b"\n\n").unwrap() + 2..];
        assert!(c.body().ends_with(body), "body of {} changed", f.display());
    }

    // git am of the received patches onto the base gives the same tree.
    let am = fx.root.join("am");
    git(
        &fx.root,
        &[
            "clone",
            "-q",
            fx.repo.to_str().unwrap(),
            am.to_str().unwrap(),
        ],
    );
    git(&am, &["checkout", "-q", "-b", "check", &fx.base]);
    for (i, c) in got[1..].iter().enumerate() {
        let f = fx.root.join(format!("recv-{i}.eml"));
        std::fs::write(&f, &c.msg).unwrap();
        git(&am, &["am", "-q", f.to_str().unwrap()]);
    }
    assert_eq!(git(&am, &["rev-parse", "HEAD^{tree}"]), fx.head_tree);
    assert_eq!(git(&am, &["log", "-1", "--format=%an"]), AUTHOR_NAME);
    assert_eq!(
        git(&am, &["log", "-3", "--format=%s"]),
        "drv: use ENXIO\ndrv: add a README\ndrv: fail probe without hardware"
    );
}

#[test]
fn envelope_recipients_equal_to_and_cc() {
    let (fx, cap, srv) = smtp_fixture!();
    let mut o = opts(&fx, srv.port);
    o.cc = vec!["Extra Reviewer <extra@example.net>".into()];
    o.batch_size = Some(2);
    o.relogin_delay = Some(0);
    let (r, out) = run(&o);
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    let got = thread_order(captured(&cap));
    assert_eq!(got.len(), 4);
    let mut union = BTreeSet::new();
    for c in &got {
        let mut hdr = c.header_addrs("to");
        hdr.extend(c.header_addrs("cc"));
        assert_eq!(
            c.rcpts(),
            hdr,
            "envelope vs To/Cc of {:?}",
            c.header("subject")
        );
        assert!(c.rcpts().contains("maint@example.org"));
        assert!(c.rcpts().contains(LIST));
        assert!(c.rcpts().contains("extra@example.net"));
        union.extend(c.rcpts());
    }
    assert_eq!(got[0].rcpts(), union, "the cover letter goes to everyone");
    // Per-patch extras, like git send-email: author, body Cc, *-by.
    assert!(got[1].rcpts().contains("stable@vger.example.org"));
    assert!(!got[2].rcpts().contains("stable@vger.example.org"));
    assert!(got[2].rcpts().contains("acker@example.net"));
    assert!(got[3].rcpts().contains("jgross@example.com"));
    assert!(!got[3].rcpts().contains("acker@example.net"));
    // --batch-size 2: two SMTP sessions of two messages each.
    let sessions: Vec<i64> = got
        .iter()
        .map(|c| c.meta["session"].as_i64().unwrap())
        .collect();
    let mut by_arrival: Vec<i64> = captured(&cap)
        .iter()
        .map(|c| c.meta["session"].as_i64().unwrap())
        .collect();
    by_arrival.dedup();
    assert_eq!(by_arrival.len(), 2, "sessions {sessions:?}");

    // --suppress-cc drops the classes, and the cover follows.
    let mut o = opts(&fx, srv.port);
    o.send = false;
    o.suppress_cc = vec![SuppressCc::Author, SuppressCc::SelfAddr, SuppressCc::Body];
    let (_, msgs, _) = send::compose(&o).unwrap();
    for m in &msgs {
        let set: BTreeSet<_> = m.recipients.iter().cloned().collect();
        assert_eq!(
            set,
            BTreeSet::from(["maint@example.org".to_string(), LIST.to_string()])
        );
    }
    // Message-Ids are stable across runs; dry run prints the envelope.
    let (_, again, _) = send::compose(&o).unwrap();
    assert_eq!(
        msgs.iter().map(|m| &m.message_id).collect::<Vec<_>>(),
        again.iter().map(|m| &m.message_id).collect::<Vec<_>>()
    );
    assert!(msgs[0].message_id.ends_with("@example.org>"));
    let (r, out) = run(&o);
    r.unwrap();
    assert_eq!(out.matches("Skipping <kseries-").count(), 4, "{out}");
    std::fs::remove_file(fx.series.join(send::STATE_FILE)).unwrap();
    let (r, out) = run(&o);
    r.unwrap();
    assert!(out.contains("MAIL FROM:<sender@example.org>"), "{out}");
    assert!(out.contains("RCPT TO:<maint@example.org>"), "{out}");
    assert!(
        out.contains("Subject: [PATCH 2/3] drv: add a README"),
        "{out}"
    );
    assert_eq!(captured(&cap).len(), 4, "a dry run sends nothing");
}

#[test]
fn same_threading_and_recipients_as_git_send_email() {
    let py = need_smtp!();
    let has_send_email = Command::new("git")
        .args(["send-email", "-h"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("send-email"));
    if !has_send_email {
        skip("git send-email is missing (apt-get install git-email)");
        return;
    }
    let fx = fixture();
    let ours_cap = fx.root.join("ours");
    let git_cap = fx.root.join("git");
    let srv = Server::start(py, &ours_cap, &[]);
    let (r, out) = run(&opts(&fx, srv.port));
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    let gsrv = Server::start(py, &git_cap, &[]);
    let mut files: Vec<String> = std::fs::read_dir(&fx.series)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "patch"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    let o = common::sender_git(&fx.repo)
        .env("HOME", &fx.root)
        .args([
            "send-email",
            "--smtp-server=127.0.0.1",
            &format!("--smtp-server-port={}", gsrv.port),
            "--confirm=never",
            "--no-validate",
            "--quiet",
            &format!("--from={SENDER}"),
        ])
        .args(&files)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git send-email failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let ours = thread_order(captured(&ours_cap));
    let theirs = thread_order(captured(&git_cap));
    assert_eq!(ours.len(), theirs.len());
    let (oroot, groot) = (
        ours[0].header("message-id").unwrap(),
        theirs[0].header("message-id").unwrap(),
    );
    assert!(ours[0].header("in-reply-to").is_none() && theirs[0].header("in-reply-to").is_none());
    let mut git_union = BTreeSet::new();
    for (a, b) in ours.iter().zip(&theirs) {
        for h in [
            "subject",
            "from",
            "content-type",
            "content-transfer-encoding",
            "mime-version",
        ] {
            assert_eq!(a.header(h), b.header(h), "header {h}");
        }
        git_union.extend(b.rcpts());
        assert_eq!(a.meta["mail_from"], b.meta["mail_from"]);
        let subj = a.header("subject").unwrap();
        if subj.contains(" 0/") {
            continue;
        }
        // Byte for byte, RFC 2047 encoding of the author's name included.
        assert_eq!(a.header("to"), b.header("to"), "To of {subj}");
        assert_eq!(a.header("cc"), b.header("cc"), "Cc of {subj}");
        assert_eq!(a.header_addrs("to"), b.header_addrs("to"), "To of {subj}");
        assert_eq!(a.header_addrs("cc"), b.header_addrs("cc"), "Cc of {subj}");
        assert_eq!(a.rcpts(), b.rcpts(), "envelope of {subj}");
        assert_eq!(a.header("in-reply-to"), Some(oroot.clone()));
        assert_eq!(b.header("in-reply-to"), Some(groot.clone()));
        assert_eq!(a.header("references"), Some(oroot.clone()));
        assert_eq!(b.header("references"), Some(groot.clone()));
        assert_eq!(a.body(), b.body(), "body of {subj}");
    }
    // The cover letter: git sends it to its own To/Cc; kseries to everyone
    // the series goes to (a superset).
    assert!(ours[0].rcpts().is_superset(&theirs[0].rcpts()));
    assert_eq!(ours[0].rcpts(), git_union);
}

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1/localhost signed by it, and an
/// unrelated CA.
fn make_certs(dir: &Path) -> Option<()> {
    if Command::new("openssl").arg("version").output().is_err() {
        skip("the openssl command is missing (apt-get install openssl)");
        return None;
    }
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "other-ca"] {
        let mut a = vec!["req", "-x509"];
        a.extend(ec);
        let key = format!("{ca}.key");
        let pem = format!("{ca}.pem");
        let subj = format!("/CN=kseries test {ca}");
        a.extend([
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &subj,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(dir, &a);
    }
    let mut a = vec!["req"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(dir, &a);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    Some(())
}

#[test]
fn starttls_and_implicit_tls_with_private_ca() {
    let py = need_smtp!();
    let fx = fixture();
    let certs = fx.root.join("certs");
    std::fs::create_dir(&certs).unwrap();
    if make_certs(&certs).is_none() {
        return;
    }
    let cert = certs.join("srv.pem");
    let key = certs.join("srv.key");
    let tls_args = |mode: &'static str| {
        vec![
            "--tls".to_string(),
            mode.to_string(),
            "--cert".into(),
            cert.to_string_lossy().into_owned(),
            "--key".into(),
            key.to_string_lossy().into_owned(),
            "--auth".into(),
            "tlsuser:tls-pass-123".into(),
        ]
    };
    for (mode, enc) in [
        ("starttls", Encryption::StartTls),
        ("implicit", Encryption::Implicit),
    ] {
        // A wrong CA: clear error, nothing sent, no state.
        let cap = fx.root.join(format!("cap-{mode}"));
        let args = tls_args(mode);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let srv = Server::start(py, &cap, &args);
        let mut o = opts(&fx, srv.port);
        o.smtp_encryption = Some(enc);
        o.smtp_user = Some("tlsuser".into());
        o.smtp_pass = Some(Password::new("tls-pass-123"));
        o.smtp_ca = Some(certs.join("other-ca.pem"));
        let (r, out) = run(&o);
        match r {
            Err(e @ SendError::Tls { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("--smtp-ca") && msg.contains("nothing was sent"),
                    "{msg}"
                );
                assert!(!msg.contains("tls-pass-123"));
            }
            other => panic!("{mode}: expected a TLS error, got {other:?}\n{out}"),
        }
        assert!(captured(&cap).is_empty());
        assert!(!fx.series.join(send::STATE_FILE).exists());

        // The right CA: sent, over TLS, authenticated.
        o.smtp_ca = Some(certs.join("ca.pem"));
        let (r, out) = run(&o);
        r.unwrap_or_else(|e| panic!("{mode}: {e}\n{out}"));
        let got = captured(&cap);
        assert_eq!(got.len(), 4, "{mode}");
        for c in &got {
            assert_eq!(c.meta["tls"], true, "{mode}");
            assert_eq!(c.meta["auth_user"], "tlsuser", "{mode}");
        }
        std::fs::remove_file(fx.series.join(send::STATE_FILE)).unwrap();
    }
}

#[test]
fn never_twice_resumes_after_a_server_failure() {
    let py = need_smtp!();
    let fx = fixture();
    let cap = fx.root.join("cap");
    let srv = Server::start(py, &cap, &["--accept-max", "2"]);
    let o = opts(&fx, srv.port);
    let (r, out) = run(&o);
    let err = r.expect_err("the server went away after 2 messages");
    let msg = err.to_string();
    assert!(
        matches!(&err, SendError::Rejected(r) if r.number == 3 && r.accepted == 2),
        "{err:?}\n{out}"
    );
    assert!(msg.contains("run the same command again"), "{msg}");
    assert!(msg.contains(".kseries-sent.json"), "{msg}");
    srv.wait_exit();
    assert_eq!(captured(&cap).len(), 2);
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fx.series.join(send::STATE_FILE)).unwrap()).unwrap();
    assert_eq!(state["sent"].as_array().unwrap().len(), 2);

    // Restart (new port), re-run: only the rest goes out.
    let srv = Server::start(py, &cap, &[]);
    let o = opts(&fx, srv.port);
    let (r, out) = run(&o);
    let rep = r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!((rep.sent.len(), rep.skipped.len()), (2, 2), "{out}");
    // And once more: nothing at all.
    let (r, out) = run(&o);
    let rep = r.unwrap();
    assert!(rep.sent.is_empty(), "{out}");
    assert!(out.contains("already sent"), "{out}");

    let got = captured(&cap);
    assert_eq!(got.len(), 4, "every message exactly once");
    let ids: BTreeSet<String> = got
        .iter()
        .map(|c| c.header("message-id").unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    let planned: BTreeSet<String> = rep.messages.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids, planned);
    // The resumed patches still thread under the cover sent by the first run.
    let got = thread_order(got);
    let root = got[0].header("message-id").unwrap();
    for c in &got[1..] {
        assert_eq!(c.header("in-reply-to").as_deref(), Some(root.as_str()));
    }
}

#[test]
fn password_never_shows() {
    let py = need_smtp!();
    let fx = fixture();
    const PW: &str = "Very-S3cret-pa55";
    let cap = fx.root.join("cap");
    let srv = Server::start(py, &cap, &["--auth", &format!("kuser:{PW}")]);
    let mut o = opts(&fx, srv.port);
    o.smtp_user = Some("kuser".into());
    o.smtp_pass = Some(Password::new(PW));
    o.verbose = true;
    assert!(!format!("{o:?}").contains(PW));
    let (r, out) = run(&o);
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(captured(&cap).len(), 4);
    assert!(
        out.contains("AUTH as kuser"),
        "verbose output shows the login: {out}"
    );
    assert!(out.contains("RCPT TO:<maint@example.org>"), "{out}");
    // Neither the password nor its AUTH PLAIN encoding.
    let plain = base64(format!("\0kuser\0{PW}").as_bytes());
    for needle in [PW, plain.as_str(), &base64(PW.as_bytes())] {
        assert!(!out.contains(needle), "verbose output leaks the password");
        let state = std::fs::read_to_string(fx.series.join(send::STATE_FILE)).unwrap();
        assert!(!state.contains(needle), "state file leaks the password");
    }
}

fn base64(b: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for ch in b.chunks(3) {
        let n = (ch[0] as u32) << 16
            | (*ch.get(1).unwrap_or(&0) as u32) << 8
            | *ch.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= ch.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[test]
fn bad_input_is_refused_with_nothing_sent() {
    let (fx, cap, srv) = smtp_fixture!("--auth", "kuser:right-password");

    // An empty directory.
    let empty = fx.root.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let mut o = opts(&fx, srv.port);
    o.series = empty.clone();
    let e = run(&o).0.unwrap_err();
    assert!(matches!(e, SendError::EmptySeries { .. }), "{e:?}");
    assert!(
        e.to_string().contains(empty.to_str().unwrap()) && e.to_string().contains("format-patch")
    );

    // A patch without Subject: names the file, sends nothing.
    let bad = fx.root.join("bad");
    std::fs::create_dir(&bad).unwrap();
    for f in std::fs::read_dir(&fx.series).unwrap() {
        let p = f.unwrap().path();
        std::fs::copy(&p, bad.join(p.file_name().unwrap())).unwrap();
    }
    let victim = bad.join("0002-drv-add-a-README.patch");
    let text = std::fs::read_to_string(&victim).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("Subject:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&victim, text).unwrap();
    o.series = bad.clone();
    let e = run(&o).0.unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("0002-drv-add-a-README.patch") && m.contains("Subject"),
        "{m}"
    );
    assert!(!bad.join(send::STATE_FILE).exists());

    // A cover letter still holding format-patch's template, like git.
    let tmpl = fx.root.join("tmpl");
    std::fs::create_dir(&tmpl).unwrap();
    for f in std::fs::read_dir(&fx.series).unwrap() {
        let p = f.unwrap().path();
        std::fs::copy(&p, tmpl.join(p.file_name().unwrap())).unwrap();
    }
    let cover = tmpl.join("0000-cover-letter.patch");
    let text = std::fs::read_to_string(&cover).unwrap().replace(
        "Three small fixes for the drv driver.",
        "*** BLURB HERE ***",
    );
    std::fs::write(&cover, text).unwrap();
    o.series = tmpl.clone();
    let e = run(&o).0.unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("0000-cover-letter.patch") && m.contains("BLURB"),
        "{m}"
    );
    assert!(!tmpl.join(send::STATE_FILE).exists());

    // An unreachable server: connection refused on a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let o = opts(&fx, port);
    let e = run(&o).0.unwrap_err();
    assert!(matches!(e, SendError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");

    // Wrong credentials: fails at AUTH, before any message.
    let mut o = opts(&fx, srv.port);
    o.smtp_user = Some("kuser".into());
    o.smtp_pass = Some(Password::new("wrong-password"));
    let e = run(&o).0.unwrap_err();
    assert!(matches!(e, SendError::Auth { .. }), "{e:?}");
    assert!(!e.to_string().contains("wrong-password"));
    assert!(e.to_string().contains("KSERIES_SMTP_PASS"));

    // No SMTP server configured at all.
    let mut o = opts(&fx, srv.port);
    o.smtp_server = None;
    let e = run(&o).0.unwrap_err();
    assert!(e.to_string().contains("--smtp-server"), "{e}");

    assert!(captured(&cap).is_empty(), "nothing reached the server");
    assert!(!fx.series.join(send::STATE_FILE).exists());
}

#[test]
fn mbox_and_directory_compose_the_same_messages() {
    let fx = fixture();
    let mbox = fx.root.join("series.mbox");
    let range = format!("{}..HEAD", fx.base);
    let out = common::sender_git(&fx.repo)
        .args([
            "format-patch",
            "--stdout",
            "--cover-letter",
            "--to",
            MAINT,
            "--cc",
            LIST,
            &range,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::File::create(&mbox)
        .unwrap()
        .write_all(
            &String::from_utf8(out.stdout)
                .unwrap()
                .replace("*** SUBJECT HERE ***", "drv: probe fixes")
                .replace(
                    "*** BLURB HERE ***",
                    "Three small fixes for the drv driver.",
                )
                .into_bytes(),
        )
        .unwrap();
    let mut o = opts(&fx, 1);
    o.send = false;
    let (_, dir_msgs, _) = send::compose(&o).unwrap();
    o.series = mbox;
    let (_, mbox_msgs, _) = send::compose(&o).unwrap();
    assert_eq!(dir_msgs.len(), 4);
    assert_eq!(mbox_msgs.len(), 4);
    for (a, b) in dir_msgs.iter().zip(&mbox_msgs) {
        assert_eq!(a.message_id, b.message_id);
        assert_eq!(a.recipients, b.recipients);
        assert_eq!(a.subject, b.subject);
    }
}

#[test]
fn eight_bit_body_without_8bitmime_goes_out_unchanged() {
    let (fx, cap, srv) = smtp_fixture!("--no-8bitmime");
    let (r, out) = run(&opts(&fx, srv.port));
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert!(out.contains("does not offer 8BITMIME"), "{out}");
    let got = thread_order(captured(&cap));
    let readme = &got[2];
    assert!(
        readme.meta["mail_options"].as_array().unwrap().is_empty(),
        "no BODY=8BITMIME to a server that does not offer it: {:?}",
        readme.meta
    );
    assert_eq!(
        readme.header("content-transfer-encoding").as_deref(),
        Some("8bit")
    );
    assert!(
        String::from_utf8(readme.body().to_vec())
            .unwrap()
            .contains("+Grüße aus dem Treiber")
    );
}

#[test]
fn git_config_supplies_server_recipients_and_login() {
    let (fx, cap, srv) = smtp_fixture!("--auth", "cfguser:cfg-secret-9");
    let port = srv.port.to_string();
    for (k, v) in [
        ("sendemail.smtpServer", "127.0.0.1"),
        ("sendemail.smtpServerPort", port.as_str()),
        ("sendemail.smtpUser", "cfguser"),
        // Chosen in the configuration: a plain-text login is accepted.
        ("sendemail.smtpEncryption", "none"),
        ("sendemail.smtpPass", "cfg-secret-9"),
        ("sendemail.to", "Config To <cfgto@example.org>"),
        ("sendemail.from", "Config Sender <cfgsender@example.org>"),
    ] {
        git(&fx.repo, &["config", k, v]);
    }
    let o = SendOptions {
        series: fx.series.clone(),
        send: true,
        git_dir: Some(fx.repo.clone()),
        verbose: true,
        ..SendOptions::default()
    };
    let (r, out) = run(&o);
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert!(!out.contains("cfg-secret-9"));
    let got = captured(&cap);
    assert_eq!(got.len(), 4);
    for c in &got {
        assert_eq!(c.meta["auth_user"], "cfguser");
        assert_eq!(c.meta["mail_from"], "cfgsender@example.org");
        assert!(c.rcpts().contains("cfgto@example.org"));
        assert_eq!(
            c.header("from").as_deref(),
            Some("Config Sender <cfgsender@example.org>")
        );
    }
    let state = std::fs::read_to_string(fx.series.join(send::STATE_FILE)).unwrap();
    assert!(!state.contains("cfg-secret-9"));
}

#[test]
fn reflect_sends_only_to_the_sender_and_records_nothing() {
    let (fx, cap, srv) = smtp_fixture!();
    let mut o = opts(&fx, srv.port);
    o.send = false;
    o.reflect = true;
    let (r, out) = run(&o);
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    let got = captured(&cap);
    assert_eq!(got.len(), 4);
    for c in &got {
        assert_eq!(
            c.rcpts(),
            BTreeSet::from(["sender@example.org".to_string()])
        );
        assert!(
            c.header_addrs("to").contains("maint@example.org"),
            "headers unchanged"
        );
    }
    assert!(!fx.series.join(send::STATE_FILE).exists());
    // Then the real thing still sends everything.
    o.reflect = false;
    o.send = true;
    let (r, _) = run(&o);
    assert_eq!(r.unwrap().sent.len(), 4);
    o.send = false;
    o.reflect = true;
    let (r, out) = run(&o);
    assert_eq!(r.unwrap().sent.len(), 4, "reflect ignores the state: {out}");
    assert_eq!(captured(&cap).len(), 12);
    o.dry_run = true;
    assert!(
        matches!(run(&o).0, Err(SendError::Config { .. })),
        "--dry-run with --reflect"
    );
}

#[test]
fn bcc_header_lock_file_and_header_injection() {
    let (fx, cap, srv) = smtp_fixture!();

    // A line break in an address would smuggle in a header: refused.
    let mut o = opts(&fx, srv.port);
    o.to = vec!["x@example.org\nBcc: evil@example.net".into()];
    let e = run(&o).0.unwrap_err();
    assert!(e.to_string().contains("control characters"), "{e}");

    // Another run holding the lock: refused, nothing sent.
    let lock = fx.series.join(format!("{}.lock", send::STATE_FILE));
    std::fs::write(&lock, "4242\n").unwrap();
    let held = std::fs::File::open(&lock).unwrap();
    held.lock().unwrap();
    let e = run(&opts(&fx, srv.port)).0.unwrap_err();
    assert!(matches!(e, SendError::Locked { .. }), "{e:?}");
    assert!(e.to_string().contains("pid 4242"), "{e}");
    assert!(captured(&cap).is_empty());
    drop(held);

    // A bare CR in a Subject: could start a header line on some servers.
    let p1 = fx.series.join("0001-drv-fail-probe-without-hardware.patch");
    let orig = std::fs::read_to_string(&p1).unwrap();
    let injected = orig.replacen("Subject: ", "Subject: x\rBcc: evil@example.net\r ", 1);
    std::fs::write(&p1, &injected).unwrap();
    let e = run(&opts(&fx, srv.port)).0.unwrap_err();
    assert!(
        e.to_string()
            .contains("0001-drv-fail-probe-without-hardware.patch")
            && e.to_string().contains("bare carriage return"),
        "{e}"
    );
    assert!(captured(&cap).is_empty());

    // A Bcc: header in a patch reaches nobody: recipients come from To:,
    // Cc: and the flags only.
    let text = orig.replacen("Subject:", "Bcc: Hidden <hidden@example.net>\nSubject:", 1);
    std::fs::write(&p1, text).unwrap();
    let (r, out) = run(&opts(&fx, srv.port));
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert!(out.contains("Ignoring the Bcc: header of"), "{out}");
    let got = thread_order(captured(&cap));
    assert_eq!(got.len(), 4);
    for c in &got {
        assert!(!c.rcpts().contains("hidden@example.net"), "{:?}", c.rcpts());
        assert!(!String::from_utf8_lossy(&c.msg).contains("hidden@"));
    }
}

/// kill -9 of a real `kseries send --no-dry-run` while it waits for a hung
/// server: the lock dies with the process, so the re-run sends the rest
/// without anyone cleaning up, and nothing twice.
#[test]
fn a_killed_send_leaves_no_lock_behind() {
    let py = need_smtp!();
    let fx = fixture();
    let cap = fx.root.join("cap");
    let hung = Server::start(py, &cap, &["--stall-after", "1"]);
    let send = |port: u16| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kseries"));
        c.current_dir(&fx.repo)
            .arg("send")
            .arg(&fx.series)
            .args([
                "--no-dry-run",
                "--from",
                SENDER,
                "--smtp-server",
                "127.0.0.1",
            ])
            .args(["--smtp-encryption", "none", "--smtp-server-port"])
            .arg(port.to_string());
        c
    };
    let mut child = send(hung.port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until the first message is accepted and recorded.
    let state = fx.series.join(send::STATE_FILE);
    for _ in 0..200 {
        if state.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(state.exists(), "the first message was recorded");
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL, mid-DATA of the second message
    child.wait().unwrap();
    drop(hung);
    let lock = fx.series.join(format!("{}.lock", send::STATE_FILE));
    assert!(lock.exists(), "the lock file names the dead process");

    let srv = Server::start(py, &cap, &[]);
    let out = send(srv.port).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("3 sent, 1 already sent before"), "{err}");
    let got = captured(&cap);
    let ids: BTreeSet<String> = got
        .iter()
        .map(|c| c.header("message-id").unwrap())
        .collect();
    assert_eq!((got.len(), ids.len()), (4, 4), "every message once");
}

/// A login with no encryption chosen would send the password in plain
/// text: refused before connecting; `--smtp-encryption none` accepts it.
#[test]
fn a_plain_text_login_needs_an_explicit_choice() {
    let (fx, cap, srv) = smtp_fixture!("--auth", "kuser:the-password");
    let mut o = opts(&fx, srv.port);
    o.smtp_encryption = None;
    o.smtp_user = Some("kuser".into());
    o.smtp_pass = Some(Password::new("the-password"));
    let (r, out) = run(&o);
    let e = r.unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("unencrypted") && m.contains("read the password"),
        "{m}"
    );
    assert!(m.contains("--smtp-encryption none"), "{m}");
    assert!(!m.contains("the-password") && !out.contains("the-password"));
    assert!(captured(&cap).is_empty(), "nothing sent");

    o.smtp_encryption = Some(Encryption::None);
    let (r, out) = run(&o);
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(captured(&cap).len(), 4);
}

const CHILD_ENV: &str = "KSERIES_TEST_CHILD_PORT";

/// Runs in a child process (see `password_from_environment`) so that
/// setting KSERIES_SMTP_PASS cannot race with other tests.
#[test]
#[ignore = "child process of password_from_environment"]
fn env_password_child() {
    let port: u16 = std::env::var(CHILD_ENV).unwrap().parse().unwrap();
    let series = PathBuf::from(std::env::var("KSERIES_TEST_CHILD_SERIES").unwrap());
    let repo = PathBuf::from(std::env::var("KSERIES_TEST_CHILD_REPO").unwrap());
    let o = SendOptions {
        series,
        from: Some(SENDER.into()),
        send: true,
        verbose: true,
        smtp_server: Some("127.0.0.1".into()),
        smtp_server_port: Some(port),
        smtp_user: Some("envuser".into()),
        smtp_encryption: Some(Encryption::None),
        git_dir: Some(repo),
        ..SendOptions::default()
    };
    let (r, out) = run(&o);
    print!("{out}");
    r.unwrap();
}

#[test]
fn password_from_environment() {
    let (fx, cap, srv) = smtp_fixture!("--auth", "envuser:env-Secret-77");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "send::env_password_child",
            "--ignored",
            "--nocapture",
        ])
        .env(send::PASSWORD_ENV, "env-Secret-77")
        .env(CHILD_ENV, srv.port.to_string())
        .env("KSERIES_TEST_CHILD_SERIES", &fx.series)
        .env("KSERIES_TEST_CHILD_REPO", &fx.repo)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("AUTH as envuser"), "{text}");
    assert!(!text.contains("env-Secret-77"));
    let got = captured(&cap);
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|c| c.meta["auth_user"] == "envuser"));
}

#[test]
fn batch_relogin_failure_resumes_without_duplicates() {
    let py = need_smtp!();
    let fx = fixture();
    let cap = fx.root.join("cap");
    // The server vanishes right after the first batch of 2.
    let srv = Server::start(py, &cap, &["--exit-after", "2"]);
    let mut o = opts(&fx, srv.port);
    o.batch_size = Some(2);
    o.relogin_delay = Some(1);
    let (r, out) = run(&o);
    let err = r.expect_err("the relogin fails");
    let msg = err.to_string();
    assert!(
        matches!(&err, SendError::Rejected(r) if r.number == 3 && r.accepted == 2),
        "{err:?}\n{out}"
    );
    assert!(
        msg.contains("logging in again") && !msg.contains("nothing was sent"),
        "{msg}"
    );
    srv.wait_exit();
    let srv = Server::start(py, &cap, &[]);
    let (r, out) = run(&opts(&fx, srv.port));
    assert_eq!(r.unwrap_or_else(|e| panic!("{e}\n{out}")).sent.len(), 2);
    let got = captured(&cap);
    let ids: BTreeSet<String> = got
        .iter()
        .map(|c| c.header("message-id").unwrap())
        .collect();
    assert_eq!((got.len(), ids.len()), (4, 4));
}

#[test]
fn suppress_cc_classes() {
    let fx = fixture();
    let mut o = opts(&fx, 1);
    o.send = false;
    let rcpts = |o: &SendOptions, i: usize| -> BTreeSet<String> {
        let (_, msgs, _) = send::compose(o).unwrap();
        msgs[i].recipients.iter().cloned().collect()
    };
    let all = rcpts(&o, 1);
    for a in [
        LIST,
        "jgross@example.com",
        "stable@vger.example.org",
        "maint@example.org",
    ] {
        assert!(all.contains(a), "{a} in {all:?}");
    }
    for (class, gone) in [
        (SuppressCc::Cc, LIST),
        (SuppressCc::BodyCc, "stable@vger.example.org"),
    ] {
        o.suppress_cc = vec![class];
        let r = rcpts(&o, 1);
        assert!(!r.contains(gone), "{class:?} keeps {gone}");
        assert_eq!(r.len(), all.len() - 1, "{class:?} drops only {gone}");
    }
    // The author is cc'ed both as author and from Signed-off-by (like
    // git): one class alone keeps them, both drop them.
    o.suppress_cc = vec![SuppressCc::Author];
    assert!(rcpts(&o, 1).contains("jgross@example.com"));
    o.suppress_cc = vec![SuppressCc::Sob];
    assert!(rcpts(&o, 1).contains("jgross@example.com"));
    o.suppress_cc = vec![SuppressCc::Sob, SuppressCc::Author];
    assert!(!rcpts(&o, 1).contains("jgross@example.com"));
    // "all" leaves only the explicit To.
    o.suppress_cc = vec![SuppressCc::All];
    assert_eq!(
        rcpts(&o, 1),
        BTreeSet::from(["maint@example.org".to_string()])
    );
    // sendemail.suppressCc from git config applies when no flag is given.
    git(&fx.repo, &["config", "sendemail.suppressCc", "cc"]);
    o.suppress_cc = vec![];
    assert!(!rcpts(&o, 1).contains(LIST));
}

use crate::common;

/// The real thing: the series kseries cuts for Linux 4.12 goes through a
/// real SMTP server, and `git am` of what arrived, in thread order, onto
/// the base commit gives exactly the series branch's tree.
#[test]
fn the_4_12_series_survives_the_mail() {
    let py = need_smtp!();
    let Some(tree) = common::kernel_tree() else {
        return;
    };
    let (_guard, clone) = common::fresh_clone(&tree);
    git(&clone, &["config", "user.name", "Sender Person"]);
    git(&clone, &["config", "user.email", "sender@example.org"]);
    let series = clone.join("../series-out");
    common::kseries_ok(&[
        "series".as_ref(),
        "--output-dir".as_ref(),
        series.as_os_str(),
        clone.as_os_str(),
    ]);
    let branch_tree = git(&clone, &["rev-parse", "kseries/invalidate-page^{tree}"]);
    let patches = std::fs::read_dir(&series).unwrap().count();

    let cap = clone.join("../cap");
    let srv = Server::start(py, &cap, &[]);
    let o = SendOptions {
        series: series.clone(),
        from: Some(SENDER.into()),
        send: true,
        smtp_server: Some("127.0.0.1".into()),
        smtp_server_port: Some(srv.port),
        smtp_encryption: Some(Encryption::None),
        git_dir: Some(clone.clone()),
        ..SendOptions::default()
    };
    let (r, log) = run(&o);
    let rep = r.unwrap_or_else(|e| panic!("send failed: {e}\n{log}"));
    assert_eq!(rep.sent.len(), patches);
    let got = thread_order(captured(&srv.capture));
    assert_eq!(got.len(), patches);

    let root_id = got[0].header("message-id").unwrap();
    for c in &got {
        let mut hdr = c.header_addrs("to");
        hdr.extend(c.header_addrs("cc"));
        assert_eq!(
            c.rcpts(),
            hdr,
            "envelope vs To/Cc of {:?}",
            c.header("subject")
        );
        assert!(
            c.rcpts().contains("linux-mm@kvack.org")
                || c.rcpts().iter().any(|r| r.contains("vger"))
        );
    }
    for c in &got[1..] {
        assert_eq!(c.header("in-reply-to").as_deref(), Some(root_id.as_str()));
    }

    // The clone's HEAD is still the base: apply what arrived there.
    for (i, c) in got[1..].iter().enumerate() {
        let f = clone.join(format!("../recv-{i:02}.eml"));
        std::fs::write(&f, &c.msg).unwrap();
        git(&clone, &["am", "-q", f.to_str().unwrap()]);
    }
    assert_eq!(git(&clone, &["rev-parse", "HEAD^{tree}"]), branch_tree);
}

/// An executable script.
fn script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A fake msmtp: records its arguments and the bytes on its stdin, one
/// pair of files per message, in `dir`.
fn fake_msmtp(root: &Path) -> (PathBuf, PathBuf) {
    let dir = root.join("msmtp-got");
    std::fs::create_dir_all(&dir).unwrap();
    let prog = root.join("fake-msmtp");
    script(
        &prog,
        &format!(
            "#!/bin/sh\nn=$(ls {d} | grep -c argv)\nprintf '%s\\n' \"$@\" > {d}/$n.argv\ncat > {d}/$n.eml\n[ -e {d}/fail ] && {{ echo 'msmtp: cannot reach the server' >&2; exit 75; }}\nexit 0\n",
            d = dir.display()
        ),
    );
    (prog, dir)
}

/// sendemail.smtpServer naming a program: git send-email's sendmail
/// mode.  The exact bytes go to the program's stdin, `-i` and the
/// recipients as arguments, and what it accepted is recorded as usual.
#[test]
fn a_sendmail_program_gets_the_exact_bytes() {
    let fx = fixture();
    let (prog, got) = fake_msmtp(&fx.root);
    git(
        &fx.repo,
        &["config", "sendemail.smtpServer", prog.to_str().unwrap()],
    );
    let o = SendOptions {
        series: fx.series.clone(),
        from: Some(SENDER.into()),
        send: true,
        git_dir: Some(fx.repo.clone()),
        ..SendOptions::default()
    };
    let (r, out) = run(&o);
    let report = r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(report.sent.len(), 4, "{out}");
    for (i, m) in report.messages.iter().enumerate() {
        let bytes = std::fs::read(got.join(format!("{i}.eml"))).unwrap();
        assert_eq!(bytes, m.bytes, "message {i}: the exact bytes, LF line ends");
        let argv = std::fs::read_to_string(got.join(format!("{i}.argv"))).unwrap();
        let mut want = vec!["-i".to_string()];
        want.extend(m.recipients.iter().cloned());
        assert_eq!(argv.lines().collect::<Vec<_>>(), want, "message {i}");
    }
    let state = std::fs::read_to_string(fx.series.join(send::STATE_FILE)).unwrap();
    assert!(
        state.contains(&format!("sendmail program {}", prog.display())),
        "{state}"
    );
    // Never twice.
    let (r, out) = run(&o);
    assert_eq!(r.unwrap().skipped.len(), 4, "{out}");
    assert_eq!(std::fs::read_dir(&got).unwrap().count(), 8);

    // sendemail.sendmailCmd through the shell, with an envelope sender.
    std::fs::remove_file(fx.series.join(send::STATE_FILE)).unwrap();
    git(&fx.repo, &["config", "--unset", "sendemail.smtpServer"]);
    git(&fx.repo, &["config", "sendemail.envelopeSender", "auto"]);
    let mut o2 = o.clone();
    o2.sendmail_cmd = Some(format!("{} --account=kernel", prog.display()));
    let (r, out) = run(&o2);
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    let argv = std::fs::read_to_string(got.join("4.argv")).unwrap();
    let argv: Vec<&str> = argv.lines().collect();
    assert_eq!(
        &argv[..4],
        &["--account=kernel", "-i", "-f", "sender@example.org"]
    );

    // A program that fails: the message is not recorded, and the error
    // names the program and what it said.
    std::fs::remove_file(fx.series.join(send::STATE_FILE)).unwrap();
    std::fs::write(got.join("fail"), "").unwrap();
    let e = run(&o2).0.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("sendmail command") && msg.contains("cannot reach the server"),
        "{msg}"
    );
    assert!(!fx.series.join(send::STATE_FILE).exists());
}

/// git send-email's identities: sendemail.<id>.* before sendemail.*.
#[test]
fn an_identity_picks_its_own_settings() {
    let (fx, cap, srv) = smtp_fixture!();
    let port = srv.port.to_string();
    for (k, v) in [
        // The general settings would fail: nothing listens on port 9.
        ("sendemail.smtpServer", "127.0.0.1"),
        ("sendemail.smtpServerPort", "9"),
        ("sendemail.from", "Home Me <home@example.org>"),
        ("sendemail.work.smtpServerPort", port.as_str()),
        ("sendemail.work.from", "Work Me <work@example.org>"),
    ] {
        git(&fx.repo, &["config", k, v]);
    }
    let o = SendOptions {
        series: fx.series.clone(),
        send: true,
        git_dir: Some(fx.repo.clone()),
        identity: Some("work".into()),
        ..SendOptions::default()
    };
    let (r, out) = run(&o);
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    let got = captured(&cap);
    assert_eq!(got.len(), 4);
    assert!(
        got.iter()
            .all(|c| c.meta["mail_from"] == "work@example.org")
    );

    // The same from sendemail.identity.
    std::fs::remove_file(fx.series.join(send::STATE_FILE)).unwrap();
    git(&fx.repo, &["config", "sendemail.identity", "work"]);
    let (r, out) = run(&SendOptions {
        identity: None,
        ..o.clone()
    });
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(captured(&cap).len(), 8);
}

/// No password configured: git's credential helpers are asked, as git
/// send-email does, and hear whether it worked.
#[test]
fn the_password_comes_from_git_credential() {
    let py = need_smtp!();
    let fx = fixture();
    let certs = fx.root.join("certs");
    std::fs::create_dir(&certs).unwrap();
    if make_certs(&certs).is_none() {
        return;
    }
    let cap = fx.root.join("cap");
    let srv = Server::start(
        py,
        &cap,
        &[
            "--tls",
            "starttls",
            "--cert",
            certs.join("srv.pem").to_str().unwrap(),
            "--key",
            certs.join("srv.key").to_str().unwrap(),
            "--auth",
            "creduser:from-the-helper-42",
        ],
    );
    let log = fx.root.join("helper.log");
    let helper = fx.root.join("helper");
    let secret = fx.root.join("secret");
    script(
        &helper,
        &format!(
            "#!/bin/sh\ninput=$(cat)\necho \"$1 $(echo \"$input\" | grep -v password= | tr '\\n' ' ')\" >> {log}\n[ \"$1\" = get ] && echo \"password=$(cat {secret})\"\nexit 0\n",
            log = log.display(),
            secret = secret.display()
        ),
    );
    std::fs::write(&secret, "from-the-helper-42").unwrap();
    git(
        &fx.repo,
        &["config", "credential.helper", helper.to_str().unwrap()],
    );
    let mut o = opts(&fx, srv.port);
    o.smtp_encryption = Some(Encryption::StartTls);
    o.smtp_ca = Some(certs.join("ca.pem"));
    o.smtp_user = Some("creduser".into());
    let (r, out) = run(&o);
    r.unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert!(
        captured(&cap)
            .iter()
            .all(|c| c.meta["auth_user"] == "creduser")
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    let host = format!("host=127.0.0.1:{}", srv.port);
    let lines: Vec<&str> = calls.lines().collect();
    assert!(
        lines[0].starts_with("get ") && lines[0].contains("protocol=smtp"),
        "{calls}"
    );
    assert!(
        lines[0].contains(&host) && lines[0].contains("username=creduser"),
        "{calls}"
    );
    assert!(lines[1].starts_with("store "), "approved: {calls}");
    assert!(!out.contains("from-the-helper-42"));

    // A password the server refuses: the helper is told to forget it.
    std::fs::remove_file(fx.series.join(send::STATE_FILE)).unwrap();
    std::fs::write(&secret, "stale-password").unwrap();
    let e = run(&o).0.unwrap_err();
    assert!(matches!(e, SendError::Auth { .. }), "{e}");
    assert!(!e.to_string().contains("stale-password"));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.lines().last().unwrap().starts_with("erase "),
        "{calls}"
    );
}

/// `--in-reply-to`: a v2 answers v1's cover letter, and every message
/// references it.
#[test]
fn in_reply_to_threads_the_series_under_an_earlier_message() {
    let fx = fixture();
    let o = SendOptions {
        series: fx.series.clone(),
        from: Some(SENDER.into()),
        in_reply_to: Some("v1-cover@example.org".into()),
        git_dir: Some(fx.repo.clone()),
        ..SendOptions::default()
    };
    let (_, msgs, _) = send::compose(&o).unwrap();
    let text = |i: usize| String::from_utf8_lossy(&msgs[i].bytes).into_owned();
    assert!(
        text(0).contains(
            "\nIn-Reply-To: <v1-cover@example.org>\nReferences: <v1-cover@example.org>\n"
        ),
        "{}",
        text(0)
    );
    let root = &msgs[0].message_id;
    for i in 1..msgs.len() {
        assert!(
            text(i).contains(&format!("\nIn-Reply-To: {root}\n")),
            "{}",
            text(i)
        );
        assert!(
            text(i).contains(&format!("\nReferences: <v1-cover@example.org> {root}\n")),
            "{}",
            text(i)
        );
    }
}

/// Sending takes --no-dry-run; --confirm keeps git send-email's meaning,
/// ask before sending.
#[test]
fn confirm_asks_before_sending_as_git_does() {
    let (fx, cap, srv) = smtp_fixture!();
    let mut o = opts(&fx, srv.port);
    o.confirm = Some(send::ConfirmMode::Always);
    // No to the cover letter, yes to patch 1, then quit.
    let mut out = Vec::new();
    let r = send::send_answering(&o, &mut out, &mut &b"n\ny\nq\n"[..]).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out.matches("Send this email? ([y]es|[n]o|[q]uit|[a]ll): ")
            .count(),
        3,
        "{out}"
    );
    assert_eq!(r.sent.len(), 1, "{out}");
    let got = captured(&cap);
    assert_eq!(got.len(), 1);
    assert!(got[0].header("subject").unwrap().contains(" 1/3]"));

    // `all` stops asking; the sent patch is skipped, never asked about.
    let mut out = Vec::new();
    let r = send::send_answering(&o, &mut out, &mut &b"a\n"[..]).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out.matches("Send this email?").count(), 1, "{out}");
    assert_eq!((r.sent.len(), r.skipped.len()), (3, 1));

    // `cc` asks only for messages with Cc recipients; never asks nothing.
    std::fs::remove_file(fx.series.join(send::STATE_FILE)).unwrap();
    o.confirm = Some(send::ConfirmMode::Never);
    let mut out = Vec::new();
    let r = send::send_answering(&o, &mut out, &mut &b""[..]).unwrap();
    assert_eq!(r.sent.len(), 4);
    assert!(!String::from_utf8(out).unwrap().contains("Send this email?"));

    // On the command line: the old meaning is gone (a mode is required),
    // and --no-dry-run is the way to send.
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kseries"))
            .arg("send")
            .arg(&fx.series)
            .args(args)
            .current_dir(&fx.repo)
            .output()
            .unwrap()
    };
    let before = captured(&cap).len();
    let out = cli(&["--confirm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--confirm <MODE>"));
    let out = cli(&["--confirm", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("always, never, cc, compose or auto"));
    let out = cli(&["--dry-run", "--no-dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(&[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing is sent without --no-dry-run"));
    assert_eq!(captured(&cap).len(), before, "nothing sent from the CLI");
}
