//! Named principals (DESIGN §4 "Principals and policy", `docs/policy.md`): the
//! name rules, how a name is stored, and the templates through which the SO
//! manages principals from a stock PKCS#11 client.
//!
//! A principal is an object of the vendor class [`CKO_SOFTKMS_PRINCIPAL`]: a
//! public token object whose `CKA_LABEL` is the name. The SO creates one with
//! `C_CreateObject` and the write-only [`CKA_SOFTKMS_PRINCIPAL_PIN`], lists them
//! with `C_FindObjects`, resets a PIN with `C_SetAttributeValue` of the PIN
//! attribute and removes one with `C_DestroyObject`. The PIN itself is never
//! stored: it wraps the token master key in the principal's row of the store,
//! as the user PIN does. This file is pure; the module does the storing.

use crate::error::{Error, Result};
use crate::object::attr::{Attribute, Template};
use crate::principal::{SO, USER};
use cryptoki_sys::*;
use zeroize::Zeroizing;

pub(crate) use crate::abi::CKA_SOFTKMS_PRINCIPAL_PIN;
pub(crate) use crate::abi::CKO_SOFTKMS_PRINCIPAL;

/// The longest principal name, in bytes.
pub(crate) const MAX_NAME: usize = 32;
/// The prefix of a named principal's row in the store, so that no name can
/// reach the rows of the SO ("so") or the token owner ("user").
pub(crate) const ROW_PREFIX: &str = "p:";

