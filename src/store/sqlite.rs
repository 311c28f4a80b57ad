//! The SQLite backend: all SQL of the store lives in this file.
//!
//! One file per token, WAL mode, `synchronous=FULL`, `secure_delete=ON`, a 10 s busy
//! timeout, write transactions started with `BEGIN IMMEDIATE` (so that a reader
//! never has to upgrade its lock and fail with `SQLITE_BUSY`). The schema version is
//! `PRAGMA user_version`, migrated forward by [`MIGRATIONS`]; `PRAGMA application_id`
//! marks the file as a SoftKMS token.

use crate::error::{Error, Result};
use crate::store::audit::{AuditRecord, Category, ChainPoint, Hash, HASH_LEN};
use crate::store::backend::{
    AttemptRow, Backend, MetaRow, ObjectRow, PrincipalRow, TokenRow, Tx, TxMode,
};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// `PRAGMA application_id` of a SoftKMS token file ("SKMS").
pub(crate) const APPLICATION_ID: i64 = 0x534B_4D53;
/// How long a connection waits for another's write transaction before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Forward migrations: entry `i` takes a file from `user_version` `i` to `i + 1`.
/// Never edit an entry once released; append a new one.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first schema.
    "CREATE TABLE meta (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        epoch           INTEGER NOT NULL,
        generation      INTEGER NOT NULL,
        tombstone_floor INTEGER NOT NULL DEFAULT 0,
        token_uuid      BLOB,
        label           TEXT,
        serial          TEXT,
        tmk_check       BLOB
     );
     INSERT INTO meta (id, epoch, generation) VALUES (1, 0, 0);
     CREATE TABLE principals (
        name          TEXT PRIMARY KEY,
        m_cost_kib    INTEGER NOT NULL,
        t_cost        INTEGER NOT NULL,
        p_cost        INTEGER NOT NULL,
        salt          BLOB NOT NULL,
        wrapped_tmk   BLOB NOT NULL,
        failed_logins INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE objects (
        uid        TEXT PRIMARY KEY,
        private    INTEGER NOT NULL,
        clear      BLOB,
        mac        BLOB,
        sealed     BLOB,
        generation INTEGER NOT NULL
     );
     CREATE INDEX objects_generation ON objects (generation);
     CREATE TABLE tombstones (
        uid        TEXT PRIMARY KEY,
        generation INTEGER NOT NULL
     );
     CREATE INDEX tombstones_generation ON tombstones (generation);",
    // 1 -> 2: the audit log (docs/audit.md). Rows in clear, hash-chained; the meta
    // row keeps the chain head and the retention anchor.
    "CREATE TABLE audit (
        seq         INTEGER PRIMARY KEY,
        time_ms     INTEGER NOT NULL,
        last_ms     INTEGER NOT NULL,
        count       INTEGER NOT NULL,
        category    INTEGER NOT NULL,
        pid         INTEGER NOT NULL,
        principal   TEXT NOT NULL,
        session     INTEGER NOT NULL,
        function    TEXT NOT NULL,
        mechanism   INTEGER,
        key_uid     TEXT,
        key_version INTEGER,
        context     TEXT,
        rv          INTEGER NOT NULL,
        reason      TEXT NOT NULL,
        prev_hash   BLOB NOT NULL,
        hash        BLOB NOT NULL
     );
     CREATE INDEX audit_last_ms ON audit (last_ms);
     ALTER TABLE meta ADD COLUMN audit_head_seq INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE meta ADD COLUMN audit_head_hash BLOB;
     ALTER TABLE meta ADD COLUMN audit_anchor_seq INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE meta ADD COLUMN audit_anchor_hash BLOB;",
    // 2 -> 3: login attempts in flight (src/store/attempts.rs): one row per PIN
    // KDF running, so that a lock-out counts a process killed during it
    // without counting the tries that are still running.
    "CREATE TABLE login_attempts (
        id         INTEGER PRIMARY KEY,
        principal  TEXT NOT NULL,
        pid        INTEGER NOT NULL,
        proc_start INTEGER,
        origin     TEXT NOT NULL,
        started_ms INTEGER NOT NULL
     );
     CREATE INDEX login_attempts_principal ON login_attempts (principal);",
    // 3 -> 4: per-key counters (the generated IV counters of src/token/iv.rs).
    "CREATE TABLE counters (
        uid  TEXT PRIMARY KEY,
        next INTEGER NOT NULL
     );",
    // 4 -> 5: the integrity root (src/store/integrity.rs): bucket digests and
    // their MAC in the meta row; tombstones written without the master key are
    // pending until the next login folds them in.
    "ALTER TABLE meta ADD COLUMN root BLOB;
     ALTER TABLE meta ADD COLUMN root_mac BLOB;
     ALTER TABLE tombstones ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;",
];

