//! How the AWS API names keys and aliases: key ids as UUIDs, key ARNs
//! (`arn:aws:kms:REGION:ACCOUNT:key/ID`), alias names (`alias/NAME`) and
//! alias ARNs (`arn:aws:kms:REGION:ACCOUNT:alias/NAME`), all accepted wherever
//! AWS accepts them (`docs/aws-api.md`, "Key ids").

use super::errors::AwsError;
use crate::api::{KeyId, KeyRef};

/// The region and account this server answers for (its ARNs name them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
}

impl Naming {
    /// Checks the settings: a region of lower-case letters, digits and `-`,
    /// an account of 12 digits.
    pub fn check(&self) -> Result<(), String> {
        let region_ok = !self.region.is_empty()
            && self.region.len() <= 32
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(format!(
                "region {:?}: lower-case letters, digits and -",
                self.region
            ));
        }
        if self.account.len() != 12 || !self.account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("account {:?}: 12 digits", self.account));
        }
        Ok(())
    }

    /// `arn:aws:kms:REGION:ACCOUNT:`
    fn prefix(&self) -> String {
        format!("arn:aws:kms:{}:{}:", self.region, self.account)
    }

    /// The ARN of a key.
    pub(crate) fn key_arn(&self, id: &KeyId) -> String {
        format!("{}key/{}", self.prefix(), aws_key_id(id))
    }

    /// The ARN of an alias (`alias/NAME`).
    pub(crate) fn alias_arn(&self, alias: &str) -> String {
        format!("{}{alias}", self.prefix())
    }

    /// The key a `KeyId` parameter names: a key id (UUID or 32 hex digits),
    /// a key ARN, an alias name or an alias ARN. ARNs of another region or
    /// account name no key here (`NotFoundException`, as AWS).
    pub(crate) fn key_ref(&self, param: &str) -> Result<KeyRef, AwsError> {
        let bad = || AwsError::not_found(format!("Invalid keyId {param}"));
        let local = match param.strip_prefix("arn:") {
            Some(_) => param.strip_prefix(&self.prefix()).ok_or_else(|| {
                AwsError::not_found(format!(
                    "{param} is not a key of this server (region {}, account {})",
                    self.region, self.account
                ))
            })?,
            None => param,
        };
        if local.starts_with("alias/") {
            return Ok(KeyRef::Alias(local.to_string()));
        }
        let id = if param.starts_with("arn:") {
            local.strip_prefix("key/").ok_or_else(bad)?
        } else {
            local
        };
        key_id_of(id).map(KeyRef::Id).ok_or_else(bad)
    }

    /// The alias an `AliasName` parameter names (`alias/NAME` or its ARN).
    pub(crate) fn alias_name(&self, param: &str) -> Result<String, AwsError> {
        let local = match param.strip_prefix(&self.prefix()) {
            Some(rest) => rest,
            None if param.starts_with("arn:") => {
                return Err(AwsError::not_found(format!(
                    "{param} is not an alias of this server"
                )))
            }
            None => param,
        };
        if !local.starts_with("alias/") {
            return Err(AwsError::validation(format!(
                "Alias must start with the prefix \"alias/\": {param}"
            )));
        }
        Ok(local.to_string())
    }
}

/// A key id as AWS shows it: the 32 hex digits of SoftKMS's id in UUID form
/// (8-4-4-4-12); an id of another form is shown as it is.
pub(crate) fn aws_key_id(id: &KeyId) -> String {
    let s = id.as_str();
    if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!(
            "{}-{}-{}-{}-{}",
            &s[..8],
            &s[8..12],
            &s[12..16],
            &s[16..20],
            &s[20..]
        )
    } else {
        s.to_string()
    }
}

/// SoftKMS's key id from the AWS form (UUID, or 32 hex digits); `None` when it
/// is neither.
pub(crate) fn key_id_of(text: &str) -> Option<KeyId> {
    let hex: String = if text.len() == 36 {
        let dashes_ok = text
            .char_indices()
            .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'));
        if !dashes_ok {
            return None;
        }
        text.chars().filter(|c| *c != '-').collect()
    } else {
        text.to_string()
    };
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| KeyId::new(hex.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming() -> Naming {
        Naming {
            region: "us-east-1".into(),
            account: "111122223333".into(),
        }
    }

    #[test]
    fn key_ids_round_trip_as_uuids() {
        let id = KeyId::new("1234abcd12ab34cd56ef1234567890ab");
        assert_eq!(aws_key_id(&id), "1234abcd-12ab-34cd-56ef-1234567890ab");
        assert_eq!(
            key_id_of("1234abcd-12ab-34cd-56ef-1234567890ab"),
            Some(id.clone())
        );
        assert_eq!(
            key_id_of("1234ABCD12AB34CD56EF1234567890AB"),
            Some(id.clone())
        );
        assert_eq!(key_id_of("1234abcd-12ab34cd-56ef-1234567890ab-"), None);
        assert_eq!(key_id_of("zz34abcd-12ab-34cd-56ef-1234567890ab"), None);
        assert_eq!(key_id_of(""), None);
        assert_eq!(
            naming().key_arn(&id),
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        );
    }

    #[test]
    fn key_parameters_in_every_form() {
        let n = naming();
        let id = KeyRef::Id(KeyId::new("1234abcd12ab34cd56ef1234567890ab"));
        for p in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "1234abcd12ab34cd56ef1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert_eq!(n.key_ref(p), Ok(id.clone()), "{p}");
        }
        assert_eq!(n.key_ref("alias/x"), Ok(KeyRef::Alias("alias/x".into())));
        assert_eq!(
            n.key_ref("arn:aws:kms:us-east-1:111122223333:alias/x"),
            Ok(KeyRef::Alias("alias/x".into()))
        );
        for p in [
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:999999999999:alias/x",
            "arn:aws:kms:us-east-1:111122223333:key/nope",
            "label",
            "",
        ] {
            assert_eq!(
                n.key_ref(p).map_err(|e| e.kind),
                Err("NotFoundException"),
                "{p}"
            );
        }
    }

    #[test]
    fn alias_parameters() {
        let n = naming();
        assert_eq!(n.alias_name("alias/a"), Ok("alias/a".into()));
        assert_eq!(
            n.alias_name("arn:aws:kms:us-east-1:111122223333:alias/a"),
            Ok("alias/a".into())
        );
        assert_eq!(
            n.alias_name("a").map_err(|e| e.kind),
            Err("ValidationException")
        );
        assert_eq!(
            n.alias_name("arn:aws:kms:us-east-2:111122223333:alias/a")
                .map_err(|e| e.kind),
            Err("NotFoundException")
        );
        assert!(n.check().is_ok());
        assert!(Naming {
            account: "12".into(),
            ..n.clone()
        }
        .check()
        .is_err());
        assert!(Naming {
            region: "US".into(),
            ..n
        }
        .check()
        .is_err());
    }
}
