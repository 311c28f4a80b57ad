//! Key aliases (AWS KMS's `CreateAlias`, `UpdateAlias`, `DeleteAlias`,
//! `ListAliases`): `alias/NAME` objects of the vendor class
//! `CKO_SOFTKMS_ALIAS`, unique on the token and re-pointable
//! (`docs/vendor-abi.md`, "Aliases"). Each change needs `ManageKey` on the
//! key the alias points at, and is audited under that key.

use super::error::{Error, ErrorKind, Result};
use super::keys::{KeyId, KeyRef};
use super::session::{label as label_attr, Token};
use crate::abi::{CKA_SOFTKMS_ALIAS_TARGET, CKO_SOFTKMS_ALIAS};
use crate::error::Error as ModuleError;
use crate::kms::aliases::{check_name, PREFIX};
use crate::object::attr::Attribute;
use cryptoki_sys::*;

/// An alias: a name for a key, re-pointable ([`Token::update_alias`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AliasInfo {
    /// Its name, `alias/NAME`.
    pub name: String,
    /// The key it points at.
    pub target_key_id: KeyId,
}

/// The rule of alias names, in words.
const NAME_RULE: &str = "alias names are alias/ followed by letters, digits, /, _ and - \
     (at most 256 characters), and alias/aws/ is reserved";

/// `name` with its `alias/` prefix (added when missing), checked.
fn alias_name(name: &str) -> Result<String> {
    let full = if name.starts_with(PREFIX) {
        name.to_string()
    } else {
        format!("{PREFIX}{name}")
    };
    check_name(&full).map_err(|why| Error::invalid(format!("{why}: {NAME_RULE}")))?;
    Ok(full)
}

impl Token {
    /// The alias object named `name` (checked, with its prefix).
    fn alias_handle(&self, name: &str) -> Result<CK_OBJECT_HANDLE> {
        let t = vec![
            Attribute::ulong(CKA_CLASS, CKO_SOFTKMS_ALIAS),
            label_attr(name),
        ];
        self.find(&t, 1)?
            .first()
            .copied()
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no alias {name}")))
    }

