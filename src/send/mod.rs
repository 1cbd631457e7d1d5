//! `kseries send`: mail a `git format-patch` series the way
//! `git send-email` would, but safely.
//!
//! * Dry run by default: [`SendOptions::send`] (`--no-dry-run`) sends,
//!   and [`SendOptions::reflect`] sends every message to the sender only.
//!   `--confirm=<mode>` asks before sending, with git's meaning.
//! * Threading like git's default (`--thread --no-chain-reply-to`): every
//!   message is `In-Reply-To:` the first one (the cover letter).
//! * Message-Ids derived from the series content, version and sender
//!   domain, so a re-run produces the same ids; `Date:` one second apart.
//! * Never twice: after the server accepts a message its Message-Id is
//!   written to a state file beside the series ([`series::STATE_FILE`]),
//!   and a re-run skips what is recorded there.
//! * Body bytes go out as they are in the patch file.
//! * The password is never printed, logged or stored.
//!
//! The CLI is a thin wrapper: fill a [`SendOptions`] from the flags and
//! call [`send`] with stdout.
//!
//! # Where it differs from git send-email, on purpose
//!
//! * The cover letter goes to everyone any patch goes to (git sends it to
//!   its own To/Cc only).  Patches get exactly git's To/Cc (checked
//!   against git send-email by the tests): `--to`/`sendemail.to`, the
//!   patch's To/Cc, the author, and `Signed-off-by`/`*-by`/`Cc` lines of
//!   the body, minus the `--suppress-cc` classes.
//! * "self" is recognised by address (case-insensitive), not by the whole
//!   `Name <address>` string.
//! * No prompts, ever: an 8-bit body without a charset is declared UTF-8
//!   (`sendemail.assume8bitEncoding=UTF-8`); an 8-bit body to a server
//!   without 8BITMIME is sent as it is, with a warning (git does the same,
//!   silently).  No aliases, no --cc-cmd/--to-cmd (`kseries series` has
//!   them), no sendmail found on the PATH unless configured.
//! * A sendmail-compatible program (`sendemail.smtpServer` set to an
//!   absolute path, or `sendemail.sendmailCmd`) gets the exact bytes of
//!   each message on stdin, as git pipes them.
//! * `--reflect` sends every message to the sender only, with the headers
//!   unchanged, and records nothing.
//! * An OS lock on `.kseries-sent.json.lock` keeps two sending runs off
//!   one series; it dies with its process, so a crash needs no cleanup.
//!
//! A message that the server accepted but whose acceptance never reached
//! us (connection lost after the final `.`) cannot be told from one that
//! was not accepted; it is treated as not sent.

pub mod address;
pub mod compose;
pub mod config;
pub mod sendmail;
pub mod series;
pub mod smtp;
pub mod state;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use compose::{Outgoing, SuppressCc};
pub use config::{Encryption, GitConfig, PASSWORD_ENV, Password, Sendmail, SmtpSettings};
pub use series::{STATE_FILE, Series};
pub use state::{SentRecord, SentState};

/// Every failure of `send`, each saying what went wrong, where, and how to
/// fix it.  None of them ever contains the SMTP password.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The series directory or mbox holds no message.
    #[error(
        "no patches in {}: expected the *.patch files of `git format-patch -o DIR` or an mbox; generate the series first",
        path.display()
    )]
    EmptySeries {
        /// The directory or file given.
        path: PathBuf,
    },
    /// One message of the series is unusable.
    #[error("{source_name}: {problem}; {fix}; nothing was sent")]
    BadPatch {
        /// File (or mbox message) at fault.
        source_name: String,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// Bad or missing configuration or options.
    #[error("{problem}; {fix}")]
    Config {
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The state file is unreadable.
    #[error("state file {}: {problem}; move it away only if you are sure which messages went out", path.display())]
    State {
        /// Its path.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Another `send --confirm` is sending the same series now.
    #[error(
        "another kseries send (pid {holder}) is sending this series right now (it holds the lock on {}); wait for it to finish; nothing was sent",
        lock.display()
    )]
    Locked {
        /// The lock file.
        lock: PathBuf,
        /// The pid written in it.
        holder: String,
    },
    /// The server could not be reached.
    #[error(
        "cannot connect to SMTP server {endpoint}: {detail}; check --smtp-server/--smtp-server-port (sendemail.smtpServer, sendemail.smtpServerPort) and --smtp-encryption; nothing was sent"
    )]
    Connect {
        /// `host:port`.
        endpoint: String,
        /// The network error.
        detail: String,
    },
    /// TLS failed (untrusted certificate, no STARTTLS, ...).
    #[error(
        "TLS with SMTP server {endpoint} failed: {detail}; if the server uses a private CA, pass --smtp-ca FILE (or set sendemail.smtpSSLCertPath); check --smtp-encryption (tls = STARTTLS, ssl = implicit TLS); nothing was sent"
    )]
    Tls {
        /// `host:port`.
        endpoint: String,
        /// The TLS error.
        detail: String,
    },
    /// The server refused the credentials.
    #[error(
        "SMTP server {endpoint} refused the login of user {user:?}: {detail}; check --smtp-user (sendemail.smtpUser) and the password in KSERIES_SMTP_PASS or sendemail.smtpPass; nothing was sent"
    )]
    Auth {
        /// `host:port`.
        endpoint: String,
        /// The user name.
        user: String,
        /// The server's answer.
        detail: String,
    },
    /// A message was not accepted; the ones before it were (and are
    /// recorded in the state file).
    #[error("{0}")]
    Rejected(Box<Rejection>),
}

