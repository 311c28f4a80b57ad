//! The per-process object cache of one token, with indexes on the attributes
//! that callers search by (class, label, id, unique id), so that finding one
//! object among 100,000 does not scan them all.

use crate::object::attr::Template;
use crate::object::{rules, Object};
use cryptoki_sys::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The attributes that are indexed (`CKA_UNIQUE_ID` is the `by_uid` map).
const INDEXED: [CK_ATTRIBUTE_TYPE; 3] = [CKA_LABEL, CKA_ID, CKA_CLASS];

/// A map keyed by handle.
pub(crate) type HandleMap<V> = HashMap<CK_OBJECT_HANDLE, V, Fast>;

/// The hasher of the cache's maps (FxHash). Handles are integers this process
/// hands out; labels, ids and unique ids come from callers who hold the
/// token's PIN, that is from the application itself: SipHash's protection
/// against chosen keys buys nothing here, and costs on every lookup.
pub(crate) type Fast = rustc_hash::FxBuildHasher;

/// Objects of one token (token objects of this process's view, plus session
/// objects), by handle, with secondary indexes.
#[derive(Default)]
pub(crate) struct ObjectCache {
    by_handle: HandleMap<Arc<Object>>,
    by_uid: HashMap<String, CK_OBJECT_HANDLE, Fast>,
    index: HashMap<(CK_ATTRIBUTE_TYPE, Vec<u8>), HashSet<CK_OBJECT_HANDLE, Fast>, Fast>,
}

impl ObjectCache {
    /// The object with this handle.
    pub(crate) fn get(&self, h: CK_OBJECT_HANDLE) -> Option<&Arc<Object>> {
        self.by_handle.get(&h)
    }
    /// The handle of the object with this unique id.
    pub(crate) fn handle_of(&self, uid: &str) -> Option<CK_OBJECT_HANDLE> {
        self.by_uid.get(uid).copied()
    }
    /// Makes room for `n` more objects (before a load of many).
    pub(crate) fn reserve(&mut self, n: usize) {
        self.by_handle.reserve(n);
        self.by_uid.reserve(n);
    }
    /// Adds or replaces an object (by handle).
    pub(crate) fn insert(&mut self, obj: Arc<Object>) {
        self.remove(obj.handle);
        let h = obj.handle;
        for ty in INDEXED {
            if let Some(v) = obj.get(ty) {
                self.index.entry((ty, v.to_vec())).or_default().insert(h);
            }
        }
        self.by_uid.insert(obj.unique_id().to_string(), h);
        self.by_handle.insert(h, obj);
    }
    /// Removes an object; returns it.
    pub(crate) fn remove(&mut self, h: CK_OBJECT_HANDLE) -> Option<Arc<Object>> {
        let obj = self.by_handle.remove(&h)?;
        for ty in INDEXED {
            if let Some(v) = obj.get(ty) {
                let key = (ty, v.to_vec());
                if let Some(set) = self.index.get_mut(&key) {
                    set.remove(&h);
                    if set.is_empty() {
                        self.index.remove(&key);
                    }
                }
            }
        }
        if self.by_uid.get(obj.unique_id()) == Some(&h) {
            self.by_uid.remove(obj.unique_id());
        }
        Some(obj)
    }
    /// Removes every object for which `drop` is true.
    pub(crate) fn retain(&mut self, keep: impl Fn(&Object) -> bool) {
        let gone: Vec<_> = self
            .by_handle
            .values()
            .filter(|o| !keep(o))
            .map(|o| o.handle)
            .collect();
        for h in gone {
            self.remove(h);
        }
    }
    /// All objects.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Object>> {
        self.by_handle.values()
    }
    /// Handles of the objects that match `template` and pass `visible`, in
    /// handle order. Uses the most selective index the template allows.
    pub(crate) fn find(
        &self,
        template: &Template,
        visible: impl Fn(&Object) -> bool,
    ) -> Vec<CK_OBJECT_HANDLE> {
        if let Some(a) = template.iter().find(|a| a.ty == CKA_UNIQUE_ID) {
            // At most one object has a given unique id.
            let one = std::str::from_utf8(&a.value)
                .ok()
                .and_then(|u| self.by_uid.get(u))
                .and_then(|h| self.by_handle.get(h))
                .filter(|o| visible(o) && rules::matches(o, template));
            return one.map(|o| o.handle).into_iter().collect();
        }
        let mut best: Option<&HashSet<CK_OBJECT_HANDLE, Fast>> = None;
        for a in template.iter().filter(|a| INDEXED.contains(&a.ty)) {
            match self.index.get(&(a.ty, a.value.to_vec())) {
                None => return Vec::new(),
                Some(set) if best.is_none_or(|b| set.len() < b.len()) => best = Some(set),
                Some(_) => {}
            }
        }
        let mut out: Vec<CK_OBJECT_HANDLE> = match best {
            Some(set) => set
                .iter()
                .filter_map(|h| self.by_handle.get(h))
                .filter(|o| visible(o) && rules::matches(o, template))
                .map(|o| o.handle)
                .collect(),
            None => self
                .by_handle
                .values()
                .filter(|o| visible(o) && rules::matches(o, template))
                .map(|o| o.handle)
                .collect(),
        };
        out.sort_unstable();
        out
    }
}