/// Checks a principal name: 1 to 32 bytes of ASCII letters, digits, `.`, `_`,
/// `-` and `@`, starting with a letter or digit; "so" and "user" are reserved.
/// `Err` holds the reason.
pub(crate) fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("a principal name has 1 to {MAX_NAME} bytes"));
    }
    if name == SO || name == USER {
        return Err(format!("{name:?} is reserved"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("a principal name starts with a letter or a digit".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        return Err(format!("{c:?} is not allowed in a principal name"));
    }
    Ok(())
}

/// The store row of a user login name: "user" for the token owner,
/// `"p:" + name` for a named principal. Never "so".
pub(crate) fn row_name(name: &str) -> String {
    if name == USER {
        USER.to_string()
    } else {
        format!("{ROW_PREFIX}{name}")
    }
}

#[cfg(test)]
/// The principal name of a store row, for named principals only.
pub(crate) fn name_of_row(row: &str) -> Option<&str> {
    row.strip_prefix(ROW_PREFIX)
}

/// The name `C_LoginUser` gives, checked: "user" or a valid principal name.
/// Anything else is `CKR_PIN_INCORRECT`, as an unknown name is (no hint about
/// which names exist).
pub(crate) fn login_name(username: &[u8]) -> Result<String> {
    let name = std::str::from_utf8(username).map_err(|_| Error::PinIncorrect)?;
    if name == USER || check_name(name).is_ok() {
        Ok(name.to_string())
    } else {
        log::info!("C_LoginUser: {name:?} is not a principal name");
        Err(Error::PinIncorrect)
    }
}

/// A principal the SO asked to create.
#[derive(Debug)]
pub(crate) struct NewPrincipal {
    /// Its name (checked).
    pub name: String,
    /// Its PIN (the token checks the length).
    pub pin: Zeroizing<Vec<u8>>,
}

fn label(a: &Attribute) -> Result<String> {
    let name = std::str::from_utf8(&a.value)
        .map_err(|_| Error::AttributeValueInvalid(CKA_LABEL))?
        .to_string();
    check_name(&name).map_err(|why| {
        log::info!("principal {name:?} refused: {why}");
        Error::AttributeValueInvalid(CKA_LABEL)
    })?;
    Ok(name)
}

/// Validates a `C_CreateObject` template of class [`CKO_SOFTKMS_PRINCIPAL`]:
/// `CKA_CLASS`, `CKA_LABEL` (the name) and [`CKA_SOFTKMS_PRINCIPAL_PIN`] are
/// required; `CKA_TOKEN` may be given as `CK_TRUE` and `CKA_PRIVATE` as
/// `CK_FALSE` (principals are public token objects, so the SO sees them);
/// nothing else is accepted.
pub(crate) fn parse_create(template: &[Attribute]) -> Result<NewPrincipal> {
    let mut seen: Vec<CK_ATTRIBUTE_TYPE> = Vec::with_capacity(template.len());
    let (mut name, mut pin) = (None, None);
    for a in template {
        if seen.contains(&a.ty) {
            return Err(Error::TemplateInconsistent("an attribute is given twice"));
        }
        seen.push(a.ty);
        match a.ty {
            CKA_CLASS if a.as_ulong()? == CKO_SOFTKMS_PRINCIPAL => {}
            CKA_CLASS => return Err(Error::AttributeValueInvalid(CKA_CLASS)),
            CKA_LABEL => name = Some(label(a)?),
            CKA_SOFTKMS_PRINCIPAL_PIN => pin = Some(a.value.clone()),
            CKA_TOKEN if a.as_bool()? => {}
            CKA_TOKEN => return Err(Error::TemplateInconsistent("a principal is a token object")),
            CKA_PRIVATE if !a.as_bool()? => {}
            CKA_PRIVATE => {
                return Err(Error::TemplateInconsistent(
                    "a principal is a public object",
                ))
            }
            other => return Err(Error::AttributeTypeInvalid(other)),
        }
    }
    if !seen.contains(&CKA_CLASS) {
        return Err(Error::TemplateIncomplete { missing: CKA_CLASS });
    }
    Ok(NewPrincipal {
        name: name.ok_or(Error::TemplateIncomplete { missing: CKA_LABEL })?,
        pin: pin.ok_or(Error::TemplateIncomplete {
            missing: CKA_SOFTKMS_PRINCIPAL_PIN,
        })?,
    })
}

/// The template of the object that stands for a principal (what is stored:
/// no PIN).
pub(crate) fn stored_template(name: &str) -> Template {
    vec![
        Attribute::ulong(CKA_CLASS, CKO_SOFTKMS_PRINCIPAL),
        Attribute::new(CKA_LABEL, name.as_bytes().to_vec()),
        Attribute::bool(CKA_TOKEN, true),
        Attribute::bool(CKA_PRIVATE, false),
    ]
}

/// Validates a `C_SetAttributeValue` template on a principal object: only
/// [`CKA_SOFTKMS_PRINCIPAL_PIN`] may be written (the name is fixed:
/// `CKR_ATTRIBUTE_READ_ONLY` for anything else). Returns the new PIN.
pub(crate) fn parse_set_pin(template: &[Attribute]) -> Result<Zeroizing<Vec<u8>>> {
    let mut pin = None;
    for a in template {
        if a.ty != CKA_SOFTKMS_PRINCIPAL_PIN {
            return Err(Error::AttributeReadOnly(a.ty));
        }
        if pin.is_some() {
            return Err(Error::TemplateInconsistent("an attribute is given twice"));
        }
        pin = Some(a.value.clone());
    }
    pin.ok_or(Error::TemplateIncomplete {
        missing: CKA_SOFTKMS_PRINCIPAL_PIN,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, pin: &str) -> Template {
        vec![
            Attribute::ulong(CKA_CLASS, CKO_SOFTKMS_PRINCIPAL),
            Attribute::new(CKA_LABEL, name.as_bytes().to_vec()),
            Attribute::new(CKA_SOFTKMS_PRINCIPAL_PIN, pin.as_bytes().to_vec()),
        ]
    }

    #[test]
    fn names() {
        for ok in [
            "alice",
            "a",
            "svc.billing-1",
            "bob@example.org",
            "A_9",
            "0x",
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        let long = "a".repeat(MAX_NAME + 1);
        for bad in [
            "", "so", "user", "*", "-x", ".x", "_x", "a b", "a:b", "é", "a/b", &long,
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"a".repeat(MAX_NAME)).is_ok());
    }

    #[test]
    fn rows_never_reach_the_so() {
        assert_eq!(row_name("user"), "user");
        assert_eq!(row_name("alice"), "p:alice");
        assert_eq!(row_name("so"), "p:so");
        assert_eq!(name_of_row("p:alice"), Some("alice"));
        assert_eq!(name_of_row("user"), None);
        assert_eq!(name_of_row("so"), None);
        assert!(row_name(&"a".repeat(MAX_NAME)).len() <= crate::store::MAX_PRINCIPAL_NAME);
    }

    #[test]
    fn login_names() {
        assert_eq!(login_name(b"user").ok().as_deref(), Some("user"));
        assert_eq!(login_name(b"alice").ok().as_deref(), Some("alice"));
        assert_eq!(login_name(b"so").err(), Some(Error::PinIncorrect));
        assert_eq!(login_name(b"\xff").err(), Some(Error::PinIncorrect));
        assert_eq!(login_name(b"").err(), Some(Error::PinIncorrect));
    }

    #[test]
    fn create_template() {
        let p = parse_create(&t("alice", "1234")).expect("valid");
        assert_eq!(p.name, "alice");
        assert_eq!(p.pin.as_slice(), b"1234");
        let mut extra = t("alice", "1234");
        extra.push(Attribute::bool(CKA_TOKEN, true));
        extra.push(Attribute::bool(CKA_PRIVATE, false));
        assert!(parse_create(&extra).is_ok());
    }

    #[test]
    fn create_template_errors() {
        let err = |tmpl: Template| parse_create(&tmpl).err();
        assert_eq!(
            err(t("user", "1")),
            Some(Error::AttributeValueInvalid(CKA_LABEL))
        );
        assert_eq!(
            err(t("a b", "1")),
            Some(Error::AttributeValueInvalid(CKA_LABEL))
        );
        let mut bad_utf8 = t("x", "1");
        bad_utf8[1] = Attribute::new(CKA_LABEL, vec![0xff]);
        assert_eq!(err(bad_utf8), Some(Error::AttributeValueInvalid(CKA_LABEL)));
        assert_eq!(
            err(t("alice", "1")[..2].to_vec()),
            Some(Error::TemplateIncomplete {
                missing: CKA_SOFTKMS_PRINCIPAL_PIN
            })
        );
        let mut no_label = t("alice", "1");
        no_label.remove(1);
        assert_eq!(
            err(no_label),
            Some(Error::TemplateIncomplete { missing: CKA_LABEL })
        );
        assert_eq!(
            err(t("alice", "1")[1..].to_vec()),
            Some(Error::TemplateIncomplete { missing: CKA_CLASS })
        );
        let mut wrong_class = t("alice", "1");
        wrong_class[0] = Attribute::ulong(CKA_CLASS, CKO_DATA);
        assert_eq!(
            err(wrong_class),
            Some(Error::AttributeValueInvalid(CKA_CLASS))
        );
        let mut twice = t("alice", "1");
        twice.push(Attribute::new(CKA_LABEL, b"bob".to_vec()));
        assert!(matches!(err(twice), Some(Error::TemplateInconsistent(_))));
        let mut session = t("alice", "1");
        session.push(Attribute::bool(CKA_TOKEN, false));
        assert!(matches!(err(session), Some(Error::TemplateInconsistent(_))));
        let mut private = t("alice", "1");
        private.push(Attribute::bool(CKA_PRIVATE, true));
        assert!(matches!(err(private), Some(Error::TemplateInconsistent(_))));
        let mut other = t("alice", "1");
        other.push(Attribute::bool(CKA_ENCRYPT, true));
        assert_eq!(err(other), Some(Error::AttributeTypeInvalid(CKA_ENCRYPT)));
    }

    #[test]
    fn stored_template_has_no_pin() {
        let s = stored_template("alice");
        assert!(s.iter().all(|a| a.ty != CKA_SOFTKMS_PRINCIPAL_PIN));
        assert!(s
            .iter()
            .any(|a| a.ty == CKA_LABEL && a.value.as_slice() == b"alice"));
    }

    #[test]
    fn set_pin_template() {
        let pin = Attribute::new(CKA_SOFTKMS_PRINCIPAL_PIN, b"9876".to_vec());
        assert_eq!(
            parse_set_pin(std::slice::from_ref(&pin))
                .ok()
                .map(|p| p.to_vec()),
            Some(b"9876".to_vec())
        );
        assert_eq!(
            parse_set_pin(&[]).err(),
            Some(Error::TemplateIncomplete {
                missing: CKA_SOFTKMS_PRINCIPAL_PIN
            })
        );
        assert_eq!(
            parse_set_pin(&[pin.clone(), Attribute::new(CKA_LABEL, b"x".to_vec())]).err(),
            Some(Error::AttributeReadOnly(CKA_LABEL))
        );
        assert!(matches!(
            parse_set_pin(&[pin.clone(), pin]).err(),
            Some(Error::TemplateInconsistent(_))
        ));
    }
}