/// The migrations, for tests that build an old token file.
#[cfg(test)]
pub(crate) const MIGRATIONS_FOR_TESTS: &[&str] = MIGRATIONS;

/// The schema version this build writes and understands.
pub(crate) fn schema_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Maps a SQLite error: a file that is not a database or is damaged is
/// `CKR_TOKEN_NOT_RECOGNIZED`, everything else (I/O, full disk, permissions, a lock
/// held past the busy timeout) is `CKR_DEVICE_ERROR`.
pub(crate) fn db_err(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
            Error::TokenNotRecognized(e.to_string())
        }
        _ => Error::Device(e.to_string()),
    }
}

fn not_ours(why: &str) -> Error {
    Error::TokenNotRecognized(why.to_string())
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::General("counter out of range".into()))
}

fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::TokenNotRecognized(format!("negative {what}")))
}

fn to_u32(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::TokenNotRecognized(format!("{what} out of range")))
}

/// A token file opened with SQLite.
pub(crate) struct SqliteBackend {
    conn: Connection,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteBackend")
    }
}

/// Creates the parent directories (mode 0700) and the file itself (mode 0600) when
/// missing, so that SQLite (which copies the file's mode to `-wal` and `-shm`)
/// never makes a world-readable token.
fn create_file(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir)
                .map_err(|e| Error::Device(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Device(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

impl SqliteBackend {
    /// Opens (creating when missing) a token file and migrates its schema.
    pub(crate) fn open(path: &Path) -> Result<SqliteBackend> {
        create_file(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(db_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
        // Reading the header first turns a foreign file into TokenNotRecognized
        // before anything tries to write to it.
        let _: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db_err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(db_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Device(format!("cannot use WAL mode (got {mode})")));
        }
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;",
        )
        .map_err(db_err)?;
        let mut b = SqliteBackend { conn };
        b.migrate()?;
        Ok(b)
    }

    /// Checks the file is ours and brings its schema up to date, in one
    /// `BEGIN IMMEDIATE` transaction when anything has to change.
    fn migrate(&mut self) -> Result<()> {
        if self.schema_state()? == SchemaState::Current {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let state = schema_state(&tx)?;
        if let SchemaState::Behind(from) = state {
            let from = usize::try_from(from).map_err(|_| not_ours("bad user_version"))?;
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
                tx.execute_batch(sql).map_err(db_err)?;
                log::info!("token schema migrated to version {}", i + 1);
            }
            tx.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {};",
                schema_version()
            ))
            .map_err(db_err)?;
            if schema_state(&tx)? != SchemaState::Current {
                return Err(Error::General("schema migration did not complete".into()));
            }
        }
        tx.commit().map_err(db_err)
    }

    fn schema_state(&self) -> Result<SchemaState> {
        schema_state(&self.conn)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum SchemaState {
    Current,
    Behind(i64),
}

/// Where a file's schema stands; foreign or newer files are TokenNotRecognized.
fn schema_state(conn: &Connection) -> Result<SchemaState> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err)?;
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(db_err)?;
    if version == 0 {
        // Only an empty database may become a token.
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(db_err)?;
        if tables != 0 || app != 0 {
            return Err(not_ours("database holds foreign tables"));
        }
        return Ok(SchemaState::Behind(0));
    }
    if app != APPLICATION_ID {
        return Err(not_ours("not a SoftKMS token (application_id)"));
    }
    if version < 0 || version > schema_version() {
        return Err(not_ours(&format!(
            "token schema version {version} is newer than this SoftKMS understands ({})",
            schema_version()
        )));
    }
    if version < schema_version() {
        return Ok(SchemaState::Behind(version));
    }
    for table in [
        "meta",
        "principals",
        "objects",
        "tombstones",
        "audit",
        "login_attempts",
    ] {
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        if n != 1 {
            return Err(not_ours(&format!("token file lacks table {table}")));
        }
    }
    let meta: i64 = conn
        .query_row("SELECT count(*) FROM meta WHERE id = 1", [], |r| r.get(0))
        .map_err(db_err)?;
    if meta != 1 {
        return Err(not_ours("token file lacks its meta row"));
    }
    Ok(SchemaState::Current)
}

impl Backend for SqliteBackend {
    fn data_version(&mut self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(db_err)
    }

    fn begin(&mut self, mode: TxMode) -> Result<Box<dyn Tx + '_>> {
        let behavior = match mode {
            TxMode::Read => TransactionBehavior::Deferred,
            TxMode::Write => TransactionBehavior::Immediate,
        };
        let tx = self
            .conn
            .transaction_with_behavior(behavior)
            .map_err(db_err)?;
        Ok(Box::new(SqliteTx { tx }))
    }
}