    /// The key the alias `name` points at (for [`KeyRef::Alias`]).
    pub(super) fn alias_key_handle(&self, name: &str) -> Result<CK_OBJECT_HANDLE> {
        let name = alias_name(name)?;
        let a = self.alias_handle(&name)?;
        let target = self.text(a, CKA_SOFTKMS_ALIAS_TARGET).unwrap_or_default();
        self.key_by_id(&KeyId::new(target.as_str()))?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("{name} points at key {target}, which no longer exists"),
                )
            })
    }

    /// The key (secret key, or private key of a pair) whose id is `id`.
    pub(super) fn key_by_id(&self, id: &KeyId) -> Result<Option<CK_OBJECT_HANDLE>> {
        if id.as_str().is_empty() {
            return Ok(None);
        }
        Ok(self.handle_by_id(id)?.filter(|k| {
            matches!(
                self.ulong(*k, CKA_CLASS),
                Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY)
            )
        }))
    }

    /// The handle and id of the key an alias may point at.
    fn alias_target(&self, key: &KeyRef) -> Result<(CK_OBJECT_HANDLE, KeyId)> {
        let k = self.key_handle(key)?;
        if !matches!(
            self.ulong(k, CKA_CLASS),
            Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY)
        ) {
            return Err(Error::invalid(format!(
                "{key} is not a key an alias can point at: a secret key, or the private key \
                 of a pair"
            )));
        }
        let id = self.text(k, CKA_UNIQUE_ID).unwrap_or_default();
        Ok((k, KeyId::new(id)))
    }

    /// Makes the alias `name` (`alias/` is added when missing) for `key`
    /// (AWS KMS's `CreateAlias`). Needs `ManageKey` on the key; a name in use
    /// is [`ErrorKind::InvalidInput`] (re-point it with
    /// [`Token::update_alias`]).
    pub fn create_alias(&self, name: &str, key: &KeyRef) -> Result<AliasInfo> {
        let name = alias_name(name)?;
        let _g = self.take();
        let (k, id) = self.alias_target(key)?;
        let t = vec![
            Attribute::ulong(CKA_CLASS, CKO_SOFTKMS_ALIAS),
            label_attr(&name),
            Attribute::new(CKA_SOFTKMS_ALIAS_TARGET, id.as_str().as_bytes().to_vec()),
            Attribute::bool(CKA_TOKEN, true),
            Attribute::bool(CKA_PRIVATE, true),
        ];
        match self.m().create_object(self.h(), &t) {
            Ok(_) => Ok(AliasInfo {
                name,
                target_key_id: id,
            }),
            Err(e @ ModuleError::AttributeValueInvalid(CKA_LABEL)) => Err(Error::from(e)
                .with_message(format!("{name} already exists: use update to re-point it"))),
            Err(e) => Err(self.alias_refusal(k, &name, e)),
        }
    }

    /// Points the alias `name` at `key` (AWS KMS's `UpdateAlias`). Needs
    /// `ManageKey` on the key it pointed at and on `key`.
    pub fn update_alias(&self, name: &str, key: &KeyRef) -> Result<AliasInfo> {
        let name = alias_name(name)?;
        let _g = self.take();
        let a = self.alias_handle(&name)?;
        let (k, id) = self.alias_target(key)?;
        let t = vec![Attribute::new(
            CKA_SOFTKMS_ALIAS_TARGET,
            id.as_str().as_bytes().to_vec(),
        )];
        match self.m().set_attributes(self.h(), a, &t) {
            Ok(()) => Ok(AliasInfo {
                name,
                target_key_id: id,
            }),
            Err(e) => Err(self.alias_refusal(k, &name, e)),
        }
    }

    /// Removes the alias `name` (AWS KMS's `DeleteAlias`); the key stays.
    /// Needs `ManageKey` on the key it points at, if that key still exists.
    pub fn delete_alias(&self, name: &str) -> Result<()> {
        let name = alias_name(name)?;
        let _g = self.take();
        let a = self.alias_handle(&name)?;
        self.m().destroy_object(self.h(), a).map_err(|e| {
            let e = Error::from(e);
            if e.kind() == ErrorKind::AccessDenied {
                let m = format!("{name} cannot be deleted: {e}");
                e.with_message(m)
            } else {
                e
            }
        })
    }

    /// Every alias this session sees, sorted by name (AWS KMS's
    /// `ListAliases`); with `key`, only those pointing at it.
    pub fn list_aliases(&self, key: Option<&KeyRef>) -> Result<Vec<AliasInfo>> {
        let _g = self.take();
        let only = match key {
            Some(k) => Some(self.alias_target(k)?.1),
            None => None,
        };
        let t = vec![Attribute::ulong(CKA_CLASS, CKO_SOFTKMS_ALIAS)];
        let mut out: Vec<AliasInfo> = self
            .find(&t, usize::MAX)?
            .into_iter()
            .filter_map(|a| {
                let v = self.attrs(a, &[CKA_LABEL, CKA_SOFTKMS_ALIAS_TARGET]);
                let text = |i: usize| {
                    v.get(i)?
                        .as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                };
                Some(AliasInfo {
                    name: text(0)?,
                    target_key_id: KeyId::new(text(1)?),
                })
            })
            .filter(|a| only.as_ref().is_none_or(|k| *k == a.target_key_id))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A refused alias change, in words: a policy refusal says which key.
    fn alias_refusal(&self, k: CK_OBJECT_HANDLE, name: &str, e: ModuleError) -> Error {
        let e = self.refine(k, e.into());
        match e.kind() {
            ErrorKind::AccessDenied => {
                let m = format!("{name}: {e}");
                e.with_message(m)
            }
            _ => e,
        }
    }
}
