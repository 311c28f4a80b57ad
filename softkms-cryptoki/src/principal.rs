//! Named principals (`docs/policy.md`, "Managing principals through
//! PKCS#11"): objects of the vendor class `CKO_SOFTKMS_PRINCIPAL` that the
//! SO creates, lists and removes.
//!
//! A principal logs in with `C_LoginUser(CKU_USER, pin, name)` (PKCS#11 3.0).
//! `cryptoki` 0.12 does not wrap `C_LoginUser`, and this crate has no unsafe
//! code to call it through the function list; programs that act as a named
//! principal use the `softkms` command (`--user NAME`), the `softkms` Rust
//! API (`softkms::api::Principal`), or a client that has the call (C, or
//! python-pkcs11 through ctypes). The token owner (`C_Login(CKU_USER)`) and
//! the SO need nothing more than `cryptoki`.

use crate::abi::CKO_SOFTKMS_PRINCIPAL;
use crate::attrs;
use crate::Result;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::Session;

/// The template that creates the principal `name` with `pin`: class, label
/// and PIN (the module refuses anything else but `CKA_TOKEN = TRUE` and
/// `CKA_PRIVATE = FALSE`).
pub fn principal_template(name: &str, pin: &str) -> Vec<Attribute> {
    vec![
        attrs::principal_class(),
        Attribute::Label(name.as_bytes().to_vec()),
        attrs::principal_pin(pin),
    ]
}

/// Creates the principal `name` (the SO, logged in on a read-write session).
///
/// ```
/// # let token = p11_testkit::throwaway::Token::new();
/// # let session = token.so_session();
/// use softkms_cryptoki::{create_principal, principals};
/// create_principal(&session, "alice", "alice's PIN")?;
/// let names: Vec<String> = principals(&session)?.into_iter().map(|(_, n)| n).collect();
/// assert_eq!(names, ["alice"]);
/// # Ok::<(), softkms_cryptoki::Error>(())
/// ```
///
/// # Errors
///
/// An invalid or existing name: `CKR_ATTRIBUTE_VALUE_INVALID`; not the SO:
/// `CKR_USER_NOT_LOGGED_IN`.
pub fn create_principal(session: &Session, name: &str, pin: &str) -> Result<ObjectHandle> {
    Ok(session.create_object(&principal_template(name, pin))?)
}

/// Sets a principal's PIN (the SO), which also clears its lock-out.
///
/// # Errors
///
/// The module's refusal.
pub fn set_principal_pin(session: &Session, principal: ObjectHandle, pin: &str) -> Result<()> {
    Ok(session.update_attributes(principal, &[attrs::principal_pin(pin)])?)
}

/// Every principal of the token, with its name (any session: the objects are
/// public).
///
/// # Errors
///
/// A failed search or read.
pub fn principals(session: &Session) -> Result<Vec<(ObjectHandle, String)>> {
    let mut out = Vec::new();
    for h in
        session.find_objects(&[attrs::ulong(cryptoki_sys::CKA_CLASS, CKO_SOFTKMS_PRINCIPAL)])?
    {
        let label = session.get_attributes(h, &[cryptoki::object::AttributeType::Label])?;
        if let Some(Attribute::Label(l)) = label.into_iter().next() {
            out.push((h, String::from_utf8_lossy(&l).into_owned()));
        }
    }
    Ok(out)
}
