//! Generated IV counters that never repeat for one key (`docs/kms.md`, "IVs"):
//! message-based AES-GCM with `CKG_GENERATE_COUNTER` or `CKG_GENERATE` takes
//! its counter values from here. A token key's counter lives in the token file
//! and is reserved in blocks, so no two inits, sessions, processes or restarts
//! ever get the same value; a session key, which no other process can see,
//! counts in this process.

use super::Token;
use crate::error::{Error, Result};
use crate::object::Object;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Hands out blocks of counter values for one key that no other block of the
/// same key ever repeats.
pub trait IvSource: Send + Sync {
    /// Reserves `n` counter values; returns the first.
    fn reserve(&self, n: u64) -> Result<u64>;
}

/// A token key's counter, kept in the token file.
struct Stored {
    store: Arc<crate::store::Store>,
    uid: String,
}

impl IvSource for Stored {
    fn reserve(&self, n: u64) -> Result<u64> {
        self.store.reserve_counter(&self.uid, n)
    }
}

/// A session key's counter, in this process.
struct Local {
    uid: String,
}

/// The next counter value of each session key of this process, by unique id.
static LOCAL: Mutex<Option<FxHashMap<String, u64>>> = Mutex::new(None);

impl IvSource for Local {
    fn reserve(&self, n: u64) -> Result<u64> {
        let mut g = LOCAL.lock();
        let next = g
            .get_or_insert_with(FxHashMap::default)
            .entry(self.uid.clone())
            .or_insert(0);
        let first = *next;
        *next = first.checked_add(n).ok_or(Error::KeyFunctionNotPermitted(
            "the key's IV counter is used up".into(),
        ))?;
        Ok(first)
    }
}

/// The counter of a key no other process can see (a session key), by its
/// unique id.
pub(crate) fn local(uid: &str) -> Arc<dyn IvSource> {
    Arc::new(Local {
        uid: uid.to_string(),
    })
}

impl Token {
    /// Where the IV counters of `key` come from (`None` when the token file
    /// cannot be opened).
    pub(crate) fn iv_source(&self, key: &Object) -> Option<Arc<dyn IvSource>> {
        let uid = key.unique_id().to_string();
        if key.is_token() {
            let store = self.store().ok()?;
            Some(Arc::new(Stored { store, uid }))
        } else {
            Some(local(&uid))
        }
    }
}
