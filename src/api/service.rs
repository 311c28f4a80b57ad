//! What a service that authenticates its callers itself needs from a token
//! (`softkms serve`, `docs/serve.md`): sessions that act for a principal,
//! access keys, and a record of each request in the audit log.
//!
//! The service logs in once as the token owner ("user") and keeps that
//! session open; for each request it opens another [`Token`] of the slot and
//! names the principal the request comes from ([`Token::act_as`]). From then
//! on that session is that principal's to the key gate: its key policies,
//! the creator of the keys it makes, the audit records of its uses.
//!
//! Access keys are the credentials of the AWS API (SigV4): an id, printed
//! and stored, and a secret that is never stored anywhere: it is derived
//! from the token master key, the id and the principal, so that only a
//! process holding the master key can compute it, and a record edited to
//! name another principal gives another secret. The record is a private,
//! unmodifiable token object (`CKO_DATA`, application
//! [`ACCESS_KEY_APPLICATION`]) covered by the token's integrity root;
//! deleting it revokes the key.

use super::error::{Error, ErrorKind, Result};
use super::session::{label as label_attr, Token};
use super::types::{Pin, Principal, SecretBytes, Timestamp};
use crate::object::attr::Attribute;
use base64::Engine as _;
use cryptoki_sys::*;
use serde::{Deserialize, Serialize};

/// `CKA_APPLICATION` of an access key's record.
pub const ACCESS_KEY_APPLICATION: &str = "softkms access key";
/// The label of the secrets access keys derive from the master key.
const SECRET_LABEL: &str = "access-key";
/// Characters of an access key id: "SKMS" and 16 of base32.
pub const ACCESS_KEY_ID_LEN: usize = 20;
/// The most access keys one token holds.
pub const MAX_ACCESS_KEYS: usize = 1000;

/// An access key's record (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessKeyInfo {
    /// The id: `SKMS` and 16 characters of `A-Z2-7`.
    pub id: String,
    /// The principal whose requests it signs.
    pub principal: Principal,
    /// When it was made.
    pub created: Timestamp,
    /// Whether requests it signs are accepted (an inactive key is kept, and
    /// can be made active again).
    pub active: bool,
}

/// A principal's wrong PINs in a row against the token's limit
/// ([`Token::pin_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PinStatus {
    /// Wrong PINs in a row since its last good one; `None` when there is no
    /// such principal.
    pub failed: Option<u32>,
    /// How many in a row lock a PIN (the slot's `max_pin_failures`).
    pub max: u32,
}

impl PinStatus {
    /// Whether the PIN is locked (the SO resets it).
    pub fn locked(&self) -> bool {
        self.failed.is_some_and(|n| n >= self.max)
    }
}

/// A new access key with its secret, shown once.
#[derive(Debug)]
#[non_exhaustive]
pub struct NewAccessKey {
    /// The record.
    pub info: AccessKeyInfo,
    /// The secret access key (40 characters of base64).
    pub secret: SecretBytes,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    principal: String,
    /// The unique id of the principal's object when the key was made (""
    /// for the token owner): a principal removed and added again under the
    /// same name is another principal, whose old keys no longer work.
    principal_uid: String,
    created: i64,
    /// Set while the key is inactive (absent from the records of active keys).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    inactive: bool,
}