/// One row's (generation, flag) by uid, from a query that selects exactly
/// those two columns for `?1` (the integrity root's view of objects and
/// tombstones).
fn row_state(tx: &rusqlite::Transaction<'_>, sql: &str, uid: &str) -> Result<Option<(u64, bool)>> {
    let raw: Option<(i64, bool)> = tx
        .prepare_cached(sql)
        .and_then(|mut s| {
            s.query_row([uid], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(db_err)?;
    raw.map(|(g, f)| Ok((to_u64(g, "generation")?, f)))
        .transpose()
}

/// Every row's (uid, generation, flag), from a query that selects those three
/// columns.
fn row_index(tx: &rusqlite::Transaction<'_>, sql: &str) -> Result<Vec<(String, u64, bool)>> {
    let mut s = tx.prepare_cached(sql).map_err(db_err)?;
    let raws = s
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<(String, i64, bool)>>>())
        .map_err(db_err)?;
    raws.into_iter()
        .map(|(u, g, f)| Ok((u, to_u64(g, "generation")?, f)))
        .collect()
}

struct SqliteTx<'c> {
    tx: rusqlite::Transaction<'c>,
}

/// A principal row as read: name, (m, t, p, failed), salt, wrapped TMK.
type RawPrincipal = (String, [i64; 4], Vec<u8>, Vec<u8>);

fn principal_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawPrincipal> {
    Ok((
        r.get(0)?,
        [r.get(1)?, r.get(2)?, r.get(3)?, r.get(6)?],
        r.get(4)?,
        r.get(5)?,
    ))
}

type RawObject = (
    String,
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    i64,
);

fn object_from_raw(raw: RawObject) -> Result<ObjectRow> {
    let (uid, private, clear, mac, sealed, generation) = raw;
    Ok(ObjectRow {
        uid,
        private: private != 0,
        clear,
        mac,
        sealed,
        generation: to_u64(generation, "generation")?,
    })
}

impl Tx for SqliteTx<'_> {
    fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().map_err(db_err)
    }

    fn meta(&mut self) -> Result<MetaRow> {
        type Raw = (
            i64,
            i64,
            i64,
            Option<Vec<u8>>,
            Option<String>,
            Option<String>,
            Option<Vec<u8>>,
        );
        let raw: Option<Raw> = self
            .tx
            .prepare_cached(
                "SELECT epoch, generation, tombstone_floor, token_uuid, label, serial, tmk_check
                 FROM meta WHERE id = 1",
            )
            .and_then(|mut s| {
                s.query_row([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })
                .optional()
            })
            .map_err(db_err)?;
        let (epoch, generation, floor, uuid, label, serial, check) =
            raw.ok_or_else(|| not_ours("token file lacks its meta row"))?;
        let token = match (uuid, label, serial, check) {
            (Some(uuid), Some(label), Some(serial), Some(tmk_check)) => Some(TokenRow {
                uuid: uuid
                    .as_slice()
                    .try_into()
                    .map_err(|_| not_ours("bad token uuid"))?,
                label,
                serial,
                tmk_check,
            }),
            (None, _, _, _) => None,
            _ => return Err(not_ours("incomplete token identity")),
        };
        Ok(MetaRow {
            epoch: to_u64(epoch, "epoch")?,
            generation: to_u64(generation, "generation")?,
            tombstone_floor: to_u64(floor, "tombstone floor")?,
            token,
        })
    }

    fn set_generation(&mut self, generation: u64) -> Result<()> {
        let generation = to_i64(generation)?;
        self.tx
            .prepare_cached("UPDATE meta SET generation = ?1 WHERE id = 1")
            .and_then(|mut s| s.execute([generation]))
            .map_err(db_err)?;
        Ok(())
    }

    fn set_tombstone_floor(&mut self, floor: u64) -> Result<()> {
        let floor = to_i64(floor)?;
        self.tx
            .prepare_cached("UPDATE meta SET tombstone_floor = ?1 WHERE id = 1")
            .and_then(|mut s| s.execute([floor]))
            .map_err(db_err)?;
        Ok(())
    }

    fn set_token(&mut self, epoch: u64, t: &TokenRow) -> Result<()> {
        let epoch = to_i64(epoch)?;
        self.tx
            .prepare_cached(
                "UPDATE meta SET epoch = ?1, token_uuid = ?2, label = ?3, serial = ?4, tmk_check = ?5
                 WHERE id = 1",
            )
            .and_then(|mut s| {
                s.execute(params![epoch, &t.uuid[..], t.label, t.serial, t.tmk_check])
            })
            .map_err(db_err)?;
        Ok(())
    }

    fn wipe(&mut self) -> Result<()> {
        self.tx
            .execute_batch(
                "DELETE FROM objects; DELETE FROM principals; DELETE FROM tombstones;
                 DELETE FROM login_attempts;",
            )
            .map_err(db_err)
    }

    fn principal(&mut self, name: &str) -> Result<Option<PrincipalRow>> {
        let raw = self
            .tx
            .prepare_cached(
                "SELECT name, m_cost_kib, t_cost, p_cost, salt, wrapped_tmk, failed_logins
                 FROM principals WHERE name = ?1",
            )
            .and_then(|mut s| s.query_row([name], principal_from_row).optional())
            .map_err(db_err)?;
        let Some((name, [m, t, p, failed], salt, wrapped_tmk)) = raw else {
            return Ok(None);
        };
        Ok(Some(PrincipalRow {
            name,
            m_cost_kib: to_u32(m, "m_cost")?,
            t_cost: to_u32(t, "t_cost")?,
            p_cost: to_u32(p, "p_cost")?,
            salt,
            wrapped_tmk,
            failed_logins: to_u32(failed, "failed_logins")?,
        }))
    }

    fn principal_names(&mut self) -> Result<Vec<String>> {
        let mut s = self
            .tx
            .prepare_cached("SELECT name FROM principals ORDER BY name")
            .map_err(db_err)?;
        let names = s
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(db_err)?;
        Ok(names)
    }

    fn put_principal(&mut self, p: &PrincipalRow) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO principals
                 (name, m_cost_kib, t_cost, p_cost, salt, wrapped_tmk, failed_logins)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    p.name,
                    p.m_cost_kib,
                    p.t_cost,
                    p.p_cost,
                    p.salt,
                    p.wrapped_tmk,
                    p.failed_logins
                ])
            })
            .map_err(db_err)?;
        Ok(())
    }

    fn set_failed_logins(&mut self, name: &str, count: u32) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached("UPDATE principals SET failed_logins = ?2 WHERE name = ?1")
            .and_then(|mut s| s.execute(params![name, count]))
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn counter(&mut self, uid: &str) -> Result<u64> {
        let next: Option<i64> = self
            .tx
            .prepare_cached("SELECT next FROM counters WHERE uid = ?1")
            .and_then(|mut s| s.query_row([uid], |r| r.get(0)).optional())
            .map_err(db_err)?;
        u64::try_from(next.unwrap_or(0)).map_err(|_| Error::Device("malformed counter".into()))
    }

    fn set_counter(&mut self, uid: &str, next: u64) -> Result<()> {
        let next = i64::try_from(next).map_err(|_| {
            Error::KeyFunctionNotPermitted("the key's IV counter is used up".into())
        })?;
        self.tx
            .prepare_cached(
                "INSERT INTO counters (uid, next) VALUES (?1, ?2)
                 ON CONFLICT (uid) DO UPDATE SET next = excluded.next",
            )
            .and_then(|mut s| s.execute(params![uid, next]))
            .map_err(db_err)?;
        Ok(())
    }

    fn delete_principal(&mut self, name: &str) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM principals WHERE name = ?1")
            .and_then(|mut s| s.execute([name]))
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn login_attempts(&mut self, principal: &str) -> Result<Vec<AttemptRow>> {
        type Raw = (i64, String, i64, Option<i64>, String, i64);
        let raw: Vec<Raw> = self
            .tx
            .prepare_cached(
                "SELECT id, principal, pid, proc_start, origin, started_ms
                 FROM login_attempts WHERE principal = ?1 ORDER BY id",
            )
            .and_then(|mut s| {
                s.query_map([principal], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect()
            })
            .map_err(db_err)?;
        raw.into_iter()
            .map(|(id, principal, pid, proc_start, origin, started_ms)| {
                Ok(AttemptRow {
                    id,
                    principal,
                    pid: to_u32(pid, "login attempt pid")?,
                    proc_start: proc_start
                        .map(|v| to_u64(v, "login attempt start"))
                        .transpose()?,
                    origin,
                    started_ms,
                })
            })
            .collect()
    }

    fn add_login_attempt(&mut self, a: &AttemptRow) -> Result<i64> {
        let proc_start = a.proc_start.map(to_i64).transpose()?;
        self.tx
            .prepare_cached(
                "INSERT INTO login_attempts (principal, pid, proc_start, origin, started_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    a.principal,
                    a.pid,
                    proc_start,
                    a.origin,
                    a.started_ms
                ])
            })
            .map_err(db_err)?;
        Ok(self.tx.last_insert_rowid())
    }

    fn delete_login_attempt(&mut self, id: i64) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM login_attempts WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn delete_login_attempts(&mut self, principal: &str) -> Result<usize> {
        self.tx
            .prepare_cached("DELETE FROM login_attempts WHERE principal = ?1")
            .and_then(|mut s| s.execute([principal]))
            .map_err(db_err)
    }

    fn object_exists(&mut self, uid: &str) -> Result<bool> {
        let n: i64 = self
            .tx
            .prepare_cached("SELECT count(*) FROM objects WHERE uid = ?1")
            .and_then(|mut s| s.query_row([uid], |r| r.get(0)))
            .map_err(db_err)?;
        Ok(n != 0)
    }

    fn object_generation(&mut self, uid: &str) -> Result<Option<u64>> {
        let g: Option<i64> = self
            .tx
            .prepare_cached("SELECT generation FROM objects WHERE uid = ?1")
            .and_then(|mut s| s.query_row([uid], |r| r.get(0)).optional())
            .map_err(db_err)?;
        g.map(|g| to_u64(g, "generation")).transpose()
    }

    fn objects_since(
        &mut self,
        generation: Option<u64>,
        public_only: bool,
    ) -> Result<Vec<ObjectRow>> {
        // -1 selects every row (generations are never negative).
        let since = match generation {
            Some(g) => to_i64(g)?,
            None => -1,
        };
        let mut s = self
            .tx
            .prepare_cached(
                "SELECT uid, private, clear, mac, sealed, generation FROM objects
                 WHERE generation > ?1 AND (?2 = 0 OR private = 0)",
            )
            .map_err(db_err)?;
        // Ordered here rather than by SQLite, whose sorter would copy every
        // row's blobs once more on a full load.
        let mut raws = s
            .query_map(params![since, public_only], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<RawObject>>>())
            .map_err(db_err)?;
        raws.sort_unstable_by(|a, b| (a.5, &a.0).cmp(&(b.5, &b.0)));
        raws.into_iter().map(object_from_raw).collect()
    }

    fn put_object(&mut self, o: &ObjectRow) -> Result<()> {
        let generation = to_i64(o.generation)?;
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO objects (uid, private, clear, mac, sealed, generation)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    o.uid,
                    i64::from(o.private),
                    o.clear,
                    o.mac,
                    o.sealed,
                    generation
                ])
            })
            .map_err(db_err)?;
        self.tx
            .prepare_cached("DELETE FROM tombstones WHERE uid = ?1")
            .and_then(|mut s| s.execute([&o.uid]))
            .map_err(db_err)?;
        Ok(())
    }

    fn set_object_mac(&mut self, uid: &str, generation: u64, mac: &[u8]) -> Result<bool> {
        let generation = to_i64(generation)?;
        let n = self
            .tx
            .prepare_cached(
                "UPDATE objects SET mac = ?3 WHERE uid = ?1 AND generation = ?2 AND mac IS NULL",
            )
            .and_then(|mut s| s.execute(params![uid, generation, mac]))
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn delete_object(&mut self, uid: &str, generation: u64) -> Result<bool> {
        let generation = to_i64(generation)?;
        let n = self
            .tx
            .prepare_cached("DELETE FROM objects WHERE uid = ?1")
            .and_then(|mut s| s.execute([uid]))
            .map_err(db_err)?;
        if n == 0 {
            return Ok(false);
        }
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO tombstones (uid, generation) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![uid, generation]))
            .map_err(db_err)?;
        Ok(true)
    }

    fn tombstones_since(&mut self, generation: u64) -> Result<Vec<String>> {
        let mut s = self
            .tx
            .prepare_cached(
                "SELECT uid FROM tombstones WHERE generation > ?1 ORDER BY generation, uid",
            )
            .map_err(db_err)?;
        let uids = s
            .query_map([to_i64(generation)?], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(db_err)?;
        Ok(uids)
    }

    fn prune_tombstones(&mut self, generation: u64) -> Result<usize> {
        let generation = to_i64(generation)?;
        self.tx
            .prepare_cached("DELETE FROM tombstones WHERE generation <= ?1")
            .and_then(|mut s| s.execute([generation]))
            .map_err(db_err)
    }

    fn audit_head(&mut self) -> Result<ChainPoint> {
        self.chain_point("SELECT audit_head_seq, audit_head_hash FROM meta WHERE id = 1")
    }

    fn set_audit_head(&mut self, head: &ChainPoint) -> Result<()> {
        self.set_chain_point(
            "UPDATE meta SET audit_head_seq = ?1, audit_head_hash = ?2 WHERE id = 1",
            head,
        )
    }

    fn audit_anchor(&mut self) -> Result<ChainPoint> {
        self.chain_point("SELECT audit_anchor_seq, audit_anchor_hash FROM meta WHERE id = 1")
    }

    fn set_audit_anchor(&mut self, anchor: &ChainPoint) -> Result<()> {
        self.set_chain_point(
            "UPDATE meta SET audit_anchor_seq = ?1, audit_anchor_hash = ?2 WHERE id = 1",
            anchor,
        )
    }

    fn put_audit(&mut self, r: &AuditRecord) -> Result<()> {
        let opt = |v: Option<u64>| v.map(to_i64).transpose();
        let ints = [
            to_i64(r.seq)?,
            to_i64(r.count)?,
            to_i64(r.session)?,
            to_i64(r.rv)?,
        ];
        let (mechanism, key_version) = (opt(r.mechanism)?, opt(r.key_version)?);
        self.tx
            .prepare_cached(
                "INSERT INTO audit (seq, time_ms, last_ms, count, category, pid, principal,
                    session, function, mechanism, key_uid, key_version, context, rv, reason,
                    prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    ints[0],
                    r.time_ms,
                    r.last_ms,
                    ints[1],
                    r.category.code(),
                    r.pid,
                    r.principal,
                    ints[2],
                    r.function,
                    mechanism,
                    r.key_uid,
                    key_version,
                    r.context,
                    ints[3],
                    r.reason,
                    &r.prev_hash[..],
                    &r.hash[..],
                ])
            })
            .map_err(db_err)?;
        Ok(())
    }

    fn audit_records(&mut self, after: u64, limit: usize) -> Result<Vec<AuditRecord>> {
        let mut s = self
            .tx
            .prepare_cached(
                "SELECT seq, time_ms, last_ms, count, category, pid, principal, session,
                    function, mechanism, key_uid, key_version, context, rv, reason,
                    prev_hash, hash
                 FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(db_err)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raws = s
            .query_map(params![to_i64(after)?, limit], |r| {
                Ok(RawAudit {
                    ints: [
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(7)?,
                        r.get(13)?,
                    ],
                    principal: r.get(6)?,
                    function: r.get(8)?,
                    mechanism: r.get(9)?,
                    key_uid: r.get(10)?,
                    key_version: r.get(11)?,
                    context: r.get(12)?,
                    reason: r.get(14)?,
                    prev_hash: r.get(15)?,
                    hash: r.get(16)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<RawAudit>>>())
            .map_err(db_err)?;
        Ok(raws.into_iter().map(audit_from_raw).collect())
    }

    fn audit_last_before(&mut self, time_ms: i64) -> Result<Option<u64>> {
        let v: Option<i64> = self
            .tx
            .prepare_cached("SELECT max(seq) FROM audit WHERE last_ms < ?1")
            .and_then(|mut s| s.query_row([time_ms], |r| r.get(0)))
            .map_err(db_err)?;
        v.map(|v| to_u64(v, "audit seq")).transpose()
    }

    fn audit_last_at_or_below(&mut self, seq: u64) -> Result<Option<ChainPoint>> {
        let seq_i = to_i64(seq)?;
        let raw: Option<(i64, Vec<u8>)> = self
            .tx
            .prepare_cached("SELECT seq, hash FROM audit WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1")
            .and_then(|mut s| {
                s.query_row([seq_i], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(db_err)?;
        raw.map(|(seq, hash)| {
            Ok(ChainPoint {
                seq: to_u64(seq, "audit seq")?,
                hash: to_hash(Some(hash)),
            })
        })
        .transpose()
    }

    fn root(&mut self) -> Result<crate::store::backend::StoredRoot> {
        self.tx
            .prepare_cached("SELECT root, root_mac FROM meta WHERE id = 1")
            .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(db_err)
    }

    fn set_root(&mut self, root: Option<&[u8]>, mac: Option<&[u8]>) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE meta SET root = ?1, root_mac = ?2 WHERE id = 1")
            .and_then(|mut s| s.execute(params![root, mac]))
            .map_err(db_err)?;
        Ok(())
    }

    fn object_state(&mut self, uid: &str) -> Result<Option<(u64, bool)>> {
        row_state(
            &self.tx,
            "SELECT generation, mac IS NOT NULL FROM objects WHERE uid = ?1",
            uid,
        )
    }

    fn object_index(&mut self) -> Result<Vec<(String, u64, bool)>> {
        row_index(
            &self.tx,
            "SELECT uid, generation, mac IS NOT NULL FROM objects",
        )
    }

    fn replace_object_mac(&mut self, uid: &str, generation: u64, mac: &[u8]) -> Result<bool> {
        let generation = to_i64(generation)?;
        let n = self
            .tx
            .prepare_cached("UPDATE objects SET mac = ?3 WHERE uid = ?1 AND generation = ?2")
            .and_then(|mut s| s.execute(params![uid, generation, mac]))
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn tombstone_state(&mut self, uid: &str) -> Result<Option<(u64, bool)>> {
        row_state(
            &self.tx,
            "SELECT generation, pending != 0 FROM tombstones WHERE uid = ?1",
            uid,
        )
    }

    fn tombstone_index(&mut self) -> Result<Vec<(String, u64, bool)>> {
        row_index(
            &self.tx,
            "SELECT uid, generation, pending != 0 FROM tombstones",
        )
    }

    fn set_tombstone_pending(&mut self, uid: &str, pending: bool) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached("UPDATE tombstones SET pending = ?2 WHERE uid = ?1")
            .and_then(|mut s| s.execute(params![uid, i64::from(pending)]))
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn counter_row(&mut self, uid: &str) -> Result<Option<u64>> {
        let next: Option<i64> = self
            .tx
            .prepare_cached("SELECT next FROM counters WHERE uid = ?1")
            .and_then(|mut s| s.query_row([uid], |r| r.get(0)).optional())
            .map_err(db_err)?;
        next.map(|n| to_u64(n, "counter")).transpose()
    }

    fn counter_index(&mut self) -> Result<Vec<(String, u64)>> {
        let mut s = self
            .tx
            .prepare_cached("SELECT uid, next FROM counters")
            .map_err(db_err)?;
        let raws = s
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<(String, i64)>>>())
            .map_err(db_err)?;
        raws.into_iter()
            .map(|(u, n)| Ok((u, to_u64(n, "counter")?)))
            .collect()
    }

    fn delete_audit_through(&mut self, seq: u64) -> Result<usize> {
        let seq = to_i64(seq)?;
        self.tx
            .prepare_cached("DELETE FROM audit WHERE seq <= ?1")
            .and_then(|mut s| s.execute([seq]))
            .map_err(db_err)
    }
}

/// An audit row as read: seq, time, last, count, category, pid, session, rv.
struct RawAudit {
    ints: [i64; 8],
    principal: String,
    function: String,
    mechanism: Option<i64>,
    key_uid: Option<String>,
    key_version: Option<i64>,
    context: Option<String>,
    reason: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

/// A stored hash; a blob of the wrong length (a damaged row) reads as all zeros,
/// which verification then reports.
fn to_hash(v: Option<Vec<u8>>) -> Hash {
    v.and_then(|b| <[u8; HASH_LEN]>::try_from(b.as_slice()).ok())
        .unwrap_or([0; HASH_LEN])
}

/// Integers are read as stored (two's complement): a row edited to a negative
/// value still reads, and verification reports it as changed.
#[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
fn audit_from_raw(r: RawAudit) -> AuditRecord {
    let [seq, time_ms, last_ms, count, category, pid, session, rv] = r.ints;
    AuditRecord {
        seq: seq as u64,
        time_ms,
        last_ms,
        count: count as u64,
        category: Category::from_code(category),
        pid: pid as u32,
        principal: r.principal,
        session: session as u64,
        function: r.function,
        mechanism: r.mechanism.map(|v| v as u64),
        key_uid: r.key_uid,
        key_version: r.key_version.map(|v| v as u64),
        context: r.context,
        rv: rv as u64,
        reason: r.reason,
        prev_hash: to_hash(Some(r.prev_hash)),
        hash: to_hash(Some(r.hash)),
    }
}

impl SqliteTx<'_> {
    fn chain_point(&mut self, sql: &str) -> Result<ChainPoint> {
        let (seq, hash): (i64, Option<Vec<u8>>) = self
            .tx
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
            .map_err(db_err)?;
        Ok(ChainPoint {
            seq: to_u64(seq, "audit seq")?,
            hash: to_hash(hash),
        })
    }

    /// Writes a (sequence, hash) pair of the meta row with `sql` (`?1`, `?2`).
    fn set_chain_point(&mut self, sql: &str, p: &ChainPoint) -> Result<()> {
        let seq = to_i64(p.seq)?;
        self.tx
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params![seq, &p.hash[..]]))
            .map_err(db_err)?;
        Ok(())
    }
}
