//! Key aliases (`docs/vendor-abi.md`, "Aliases"; `docs/kms.md`): friendly,
//! re-pointable names for keys, as AWS KMS has them.
//!
//! An alias is an object of the vendor class [`CKO_SOFTKMS_ALIAS`]: a private
//! token object whose `CKA_LABEL` is its name (`alias/…`, [`check_name`]) and
//! whose [`CKA_SOFTKMS_ALIAS_TARGET`] is the `CKA_UNIQUE_ID` of the key it
//! points at. Alias names are unique on a token (among aliases; key labels are
//! another namespace). The uniqueness lives in the store: an alias's unique id
//! is a MAC of its name under the token master key ([`uid`]), so two aliases
//! of one name are two writes of one row, and the store's insert-if-absent
//! lets exactly one of them win, across threads and processes. The MAC keeps
//! the name out of the file, where it would otherwise stand in clear beside
//! the sealed attributes.
//!
//! This file is pure: the name rule, the templates, the id. The module checks
//! the target and the policy and does the storing.

use crate::crypto::seal::MacKey;
use crate::error::{Error, Result};
use crate::object::attr::{Attribute, Template};
use crate::object::Object;
use cryptoki_sys::*;

pub(crate) use crate::abi::{CKA_SOFTKMS_ALIAS_TARGET, CKO_SOFTKMS_ALIAS};

/// Every alias name starts with this.
pub(crate) const PREFIX: &str = "alias/";
/// Names under this prefix are reserved (as AWS KMS reserves them for its
/// own keys).
pub(crate) const RESERVED: &str = "alias/aws/";
/// The most characters after [`PREFIX`].
pub(crate) const MAX_SUFFIX: usize = 250;
/// The longest target (a key's unique id, as the store bounds it).
const MAX_TARGET: usize = crate::store::MAX_UID;
/// The MAC label of an alias's unique id.
const UID_LABEL: &[u8] = b"softkms/v1/alias-uid";

/// The rule of [`check_name`], in words.
pub(crate) const NAME_RULE: &str = "an alias name is alias/ followed by 1 to 250 letters, \
     digits, '/', '_' and '-' (at most 256 characters), and alias/aws/ is reserved";

/// Checks an alias name: [`PREFIX`], then 1 to [`MAX_SUFFIX`] ASCII letters,
/// digits, `/`, `_` and `-`; not under [`RESERVED`]. `Err` holds the reason.
pub(crate) fn check_name(name: &str) -> std::result::Result<(), String> {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return Err(format!("{name:?} does not start with {PREFIX}"));
    };
    if rest.is_empty() || rest.len() > MAX_SUFFIX {
        return Err(format!(
            "{PREFIX} is followed by 1 to {MAX_SUFFIX} characters, not {}",
            rest.len()
        ));
    }
    if let Some(c) = rest
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-')))
    {
        return Err(format!("{c:?} is not allowed in an alias name"));
    }
    if name.starts_with(RESERVED) {
        return Err(format!("names under {RESERVED} are reserved"));
    }
    Ok(())
}

/// The unique id of the alias named `name` on the token whose master key
/// gives `mac`: 32 hex digits of a MAC of the name (as long as a key's random
/// id, and telling nothing of the name without the master key).
pub(crate) fn uid(mac: &MacKey, name: &str) -> Result<String> {
    let tag = mac.mac(&[UID_LABEL, name.as_bytes()])?;
    Ok(tag.iter().take(16).map(|b| format!("{b:02x}")).collect())
}

/// An alias a caller asked to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewAlias {
    /// Its name (checked).
    pub name: String,
    /// The unique id of the key it points at (not yet checked to exist).
    pub target: String,
}

fn name_attr(a: &Attribute) -> Result<String> {
    let name = std::str::from_utf8(&a.value)
        .map_err(|_| Error::AttributeValueInvalid(CKA_LABEL))?
        .to_string();
    check_name(&name).map_err(|why| {
        log::info!("alias {name:?} refused: {why} ({NAME_RULE})");
        Error::AttributeValueInvalid(CKA_LABEL)
    })?;
    Ok(name)
}

fn target_attr(a: &Attribute) -> Result<String> {
    match std::str::from_utf8(&a.value) {
        Ok(t) if !t.is_empty() && t.len() <= MAX_TARGET => Ok(t.to_string()),
        _ => {
            log::info!(
                "an alias target is the CKA_UNIQUE_ID of a key (UTF-8, 1 to {MAX_TARGET} bytes)"
            );
            Err(Error::AttributeValueInvalid(CKA_SOFTKMS_ALIAS_TARGET))
        }
    }
}