/// Details of [`SendError::Rejected`].
#[derive(Debug, thiserror::Error)]
#[error(
    "message {number}/{total} ({subject}) was not sent: the server {endpoint} failed at {stage}: {detail}; {} accepted and recorded in {}; fix the problem and run the same command again to send the rest (sent messages are skipped)",
    match accepted {
        1 => "1 message was".to_string(),
        n => format!("{n} messages were"),
    },
    state_path.display()
)]
pub struct Rejection {
    /// 1-based number of the failed message.
    pub number: usize,
    /// Messages in the series.
    pub total: usize,
    /// Its subject.
    pub subject: String,
    /// `host:port`.
    pub endpoint: String,
    /// SMTP stage (`MAIL FROM`, `RCPT TO:<x>`, `DATA`, `end of DATA`).
    pub stage: String,
    /// The server's answer or the network error.
    pub detail: String,
    /// How many messages the server accepted so far (all runs).
    pub accepted: usize,
    /// The state file.
    pub state_path: PathBuf,
}

/// What to do: print, send, or send to the sender only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Print what would go out (the default).
    DryRun,
    /// Send for real (`--no-dry-run`).
    Send,
    /// Send every message to the sender only (headers unchanged); the
    /// state file is neither read nor written.
    Reflect,
}

/// The options of `kseries send`, one field per flag.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// SERIES_DIR_OR_MBOX.
    pub series: PathBuf,
    /// `--to ADDR` (repeatable; also `sendemail.to`).
    pub to: Vec<String>,
    /// `--cc ADDR` (repeatable; also `sendemail.cc`).
    pub cc: Vec<String>,
    /// `--from ADDR`; else `sendemail.from`, else `user.name <user.email>`.
    pub from: Option<String>,
    /// `--suppress-cc CLASS` (repeatable; also `sendemail.suppressCc`).
    pub suppress_cc: Vec<SuppressCc>,
    /// `--dry-run` (the default anyway; conflicts with send/reflect).
    pub dry_run: bool,
    /// `--no-dry-run`: really send.
    pub send: bool,
    /// `--confirm=<mode>` (or `sendemail.confirm`): ask before sending,
    /// as git send-email does; `never` when unset.
    pub confirm: Option<ConfirmMode>,
    /// `--identity NAME` (or `sendemail.identity`): use the
    /// `sendemail.<NAME>.*` settings before the general ones.
    pub identity: Option<String>,
    /// `--in-reply-to ID`: the first message replies to this one (a v2
    /// sent as a reply to v1's cover letter).
    pub in_reply_to: Option<String>,
    /// `--sendmail-cmd CMD`: send through this sendmail-compatible
    /// command (run by the shell) instead of SMTP.
    pub sendmail_cmd: Option<String>,
    /// `--reflect`: send only to the sender.
    pub reflect: bool,
    /// `--smtp-server HOST`.
    pub smtp_server: Option<String>,
    /// `--smtp-server-port N`.
    pub smtp_server_port: Option<u16>,
    /// `--smtp-encryption tls|ssl|none`.
    pub smtp_encryption: Option<Encryption>,
    /// `--smtp-user USER`.
    pub smtp_user: Option<String>,
    /// The password, if the caller has one; there is no flag for it (the
    /// CLI leaves it `None` and `KSERIES_SMTP_PASS` or `sendemail.smtpPass`
    /// is used).
    pub smtp_pass: Option<Password>,
    /// `--smtp-ca FILE` (or `sendemail.smtpSSLCertPath`).
    pub smtp_ca: Option<PathBuf>,
    /// `--batch-size N`: reconnect after N messages (`sendemail.smtpBatchSize`).
    pub batch_size: Option<usize>,
    /// `--relogin-delay S`: seconds to wait before reconnecting
    /// (`sendemail.smtpReloginDelay`).
    pub relogin_delay: Option<u64>,
    /// `--force`: send even a cover letter that still has format-patch's
    /// `*** SUBJECT HERE ***` / `*** BLURB HERE ***` (git refuses too).
    pub force: bool,
    /// `--verbose`: show the SMTP conversation (never the password).
    pub verbose: bool,
    /// Where git config is read (`-C DIR`); the current directory if None.
    pub git_dir: Option<PathBuf>,
}

