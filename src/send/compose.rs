//! Turning the series into the exact messages that go out: sender,
//! recipients, threading, Message-Ids, dates.  Nothing here talks to a
//! server.

use std::collections::HashSet;

use super::SendError;
use super::address::{self, Mailbox};
use super::config::GitConfig;
use super::series::{Patch, Series};

/// Classes of automatically added recipients that `--suppress-cc` can drop;
/// the same names as git send-email's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuppressCc {
    /// The patch author (`From:` of the patch).
    Author,
    /// The sender, wherever it shows up.
    SelfAddr,
    /// Addresses from the patch's `Cc:` header.
    Cc,
    /// `Cc:` lines in the body.
    BodyCc,
    /// `Signed-off-by:` lines in the body.
    Sob,
    /// Other `*-by:` lines in the body (Acked-by, Reviewed-by, ...).
    MiscBy,
    /// sob + bodycc + misc-by.
    Body,
    /// All of the above.
    All,
}

impl std::str::FromStr for SuppressCc {
    type Err = SendError;
    fn from_str(s: &str) -> Result<Self, SendError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "author" => SuppressCc::Author,
            "self" => SuppressCc::SelfAddr,
            "cc" => SuppressCc::Cc,
            "bodycc" => SuppressCc::BodyCc,
            "sob" => SuppressCc::Sob,
            "misc-by" => SuppressCc::MiscBy,
            "body" => SuppressCc::Body,
            "all" => SuppressCc::All,
            other => {
                return Err(SendError::Config {
                    problem: format!("unknown --suppress-cc class {other:?}"),
                    fix: "use author, self, cc, bodycc, sob, misc-by, body or all".into(),
                });
            }
        })
    }
}

#[derive(Debug, Default)]
struct Suppress(HashSet<SuppressCc>);

impl Suppress {
    fn new(list: &[SuppressCc]) -> Suppress {
        let mut s: HashSet<SuppressCc> = list.iter().copied().collect();
        if s.contains(&SuppressCc::All) {
            s.extend([
                SuppressCc::Author,
                SuppressCc::SelfAddr,
                SuppressCc::Cc,
                SuppressCc::BodyCc,
                SuppressCc::Sob,
                SuppressCc::MiscBy,
            ]);
        }
        if s.contains(&SuppressCc::Body) {
            s.extend([SuppressCc::BodyCc, SuppressCc::Sob, SuppressCc::MiscBy]);
        }
        Suppress(s)
    }
    fn has(&self, c: SuppressCc) -> bool {
        self.0.contains(&c)
    }
}

/// One message exactly as it will go out.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Position in the series, 0-based.
    pub index: usize,
    /// Where it was read from.
    pub source: String,
    /// Subject header value as sent.
    pub subject: String,
    /// Message-Id, with angle brackets.
    pub message_id: String,
    /// `MAIL FROM` address.
    pub envelope_from: String,
    /// `RCPT TO` addresses, each once.
    pub recipients: Vec<String>,
    /// Header `To:` mailboxes.
    pub to: Vec<Mailbox>,
    /// Header `Cc:` mailboxes.
    pub cc: Vec<Mailbox>,
    /// The message: header, blank line, body; LF line endings as in the
    /// patch file (CRLF is applied on the wire only).
    pub bytes: Vec<u8>,
}

impl Outgoing {
    /// True when the message has bytes outside 7-bit ASCII.
    pub fn is_8bit(&self) -> bool {
        !self.bytes.is_ascii()
    }
}

/// What `plan` needs from the options.
#[derive(Debug, Clone, Default)]
pub struct ComposeInput {
    /// The sender (`From:` of every message).
    pub sender: Option<Mailbox>,
    /// Extra `To:` for every message.
    pub to: Vec<Mailbox>,
    /// Extra `Cc:` for every message.
    pub cc: Vec<Mailbox>,
    /// Suppressed classes.
    pub suppress: Vec<SuppressCc>,
    /// Only the sender receives (headers unchanged).
    pub reflect: bool,
    /// Seconds since the epoch of the first message's `Date:`.
    pub first_date: i64,
    /// `--in-reply-to`: the Message-Id the first message answers (its
    /// `References:` too), instead of whatever the patch file says.
    pub in_reply_to: Option<String>,
}

