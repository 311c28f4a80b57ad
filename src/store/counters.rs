//! Per-key counters kept in the token file (the IV counters of
//! `crate::token::iv`): each reservation is its own write transaction, so
//! concurrent processes get disjoint blocks.

use super::Store;
use crate::error::{Error, Result};

impl Store {
    /// Reserves `n` values of the counter named `uid` and returns the first;
    /// the next reservation starts after them. A counter that would pass
    /// `u64::MAX` is refused.
    pub fn reserve_counter(&self, uid: &str, n: u64) -> Result<u64> {
        if self.counter_refused(uid) {
            return Err(Error::KeyFunctionNotPermitted(
                "the key's IV counter does not match the token's integrity root".into(),
            ));
        }
        self.write(|tx, _, _| {
            let first = tx.counter(uid)?;
            let next = first.checked_add(n).ok_or_else(|| {
                Error::KeyFunctionNotPermitted("the key's IV counter is used up".into())
            })?;
            tx.set_counter(uid, next)?;
            Ok(first)
        })
        .map(|(first, _)| first)
    }
}