impl SendOptions {
    /// The mode the flags ask for.
    pub fn mode(&self) -> Result<Mode, SendError> {
        match (self.dry_run, self.send, self.reflect) {
            (_, true, true) => Err(SendError::Config {
                problem: "--no-dry-run and --reflect both given".into(),
                fix: "use --reflect to send to yourself first, then --no-dry-run".into(),
            }),
            (true, true, _) | (true, _, true) => Err(SendError::Config {
                problem: "--dry-run conflicts with --no-dry-run/--reflect".into(),
                fix: "drop one of them".into(),
            }),
            (_, true, false) => Ok(Mode::Send),
            (_, false, true) => Ok(Mode::Reflect),
            _ => Ok(Mode::DryRun),
        }
    }
}

/// git send-email's `--confirm`: when to ask before sending a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmMode {
    /// Before every message.
    Always,
    /// Never.
    Never,
    /// When the message has Cc recipients (addresses from the patch).
    Cc,
    /// Before the first message of a composed series (kseries composes
    /// none, so never).
    Compose,
    /// `cc`, git's default.
    Auto,
}

impl std::str::FromStr for ConfirmMode {
    type Err = SendError;
    fn from_str(s: &str) -> Result<Self, SendError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "always" => ConfirmMode::Always,
            "never" => ConfirmMode::Never,
            "cc" => ConfirmMode::Cc,
            "compose" => ConfirmMode::Compose,
            "auto" => ConfirmMode::Auto,
            other => {
                return Err(SendError::Config {
                    problem: format!("unknown --confirm mode {other:?}"),
                    fix: "use always, never, cc, compose or auto (as git send-email)".into(),
                });
            }
        })
    }
}

impl ConfirmMode {
    fn asks(self, m: &Outgoing) -> bool {
        match self {
            ConfirmMode::Always => true,
            ConfirmMode::Cc | ConfirmMode::Auto => !m.cc.is_empty(),
            ConfirmMode::Never | ConfirmMode::Compose => false,
        }
    }
}

