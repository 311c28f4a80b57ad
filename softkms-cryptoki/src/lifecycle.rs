//! A key's lifecycle through its vendor attributes (`docs/vendor-abi.md`,
//! "Key states" and "Rotation"): rotation, enable/disable, scheduled deletion,
//! and reading it all back as a [`KeyInfo`].

use crate::abi::*;
use crate::attrs::{self, vendor_type, KeyState};
use crate::{Error, Result};
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_ULONG};

/// Rotates a managed key now: a new version becomes current, the old ones
/// keep decrypting. Returns the new current version.
///
/// ```
/// # let token = p11_testkit::throwaway::Token::new();
/// # let session = token.user_session();
/// # let key = token.managed_key(&session, "payments");
/// use softkms_cryptoki::{envelope_decrypt, envelope_encrypt, rotate, EncryptionContext};
/// let ctx = EncryptionContext::new();
/// let old = envelope_encrypt(&session, key, b"before", &ctx)?;
/// assert_eq!(rotate(&session, key)?, 2);
/// assert_eq!(&envelope_decrypt(&session, &old, &ctx)?[..], b"before");
/// # Ok::<(), softkms_cryptoki::Error>(())
/// ```
///
/// # Errors
///
/// A key that cannot rotate (not managed, imported material) or is not
/// Enabled: `CKR_KEY_FUNCTION_NOT_PERMITTED`.
pub fn rotate(session: &Session, key: ObjectHandle) -> Result<u32> {
    session.update_attributes(key, &[attrs::rotate()])?;
    KeyInfo::read(session, key)?
        .current_version
        .ok_or(Error::BadAttribute("CKA_SOFTKMS_CURRENT_VERSION"))
}

/// Enables a Disabled key.
///
/// # Errors
///
/// A key pending deletion or import: `CKR_ATTRIBUTE_VALUE_INVALID` (cancel the
/// deletion first: [`cancel_deletion`]).
pub fn enable(session: &Session, key: ObjectHandle) -> Result<()> {
    set_state(session, key, KeyState::Enabled)
}

/// Disables a key: every use fails with `CKR_KEY_FUNCTION_NOT_PERMITTED`
/// until it is enabled again.
///
/// # Errors
///
/// A key pending deletion or import: `CKR_ATTRIBUTE_VALUE_INVALID`.
pub fn disable(session: &Session, key: ObjectHandle) -> Result<()> {
    set_state(session, key, KeyState::Disabled)
}

fn set_state(session: &Session, key: ObjectHandle, state: KeyState) -> Result<()> {
    Ok(session.update_attributes(key, &[attrs::key_state(state)])?)
}

/// Schedules the key's deletion in `days` (7..=30): it is unusable at once
/// and destroyed when the time comes (at the next login or use after it).
/// Returns the deletion time (Unix seconds).
///
/// ```
/// # let token = p11_testkit::throwaway::Token::new();
/// # let session = token.user_session();
/// # let key = token.managed_key(&session, "old");
/// use softkms_cryptoki::{cancel_deletion, enable, schedule_deletion, KeyInfo, KeyState};
/// let when = schedule_deletion(&session, key, 7)?;
/// assert_eq!(KeyInfo::read(&session, key)?.deletion_time, Some(when));
/// cancel_deletion(&session, key)?; // back to Disabled
/// enable(&session, key)?;
/// assert_eq!(KeyInfo::read(&session, key)?.state, KeyState::Enabled);
/// # Ok::<(), softkms_cryptoki::Error>(())
/// ```
///
/// # Errors
///
/// `days` outside 7..=30: `CKR_ATTRIBUTE_VALUE_INVALID`.
pub fn schedule_deletion(session: &Session, key: ObjectHandle, days: u32) -> Result<u64> {
    session.update_attributes(
        key,
        &[
            attrs::pending_window(days),
            attrs::key_state(KeyState::PendingDeletion),
        ],
    )?;
    KeyInfo::read(session, key)?
        .deletion_time
        .ok_or(Error::BadAttribute("CKA_SOFTKMS_DELETION_TIME"))
}

/// Cancels a scheduled deletion: the key returns to Disabled.
///
/// # Errors
///
/// The module's refusal.
pub fn cancel_deletion(session: &Session, key: ObjectHandle) -> Result<()> {
    set_state(session, key, KeyState::Disabled)
}