/// The sender: `--from`, `sendemail.from`, else git's author identity
/// (`git var GIT_AUTHOR_IDENT`, i.e. `user.name <user.email>`).
pub fn resolve_sender(
    from: Option<&str>,
    cfg: &GitConfig,
    dir: &std::path::Path,
) -> Result<Mailbox, SendError> {
    let bad = |s: &str, e: address::AddressError| SendError::Config {
        problem: format!("the sender {s:?} is not usable: {}", e.0),
        fix: "pass --from 'Name <you@example.org>' or set git config sendemail.from".into(),
    };
    if let Some(f) = from.or_else(|| cfg.get("sendemail.from")) {
        return address::parse_mailbox(f).map_err(|e| bad(f, e));
    }
    let out = std::process::Command::new("git")
        .args(["var", "GIT_AUTHOR_IDENT"])
        .current_dir(dir)
        .output();
    if let Ok(out) = out
        && out.status.success()
    {
        let s = String::from_utf8_lossy(&out.stdout);
        if let Some(gt) = s.find('>') {
            let ident = &s[..=gt];
            return address::parse_mailbox(ident).map_err(|e| bad(ident, e));
        }
    }
    Err(SendError::Config {
        problem: "no sender address".into(),
        fix: "pass --from 'Name <you@example.org>', or set git config sendemail.from or user.name and user.email".into(),
    })
}

fn push_unique(list: &mut Vec<Mailbox>, m: Mailbox) {
    if !list.iter().any(|x| x.key() == m.key()) {
        list.push(m);
    }
}

/// git's strip_garbage_one_address: drop `# comment` tails and anything
/// after the closing `>`.
fn strip_garbage(s: &str) -> String {
    let mut s = s.trim().to_string();
    if let Some(gt) = s.find('>') {
        s.truncate(gt + 1);
    } else if let Some(h) = s.find('#') {
        s.truncate(h);
    }
    s.trim().to_string()
}

/// Addresses from `Signed-off-by:`, `*-by:` and `Cc:` lines of the body,
/// with the class each belongs to.
fn body_addresses(body: &[u8]) -> Vec<(SuppressCc, Mailbox)> {
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(body).lines() {
        let Some((tag, val)) = line.split_once(": ") else {
            continue;
        };
        let t = tag.to_ascii_lowercase();
        let class = if t == "signed-off-by" {
            SuppressCc::Sob
        } else if t == "cc" {
            SuppressCc::BodyCc
        } else if t.ends_with("-by")
            && t.starts_with(|c: char| c.is_ascii_lowercase())
            && t.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        {
            SuppressCc::MiscBy
        } else {
            continue;
        };
        if let Ok(m) = address::parse_mailbox(&strip_garbage(val)) {
            out.push((class, m));
        }
    }
    out
}

/// FNV-1a, 64 bits, seeded: a stable hash (std's hasher is not stable
/// across Rust releases).
fn fnv(seed: u64, data: &[u8]) -> u64 {
    let mut h = 0xcbf29ce484222325u64 ^ seed;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Deterministic Message-Ids for the series: the same patches (subjects and
/// bodies, cover letter excluded so editing its blurb changes nothing) and
/// version give the same ids.
fn series_tag(series: &Series) -> String {
    let mut data = Vec::new();
    for p in series.patches.iter().filter(|p| !p.is_cover()) {
        data.extend_from_slice(p.subject().unwrap_or("").as_bytes());
        data.push(0);
        // Trailing blank lines differ between an mbox and separate files.
        data.extend_from_slice(p.body.trim_ascii_end());
        data.push(0);
    }
    if data.is_empty() {
        for p in &series.patches {
            data.extend_from_slice(&p.body);
        }
    }
    format!(
        "{:016x}{:08x}",
        fnv(0, &data),
        fnv(0x9e3779b97f4a7c15, &data) as u32
    )
}

/// RFC 2822 date in UTC from seconds since the epoch.
pub fn rfc2822(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    let wd = (days + 4).rem_euclid(7); // 1970-01-01 was a Thursday
    const WD: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MO: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        WD[wd as usize],
        d,
        MO[(mo - 1) as usize],
        y,
        h,
        m,
        s
    )
}

fn fold_list(list: &[Mailbox]) -> String {
    list.iter()
        .map(Mailbox::header)
        .collect::<Vec<_>>()
        .join(",\n\t")
}

/// Headers the composer writes itself; the patch's own copies are dropped.
const REPLACED: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "x-mailer",
];

/// A patch's recipients: its `To:`/`Cc:` headers, the author and body
/// trailers, and the flags.  A `Bcc:` header in a patch file is never
/// honoured: a file that came from elsewhere must not be able to send a
/// hidden copy (`send` says it ignored one).
struct Recipients {
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
}

