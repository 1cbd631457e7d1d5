//! Dates as mail carries them, from seconds since the epoch, in UTC: the
//! RFC 2822 `Date:` header the way `git format-patch` and `git send-email`
//! write it (`Thu, 1 Jan 1970 00:00:00 +0000`: the day of the month without
//! padding), and b4's `YYYYMMDD` day of a change-id.  The calendar is the
//! `time` crate's.

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

const RFC2822: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day padding:none] [month repr:short] [year] \
     [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
);

const YMD: &[BorrowedFormatItem<'static>] = format_description!("[year][month][day]");

/// The UTC time of `secs` since the epoch.  Times before year -9999 or
/// after 9999 are held at those bounds: no mail carries them.
pub fn utc(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or_else(|_| {
        let bound = if secs < 0 {
            PrimitiveDateTime::MIN
        } else {
            PrimitiveDateTime::MAX
        };
        bound.assume_utc()
    })
}

/// The RFC 2822 date of `secs`, in UTC.
pub fn rfc2822(secs: i64) -> String {
    utc(secs)
        .format(RFC2822)
        .expect("every field of a UTC date formats")
}

/// `YYYYMMDD` of `secs`, in UTC.
pub fn ymd(secs: i64) -> String {
    utc(secs)
        .format(YMD)
        .expect("every field of a UTC date formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2822_as_git_writes_it() {
        assert_eq!(rfc2822(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        // A leap day, and the day before the epoch.
        assert_eq!(rfc2822(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(rfc2822(-1), "Wed, 31 Dec 1969 23:59:59 +0000");
    }

    #[test]
    fn rfc2822_matches_git_for_many_dates() {
        // git's own formatting of the same instants (`git log --date=rfc`
        // is RFC 2822 in the given zone; TZ=UTC makes it +0000).
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path();
        let git = |args: &[&str], env: &[(&str, String)]| {
            crate::git::Git::new(repo)
                .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                .args(args)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .env("TZ", "UTC")
                .text()
                .unwrap()
        };
        git(&["init", "-q"], &[]);
        // Forty years from the epoch, leap days and 2000 among them.
        let secs: Vec<i64> = (0..40).map(|i| 86_400 * 367 * i + 3_601 * i).collect();
        for &s in &secs {
            git(
                &["commit", "-q", "--allow-empty", "-m", "x"],
                &[
                    ("GIT_AUTHOR_DATE", format!("@{s} +0000")),
                    ("GIT_COMMITTER_DATE", format!("@{s} +0000")),
                ],
            );
        }
        let dates = git(&["log", "--reverse", "--format=%ad", "--date=rfc"], &[]);
        let ours: Vec<String> = secs.iter().map(|&s| rfc2822(s)).collect();
        assert_eq!(dates.lines().collect::<Vec<_>>(), ours);
    }

    #[test]
    fn days_for_change_ids() {
        assert_eq!(ymd(0), "19700101");
        assert_eq!(ymd(1_498_996_800), "20170702");
        assert_eq!(ymd(-1), "19691231");
    }

    #[test]
    fn out_of_range_times_are_held_at_the_bounds() {
        assert_eq!(ymd(i64::MAX), "99991231");
        assert_eq!(ymd(i64::MIN), "-99990101");
    }
}
