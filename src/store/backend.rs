//! The plain row backend under the sealing layer.
//!
//! A [`Backend`] stores rows and knows nothing about encryption: the sealing layer
//! ([`crate::store::Store`]) hands it blobs that are already sealed or MACed. Every
//! read and write happens inside a transaction ([`Tx`]); a write transaction that is
//! dropped without [`Tx::commit`] is rolled back. SQLite is the one implementation
//! ([`crate::store::sqlite`]); a server-grade backend (PostgreSQL, …) would implement
//! the same two traits.

use crate::error::Result;
use crate::store::audit::{AuditRecord, ChainPoint};

/// Whether a transaction will write. Write transactions take the write lock at the
/// start (SQLite `BEGIN IMMEDIATE`), so that two writers never deadlock on a lock
/// upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    /// Reads only; sees one consistent snapshot.
    Read,
    /// Reads and writes.
    Write,
}

/// The single meta row of a token file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaRow {
    /// Random value changed by every token initialization.
    pub epoch: u64,
    /// Incremented by every write transaction.
    pub generation: u64,
    /// Tombstones at or below this generation have been pruned: a reader that last
    /// looked at an older generation must reload everything.
    pub tombstone_floor: u64,
    /// The token's identity, `None` while the token is not initialized.
    pub token: Option<TokenRow>,
}

/// The identity of an initialized token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Random token id, part of every AAD.
    pub uuid: [u8; 16],
    /// The token label (at most 32 bytes).
    pub label: String,
    /// The serial number (16 characters).
    pub serial: String,
    /// A sealed empty blob that proves a TMK belongs to this token.
    pub tmk_check: Vec<u8>,
}

/// One principal row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRow {
    /// The principal's name ("so", "user", or a named principal).
    pub name: String,
    /// Argon2id memory cost in KiB.
    pub m_cost_kib: u32,
    /// Argon2id passes.
    pub t_cost: u32,
    /// Argon2id lanes.
    pub p_cost: u32,
    /// The random KDF salt.
    pub salt: Vec<u8>,
    /// The TMK wrapped under the PIN-derived key.
    pub wrapped_tmk: Vec<u8>,
    /// Consecutive failed logins.
    pub failed_logins: u32,
}

/// A login attempt in flight: recorded before the PIN KDF runs and removed
/// when its outcome is counted (`src/store/attempts.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    /// The row id (ignored when adding a row).
    pub id: i64,
    /// The principal whose PIN is being tried.
    pub principal: String,
    /// The process that runs the KDF.
    pub pid: u32,
    /// That process's start time (clock ticks since boot), when known: tells
    /// the process apart from a later one with the same id.
    pub proc_start: Option<u64>,
    /// Where `pid` means something: the boot and PID namespace of the process
    /// (empty when unknown).
    pub origin: String,
    /// When the attempt started, in milliseconds since the Unix epoch.
    pub started_ms: i64,
}

/// One object row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRow {
    /// The object's unique id.
    pub uid: String,
    /// `CKA_PRIVATE`.
    pub private: bool,
    /// The clear attribute blob of a public object.
    pub clear: Option<Vec<u8>>,
    /// The MAC of a public object; `None` when written without a TMK.
    pub mac: Option<Vec<u8>>,
    /// The sealed attribute blob.
    pub sealed: Option<Vec<u8>>,
    /// The generation of the transaction that wrote the row.
    pub generation: u64,
}

/// The integrity root as stored: bucket digests and their MAC, each `None`
/// before the first.
pub(crate) type StoredRoot = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A storage backend: hands out transactions.
pub trait Backend: Send {
    /// A number that changes when another connection commits (SQLite
    /// `PRAGMA data_version`); cheap, runs before every operation.
    fn data_version(&mut self) -> Result<i64>;
    /// Starts a transaction.
    fn begin(&mut self, mode: TxMode) -> Result<Box<dyn Tx + '_>>;
}

/// One transaction. Dropping it without [`Tx::commit`] rolls it back.
pub trait Tx {
    /// Makes the transaction's changes durable.
    fn commit(self: Box<Self>) -> Result<()>;

    /// The meta row.
    fn meta(&mut self) -> Result<MetaRow>;
    /// Sets the generation counter.
    fn set_generation(&mut self, generation: u64) -> Result<()>;
    /// Sets the tombstone floor.
    fn set_tombstone_floor(&mut self, floor: u64) -> Result<()>;
    /// Sets a new epoch and token identity.
    fn set_token(&mut self, epoch: u64, token: &TokenRow) -> Result<()>;

    /// Deletes every object, principal, login attempt and tombstone.
    fn wipe(&mut self) -> Result<()>;

    /// One principal.
    fn principal(&mut self, name: &str) -> Result<Option<PrincipalRow>>;
    /// The names of all principals, sorted.
    fn principal_names(&mut self) -> Result<Vec<String>>;
    /// Inserts or replaces a principal.
    fn put_principal(&mut self, row: &PrincipalRow) -> Result<()>;
    /// Sets a principal's failed-login count; false when it does not exist.
    fn set_failed_logins(&mut self, name: &str, count: u32) -> Result<bool>;
    /// Deletes a principal; false when it did not exist.
    fn delete_principal(&mut self, name: &str) -> Result<bool>;

