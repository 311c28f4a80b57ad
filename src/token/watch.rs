//! Noticing other processes' commits without asking SQLite on every call.
//!
//! Every call that uses the object cache first makes sure the cache is current
//! (`Token::refresh`). Asking SQLite (`PRAGMA data_version`) costs a statement,
//! a read transaction and two `fcntl` locks, under the store's mutex, so every
//! thread of the process would queue there on every `C_*Init`.
//!
//! A token file is always in WAL mode, and SQLite rewrites the WAL-index header
//! (the first 48 bytes of the `-shm` file, "WAL-Index Header" in
//! <https://www.sqlite.org/walformat.html>) at every commit, by any connection
//! of any process: its change counter (`iChange`) goes up, and the frame count,
//! salts and checksums move with it. A reset or recovery of the WAL changes the
//! salts or the frame count. So when the header reads the same as when the
//! cache was last found current, nobody has committed since, and there is
//! nothing to ask SQLite.
//!
//! The rule: a call that needs the cache reads the header (a few memory
//! loads). When it differs from the mark left by the last check that found the
//! cache current, the call asks SQLite as before, reloads what changed, and
//! leaves as the new mark the header it read *before* asking. A commit by
//! another process that returned before this call started is therefore always
//! seen by it. When the `-shm` file cannot be mapped, every call asks SQLite.
//!
//! The mapping stays valid while the token's own SQLite connection is open:
//! SQLite only truncates or deletes the `-shm` file when no connection has the
//! database open.

use crate::ffi::os::SharedHeader;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of the WAL-index header (one copy).
const HEADER_LEN: usize = 48;

/// The header of one token file's WAL index, and the mark of the last time the
/// cache was found current.
pub struct Watch {
    header: SharedHeader,
    /// A fingerprint of the header; 0 = no mark.
    mark: AtomicU64,
}

impl Watch {
    /// Maps the WAL index of the token file at `db` (its store must be open).
    pub fn open(db: &Path) -> Option<Watch> {
        let mut shm = db.as_os_str().to_os_string();
        shm.push("-shm");
        let header = SharedHeader::open(Path::new(&shm), HEADER_LEN)?;
        Some(Watch {
            header,
            mark: AtomicU64::new(0),
        })
    }

    /// A fingerprint of the header as it is now (never 0).
    pub fn read(&self) -> u64 {
        let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..HEADER_LEN / 8 {
            h = (h ^ self.header.word(i))
                .wrapping_mul(0x100_0000_01b3)
                .rotate_left(29);
        }
        h.max(1)
    }

    /// True when `now` (from [`Watch::read`]) is the mark: nobody committed
    /// since the cache was last found current.
    pub fn unchanged(&self, now: u64) -> bool {
        self.mark.load(Ordering::Acquire) == now
    }

    /// Leaves `before` (read before the check that found the cache current) as
    /// the mark.
    pub fn set(&self, before: u64) {
        self.mark.store(before, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{KdfParams, Store};

    #[test]
    fn a_commit_by_another_connection_moves_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let ours = Store::open(&path).unwrap();
        ours.init_token("t", b"so-pin-1234", &KdfParams::FAST)
            .unwrap();
        let w = Watch::open(&path).expect("the -shm file of a WAL database maps");
        let before = w.read();
        assert_eq!(w.read(), before, "no commit, same header");
        w.set(before);
        assert!(w.unchanged(w.read()));
        // Another connection (as another process would) commits.
        let theirs = Store::open(&path).unwrap();
        theirs
            .append_audit(&[crate::store::audit::AuditRecord::management(
                "C_Test", "so", 0,
            )])
            .unwrap();
        assert!(!w.unchanged(w.read()), "a commit changes the header");
        drop(ours);
    }
}
