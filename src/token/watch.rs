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
//! The rule: a call that needs the cache reads the header (one `pread` of 48
//! bytes). When it differs from the mark left by the last check that found the
//! cache current, the call asks SQLite as before, reloads what changed, and
//! leaves as the new mark the header it read *before* asking. A commit by
//! another process that returned before this call started is therefore always
//! seen by it. When the header cannot be read whole, the call asks SQLite.
//!
//! The header is read with `pread`, not mapped: another process may truncate
//! the `-shm` file (SQLite does when it opens a database nobody else has open),
//! and touching a mapping past the end of a truncated file kills the process
//! with `SIGBUS`; a short read is only "ask SQLite". The file is opened only
//! after the token's own connection has read the database (so that connection
//! has the `-shm` file open): SQLite never deletes or replaces the file while
//! a connection has it open, so the descriptor keeps naming the live index.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of the WAL-index header (one copy).
const HEADER_LEN: usize = 48;

/// The WAL index of one token file, and the mark of the last time the cache
/// was found current.
pub(crate) struct Watch {
    shm: File,
    /// A fingerprint of the header; 0 = no mark.
    mark: AtomicU64,
}

impl Watch {
    /// Opens the WAL index of the token file at `db`; call it only once the
    /// token's own connection has read the database.
    pub(crate) fn open(db: &Path) -> Option<Watch> {
        let mut shm = db.as_os_str().to_os_string();
        shm.push("-shm");
        let shm = File::open(Path::new(&shm)).ok()?;
        Some(Watch {
            shm,
            mark: AtomicU64::new(0),
        })
    }

    /// A fingerprint of the header as it is now; 0 when it cannot be read whole
    /// (0 never counts as unchanged).
    pub(crate) fn read(&self) -> u64 {
        let mut buf = [0u8; HEADER_LEN];
        if self.shm.read_exact_at(&mut buf, 0).is_err() {
            return 0;
        }
        let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
        for word in buf.chunks_exact(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            h = (h ^ u64::from_ne_bytes(w))
                .wrapping_mul(0x100_0000_01b3)
                .rotate_left(29);
        }
        h.max(1)
    }

    /// True when `now` (from [`Watch::read`]) is the mark: nobody committed
    /// since the cache was last found current.
    pub(crate) fn unchanged(&self, now: u64) -> bool {
        now != 0 && self.mark.load(Ordering::Acquire) == now
    }

    /// Leaves `before` (read before the check that found the cache current) as
    /// the mark.
    pub(crate) fn set(&self, before: u64) {
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
        let w = Watch::open(&path).expect("the -shm file of a WAL database opens");
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
        // A truncated index is never "unchanged", and reading it is no fault.
        let mut shm = path.as_os_str().to_os_string();
        shm.push("-shm");
        let copy = dir.path().join("copy-shm");
        std::fs::copy(std::path::Path::new(&shm), &copy).unwrap();
        let cw = Watch {
            shm: File::options().read(true).write(true).open(&copy).unwrap(),
            mark: AtomicU64::new(0),
        };
        let r = cw.read();
        cw.set(r);
        assert!(cw.unchanged(cw.read()));
        cw.shm.set_len(0).unwrap();
        assert_eq!(cw.read(), 0);
        cw.set(0);
        assert!(!cw.unchanged(cw.read()));
        drop(ours);
    }
}
