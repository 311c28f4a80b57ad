//! The encryption context: string pairs bound to a message.

use std::collections::BTreeMap;

/// An encryption context: string pairs bound to an envelope message or a data
/// key, which must be given again, the same, to decrypt it (AWS KMS's
/// `EncryptionContext`). Key policies may require pairs of it
/// (`docs/policy.md`). It is authenticated, not stored in the message, and not
/// secret: the audit log records it.
///
/// It reaches the module as the bytes of [`to_bytes`](Self::to_bytes): a JSON
/// object with sorted keys (`{"app":"x","tenant":"7"}`), or nothing when it is
/// empty, the same bytes the `softkms` command and the `softkms` Rust API
/// send, so a message made by one opens with the others.
///
/// ```
/// use softkms_cryptoki::EncryptionContext;
/// let c = EncryptionContext::new().with("tenant", "7").with("app", "billing");
/// assert_eq!(c.to_bytes(), br#"{"app":"billing","tenant":"7"}"#);
/// assert!(EncryptionContext::new().to_bytes().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> EncryptionContext {
        EncryptionContext::default()
    }

    /// The context with `key` set to `value`.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> EncryptionContext {
        self.insert(key, value);
        self
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    /// The pairs, by key.
    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Whether it has no pair.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes the module binds: a JSON object with sorted keys (serde_json's
    /// compact form), or nothing for the empty context.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.0.is_empty() {
            return Vec::new();
        }
        // A map of strings always serializes.
        serde_json::to_vec(&self.0).unwrap_or_default()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> EncryptionContext {
        EncryptionContext(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of the module's own API and the CLI (`src/api/types.rs`:
    /// serde_json's compact form of the sorted map), escapes included.
    #[test]
    fn the_bytes_are_sorted_compact_json() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], ""),
            (&[("app", "billing")], r#"{"app":"billing"}"#),
            (
                &[("b", "2"), ("a", "1"), ("c", "")],
                r#"{"a":"1","b":"2","c":""}"#,
            ),
            (
                &[
                    ("quote\"", "back\\slash"),
                    ("nl", "a\nb\t\u{1}"),
                    ("é", "ü€😀"),
                ],
                r#"{"nl":"a\nb\t\u0001","quote\"":"back\\slash","é":"ü€😀"}"#,
            ),
        ];
        for (pairs, want) in cases {
            let ours: EncryptionContext = pairs.iter().copied().collect();
            assert_eq!(
                String::from_utf8(ours.to_bytes()).ok().as_deref(),
                Some(*want)
            );
        }
    }
}