fn recipients_of(
    p: &Patch,
    input: &ComposeInput,
    sender: &Mailbox,
    sup: &Suppress,
) -> Result<Recipients, SendError> {
    let is_self = |m: &Mailbox| m.key() == sender.key();
    let mut to = Vec::new();
    for m in &input.to {
        push_unique(&mut to, m.clone());
    }
    let mut cc = Vec::new();
    for m in &input.cc {
        push_unique(&mut cc, m.clone());
    }
    // Header fields in file order, as git send-email reads them (so the
    // author, whose From: precedes Cc:, comes first in Cc).
    for h in &p.headers {
        let name = h.name.to_ascii_lowercase();
        match name.as_str() {
            "to" => {
                for m in p.parse_addresses(h)? {
                    if is_self(&m) && sup.has(SuppressCc::SelfAddr) {
                        continue;
                    }
                    push_unique(&mut to, m);
                }
            }
            "cc" => {
                for m in p.parse_addresses(h)? {
                    let skip = if is_self(&m) {
                        sup.has(SuppressCc::SelfAddr)
                    } else {
                        sup.has(SuppressCc::Cc)
                    };
                    if !skip {
                        push_unique(&mut cc, m);
                    }
                }
            }
            "from" => {
                if let Ok(author) = address::parse_mailbox(&h.value) {
                    let skip = if is_self(&author) {
                        sup.has(SuppressCc::SelfAddr)
                    } else {
                        sup.has(SuppressCc::Author)
                    };
                    if !skip {
                        push_unique(&mut cc, author);
                    }
                }
            }
            _ => {}
        }
    }
    for (class, m) in body_addresses(&p.body) {
        if is_self(&m) {
            if sup.has(SuppressCc::SelfAddr) {
                continue;
            }
        } else if sup.has(class) {
            continue;
        }
        push_unique(&mut cc, m);
    }
    Ok(Recipients { to, cc })
}

fn author_of(p: &Patch) -> Option<Mailbox> {
    p.header("From")
        .and_then(|f| address::parse_mailbox(f).ok())
}

/// `<id>` for `id` or `<id>`, as git send-email accepts both.
fn angle_brackets(id: &str) -> String {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    format!("<{id}>")
}

