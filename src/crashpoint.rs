//! Named points where a crash test can stop kseries, to kill it there.
//!
//! A test runs the real binary with `KSERIES_PAUSE_AT=<point>`; when the
//! run reaches that point it says so on stderr and waits, and the test
//! kills it with SIGKILL: a real crash at a known place, instead of a
//! race against the clock.  Without the variable a point does nothing.

/// The environment variable naming the point to stop at.
pub const ENV: &str = "KSERIES_PAUSE_AT";

/// What is printed on stderr when the process stops at a point.
pub const PAUSED: &str = "kseries: paused at";

/// Stops here for good when `KSERIES_PAUSE_AT` names `point`.
pub fn point(point: &str) {
    if std::env::var_os(ENV).is_some_and(|v| v == point) {
        eprintln!("{PAUSED} {point} (pid {})", std::process::id());
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