/// Whether `id` has the shape of an access key id.
pub fn is_access_key_id(id: &str) -> bool {
    id.len() == ACCESS_KEY_ID_LEN
        && id.starts_with("SKMS")
        && id[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

fn principal_of(name: &str) -> Result<Principal> {
    match name {
        crate::principal::USER => Ok(Principal::User),
        n => Ok(Principal::Named(
            super::types::PrincipalName::new(n)?.as_str().to_string(),
        )),
    }
}

impl Token {
    /// Makes this session act for `who` (see the module docs): allowed on a
    /// session of a service logged in as the token owner, else
    /// [`ErrorKind::NotLoggedIn`]; an unknown principal is
    /// [`ErrorKind::NotFound`].
    pub fn act_as(&self, who: &Principal) -> Result<()> {
        if matches!(who, Principal::SecurityOfficer) {
            return Err(Error::invalid("a session cannot act for the SO"));
        }
        let _g = self.take();
        self.m().act_as(self.h(), who.name()).map_err(|e| match e {
            crate::error::Error::UserPinNotInitialized => Error::new(
                ErrorKind::NotFound,
                format!("no principal {:?} on this token", who.name()),
            ),
            e => Error::from(e),
        })
    }

    /// Records a request the service ran for this session's principal in the
    /// audit log: `operation` (e.g. `kms:Encrypt`), the key it was about,
    /// whether it succeeded (`rv`: `CKR_OK`, or the code of the error) and
    /// `reason` (access key id, source address, error).
    pub fn record_request(
        &self,
        operation: &str,
        key_id: Option<&str>,
        rv: u64,
        reason: &str,
    ) -> Result<()> {
        let _g = self.take();
        Ok(self
            .m()
            .record_service_request(self.h(), operation, None, key_id, rv, reason)?)
    }

    /// Records a request the service ran on `who`'s authority with this
    /// session (the console's SO pages, run on the owner's session): as
    /// [`Token::record_request`], naming `who`.
    pub fn record_request_for(
        &self,
        who: &Principal,
        operation: &str,
        rv: u64,
        reason: &str,
    ) -> Result<()> {
        let name = who.name();
        let _g = self.take();
        Ok(self
            .m()
            .record_service_request(self.h(), operation, Some(name), None, rv, reason)?)
    }

    /// Records a request the service refused before it knew who sent it (a
    /// bad signature, an unknown access key): principal "" in the record.
    pub fn record_unauthenticated(&self, operation: &str, rv: u64, reason: &str) -> Result<()> {
        let _g = self.take();
        Ok(self
            .m()
            .record_service_request(self.h(), operation, Some(""), None, rv, reason)?)
    }

    /// The unique id of a named principal's object ("" for the owner and
    /// the SO); `None` when it does not exist. A principal removed and added
    /// again under the same name has another.
    pub fn principal_uid(&self, who: &Principal) -> Option<String> {
        match who {
            Principal::Named(n) => {
                let t = vec![
                    Attribute::ulong(CKA_CLASS, crate::abi::CKO_SOFTKMS_PRINCIPAL),
                    label_attr(n),
                ];
                let found = self.find(&t, 2).ok()?;
                match found.as_slice() {
                    [o] => self.text(*o, CKA_UNIQUE_ID),
                    _ => None,
                }
            }
            _ => Some(String::new()),
        }
    }

    /// The secret of access key `id` for `principal` (whose object's unique
    /// id is `principal_uid`).
    fn access_key_secret(
        &self,
        id: &str,
        principal: &str,
        principal_uid: &str,
    ) -> Result<SecretBytes> {
        let mac = self.m().service_secret(
            self.h(),
            SECRET_LABEL,
            &[
                id.as_bytes(),
                principal.as_bytes(),
                principal_uid.as_bytes(),
            ],
        )?;
        let text = base64::engine::general_purpose::STANDARD.encode(&mac[..30]);
        Ok(SecretBytes::new(text.into_bytes()))
    }

    fn access_key_template(id: Option<&str>) -> Vec<Attribute> {
        let mut t = vec![
            Attribute::ulong(CKA_CLASS, CKO_DATA),
            Attribute::new(CKA_APPLICATION, ACCESS_KEY_APPLICATION.as_bytes().to_vec()),
        ];
        if let Some(id) = id {
            t.push(label_attr(id));
        }
        t
    }

    /// The template of access key `id`'s record object holding `record`:
    /// a private token object nobody may modify or copy.
    fn access_key_object(id: &str, record: Vec<u8>) -> Vec<Attribute> {
        let mut t = Self::access_key_template(Some(id));
        t.extend([
            Attribute::new(CKA_VALUE, record),
            Attribute::bool(CKA_TOKEN, true),
            Attribute::bool(CKA_PRIVATE, true),
            Attribute::bool(CKA_MODIFIABLE, false),
            Attribute::bool(CKA_COPYABLE, false),
        ]);
        t
    }

    /// Makes an access key for `who` (the token owner only, logged in):
    /// its record is stored, its secret returned once.
    pub fn create_access_key(&self, who: &Principal) -> Result<NewAccessKey> {
        if matches!(who, Principal::SecurityOfficer) {
            return Err(Error::invalid(
                "access keys are for the token owner and named principals, not the SO",
            ));
        }
        if self.list_access_keys()?.len() >= MAX_ACCESS_KEYS {
            return Err(Error::invalid(format!(
                "a token holds at most {MAX_ACCESS_KEYS} access keys: delete one first"
            )));
        }
        let _g = self.take();
        let principal_uid = self.principal_uid(who).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "no principal {:?} on this token (the SO adds it: softkms user add)",
                    who.name()
                ),
            )
        })?;
        let mut raw = [0u8; 10];
        crate::crypto::random(&mut raw)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("random source failed: {e}")))?;
        let id = format!("SKMS{}", base32(&raw));
        // The principal must exist, and only the owner derives secrets.
        let secret = self.access_key_secret(&id, who.name(), &principal_uid)?;
        let created = Timestamp::now();
        let record = serde_json::to_vec(&Record {
            principal: who.name().to_string(),
            principal_uid,
            created: created.unix(),
            inactive: false,
        })
        .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        self.m()
            .create_object(self.h(), &Self::access_key_object(&id, record))?;
        Ok(NewAccessKey {
            info: AccessKeyInfo {
                id,
                principal: who.clone(),
                created,
                active: true,
            },
            secret,
        })
    }

    /// The access keys of this token, sorted by id (records that do not
    /// parse are left out and logged).
    pub fn list_access_keys(&self) -> Result<Vec<AccessKeyInfo>> {
        let _g = self.take();
        let mut out: Vec<AccessKeyInfo> = self
            .find(&Self::access_key_template(None), MAX_ACCESS_KEYS * 2)?
            .into_iter()
            .filter_map(|o| self.access_key_info(o))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    fn access_key_info(&self, o: CK_OBJECT_HANDLE) -> Option<AccessKeyInfo> {
        self.access_key_record(o).map(|(info, _)| info)
    }

    /// An access key's record and the principal uid it was made for.
    fn access_key_record(&self, o: CK_OBJECT_HANDLE) -> Option<(AccessKeyInfo, String)> {
        let v = self.attrs(o, &[CKA_LABEL, CKA_VALUE, CKA_MODIFIABLE]);
        let id = String::from_utf8(v.first()?.as_deref()?.to_vec()).ok()?;
        let value = v.get(1)?.clone()?;
        // A record anybody could have edited is no record.
        if v.get(2)?.as_deref().map(|b| b.as_slice()) != Some(&[0u8][..]) || !is_access_key_id(&id)
        {
            log::warn!("access key record {id:?} is malformed or modifiable: ignored");
            return None;
        }
        let r: Record = serde_json::from_slice(&value)
            .inspect_err(|e| log::warn!("access key record {id:?}: {e}"))
            .ok()?;
        let info = AccessKeyInfo {
            id,
            principal: principal_of(&r.principal).ok()?,
            created: Timestamp::from_unix(r.created),
            active: !r.inactive,
        };
        Some((info, r.principal_uid))
    }

    /// The record object of access key `id` (the caller holds the session);
    /// [`ErrorKind::NotFound`] when there is none, or more than one.
    fn access_key_handle(&self, id: &str) -> Result<CK_OBJECT_HANDLE> {
        let found = if is_access_key_id(id) {
            self.find(&Self::access_key_template(Some(id)), 2)?
        } else {
            Vec::new()
        };
        match found.as_slice() {
            [o] => Ok(*o),
            _ => Err(Error::new(
                ErrorKind::NotFound,
                format!("no access key {id}"),
            )),
        }
    }

    /// The principal and secret of access key `id`, for a service checking
    /// a request's signature (the token owner's session only). An unknown
    /// id is [`ErrorKind::NotFound`].
    pub fn access_key(&self, id: &str) -> Result<(AccessKeyInfo, SecretBytes)> {
        let not_found = || Error::new(ErrorKind::NotFound, format!("no access key {id}"));
        let _g = self.take();
        let o = self.access_key_handle(id)?;
        let (info, made_for) = self.access_key_record(o).ok_or_else(not_found)?;
        if !info.active {
            log::info!("access key {id} is inactive");
            return Err(not_found());
        }
        // The principal it was made for must still be there (not removed,
        // nor removed and added again).
        if self.principal_uid(&info.principal).as_deref() != Some(made_for.as_str()) {
            log::info!(
                "access key {id}: its principal {:?} was removed",
                info.principal.name()
            );
            return Err(not_found());
        }
        let secret = self.access_key_secret(&info.id, info.principal.name(), &made_for)?;
        Ok((info, secret))
    }

    /// Makes access key `id` active or inactive (the token owner only):
    /// requests signed with an inactive key are refused as if it did not
    /// exist; its id and secret come back when it is made active again. The
    /// record cannot be modified, so it is replaced (deleted first: an
    /// interruption leaves no key rather than two).
    pub fn set_access_key_active(&self, id: &str, active: bool) -> Result<AccessKeyInfo> {
        let not_found = || Error::new(ErrorKind::NotFound, format!("no access key {id}"));
        let _g = self.take();
        let o = self.access_key_handle(id)?;
        let value = self
            .attrs(o, &[CKA_VALUE])
            .into_iter()
            .next()
            .flatten()
            .ok_or_else(not_found)?;
        let mut record: Record = serde_json::from_slice(&value).map_err(|_| not_found())?;
        let (mut info, _) = self.access_key_record(o).ok_or_else(not_found)?;
        if info.active == active {
            return Ok(info);
        }
        record.inactive = !active;
        let bytes = serde_json::to_vec(&record)
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        self.m().destroy_object(self.h(), o)?;
        self.m()
            .create_object(self.h(), &Self::access_key_object(id, bytes))?;
        info.active = active;
        Ok(info)
    }

    /// Checks `who`'s PIN for a service that signs its callers in itself
    /// (the console): a failure counts towards `who`'s lock-out, and the
    /// outcome is recorded as `operation` with `reason`; nobody is logged
    /// in by it. On the token owner's session only. A wrong PIN or unknown
    /// principal is [`ErrorKind::PinIncorrect`], a locked one
    /// [`ErrorKind::PinLocked`].
    pub fn verify_pin(
        &self,
        who: &Principal,
        pin: &Pin,
        operation: &str,
        reason: &str,
    ) -> Result<()> {
        let _g = self.take();
        let name =
            checked_name(who).ok_or_else(|| Error::from(crate::error::Error::PinIncorrect))?;
        Ok(self
            .m()
            .service_check_pin(self.h(), name, pin.bytes(), operation, reason)?)
    }

    /// Sets named principal `name`'s PIN (clearing its lock-out) on the
    /// SO's authority, checked with `so_pin` (a failure counts towards the
    /// SO's lock-out), for a service such as the console. On the token
    /// owner's session only.
    pub fn reset_principal_pin(
        &self,
        name: &super::types::PrincipalName,
        new_pin: &Pin,
        so_pin: &Pin,
        reason: &str,
    ) -> Result<()> {
        self.check_pin(new_pin)?;
        let _g = self.take();
        Ok(self.m().service_set_principal_pin(
            self.h(),
            name.as_str(),
            new_pin.bytes(),
            so_pin.bytes(),
            reason,
        )?)
    }

    /// The wrong PINs in a row of `who` (the SO, the owner or a named
    /// principal) since its last good one, against the token's limit. On
    /// the token owner's session only.
    pub fn pin_status(&self, who: &Principal) -> Result<PinStatus> {
        let _g = self.take();
        // A name that cannot be a principal's is nobody's (and never the SO's).
        let name = checked_name(who).unwrap_or("");
        let (failed, max) = self.m().service_pin_status(self.h(), name)?;
        Ok(PinStatus { failed, max })
    }

    /// Deletes access key `id`: requests signed with it are refused from now.
    pub fn delete_access_key(&self, id: &str) -> Result<()> {
        let _g = self.take();
        let found = if is_access_key_id(id) {
            self.find(&Self::access_key_template(Some(id)), 2)?
        } else {
            Vec::new()
        };
        if found.is_empty() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("no access key {id}"),
            ));
        }
        for o in found {
            self.m().destroy_object(self.h(), o)?;
        }
        Ok(())
    }
}