/// Sets the automatic rotation period of a managed key: 0 turns it off, else
/// 90..=2560 days; the clock restarts now.
///
/// # Errors
///
/// Another number of days: `CKR_ATTRIBUTE_VALUE_INVALID`; a key that is not
/// managed or has imported material: `CKR_TEMPLATE_INCONSISTENT`.
pub fn set_rotation_period(session: &Session, key: ObjectHandle, days: u32) -> Result<()> {
    Ok(session.update_attributes(key, &[attrs::rotation_period(days)])?)
}

/// Retires the versions below `version` for good (their material is
/// destroyed; their messages fail with `CKR_KEY_FUNCTION_NOT_PERMITTED`).
///
/// # Errors
///
/// A version below the current minimum or above the current version:
/// `CKR_ATTRIBUTE_VALUE_INVALID`.
pub fn set_min_decrypt_version(session: &Session, key: ObjectHandle, version: u32) -> Result<()> {
    Ok(session.update_attributes(key, &[attrs::min_decrypt_version(version)])?)
}

/// Replaces the key's policy (`docs/policy.md`); `force` accepts a policy
/// that leaves nobody able to change it again.
///
/// # Errors
///
/// A malformed policy, or one that locks everybody out without `force`:
/// `CKR_ATTRIBUTE_VALUE_INVALID`; no `SetPolicy` right:
/// `CKR_KEY_FUNCTION_NOT_PERMITTED`.
pub fn set_policy(session: &Session, key: ObjectHandle, json: &str, force: bool) -> Result<()> {
    let mut t = vec![attrs::policy(json)];
    if force {
        t.push(attrs::policy_force());
    }
    Ok(session.update_attributes(key, &t)?)
}

/// A key's KMS state as its vendor attributes say it. What a key does not
/// have (the managed-key attributes of a key that is not managed) is `None`;
/// times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// `CKA_UNIQUE_ID`: the id envelope messages name.
    pub unique_id: String,
    /// `CKA_SOFTKMS_KEY_STATE`.
    pub state: KeyState,
    /// `CKA_SOFTKMS_ORIGIN`: whether SoftKMS made the material.
    pub made_by_softkms: bool,
    /// `CKA_SOFTKMS_CURRENT_VERSION` (managed keys).
    pub current_version: Option<u32>,
    /// `CKA_SOFTKMS_MIN_DECRYPT_VERSION` (managed keys).
    pub min_decrypt_version: Option<u32>,
    /// `CKA_SOFTKMS_ROTATION_PERIOD` in days, 0 = off (managed keys).
    pub rotation_period_days: Option<u32>,
    /// `CKA_SOFTKMS_NEXT_ROTATION` (managed keys with a period).
    pub next_rotation: Option<u64>,
    /// `CKA_SOFTKMS_DELETION_TIME` (keys pending deletion).
    pub deletion_time: Option<u64>,
    /// `CKA_SOFTKMS_VALID_TO` (imported material that expires).
    pub valid_to: Option<u64>,
    /// `CKA_SOFTKMS_VERSION_TIMES`: (version, creation time), oldest first.
    pub versions: Vec<(u32, u64)>,
    /// `CKA_SOFTKMS_CREATOR`.
    pub creator: Option<String>,
    /// `CKA_SOFTKMS_POLICY`: the JSON document, `None` for the default policy.
    pub policy: Option<String>,
}

/// The vendor attributes [`KeyInfo::read`] asks for.
const READ: [CK_ATTRIBUTE_TYPE; 11] = [
    CKA_SOFTKMS_KEY_STATE,
    CKA_SOFTKMS_ORIGIN,
    CKA_SOFTKMS_CURRENT_VERSION,
    CKA_SOFTKMS_MIN_DECRYPT_VERSION,
    CKA_SOFTKMS_ROTATION_PERIOD,
    CKA_SOFTKMS_NEXT_ROTATION,
    CKA_SOFTKMS_DELETION_TIME,
    CKA_SOFTKMS_VALID_TO,
    CKA_SOFTKMS_VERSION_TIMES,
    CKA_SOFTKMS_CREATOR,
    CKA_SOFTKMS_POLICY,
];