    /// The login attempts in flight for a principal, oldest first.
    fn login_attempts(&mut self, principal: &str) -> Result<Vec<AttemptRow>>;
    /// Records a login attempt in flight; returns its row id.
    fn add_login_attempt(&mut self, row: &AttemptRow) -> Result<i64>;
    /// Removes one login attempt; false when it was not there (any more).
    fn delete_login_attempt(&mut self, id: i64) -> Result<bool>;
    /// Removes every login attempt of a principal; returns how many.
    fn delete_login_attempts(&mut self, principal: &str) -> Result<usize>;

    /// Whether an object row exists.
    fn object_exists(&mut self, uid: &str) -> Result<bool>;
    /// The generation that wrote an object row; `None` when there is no such row.
    fn object_generation(&mut self, uid: &str) -> Result<Option<u64>>;
    /// Object rows written after `generation` (all rows for `None`).
    fn objects_since(
        &mut self,
        generation: Option<u64>,
        public_only: bool,
    ) -> Result<Vec<ObjectRow>>;
    /// Inserts or replaces an object row (by uid) and drops its tombstone, if any.
    fn put_object(&mut self, row: &ObjectRow) -> Result<()>;
    /// Fills in a missing MAC if the row is still the one written at `generation`;
    /// false when it changed meanwhile.
    fn set_object_mac(&mut self, uid: &str, generation: u64, mac: &[u8]) -> Result<bool>;
    /// Deletes an object row and records a tombstone at `generation`; false when
    /// there was no such row.
    fn delete_object(&mut self, uid: &str, generation: u64) -> Result<bool>;
    /// The uids of tombstones written after `generation`.
    fn tombstones_since(&mut self, generation: u64) -> Result<Vec<String>>;
    /// Deletes tombstones at or below `generation`; returns how many.
    fn prune_tombstones(&mut self, generation: u64) -> Result<usize>;

    /// The audit chain head (`seq` 0 and a zero hash before the first record).
    fn audit_head(&mut self) -> Result<ChainPoint>;
    /// Sets the audit chain head.
    fn set_audit_head(&mut self, head: &ChainPoint) -> Result<()>;
    /// The audit retention anchor (the newest pruned record).
    fn audit_anchor(&mut self) -> Result<ChainPoint>;
    /// Sets the audit retention anchor.
    fn set_audit_anchor(&mut self, anchor: &ChainPoint) -> Result<()>;
    /// Inserts one audit record (numbered and hashed by the caller).
    fn put_audit(&mut self, record: &AuditRecord) -> Result<()>;
    /// Audit records with a sequence number above `after`, at most `limit`, in order.
    fn audit_records(&mut self, after: u64, limit: usize) -> Result<Vec<AuditRecord>>;
    /// The sequence number of the newest record whose last event is before `time_ms`.
    fn audit_last_before(&mut self, time_ms: i64) -> Result<Option<u64>>;
    /// The newest record at or below `seq`, as a chain point.
    fn audit_last_at_or_below(&mut self, seq: u64) -> Result<Option<ChainPoint>>;
    /// Deletes the audit records at or below `seq`; returns how many.
    fn delete_audit_through(&mut self, seq: u64) -> Result<usize>;
    /// The next value of the counter named `uid` (0 for a new counter).
    fn counter(&mut self, uid: &str) -> Result<u64>;
    /// Sets the next value of the counter named `uid`.
    fn set_counter(&mut self, uid: &str, next: u64) -> Result<()>;

    /// The integrity root's bucket digests and MAC (`None` before the first).
    fn root(&mut self) -> Result<StoredRoot>;
    /// Sets the integrity root's bucket digests and MAC.
    fn set_root(&mut self, root: Option<&[u8]>, mac: Option<&[u8]>) -> Result<()>;
    /// An object row's generation and whether it has a MAC; `None` when absent.
    fn object_state(&mut self, uid: &str) -> Result<Option<(u64, bool)>>;
    /// Every object row's uid, generation and whether it has a MAC.
    fn object_index(&mut self) -> Result<Vec<(String, u64, bool)>>;
    /// Sets a row's MAC (whatever it was) if it is still the one written at
    /// `generation`; false when it is not.
    fn replace_object_mac(&mut self, uid: &str, generation: u64, mac: &[u8]) -> Result<bool>;
    /// A tombstone's generation and whether it is pending; `None` when absent.
    fn tombstone_state(&mut self, uid: &str) -> Result<Option<(u64, bool)>>;
    /// Every tombstone's uid, generation and pending flag.
    fn tombstone_index(&mut self) -> Result<Vec<(String, u64, bool)>>;
    /// Marks a tombstone pending (written without the master key) or not.
    fn set_tombstone_pending(&mut self, uid: &str, pending: bool) -> Result<bool>;
    /// A counter's next value; `None` when there is no such counter row.
    fn counter_row(&mut self, uid: &str) -> Result<Option<u64>>;
    /// Every counter row.
    fn counter_index(&mut self) -> Result<Vec<(String, u64)>>;
}