/// What `send` did.
#[derive(Debug, Clone, Default)]
pub struct SendReport {
    /// Message-Ids accepted by the server in this run.
    pub sent: Vec<String>,
    /// Message-Ids skipped because an earlier run sent them.
    pub skipped: Vec<String>,
    /// The messages as composed (in order), sent or not.
    pub messages: Vec<Outgoing>,
    /// Where the state file is.
    pub state_path: PathBuf,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn parse_addrs(list: &[String], what: &str) -> Result<Vec<address::Mailbox>, SendError> {
    let mut out = Vec::new();
    for s in list {
        let l = address::parse_list(s).map_err(|e| SendError::Config {
            problem: format!("bad {what} address {s:?}: {}", e.0),
            fix: format!("give {what} as 'Name <user@example.org>' or user@example.org"),
        })?;
        out.extend(l);
    }
    Ok(out)
}

/// Compose the messages of a series without sending anything (what a dry
/// run prints).
pub fn compose(opts: &SendOptions) -> Result<(Series, Vec<Outgoing>, GitConfig), SendError> {
    let mode = opts.mode()?;
    let series = series::read_series(&opts.series)?;
    let dir = opts.git_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut cfg = GitConfig::load(&dir)?;
    if let Some(id) = opts
        .identity
        .clone()
        .or_else(|| cfg.get("sendemail.identity").map(str::to_string))
        .filter(|i| !i.trim().is_empty())
    {
        cfg.apply_identity(&id);
    }
    let sender = compose::resolve_sender(opts.from.as_deref(), &cfg, &dir)?;
    let mut to = opts.to.clone();
    to.extend(cfg.get_all("sendemail.to").iter().cloned());
    let mut cc = opts.cc.clone();
    cc.extend(cfg.get_all("sendemail.cc").iter().cloned());
    let mut suppress = opts.suppress_cc.clone();
    if suppress.is_empty() {
        for v in cfg.get_all("sendemail.suppresscc") {
            suppress.push(v.parse()?);
        }
    }
    let input = compose::ComposeInput {
        sender: Some(sender),
        to: parse_addrs(&to, "--to")?,
        cc: parse_addrs(&cc, "--cc")?,
        suppress,
        reflect: mode == Mode::Reflect,
        first_date: now_secs() - series.patches.len() as i64,
        in_reply_to: opts
            .in_reply_to
            .clone()
            .or_else(|| cfg.get("sendemail.inreplyto").map(str::to_string)),
    };
    let msgs = compose::plan(&series, &input)?;
    Ok((series, msgs, cfg))
}

fn print_message(out: &mut dyn Write, m: &Outgoing, total: usize) -> std::io::Result<()> {
    writeln!(
        out,
        "=== message {}/{}: {} ({})",
        m.index + 1,
        total,
        m.subject,
        m.source
    )?;
    writeln!(out, "MAIL FROM:<{}>", m.envelope_from)?;
    for r in &m.recipients {
        writeln!(out, "RCPT TO:<{r}>")?;
    }
    writeln!(out)?;
    out.write_all(&m.bytes)?;
    if !m.bytes.ends_with(b"\n") {
        writeln!(out)?;
    }
    writeln!(out)
}

fn config_number<T: std::str::FromStr>(
    cfg: &GitConfig,
    key: &str,
    flag: &str,
) -> Result<Option<T>, SendError> {
    match cfg.get(key) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| SendError::Config {
            problem: format!("git config {key} = {v:?} is not a number"),
            fix: format!("fix it or pass {flag}"),
        }),
    }
}

/// Refuse a cover letter still holding format-patch's placeholders, as
/// git send-email does.
fn check_templates(series: &Series, pending: &[&Outgoing]) -> Result<(), SendError> {
    for p in pending.iter().map(|m| &series.patches[m.index]) {
        let subj = p.subject().unwrap_or("");
        let blurb = String::from_utf8_lossy(&p.body).contains("*** BLURB HERE ***");
        if subj.contains("*** SUBJECT HERE ***") || blurb {
            return Err(SendError::BadPatch {
                source_name: p.source.clone(),
                problem: "it still has the template text *** SUBJECT HERE *** or *** BLURB HERE ***"
                    .into(),
                fix: "write the cover letter's subject and blurb (or pass --force to send it as it is)"
                    .into(),
            });
        }
    }
    Ok(())
}

/// Run `kseries send`: compose the series, then print it (dry run) or send
/// it, writing human-readable progress to `out`; `--confirm` questions are
/// answered on stdin.
pub fn send(opts: &SendOptions, out: &mut dyn Write) -> Result<SendReport, SendError> {
    send_answering(opts, out, &mut std::io::stdin().lock())
}

/// The answer to "Send this email?".
enum Answer {
    Yes,
    No,
    Quit,
    All,
}

fn ask(m: &Outgoing, total: usize, out: &mut dyn Write, input: &mut dyn BufRead) -> Answer {
    let _ = writeln!(
        out,
        "=== message {}/{total}: {}\nTo: {}\nCc: {}",
        m.index + 1,
        m.subject,
        m.to.iter()
            .map(|a| a.header())
            .collect::<Vec<_>>()
            .join(", "),
        m.cc.iter()
            .map(|a| a.header())
            .collect::<Vec<_>>()
            .join(", ")
    );
    loop {
        let _ = write!(out, "Send this email? ([y]es|[n]o|[q]uit|[a]ll): ");
        let _ = out.flush();
        let mut line = String::new();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => return Answer::Quit,
            Ok(_) => {}
        }
        match line.trim().to_ascii_lowercase().chars().next() {
            Some('y') => return Answer::Yes,
            Some('n') => return Answer::No,
            Some('q') => return Answer::Quit,
            Some('a') => return Answer::All,
            _ => {}
        }
    }
}