/// The name the module knows `who` by, checked: a named principal's must be
/// a valid principal name (so never "so" or "user"); `None` when it is not.
fn checked_name(who: &Principal) -> Option<&str> {
    match who {
        Principal::Named(n) => super::types::PrincipalName::new(n).ok().map(|_| n.as_str()),
        p => Some(p.name()),
    }
}

/// RFC 4648 base32 (no padding) of `bytes`, whose length is a multiple of 5.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5);
    for chunk in bytes.chunks(5) {
        let mut n: u64 = 0;
        for b in chunk {
            n = (n << 8) | u64::from(*b);
        }
        n <<= 8 * (5 - chunk.len());
        for i in (0..8).rev() {
            out.push(char::from(
                ALPHABET[usize::try_from((n >> (i * 5)) & 31).unwrap_or(0)],
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 §10: BASE32("fooba") = "MZXW6YTB".
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(&[0u8; 10]), "AAAAAAAAAAAAAAAA");
    }

    #[test]
    fn access_key_ids() {
        assert!(is_access_key_id("SKMSABCDEFGHIJKLMN27"));
        assert!(!is_access_key_id("SKMSABCDEFGHIJKLMN28"));
        assert!(!is_access_key_id("AKIAABCDEFGHIJKLMN27"));
        assert!(!is_access_key_id("SKMSabcdefghijklmn27"));
        assert!(!is_access_key_id("SKMS"));
    }
}
