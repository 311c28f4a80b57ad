//! A key's description and tags (`CKA_SOFTKMS_DESCRIPTION`, `CKA_SOFTKMS_TAGS`;
//! `docs/kms.md`, "Descriptions and tags"): non-secret metadata with the limits
//! of AWS KMS, checked whenever a template sets them. Tags are stored in one
//! canonical form (a JSON object with sorted keys and no spaces), so that two
//! equal sets of tags are equal bytes.

use crate::abi::{CKA_SOFTKMS_DESCRIPTION, CKA_SOFTKMS_TAGS};
use crate::error::{Error, Result};
use crate::object::AttrMap;
use serde::de::{Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use zeroize::Zeroizing;

/// The longest description, in bytes (AWS KMS: 8192).
pub(crate) const MAX_DESCRIPTION: usize = 8192;
/// The most tags a key has (AWS KMS: 50).
pub(crate) const MAX_TAGS: usize = 50;
/// The longest tag key, in characters (AWS KMS: 128).
pub(crate) const MAX_TAG_KEY: usize = 128;
/// The longest tag value, in characters (AWS KMS: 256).
pub(crate) const MAX_TAG_VALUE: usize = 256;
/// The most bytes of tags JSON read: every tag at its longest, each
/// character escaped (a surrogate pair, 12 bytes), with punctuation and
/// some spaces.
const MAX_TAGS_BYTES: usize = MAX_TAGS * ((MAX_TAG_KEY + MAX_TAG_VALUE) * 12 + 16) + 16;
/// The prefix reserved for AWS's own tags, refused as AWS KMS refuses it.
const RESERVED_PREFIX: &str = "aws:";

fn refuse_description(why: &str) -> Error {
    log::info!("CKA_SOFTKMS_DESCRIPTION refused: {why}");
    Error::AttributeValueInvalid(CKA_SOFTKMS_DESCRIPTION)
}

fn refuse_tags(why: &str) -> Error {
    log::info!("CKA_SOFTKMS_TAGS refused: {why}");
    Error::AttributeValueInvalid(CKA_SOFTKMS_TAGS)
}

/// Checks a description: UTF-8 of at most [`MAX_DESCRIPTION`] bytes.
pub(crate) fn check_description(v: &[u8]) -> Result<()> {
    if v.len() > MAX_DESCRIPTION {
        return Err(refuse_description(&format!(
            "a description has at most {MAX_DESCRIPTION} bytes, not {}",
            v.len()
        )));
    }
    if std::str::from_utf8(v).is_err() {
        return Err(refuse_description("a description is UTF-8 text"));
    }
    Ok(())
}

/// A JSON object of strings whose keys must be unique (serde's maps keep the
/// last of two equal keys without a word).
struct UniqueMap(BTreeMap<String, String>);

impl<'de> serde::Deserialize<'de> for UniqueMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<UniqueMap, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UniqueMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object whose values are strings")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<UniqueMap, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    if out.contains_key(&k) {
                        return Err(serde::de::Error::custom(format!(
                            "the tag key {k:?} is given twice"
                        )));
                    }
                    out.insert(k, v);
                }
                Ok(UniqueMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Checks a set of tags against the limits; the error says which rule.
pub(crate) fn check_tag_set(tags: &BTreeMap<String, String>) -> std::result::Result<(), String> {
    if tags.len() > MAX_TAGS {
        return Err(format!(
            "a key has at most {MAX_TAGS} tags, not {}",
            tags.len()
        ));
    }
    for (k, v) in tags {
        let n = k.chars().count();
        if n == 0 || n > MAX_TAG_KEY {
            return Err(format!(
                "a tag key has 1 to {MAX_TAG_KEY} characters, not {n}"
            ));
        }
        if k.get(..RESERVED_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(RESERVED_PREFIX))
        {
            return Err(format!(
                "the tag key {k:?} starts with {RESERVED_PREFIX:?}, which is reserved"
            ));
        }
        let n = v.chars().count();
        if n > MAX_TAG_VALUE {
            return Err(format!(
                "the value of tag {k:?} has at most {MAX_TAG_VALUE} characters, not {n}"
            ));
        }
    }
    Ok(())
}

/// The canonical bytes of a set of tags: a JSON object with sorted keys and
/// no spaces (`{}` for none).
pub(crate) fn encode_tags(tags: &BTreeMap<String, String>) -> Vec<u8> {
    serde_json::to_vec(tags).unwrap_or_else(|_| b"{}".to_vec())
}

/// Parses and checks a tags value; an empty value is no tags.
pub(crate) fn parse_tags(v: &[u8]) -> std::result::Result<BTreeMap<String, String>, String> {
    if v.is_empty() {
        return Ok(BTreeMap::new());
    }
    // The longest canonical set, with room for spaces and escapes: nothing
    // larger is parsed at all.
    if v.len() > MAX_TAGS_BYTES {
        return Err(format!(
            "tags take at most {MAX_TAGS_BYTES} bytes of JSON, not {}",
            v.len()
        ));
    }
    let map: UniqueMap =
        serde_json::from_slice(v).map_err(|e| format!("tags are a JSON object of strings: {e}"))?;
    check_tag_set(&map.0)?;
    Ok(map.0)
}

/// Checks the description and tags a template set on a key (`given` says
/// which), and stores the tags in their canonical form.
pub(crate) fn on_write(
    attrs: &mut AttrMap,
    given: impl Fn(cryptoki_sys::CK_ATTRIBUTE_TYPE) -> bool,
) -> Result<()> {
    if given(CKA_SOFTKMS_DESCRIPTION) {
        if let Some(d) = attrs.get(&CKA_SOFTKMS_DESCRIPTION) {
            check_description(d)?;
        }
    }
    if given(CKA_SOFTKMS_TAGS) {
        if let Some(t) = attrs.get(&CKA_SOFTKMS_TAGS) {
            let tags = parse_tags(t).map_err(|why| refuse_tags(&why))?;
            let canonical = if t.is_empty() {
                Vec::new()
            } else {
                encode_tags(&tags)
            };
            attrs.insert(CKA_SOFTKMS_TAGS, Zeroizing::new(canonical));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
