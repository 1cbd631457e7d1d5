//! The "never twice" record: which messages of a series a server accepted.
//!
//! A JSON file beside the series (`.kseries-sent.json` in the directory),
//! rewritten atomically (temporary file, fsync, rename) right after each
//! message is accepted.  It holds Message-Ids, subjects, recipients and
//! times; never a credential.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SendError;

/// One accepted message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SentRecord {
    /// Its Message-Id, with the angle brackets.
    pub message_id: String,
    /// Its Subject header as sent.
    pub subject: String,
    /// The file (or mbox message) it came from.
    pub source: String,
    /// The envelope recipients.
    pub recipients: Vec<String>,
    /// `host:port` of the server that accepted it.
    pub server: String,
    /// Seconds since the epoch when the server accepted it.
    pub accepted_at: u64,
}

/// The whole state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SentState {
    /// Format version of this file.
    pub version: u32,
    /// Accepted messages, in the order they were accepted.
    pub sent: Vec<SentRecord>,
}

impl SentState {
    /// Read the state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<SentState, SendError> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| SendError::State {
                path: path.to_path_buf(),
                problem: format!("it is not a valid kseries state file: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SentState {
                version: 1,
                sent: Vec::new(),
            }),
            Err(e) => Err(SendError::Io {
                what: format!("cannot read state file {}", path.display()),
                source: e,
            }),
        }
    }

    /// Was this Message-Id accepted before?
    pub fn contains(&self, message_id: &str) -> bool {
        self.sent.iter().any(|r| r.message_id == message_id)
    }

    /// Record one more accepted message and write the file atomically.
    pub fn record(&mut self, path: &Path, rec: SentRecord) -> Result<(), SendError> {
        self.version = 1;
        self.sent.push(rec);
        write_atomic(
            path,
            &serde_json::to_vec_pretty(self).expect("serializable"),
        )
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SendError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!("{name}.tmp.{}", std::process::id()));
    let io = |e| SendError::Io {
        what: format!("cannot write state file {}", path.display()),
        source: e,
    };
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.write_all(b"\n").map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// An exclusive lock on a series' state file, so that two `send --confirm`
/// runs on one series cannot both send a message.  An OS lock (`flock`)
/// on `STATE.lock`: it goes with the process that holds it, however that
/// process ends (a crash or kill -9 included), so a re-run never needs a
/// hand to clean up.  The file itself stays (removing it would let a run
/// that opened it before the removal lock an orphan); it names the pid of
/// the last holder.
#[derive(Debug)]
pub struct SeriesLock {
    _file: std::fs::File,
}

impl SeriesLock {
    /// Take the lock, or fail saying who holds it.
    pub fn acquire(state_path: &Path) -> Result<SeriesLock, SendError> {
        let mut name = state_path.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let io = |e| SendError::Io {
            what: format!("cannot lock {}", path.display()),
            source: e,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).map_err(io)?;
                writeln!(file, "{}", std::process::id()).map_err(io)?;
                Ok(SeriesLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                Err(SendError::Locked {
                    lock: path,
                    holder: holder.trim().to_string(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }
}