/// The server accepted `m`: record it (when really sending) and say so.
#[allow(clippy::too_many_arguments)]
fn accepted(
    mode: Mode,
    state: &mut SentState,
    state_path: &Path,
    m: &Outgoing,
    server: String,
    answer: &str,
    report: &mut SendReport,
    out: &mut dyn Write,
) -> Result<(), SendError> {
    if mode == Mode::Send {
        let recorded = state.record(
            state_path,
            SentRecord {
                message_id: m.message_id.clone(),
                subject: m.subject.clone(),
                source: m.source.clone(),
                recipients: m.recipients.clone(),
                server,
                accepted_at: now_secs() as u64,
            },
        );
        if let Err(e) = recorded {
            return Err(SendError::Config {
                problem: format!(
                    "{} ({}) WAS SENT, but recording it failed: {e}",
                    m.message_id, m.subject
                ),
                fix: format!(
                    "add it to {} by hand (or fix the file system) before running again, or it will be sent twice",
                    state_path.display()
                ),
            });
        }
    }
    report.sent.push(m.message_id.clone());
    writeln!(
        out,
        "Sent {} {} to {} ({})",
        m.message_id,
        m.subject,
        m.recipients.join(", "),
        answer.trim()
    )
    .map_err(|e| SendError::Io {
        what: "cannot write output".into(),
        source: e,
    })
}

/// [`send`], with the answers to `--confirm` read from `input`.
pub fn send_answering(
    opts: &SendOptions,
    out: &mut dyn Write,
    input: &mut dyn BufRead,
) -> Result<SendReport, SendError> {
    let mode = opts.mode()?;
    let (series, msgs, cfg) = compose(opts)?;
    let state_path = series.state_path();
    let total = msgs.len();
    let _lock = if mode == Mode::Send {
        Some(state::SeriesLock::acquire(&state_path)?)
    } else {
        None
    };
    let mut state = if mode == Mode::Reflect {
        SentState::default()
    } else {
        SentState::load(&state_path)?
    };
    let mut report = SendReport {
        state_path: state_path.clone(),
        ..SendReport::default()
    };
    let io = |e| SendError::Io {
        what: "cannot write output".into(),
        source: e,
    };

    for p in series.patches.iter().filter(|p| p.header("Bcc").is_some()) {
        writeln!(
            out,
            "Ignoring the Bcc: header of {}: recipients come from To:, Cc:, the trailers and --to/--cc only",
            p.source
        )
        .map_err(io)?;
    }

    let pending: Vec<&Outgoing> = msgs
        .iter()
        .filter(|m| {
            if state.contains(&m.message_id) {
                report.skipped.push(m.message_id.clone());
                false
            } else {
                true
            }
        })
        .collect();
    for id in &report.skipped {
        writeln!(
            out,
            "Skipping {id}: already sent (recorded in {})",
            state_path.display()
        )
        .map_err(io)?;
    }

    if mode == Mode::DryRun {
        writeln!(
            out,
            "Dry run: {} of {} would be sent; nothing is sent without --no-dry-run (or --reflect).",
            pending.len(),
            crate::words::count(total, "message", "messages")
        )
        .map_err(io)?;
        for m in &pending {
            print_message(out, m, total).map_err(io)?;
        }
        report.messages = msgs;
        return Ok(report);
    }

    if !opts.force {
        check_templates(&series, &pending)?;
    }

    if pending.is_empty() {
        writeln!(
            out,
            "{} already sent; nothing to do.",
            match total {
                1 => "The message was".to_string(),
                n => format!("All {n} messages were"),
            }
        )
        .map_err(io)?;
        report.messages = msgs;
        return Ok(report);
    }

    let confirm = match opts.confirm {
        Some(c) => c,
        None => match cfg.get("sendemail.confirm") {
            Some(v) => v.parse()?,
            None => ConfirmMode::Never,
        },
    };
    let mut asking = confirm != ConfirmMode::Never;
    let mut pending = pending.into_iter();
    // Ask about the next message that `--confirm` lets through; `None`
    // when the user quits or nothing is left.
    let mut next = |out: &mut dyn Write| -> Option<&Outgoing> {
        for m in pending.by_ref() {
            if !(asking && confirm.asks(m)) {
                return Some(m);
            }
            match ask(m, total, out, input) {
                Answer::Yes => return Some(m),
                Answer::No => continue,
                Answer::Quit => return None,
                Answer::All => {
                    asking = false;
                    return Some(m);
                }
            }
        }
        None
    };

    if let Some(program) = config::sendmail(opts, &cfg) {
        let envelope = cfg.get("sendemail.envelopesender").map(str::to_string);
        while let Some(m) = next(out) {
            let envelope = envelope.as_deref().map(|e| match e {
                "auto" => m.envelope_from.as_str(),
                e => e,
            });
            match program.send(m, envelope) {
                Ok(answer) => accepted(
                    mode,
                    &mut state,
                    &state_path,
                    m,
                    program.to_string(),
                    &answer,
                    &mut report,
                    out,
                )?,
                Err(failed) => {
                    let accepted = state.sent.len();
                    return Err(rejected(
                        m,
                        total,
                        program.to_string(),
                        failed,
                        accepted,
                        state_path,
                    ));
                }
            }
        }
        return finish(mode, report, msgs, out);
    }

    let settings = config::smtp_settings(opts, &cfg)?;
    let batch = match opts.batch_size {
        Some(n) => Some(n),
        None => config_number(&cfg, "sendemail.smtpbatchsize", "--batch-size")?,
    }
    .filter(|&n| n > 0);
    let delay = match opts.relogin_delay {
        Some(n) => Some(n),
        None => config_number(&cfg, "sendemail.smtprelogindelay", "--relogin-delay")?,
    }
    .unwrap_or(0);

    // Connect and log in before the first message: a bad server, CA or
    // password fails here with nothing sent.
    let git_dir = opts.git_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut session = match smtp::Session::open(&settings, out, opts.verbose) {
        Ok(s) => {
            config::credential_verdict(&git_dir, &settings, true);
            s
        }
        Err(e) => {
            if matches!(e, SendError::Auth { .. }) {
                config::credential_verdict(&git_dir, &settings, false);
            }
            return Err(e);
        }
    };
    let mut in_batch = 0usize;
    while let Some(m) = next(out) {
        if batch.is_some_and(|b| in_batch >= b) {
            session.quit();
            if delay > 0 {
                if opts.verbose {
                    writeln!(
                        out,
                        "Batch of {in_batch} sent; waiting {delay}s before logging in again"
                    )
                    .map_err(io)?;
                }
                std::thread::sleep(Duration::from_secs(delay));
            }
            session = match smtp::Session::open(&settings, out, opts.verbose) {
                Ok(s) => s,
                Err(e) => {
                    // Earlier messages did go out: say so, not "nothing was sent".
                    let detail = e.to_string();
                    let detail = detail
                        .strip_suffix("; nothing was sent")
                        .unwrap_or(&detail)
                        .to_string();
                    return Err(SendError::Rejected(Box::new(Rejection {
                        number: m.index + 1,
                        total,
                        subject: m.subject.clone(),
                        endpoint: settings.endpoint(),
                        stage: "logging in again after a batch (--batch-size)".into(),
                        detail,
                        accepted: state.sent.len(),
                        state_path,
                    })));
                }
            };
            in_batch = 0;
        }
        match session.send(m, out, opts.verbose) {
            Ok(answer) => {
                in_batch += 1;
                let done = accepted(
                    mode,
                    &mut state,
                    &state_path,
                    m,
                    settings.endpoint(),
                    &answer,
                    &mut report,
                    out,
                );
                if let Err(e) = done {
                    session.quit();
                    return Err(e);
                }
            }
            Err(failed) => {
                session.abort();
                let accepted = state.sent.len();
                return Err(rejected(
                    m,
                    total,
                    settings.endpoint(),
                    failed,
                    accepted,
                    state_path,
                ));
            }
        }
    }
    session.quit();
    finish(mode, report, msgs, out)
}