/// Validates a `C_CreateObject` template of class [`CKO_SOFTKMS_ALIAS`]:
/// `CKA_CLASS`, `CKA_LABEL` (the name) and [`CKA_SOFTKMS_ALIAS_TARGET`] are
/// required; `CKA_TOKEN` and `CKA_PRIVATE` may be given as `CK_TRUE` (an alias
/// is a private token object: seen only by logged-in principals, like the
/// keys it names); nothing else is accepted.
pub(crate) fn parse_create(template: &[Attribute]) -> Result<NewAlias> {
    let mut seen: Vec<CK_ATTRIBUTE_TYPE> = Vec::with_capacity(template.len());
    let (mut name, mut target) = (None, None);
    for a in template {
        if seen.contains(&a.ty) {
            return Err(Error::TemplateInconsistent("an attribute is given twice"));
        }
        seen.push(a.ty);
        match a.ty {
            CKA_CLASS if a.as_ulong()? == CKO_SOFTKMS_ALIAS => {}
            CKA_CLASS => return Err(Error::AttributeValueInvalid(CKA_CLASS)),
            CKA_LABEL => name = Some(name_attr(a)?),
            CKA_SOFTKMS_ALIAS_TARGET => target = Some(target_attr(a)?),
            CKA_TOKEN if a.as_bool()? => {}
            CKA_TOKEN => {
                log::info!("an alias is a token object (CKA_TOKEN = CK_TRUE)");
                return Err(Error::TemplateInconsistent("an alias is a token object"));
            }
            CKA_PRIVATE if a.as_bool()? => {}
            CKA_PRIVATE => {
                log::info!(
                    "an alias is a private object (CKA_PRIVATE = CK_TRUE): only logged-in \
                     principals see aliases"
                );
                return Err(Error::TemplateInconsistent("an alias is a private object"));
            }
            other => return Err(Error::AttributeTypeInvalid(other)),
        }
    }
    if !seen.contains(&CKA_CLASS) {
        return Err(Error::TemplateIncomplete { missing: CKA_CLASS });
    }
    Ok(NewAlias {
        name: name.ok_or(Error::TemplateIncomplete { missing: CKA_LABEL })?,
        target: target.ok_or(Error::TemplateIncomplete {
            missing: CKA_SOFTKMS_ALIAS_TARGET,
        })?,
    })
}

/// Validates a `C_SetAttributeValue` template on an alias: only
/// [`CKA_SOFTKMS_ALIAS_TARGET`] may be written (an alias is not renamed:
/// `CKR_ATTRIBUTE_READ_ONLY` for `CKA_LABEL`, as for anything else). Returns
/// the new target.
pub(crate) fn parse_set(template: &[Attribute]) -> Result<String> {
    let mut target = None;
    for a in template {
        if a.ty != CKA_SOFTKMS_ALIAS_TARGET {
            if a.ty == CKA_LABEL {
                log::info!("an alias is not renamed: delete it and create one of the new name");
            } else {
                log::info!("only CKA_SOFTKMS_ALIAS_TARGET of an alias may be written");
            }
            return Err(Error::AttributeReadOnly(a.ty));
        }
        if target.is_some() {
            return Err(Error::TemplateInconsistent("an attribute is given twice"));
        }
        target = Some(target_attr(a)?);
    }
    target.ok_or(Error::TemplateIncomplete {
        missing: CKA_SOFTKMS_ALIAS_TARGET,
    })
}

/// The template of the object that stands for an alias.
pub(crate) fn stored_template(alias: &NewAlias) -> Template {
    vec![
        Attribute::ulong(CKA_CLASS, CKO_SOFTKMS_ALIAS),
        Attribute::new(CKA_LABEL, alias.name.as_bytes().to_vec()),
        Attribute::new(CKA_SOFTKMS_ALIAS_TARGET, alias.target.as_bytes().to_vec()),
        Attribute::bool(CKA_TOKEN, true),
        Attribute::bool(CKA_PRIVATE, true),
        // A copy would be a second alias of the same name.
        Attribute::bool(CKA_COPYABLE, false),
    ]
}

/// Whether `o` is an alias.
pub(crate) fn is_alias(o: &Object) -> bool {
    o.class() == Some(CKO_SOFTKMS_ALIAS)
}

/// An alias's name.
pub(crate) fn name_of(o: &Object) -> String {
    String::from_utf8_lossy(o.get(CKA_LABEL).unwrap_or_default()).into_owned()
}