/// Build every outgoing message of the series.
pub fn plan(series: &Series, input: &ComposeInput) -> Result<Vec<Outgoing>, SendError> {
    let sender = input.sender.clone().ok_or_else(|| SendError::Config {
        problem: "no sender address".into(),
        fix: "pass --from or set git config sendemail.from / user.email".into(),
    })?;
    let sup = Suppress::new(&input.suppress);
    let n = series.patches.len();
    let version = series.patches.iter().map(Patch::version).max().unwrap_or(1);
    let tag = series_tag(series);
    let domain = match sender.domain() {
        "" => "kseries.invalid",
        d => d,
    };

    let mut recips = Vec::with_capacity(n);
    for p in &series.patches {
        recips.push(recipients_of(p, input, &sender, &sup)?);
    }
    // The cover letter (or whichever message starts the thread when it is a
    // cover letter) goes to everyone any patch goes to.
    if n > 1 && series.patches[0].is_cover() {
        let mut to = Vec::new();
        let mut cc = Vec::new();
        for r in &recips {
            for m in &r.to {
                push_unique(&mut to, m.clone());
            }
        }
        for r in &recips {
            for m in &r.cc {
                if !to.iter().any(|t| t.key() == m.key()) {
                    push_unique(&mut cc, m.clone());
                }
            }
        }
        recips[0] = Recipients { to, cc };
    }

    let ids: Vec<String> = series
        .patches
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.header("Message-Id")
                .map(|v| v.trim().to_string())
                .filter(|v| v.starts_with('<') && v.ends_with('>'))
                .unwrap_or_else(|| format!("<kseries-{tag}-v{version}-{i}@{domain}>"))
        })
        .collect();
    let mut seen = HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        if !seen.insert(id) {
            return Err(SendError::BadPatch {
                source_name: series.patches[i].source.clone(),
                problem: format!("its Message-Id {id} is used by another message of the series"),
                fix:
                    "give every patch its own Message-Id, or remove them and let kseries make them"
                        .into(),
            });
        }
    }
    let reply_to = input.in_reply_to.as_deref().map(angle_brackets);
    let root_refs = reply_to.clone().or_else(|| {
        series.patches[0]
            .header("References")
            .map(|s| s.trim().to_string())
            .or_else(|| {
                series.patches[0]
                    .header("In-Reply-To")
                    .map(|s| s.trim().to_string())
            })
    });

    let mut out = Vec::with_capacity(n);
    for (i, p) in series.patches.iter().enumerate() {
        let Recipients { to, cc } = &recips[i];
        if to.is_empty() && cc.is_empty() {
            return Err(SendError::BadPatch {
                source_name: p.source.clone(),
                problem: "it has no recipients".into(),
                fix: "add --to/--cc (or format-patch --to/--cc), or set git config sendemail.to"
                    .into(),
            });
        }
        let raw_subject = p.subject().unwrap_or("").to_string();
        let subject = if raw_subject.is_ascii() {
            raw_subject
        } else {
            address::encode_rfc2047(&raw_subject)
        };
        let mut h = String::new();
        h.push_str(&format!("From: {}\n", sender.header()));
        if !to.is_empty() {
            h.push_str(&format!("To: {}\n", fold_list(to)));
        }
        if !cc.is_empty() {
            h.push_str(&format!("Cc: {}\n", fold_list(cc)));
        }
        h.push_str(&format!("Subject: {subject}\n"));
        h.push_str(&format!("Date: {}\n", rfc2822(input.first_date + i as i64)));
        h.push_str(&format!("Message-ID: {}\n", ids[i]));
        h.push_str(&format!(
            "X-Mailer: kseries {}\n",
            env!("CARGO_PKG_VERSION")
        ));
        let (irt, refs) = if i == 0 {
            (
                reply_to.clone().or_else(|| {
                    series.patches[0]
                        .header("In-Reply-To")
                        .map(|s| s.trim().to_string())
                }),
                root_refs.clone(),
            )
        } else {
            let refs = match &root_refs {
                Some(r) => format!("{r} {}", ids[0]),
                None => ids[0].clone(),
            };
            (Some(ids[0].clone()), Some(refs))
        };
        if let Some(irt) = irt {
            h.push_str(&format!("In-Reply-To: {irt}\n"));
        }
        if let Some(refs) = refs {
            h.push_str(&format!("References: {refs}\n"));
        }
        let mut bytes = h.into_bytes();
        for hd in &p.headers {
            if !REPLACED.contains(&hd.name.to_ascii_lowercase().as_str()) {
                bytes.extend_from_slice(&hd.raw);
                bytes.push(b'\n');
            }
        }
        // git send-email: when the author is not the sender, the author
        // goes in a `From:` line at the top of the body (git am reads it).
        let mut body = Vec::new();
        if let Some(author) = author_of(p)
            && author.display() != sender.display()
        {
            body.extend_from_slice(format!("From: {}\n\n", author.display()).as_bytes());
        }
        body.extend_from_slice(&p.body);
        if !body.is_ascii() {
            // Declare the 8-bit body like git send-email does
            // (sendemail.assume8bitEncoding = UTF-8).
            let has = |n: &str| p.headers.iter().any(|h| h.name.eq_ignore_ascii_case(n));
            if !has("Content-Type") {
                if !has("MIME-Version") {
                    bytes.extend_from_slice(b"MIME-Version: 1.0\n");
                }
                bytes.extend_from_slice(b"Content-Type: text/plain; charset=UTF-8\n");
            }
            if !has("Content-Transfer-Encoding") {
                bytes.extend_from_slice(b"Content-Transfer-Encoding: 8bit\n");
            }
        }
        bytes.push(b'\n');
        bytes.extend_from_slice(&body);

        let mut recipients: Vec<String> = Vec::new();
        if input.reflect {
            recipients.push(sender.addr.clone());
        } else {
            for m in to.iter().chain(cc.iter()) {
                if !recipients.iter().any(|r| r.eq_ignore_ascii_case(&m.addr)) {
                    recipients.push(m.addr.clone());
                }
            }
        }
        out.push(Outgoing {
            index: i,
            source: p.source.clone(),
            subject,
            message_id: ids[i].clone(),
            envelope_from: sender.addr.clone(),
            recipients,
            to: to.clone(),
            cc: cc.clone(),
            bytes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc2822(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
    }

    #[test]
    fn body_trailers() {
        let b = b"Hi\n\nSigned-off-by: A <a@x.org>\nCc: stable@vger.kernel.org # 5.4+\nAcked-by: B <b@y.org>\nLink: https://x\n";
        let v = body_addresses(b);
        assert_eq!(v.len(), 3);
        assert_eq!(v[1].1.addr, "stable@vger.kernel.org");
        assert_eq!(v[2].0, SuppressCc::MiscBy);
    }
}