/// A `CK_ULONG` as a `u64` (the same type on Unix, narrower on Windows).
#[allow(clippy::useless_conversion)]
fn wide(x: CK_ULONG) -> u64 {
    u64::from(x)
}

/// `CK_ULONG`s in native byte order.
fn ulongs(bytes: &[u8]) -> Option<Vec<CK_ULONG>> {
    const W: usize = std::mem::size_of::<CK_ULONG>();
    if !bytes.len().is_multiple_of(W) {
        return None;
    }
    bytes
        .chunks_exact(W)
        .map(|c| c.try_into().ok().map(CK_ULONG::from_ne_bytes))
        .collect()
}

impl KeyInfo {
    /// Reads the key's vendor attributes (one `C_GetAttributeValue` pass per
    /// `cryptoki`'s rules).
    ///
    /// # Errors
    ///
    /// A failed call; a value of the wrong shape ([`Error::BadAttribute`]).
    pub fn read(session: &Session, key: ObjectHandle) -> Result<KeyInfo> {
        let mut types: Vec<AttributeType> = READ.iter().map(|t| vendor_type(*t)).collect();
        types.push(AttributeType::UniqueId);
        let mut info = KeyInfo {
            unique_id: String::new(),
            state: KeyState::Enabled,
            made_by_softkms: false,
            current_version: None,
            min_decrypt_version: None,
            rotation_period_days: None,
            next_rotation: None,
            deletion_time: None,
            valid_to: None,
            versions: Vec::new(),
            creator: None,
            policy: None,
        };
        let mut state = None;
        for a in session.get_attributes(key, &types)? {
            let (ty, v) = match a {
                Attribute::UniqueId(v) => {
                    info.unique_id =
                        String::from_utf8(v).map_err(|_| Error::BadAttribute("CKA_UNIQUE_ID"))?;
                    continue;
                }
                Attribute::VendorDefined((AttributeType::VendorDefined(ty), v)) => (ty, v),
                _ => continue,
            };
            let bad = || Error::BadAttribute("a CKA_SOFTKMS_* attribute");
            let one = || -> Result<CK_ULONG> {
                match ulongs(&v).as_deref() {
                    Some([x]) => Ok(*x),
                    _ => Err(bad()),
                }
            };
            let small = || one().and_then(|x| u32::try_from(x).map_err(|_| bad()));
            let time = || one().map(|x| Some(wide(x)).filter(|t| *t != 0));
            match ty {
                CKA_SOFTKMS_KEY_STATE => state = KeyState::from_value(one()?),
                CKA_SOFTKMS_ORIGIN => info.made_by_softkms = one()? == SOFTKMS_ORIGIN_SOFTKMS,
                CKA_SOFTKMS_CURRENT_VERSION => info.current_version = Some(small()?),
                CKA_SOFTKMS_MIN_DECRYPT_VERSION => info.min_decrypt_version = Some(small()?),
                CKA_SOFTKMS_ROTATION_PERIOD => info.rotation_period_days = Some(small()?),
                CKA_SOFTKMS_NEXT_ROTATION => info.next_rotation = time()?,
                CKA_SOFTKMS_DELETION_TIME => info.deletion_time = time()?,
                CKA_SOFTKMS_VALID_TO => info.valid_to = time()?,
                CKA_SOFTKMS_VERSION_TIMES => {
                    let all = ulongs(&v).ok_or_else(bad)?;
                    if !all.len().is_multiple_of(2) {
                        return Err(bad());
                    }
                    info.versions = all
                        .chunks_exact(2)
                        .map(|p| Ok((u32::try_from(p[0]).map_err(|_| bad())?, wide(p[1]))))
                        .collect::<Result<_>>()?;
                }
                CKA_SOFTKMS_CREATOR => info.creator = String::from_utf8(v).ok(),
                CKA_SOFTKMS_POLICY => {
                    info.policy =
                        Some(String::from_utf8(v).map_err(|_| bad())?).filter(|p| !p.is_empty());
                }
                _ => {}
            }
        }
        info.state = state.ok_or(Error::BadAttribute("CKA_SOFTKMS_KEY_STATE"))?;
        Ok(info)
    }
}