/// The unique id of the key an alias points at.
pub(crate) fn target_of(o: &Object) -> Option<&str> {
    o.get(CKA_SOFTKMS_ALIAS_TARGET)
        .and_then(|v| std::str::from_utf8(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, target: &str) -> Template {
        vec![
            Attribute::ulong(CKA_CLASS, CKO_SOFTKMS_ALIAS),
            Attribute::new(CKA_LABEL, name.as_bytes().to_vec()),
            Attribute::new(CKA_SOFTKMS_ALIAS_TARGET, target.as_bytes().to_vec()),
        ]
    }

    #[test]
    fn names() {
        let longest = format!("alias/{}", "a".repeat(MAX_SUFFIX));
        assert_eq!(longest.len(), 256);
        for ok in [
            "alias/x",
            "alias/payments",
            "alias/team-a/billing_2",
            "alias/A/B/C",
            "alias/aws",
            "alias/awsome",
            "alias//",
            &longest,
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        let too_long = format!("alias/{}", "a".repeat(MAX_SUFFIX + 1));
        for bad in [
            "",
            "alias/",
            "alias",
            "x",
            "payments",
            "Alias/x",
            "/alias/x",
            "alias/a b",
            "alias/a.b",
            "alias/a:b",
            "alias/é",
            "alias/aws/x",
            "alias/aws/",
            &too_long,
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn create_templates() {
        let a = parse_create(&t("alias/x", "00ff")).unwrap();
        assert_eq!(
            a,
            NewAlias {
                name: "alias/x".into(),
                target: "00ff".into()
            }
        );
        let mut ok = t("alias/x", "k");
        ok.push(Attribute::bool(CKA_TOKEN, true));
        ok.push(Attribute::bool(CKA_PRIVATE, true));
        assert!(parse_create(&ok).is_ok());
        assert_eq!(
            parse_create(&t("alias/aws/x", "k")),
            Err(Error::AttributeValueInvalid(CKA_LABEL))
        );
        assert_eq!(
            parse_create(&t("alias/x", "")),
            Err(Error::AttributeValueInvalid(CKA_SOFTKMS_ALIAS_TARGET))
        );
        for (ty, why) in [
            (CKA_TOKEN, "an alias is a token object"),
            (CKA_PRIVATE, "an alias is a private object"),
        ] {
            let mut bad = t("alias/x", "k");
            bad.push(Attribute::bool(ty, false));
            assert_eq!(parse_create(&bad), Err(Error::TemplateInconsistent(why)));
        }
        let mut extra = t("alias/x", "k");
        extra.push(Attribute::bool(CKA_MODIFIABLE, false));
        assert_eq!(
            parse_create(&extra),
            Err(Error::AttributeTypeInvalid(CKA_MODIFIABLE))
        );
        let mut twice = t("alias/x", "k");
        twice.push(Attribute::new(CKA_LABEL, b"alias/y".to_vec()));
        assert!(matches!(
            parse_create(&twice),
            Err(Error::TemplateInconsistent(_))
        ));
        let no_target = &t("alias/x", "k")[..2];
        assert_eq!(
            parse_create(no_target),
            Err(Error::TemplateIncomplete {
                missing: CKA_SOFTKMS_ALIAS_TARGET
            })
        );
    }

    #[test]
    fn only_the_target_is_written() {
        let target = Attribute::new(CKA_SOFTKMS_ALIAS_TARGET, b"k2".to_vec());
        assert_eq!(parse_set(std::slice::from_ref(&target)).unwrap(), "k2");
        let rename = Attribute::new(CKA_LABEL, b"alias/y".to_vec());
        assert_eq!(
            parse_set(&[target.clone(), rename]),
            Err(Error::AttributeReadOnly(CKA_LABEL))
        );
        assert_eq!(
            parse_set(&[Attribute::bool(CKA_PRIVATE, false)]),
            Err(Error::AttributeReadOnly(CKA_PRIVATE))
        );
        assert!(parse_set(&[]).is_err());
    }

    #[test]
    fn ids_are_per_name_and_per_token() {
        let k1 = crate::crypto::seal::Tmk::generate()
            .unwrap()
            .mac_key()
            .unwrap();
        let k2 = crate::crypto::seal::Tmk::generate()
            .unwrap()
            .mac_key()
            .unwrap();
        let a = uid(&k1, "alias/x").unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(a, uid(&k1, "alias/x").unwrap());
        assert_ne!(a, uid(&k1, "alias/y").unwrap());
        assert_ne!(a, uid(&k2, "alias/x").unwrap());
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
