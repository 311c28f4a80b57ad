//! A key's description and tags (AWS KMS's `UpdateKeyDescription`,
//! `TagResource`, `UntagResource`) and its minimum decryption version: writes
//! of `CKA_SOFTKMS_DESCRIPTION`, `CKA_SOFTKMS_TAGS` and
//! `CKA_SOFTKMS_MIN_DECRYPT_VERSION`, each needing `ManageKey` (`docs/kms.md`).

use super::error::{Error, ErrorKind, Result};
use super::keys::{KeyMetadata, KeyRef};
use super::session::Token;
use super::words;
use crate::abi::{CKA_SOFTKMS_DESCRIPTION, CKA_SOFTKMS_MIN_DECRYPT_VERSION, CKA_SOFTKMS_TAGS};
use crate::object::attr::Attribute;
use std::collections::BTreeMap;

impl Token {
    /// Sets the key's description (at most 8192 bytes; empty removes it;
    /// AWS KMS's `UpdateKeyDescription`). Needs `ManageKey`.
    pub fn update_key_description(&self, key: &KeyRef, description: &str) -> Result<KeyMetadata> {
        words::check_description(description)?;
        self.change(
            "description",
            key,
            &vec![Attribute::new(
                CKA_SOFTKMS_DESCRIPTION,
                description.as_bytes().to_vec(),
            )],
        )
    }

    /// Adds tags to the key, replacing the values of keys it already has
    /// (AWS KMS's `TagResource`). The key may then have at most 50 tags.
    /// Needs `ManageKey`.
    pub fn tag_key(&self, key: &KeyRef, tags: &BTreeMap<String, String>) -> Result<KeyMetadata> {
        words::check_tags(tags)?;
        let mut all = self.describe_key(key)?.tags;
        all.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        if all.len() > crate::kms::meta::MAX_TAGS {
            let e = Error::invalid(format!(
                "a key has at most {} tags: this would make {} (remove some with untag first)",
                crate::kms::meta::MAX_TAGS,
                all.len()
            ));
            words::failed(&format!("tag key {key:?}"), &e);
            return Err(e);
        }
        self.write_tags(key, &all)
    }

    /// Removes the tags of these keys; keys the key has no tag for are
    /// ignored (AWS KMS's `UntagResource`). Needs `ManageKey`.
    pub fn untag_key(&self, key: &KeyRef, tag_keys: &[String]) -> Result<KeyMetadata> {
        let mut all = self.describe_key(key)?.tags;
        for k in tag_keys {
            all.remove(k);
        }
        self.write_tags(key, &all)
    }

    fn write_tags(&self, key: &KeyRef, tags: &BTreeMap<String, String>) -> Result<KeyMetadata> {
        self.change(
            "tags",
            key,
            &vec![Attribute::new(
                CKA_SOFTKMS_TAGS,
                crate::kms::meta::encode_tags(tags),
            )],
        )
    }

    /// Retires the versions of a managed key below `version`: their material
    /// is destroyed for good and what they encrypted no longer decrypts (the
    /// way to cut off a compromised version). It only goes up, to at most the
    /// current version. Needs `ManageKey` and an Enabled key.
    pub fn set_min_decrypt_version(&self, key: &KeyRef, version: u64) -> Result<KeyMetadata> {
        let meta = self.describe_key(key)?;
        let name = words::key_name(&meta);
        let refuse = |kind: ErrorKind, message: String| {
            let e = Error::new(kind, message).with_code("CKR_ATTRIBUTE_VALUE_INVALID");
            words::failed(
                &format!("set the minimum decryption version of {key:?}"),
                &e,
            );
            Err(e)
        };
        let (Some(current), true) = (meta.current_version, meta.managed) else {
            return refuse(
                ErrorKind::InvalidKeyUsage,
                format!(
                    "key {name} ({}) has no versions: only symmetric keys (aes256, aes128) \
                     rotate and have versions",
                    meta.spec_name
                ),
            );
        };
        if version == 0 || version > current {
            return refuse(
                ErrorKind::InvalidInput,
                format!("version {version} does not exist (the key has versions 1..{current})"),
            );
        }
        let min = meta.min_decrypt_version.unwrap_or(1);
        if version < min {
            return refuse(
                ErrorKind::InvalidInput,
                format!(
                    "versions below {min} of key {name} are retired for good: the minimum \
                     decryption version only goes up ({min}..{current})"
                ),
            );
        }
        self.change(
            "minimum decryption version",
            key,
            &vec![Attribute::ulong(CKA_SOFTKMS_MIN_DECRYPT_VERSION, version)],
        )
    }
}
