//! Objects: their attributes, the rules of the standard for each class and key
//! type, and search.
//!
//! An [`Object`] is immutable once it is in a token's cache (it is shared as
//! `Arc<Object>` with running operations); a change makes a new `Object` that
//! replaces the old one.

pub mod attr;
pub(crate) mod rules;
pub(crate) mod search;
pub(crate) mod table;

use crate::object::attr::{decode_bool, decode_ulong, Attribute, Template};
use cryptoki_sys::*;
use once_cell::sync::OnceCell;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

pub(crate) use crate::store::AttrMap;

/// One PKCS#11 object as the token holds it.
pub struct Object {
    /// The handle this process hands out for it (never reused for another object).
    pub handle: CK_OBJECT_HANDLE,
    /// For a session object, the session that owns it.
    pub session: Option<CK_SESSION_HANDLE>,
    attrs: AttrMap,
    /// Parsed key material (an RSA or EC key, an expanded AES key …), made once
    /// on first use by the mechanism that needs it.
    parsed: OnceCell<Arc<dyn Any + Send + Sync>>,
    /// What the KMS layer parsed from this object (its key policy), made once
    /// on first use (the object is immutable: a changed policy is a new
    /// `Object`).
    kms: OnceCell<Arc<dyn Any + Send + Sync>>,
    /// What the key gate derived from this object (its per-purpose views),
    /// made once on first use.
    gate: OnceCell<Arc<dyn Any + Send + Sync>>,
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("handle", &self.handle)
            .field("class", &self.class())
            .field("attributes", &self.attrs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Object {
    /// An object with these attributes (already validated by [`rules`]).
    pub fn new(
        handle: CK_OBJECT_HANDLE,
        session: Option<CK_SESSION_HANDLE>,
        attrs: AttrMap,
    ) -> Self {
        Object {
            handle,
            session,
            attrs,
            parsed: OnceCell::new(),
            kms: OnceCell::new(),
            gate: OnceCell::new(),
        }
    }
    /// All attributes.
    pub fn attrs(&self) -> &AttrMap {
        &self.attrs
    }
    /// The attributes as a template (a copy).
    pub fn to_template(&self) -> Template {
        self.attrs
            .iter()
            .map(|(t, v)| Attribute::new(*t, v.to_vec()))
            .collect()
    }
    /// A raw attribute value.
    pub fn get(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
        self.attrs.get(&ty).map(|v| v.as_slice())
    }
    /// A `CK_BBOOL` attribute; `None` when absent or malformed.
    pub fn get_bool(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<bool> {
        self.get(ty).and_then(|v| decode_bool(ty, v).ok())
    }
    /// A `CK_BBOOL` attribute with a default for when it is absent.
    pub fn flag(&self, ty: CK_ATTRIBUTE_TYPE, default: bool) -> bool {
        self.get_bool(ty).unwrap_or(default)
    }
    /// A `CK_ULONG` attribute; `None` when absent or malformed.
    pub fn get_ulong(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<CK_ULONG> {
        self.get(ty).and_then(|v| decode_ulong(ty, v).ok())
    }
    /// `CKA_CLASS`.
    pub fn class(&self) -> Option<CK_OBJECT_CLASS> {
        self.get_ulong(CKA_CLASS)
    }
    /// `CKA_KEY_TYPE`.
    pub fn key_type(&self) -> Option<CK_KEY_TYPE> {
        self.get_ulong(CKA_KEY_TYPE)
    }
    /// `CKA_TOKEN`.
    pub fn is_token(&self) -> bool {
        self.flag(CKA_TOKEN, false)
    }
    /// `CKA_PRIVATE`.
    pub fn is_private(&self) -> bool {
        self.flag(CKA_PRIVATE, false)
    }
    /// `CKA_UNIQUE_ID` as a string.
    pub fn unique_id(&self) -> &str {
        self.get(CKA_UNIQUE_ID)
            .and_then(|v| std::str::from_utf8(v).ok())
            .unwrap_or("")
    }
    /// The parsed form of this object's key, made by `make` on first use and kept
    /// for the object's lifetime. `make` must return the same type every time.
    pub fn parsed<T: Any + Send + Sync>(
        &self,
        make: impl FnOnce(&Object) -> crate::error::Result<T>,
    ) -> crate::error::Result<Arc<T>> {
        let any = self
            .parsed
            .get_or_try_init(|| make(self).map(|t| Arc::new(t) as Arc<dyn Any + Send + Sync>))?;
        Arc::clone(any)
            .downcast::<T>()
            .map_err(|_| crate::error::Error::General("parsed key of another type".into()))
    }
    /// The key gate's memo for this object (`crate::gate`), made by `make` on
    /// first use and kept for the object's lifetime.
    pub fn gate_memo<T: Any + Send + Sync>(
        &self,
        make: impl FnOnce() -> crate::error::Result<T>,
    ) -> crate::error::Result<Arc<T>> {
        let any = self
            .gate
            .get_or_try_init(|| make().map(|t| Arc::new(t) as Arc<dyn Any + Send + Sync>))?;
        Arc::clone(any)
            .downcast::<T>()
            .map_err(|_| crate::error::Error::General("gate memo of another type".into()))
    }
    /// The KMS layer's memo for this object (`crate::kms::policy::of`), made
    /// by `make` on first use and kept for the object's lifetime. `make` must
    /// return the same type every time.
    pub fn kms_memo<T: Any + Send + Sync>(
        &self,
        make: impl FnOnce(&Object) -> T,
    ) -> crate::error::Result<Arc<T>> {
        let any = self
            .kms
            .get_or_init(|| Arc::new(make(self)) as Arc<dyn Any + Send + Sync>);
        Arc::clone(any)
            .downcast::<T>()
            .map_err(|_| crate::error::Error::General("KMS memo of another type".into()))
    }
    /// A copy of this object with another handle and owner (for the cache).
    pub fn with_handle(
        &self,
        handle: CK_OBJECT_HANDLE,
        session: Option<CK_SESSION_HANDLE>,
    ) -> Object {
        Object::new(handle, session, self.attrs.clone())
    }
}
