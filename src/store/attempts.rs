//! Login attempts in flight, for a PIN lock-out that counts a process killed
//! during the KDF without counting the tries that are still running.
//!
//! A try at a PIN records a row (principal, process id and start time, where
//! the process id means something, start time of the try) in the same write
//! transaction that checks the lock-out, *before* the KDF runs; the
//! transaction after the KDF removes the row and counts the outcome (a success
//! resets the principal's failed count, a wrong PIN raises it by one).
//!
//! A row whose process is gone (killed during the KDF), or that is older than
//! [`STALE_AFTER_MS`], is *stale*: it is one failed try. The next lock-out
//! check turns stale rows into failures (it deletes them and raises the count,
//! in its transaction). A process that finds its own row gone when it ends
//! knows its try was counted already: a wrong PIN is not counted twice, and a
//! right PIN still resets the count.
//!
//! The lock-out check admits a try only while the failures plus the tries in
//! flight stay below `max_failures`, so that tries started at once in many
//! processes cannot together test more PINs than the limit allows; a try
//! beyond it waits (polling, at most [`WAIT_AT_MOST`]) for one in flight to
//! end. Tries with the right PIN end with a reset, so any number of processes
//! logging in with the right PIN at once all get in.
//!
//! Whether a process is alive is read from `/proc` (Linux): the row's process
//! id must exist, not be a zombie, and have the recorded start time. A row from
//! another boot or another PID namespace (a container sharing the file), or on
//! a system without `/proc`, is judged by its age alone.

use super::backend::AttemptRow;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Age after which a try still in flight counts as failed even if its process
/// looks alive (stopped, hung, or its liveness cannot be checked). Far above
/// any sane KDF cost, so that a live try is not counted early.
pub(crate) const STALE_AFTER_MS: i64 = 5 * 60 * 1000;

/// How long a try waits for room under the lock-out limit before giving up
/// with `CKR_FUNCTION_FAILED`.
pub(crate) const WAIT_AT_MOST: Duration = Duration::from_secs(60);

/// How long a waiting try sleeps between looks.
pub(crate) const POLL: Duration = Duration::from_millis(10);

/// Milliseconds since the Unix epoch (the system clock, never the test clock:
/// every process must agree on the age of a row).
pub(crate) fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// The boot and PID namespace of this process, "" when unknown: process ids
/// of rows with the same origin can be looked up here.
fn origin() -> &'static str {
    static ORIGIN: OnceLock<String> = OnceLock::new();
    ORIGIN.get_or_init(|| {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id");
        let ns = std::fs::read_link("/proc/self/ns/pid");
        match (boot, ns) {
            (Ok(b), Ok(n)) => format!("{}/{}", b.trim(), n.display()),
            _ => String::new(),
        }
    })
}

/// The state letter and start time of a process, from `/proc/<pid>/stat`
/// (`self` for this process); `None` when there is no such process.
fn proc_stat(pid: &str) -> Option<(char, Option<u64>)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold anything, so fields are
    // counted from its closing parenthesis; the start time is field 22.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18).and_then(|f| f.parse().ok());
    Some((state, start))
}

/// The row this process records for a try at `principal`'s PIN.
pub(crate) fn this_try(principal: &str) -> AttemptRow {
    let here = origin();
    AttemptRow {
        id: 0,
        principal: principal.to_string(),
        pid: std::process::id(),
        proc_start: if here.is_empty() {
            None
        } else {
            proc_stat("self").and_then(|(_, start)| start)
        },
        origin: here.to_string(),
        started_ms: now_ms(),
    }
}

/// Whether the process that recorded `a` is still running, as far as this
/// process can tell (`true` when it cannot).
fn alive(a: &AttemptRow) -> bool {
    let here = origin();
    if here.is_empty() || a.origin != here {
        return true;
    }
    match proc_stat(&a.pid.to_string()) {
        None => false,
        Some(('Z' | 'X' | 'x', _)) => false,
        Some((_, start)) => a.proc_start.is_none() || start == a.proc_start,
    }
}

/// Whether a try in flight counts as failed: its process is gone, or it is
/// older (or newer, for a clock that went back) than [`STALE_AFTER_MS`].
pub(crate) fn is_stale(a: &AttemptRow, now_ms: i64) -> bool {
    now_ms.abs_diff(a.started_ms) > STALE_AFTER_MS.unsigned_abs() || !alive(a)
}

/// Splits a principal's tries in flight into (stale, live).
pub(crate) fn split(rows: Vec<AttemptRow>, now_ms: i64) -> (Vec<AttemptRow>, Vec<AttemptRow>) {
    rows.into_iter().partition(|a| is_stale(a, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_its_tries_are_live() {
        let a = this_try("user");
        assert_eq!(a.pid, std::process::id());
        assert!(alive(&a));
        assert!(!is_stale(&a, now_ms()));
    }

    #[test]
    fn old_or_future_tries_are_stale() {
        let mut a = this_try("user");
        a.started_ms = now_ms() - STALE_AFTER_MS - 1000;
        assert!(is_stale(&a, now_ms()));
        a.started_ms = now_ms() + STALE_AFTER_MS + 1000;
        assert!(is_stale(&a, now_ms()));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_finished_process_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let mut a = this_try("user");
        a.pid = pid;
        // Reaped: no such process (a new one with that id started later).
        assert!(!alive(&a));
        // Same process id, another start time: another process.
        let mut b = this_try("user");
        b.proc_start = b.proc_start.map(|s| s + 1);
        assert!(!alive(&b));
        // From another boot or namespace: judged by age only.
        a.origin = "elsewhere".into();
        assert!(alive(&a));
    }
}