/// Message `m` was not accepted at `stage` (what went wrong: `detail`).
fn rejected(
    m: &Outgoing,
    total: usize,
    endpoint: String,
    (stage, detail): (String, String),
    accepted: usize,
    state_path: PathBuf,
) -> SendError {
    SendError::Rejected(Box::new(Rejection {
        number: m.index + 1,
        total,
        subject: m.subject.clone(),
        endpoint,
        stage,
        detail,
        accepted,
        state_path,
    }))
}

fn finish(
    mode: Mode,
    mut report: SendReport,
    msgs: Vec<Outgoing>,
    out: &mut dyn Write,
) -> Result<SendReport, SendError> {
    writeln!(
        out,
        "Done: {} sent, {} skipped (already sent){}.",
        report.sent.len(),
        report.skipped.len(),
        if mode == Mode::Reflect {
            ", reflected to the sender only; not recorded"
        } else {
            ""
        }
    )
    .map_err(|e| SendError::Io {
        what: "cannot write output".into(),
        source: e,
    })?;
    report.messages = msgs;
    Ok(report)
}

/// The state file of a series path (directory or mbox), for callers that
/// want to show or check it.
pub fn state_path_for(series: &Path) -> Result<PathBuf, SendError> {
    Ok(series::read_series(series)?.state_path())
}
