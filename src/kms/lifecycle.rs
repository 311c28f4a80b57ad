//! The KMS semantics of key objects: lifecycle states, managed keys with
//! versions and rotation, scheduled deletion, and imported material that expires
//! (DESIGN §4; `docs/kms.md`).
//!
//! Everything here works on attribute maps and a time given by the caller, so
//! the rules are tested with any clock; the module layer calls in at creation,
//! at `C_SetAttributeValue` and before every use of a key.

use crate::abi::*;
use crate::error::{Error, Result};
use crate::kms::versions::{self, Version};
use crate::object::attr::{decode_bool, decode_ulong, encode_ulongs, Template};
use crate::object::{AttrMap, Object};
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// Seconds in a day.
const DAY: i64 = 86_400;
/// Shortest and longest automatic rotation periods (days), as AWS KMS allows.
pub(crate) const ROTATION_DAYS: std::ops::RangeInclusive<CK_ULONG> = 90..=2560;
/// Why a key with imported material takes no rotation period.
const IMPORTED_DO_NOT_ROTATE: &str = "keys with imported material do not rotate automatically";
/// Shortest and longest deletion windows (days).
pub(crate) const PENDING_WINDOW_DAYS: std::ops::RangeInclusive<CK_ULONG> = 7..=30;

fn get_ulong(attrs: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> Option<CK_ULONG> {
    attrs.get(&ty).and_then(|v| decode_ulong(ty, v).ok())
}

fn get_bool(attrs: &AttrMap, ty: CK_ATTRIBUTE_TYPE) -> Option<bool> {
    attrs.get(&ty).and_then(|v| decode_bool(ty, v).ok())
}

fn set_ulong(attrs: &mut AttrMap, ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) {
    attrs.insert(ty, Zeroizing::new(v.to_ne_bytes().to_vec()));
}

fn time_ulong(t: i64) -> CK_ULONG {
    CK_ULONG::try_from(t.max(0)).unwrap_or(CK_ULONG::MAX)
}

fn ulong_time(v: CK_ULONG) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn denied(why: &str) -> Error {
    Error::KeyFunctionNotPermitted(why.to_string())
}

/// A managed key: an AES token key that is sensitive and unextractable (AWS
/// KMS's symmetric default). Only managed keys have versions and rotate.
pub(crate) fn is_managed(attrs: &AttrMap) -> bool {
    get_ulong(attrs, CKA_CLASS) == Some(CKO_SECRET_KEY)
        && get_ulong(attrs, CKA_KEY_TYPE) == Some(CKK_AES)
        && get_bool(attrs, CKA_TOKEN) == Some(true)
        && get_bool(attrs, CKA_SENSITIVE) == Some(true)
        && get_bool(attrs, CKA_EXTRACTABLE) == Some(false)
}

fn is_key(attrs: &AttrMap) -> bool {
    matches!(
        get_ulong(attrs, CKA_CLASS),
        Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY)
    )
}

/// The versions of a managed key.
pub(crate) fn key_versions(attrs: &AttrMap) -> Result<Vec<Version>> {
    match attrs.get(&CKA_SOFTKMS_VERSIONS) {
        Some(v) => versions::decode(v),
        None => Ok(Vec::new()),
    }
}

fn write_versions(attrs: &mut AttrMap, all: &[Version]) {
    attrs.insert(CKA_SOFTKMS_VERSIONS, versions::encode(all));
    let times: Vec<CK_ULONG> = all
        .iter()
        .flat_map(|v| [CK_ULONG::from(v.number), time_ulong(v.created)])
        .collect();
    attrs.insert(
        CKA_SOFTKMS_VERSION_TIMES,
        Zeroizing::new(encode_ulongs(&times)),
    );
}

fn next_rotation(period_days: CK_ULONG, from: i64) -> CK_ULONG {
    if period_days == 0 {
        return 0;
    }
    let days = i64::try_from(period_days).unwrap_or(i64::MAX / DAY);
    time_ulong(from.saturating_add(days.saturating_mul(DAY)))
}

fn check_rotation_period(days: CK_ULONG) -> Result<()> {
    if days == 0 || ROTATION_DAYS.contains(&days) {
        Ok(())
    } else {
        log::info!(
            "CKA_SOFTKMS_ROTATION_PERIOD refused: a rotation period is 0 (off) or {} to {} days, not {days}",
            ROTATION_DAYS.start(),
            ROTATION_DAYS.end()
        );
        Err(Error::AttributeValueInvalid(CKA_SOFTKMS_ROTATION_PERIOD))
    }
}

/// Fills in the KMS attributes of a new key object (any creation path).
pub(crate) fn on_create(attrs: &mut AttrMap, now: i64) -> Result<()> {
    if !is_key(attrs) {
        return Ok(());
    }
    crate::kms::meta::on_write(attrs, |_| true)?;
    let state = get_ulong(attrs, CKA_SOFTKMS_KEY_STATE).unwrap_or(SOFTKMS_KEY_STATE_ENABLED);
    if state != SOFTKMS_KEY_STATE_ENABLED && state != SOFTKMS_KEY_STATE_DISABLED {
        return Err(Error::AttributeValueInvalid(CKA_SOFTKMS_KEY_STATE));
    }
    let window = get_ulong(attrs, CKA_SOFTKMS_PENDING_WINDOW).unwrap_or(30);
    if !PENDING_WINDOW_DAYS.contains(&window) {
        return Err(Error::AttributeValueInvalid(CKA_SOFTKMS_PENDING_WINDOW));
    }
    let local = get_bool(attrs, CKA_LOCAL) == Some(true);
    let origin = if local {
        SOFTKMS_ORIGIN_SOFTKMS
    } else {
        SOFTKMS_ORIGIN_EXTERNAL
    };
    set_ulong(attrs, CKA_SOFTKMS_ORIGIN, origin);
    let valid_to = get_ulong(attrs, CKA_SOFTKMS_VALID_TO).unwrap_or(0);
    if valid_to != 0 && origin != SOFTKMS_ORIGIN_EXTERNAL {
        return Err(Error::TemplateInconsistent(
            "only imported material expires",
        ));
    }
    let period = get_ulong(attrs, CKA_SOFTKMS_ROTATION_PERIOD).unwrap_or(0);
    check_rotation_period(period)?;
    if period != 0 && origin == SOFTKMS_ORIGIN_EXTERNAL {
        return Err(Error::TemplateInconsistent(IMPORTED_DO_NOT_ROTATE));
    }
    if !is_managed(attrs) {
        if period != 0 {
            return Err(Error::TemplateInconsistent("only managed keys rotate"));
        }
        attrs.remove(&CKA_SOFTKMS_ROTATION_PERIOD);
        return Ok(());
    }
    let material = attrs
        .get(&CKA_VALUE)
        .cloned()
        .ok_or(Error::TemplateIncomplete { missing: CKA_VALUE })?;
    if origin == SOFTKMS_ORIGIN_EXTERNAL {
        let digest = crate::crypto::hash::digest(crate::crypto::hash::HashAlg::Sha256, &material);
        attrs.insert(CKA_SOFTKMS_MATERIAL_DIGEST, Zeroizing::new(digest));
    }
    write_versions(
        attrs,
        &[Version {
            number: 1,
            created: now,
            material,
        }],
    );
    set_ulong(attrs, CKA_SOFTKMS_CURRENT_VERSION, 1);
    set_ulong(attrs, CKA_SOFTKMS_MIN_DECRYPT_VERSION, 1);
    set_ulong(attrs, CKA_SOFTKMS_ROTATION_PERIOD, period);
    set_ulong(attrs, CKA_SOFTKMS_NEXT_ROTATION, next_rotation(period, now));
    attrs.insert(CKA_SOFTKMS_ROTATE, Zeroizing::new(vec![CK_FALSE]));
    Ok(())
}

/// Adds a new version of a managed key with fresh material and makes it current.
pub(crate) fn rotate(attrs: &mut AttrMap, now: i64) -> Result<()> {
    if !is_managed(attrs) {
        return Err(denied(
            "only managed keys (AES token keys, sensitive, unextractable) rotate",
        ));
    }
    if get_ulong(attrs, CKA_SOFTKMS_ORIGIN) == Some(SOFTKMS_ORIGIN_EXTERNAL) {
        return Err(denied(
            "keys with imported material are not rotated by SoftKMS",
        ));
    }
    let mut all = key_versions(attrs)?;
    let current = get_ulong(attrs, CKA_SOFTKMS_CURRENT_VERSION).unwrap_or(1);
    let len = attrs.get(&CKA_VALUE).map_or(32, |v| v.len());
    let material = crate::crypto::random_vec(len).map_err(|_| Error::FunctionFailed)?;
    let number = u32::try_from(current + 1).map_err(|_| Error::FunctionFailed)?;
    all.push(Version {
        number,
        created: now,
        material: material.clone(),
    });
    write_versions(attrs, &all);
    attrs.insert(CKA_VALUE, material);
    set_ulong(attrs, CKA_SOFTKMS_CURRENT_VERSION, CK_ULONG::from(number));
    let period = get_ulong(attrs, CKA_SOFTKMS_ROTATION_PERIOD).unwrap_or(0);
    set_ulong(attrs, CKA_SOFTKMS_NEXT_ROTATION, next_rotation(period, now));
    log::info!("rotated a managed key to version {number}");
    Ok(())
}

/// What a use of a key must do first.
#[derive(Debug)]
pub(crate) enum UseCheck {
    /// Use it as it is.
    Ready,
    /// Store these attributes first (a due rotation), then use the key.
    Replace(AttrMap),
    /// Store these attributes (expired material was deleted), then refuse the use.
    ReplaceAndDeny(AttrMap, Error),
    /// Its deletion is due: destroy it, then report the handle as invalid.
    Destroy,
}

/// Checks that a key may be used now, and what must happen first.
pub(crate) fn check_use(key: &Object, now: i64) -> Result<UseCheck> {
    let attrs = key.attrs();
    let state = get_ulong(attrs, CKA_SOFTKMS_KEY_STATE).unwrap_or(SOFTKMS_KEY_STATE_ENABLED);
    match state {
        SOFTKMS_KEY_STATE_ENABLED => {}
        SOFTKMS_KEY_STATE_DISABLED => return Err(denied("the key is disabled")),
        SOFTKMS_KEY_STATE_PENDING_DELETION => {
            let when = get_ulong(attrs, CKA_SOFTKMS_DELETION_TIME).map_or(i64::MAX, ulong_time);
            if when <= now {
                return Ok(UseCheck::Destroy);
            }
            return Err(denied("the key is pending deletion"));
        }
        SOFTKMS_KEY_STATE_PENDING_IMPORT => {
            return Err(denied("the key's material has expired or was not imported"))
        }
        _ => return Err(denied("the key is in an unknown state")),
    }
    let valid_to = get_ulong(attrs, CKA_SOFTKMS_VALID_TO).unwrap_or(0);
    if valid_to != 0 && ulong_time(valid_to) <= now {
        let mut new = attrs.clone();
        expire(&mut new)?;
        return Ok(UseCheck::ReplaceAndDeny(
            new,
            denied("the key's imported material has expired"),
        ));
    }
    let due = get_ulong(attrs, CKA_SOFTKMS_NEXT_ROTATION).unwrap_or(0);
    // Imported material is never rotated by SoftKMS (`rotate` refuses it), so a
    // period stored by an older version must not turn every use into a failure.
    let imported = get_ulong(attrs, CKA_SOFTKMS_ORIGIN) == Some(SOFTKMS_ORIGIN_EXTERNAL);
    if due != 0 && ulong_time(due) <= now && is_managed(attrs) && !imported {
        let mut new = attrs.clone();
        rotate(&mut new, now)?;
        return Ok(UseCheck::Replace(new));
    }
    Ok(UseCheck::Ready)
}

/// Deletes expired imported material: the key stays, in PendingImport.
fn expire(attrs: &mut AttrMap) -> Result<()> {
    let mut all = key_versions(attrs)?;
    for v in &mut all {
        v.material = Zeroizing::new(Vec::new());
    }
    if !all.is_empty() {
        write_versions(attrs, &all);
    }
    if let Some(v) = attrs.get_mut(&CKA_VALUE) {
        // The material goes; an empty value keeps the object well-formed.
        *v = Zeroizing::new(Vec::new());
    }
    set_ulong(
        attrs,
        CKA_SOFTKMS_KEY_STATE,
        SOFTKMS_KEY_STATE_PENDING_IMPORT,
    );
    log::info!("imported key material expired and was deleted");
    Ok(())
}

/// Whether a key in PendingDeletion is due to be destroyed (at login and use).
pub(crate) fn deletion_due(key: &Object, now: i64) -> bool {
    let attrs = key.attrs();
    get_ulong(attrs, CKA_SOFTKMS_KEY_STATE) == Some(SOFTKMS_KEY_STATE_PENDING_DELETION)
        && get_ulong(attrs, CKA_SOFTKMS_DELETION_TIME).is_some_and(|t| ulong_time(t) <= now)
}

/// Applies the KMS meaning of a `C_SetAttributeValue` that the generic rules
/// accepted: state transitions, rotation on demand, the rotation period and the
/// minimum decryption version. `new` is the object's attributes after the write.
pub(crate) fn on_set(old: &Object, new: &mut AttrMap, template: &Template, now: i64) -> Result<()> {
    let given = |ty| template.iter().any(|a| a.ty == ty);
    crate::kms::meta::on_write(new, given)?;
    let old_state = old
        .get_ulong(CKA_SOFTKMS_KEY_STATE)
        .unwrap_or(SOFTKMS_KEY_STATE_ENABLED);
    if given(CKA_SOFTKMS_PENDING_WINDOW) {
        let w = get_ulong(new, CKA_SOFTKMS_PENDING_WINDOW).unwrap_or(0);
        if !PENDING_WINDOW_DAYS.contains(&w) {
            return Err(Error::AttributeValueInvalid(CKA_SOFTKMS_PENDING_WINDOW));
        }
    }
    if given(CKA_SOFTKMS_KEY_STATE) {
        let to = get_ulong(new, CKA_SOFTKMS_KEY_STATE).unwrap_or(0);
        use crate::abi::{
            SOFTKMS_KEY_STATE_DISABLED as D, SOFTKMS_KEY_STATE_ENABLED as E,
            SOFTKMS_KEY_STATE_PENDING_DELETION as PD,
        };
        match (old_state, to) {
            (a, b) if a == b => {}
            (E, D) | (D, E) => {}
            (E | D, PD) => {
                let w = get_ulong(new, CKA_SOFTKMS_PENDING_WINDOW).unwrap_or(30);
                let days = i64::try_from(w).unwrap_or(30);
                set_ulong(new, CKA_SOFTKMS_DELETION_TIME, time_ulong(now + days * DAY));
                log::info!("key scheduled for deletion in {days} days");
            }
            (PD, D) => set_ulong(new, CKA_SOFTKMS_DELETION_TIME, 0),
            _ => {
                log::info!("refused key state change {old_state} -> {to}");
                return Err(Error::AttributeValueInvalid(CKA_SOFTKMS_KEY_STATE));
            }
        }
    } else if old_state != SOFTKMS_KEY_STATE_ENABLED
        && (given(CKA_SOFTKMS_ROTATE) || given(CKA_SOFTKMS_MIN_DECRYPT_VERSION))
    {
        return Err(denied(
            "only an enabled key can be rotated or retire versions",
        ));
    }
    // An expiry is fixed when material is imported (at creation, or again by
    // a re-import in the same write): moving it later would bring expired
    // material back.
    if given(CKA_SOFTKMS_VALID_TO) && !given(CKA_SOFTKMS_IMPORT_FROM) {
        return Err(Error::AttributeReadOnly(CKA_SOFTKMS_VALID_TO));
    }
    if given(CKA_SOFTKMS_VALID_TO)
        && get_ulong(new, CKA_SOFTKMS_ORIGIN) != Some(SOFTKMS_ORIGIN_EXTERNAL)
    {
        return Err(Error::TemplateInconsistent(
            "only imported material expires",
        ));
    }
    if given(CKA_SOFTKMS_IMPORT_FROM) {
        // The module resolved the handle and called `reimport`; the value itself
        // is not kept.
        new.remove(&CKA_SOFTKMS_IMPORT_FROM);
    }
    if given(CKA_SOFTKMS_ROTATION_PERIOD) {
        let p = get_ulong(new, CKA_SOFTKMS_ROTATION_PERIOD).unwrap_or(0);
        check_rotation_period(p)?;
        if !is_managed(new) {
            return Err(Error::TemplateInconsistent("only managed keys rotate"));
        }
        if p != 0 && get_ulong(new, CKA_SOFTKMS_ORIGIN) == Some(SOFTKMS_ORIGIN_EXTERNAL) {
            return Err(Error::TemplateInconsistent(IMPORTED_DO_NOT_ROTATE));
        }
        set_ulong(new, CKA_SOFTKMS_NEXT_ROTATION, next_rotation(p, now));
    }
    if given(CKA_SOFTKMS_ROTATE) {
        if get_bool(new, CKA_SOFTKMS_ROTATE) == Some(true) {
            rotate(new, now)?;
        }
        new.insert(CKA_SOFTKMS_ROTATE, Zeroizing::new(vec![CK_FALSE]));
    }
    if given(CKA_SOFTKMS_MIN_DECRYPT_VERSION) {
        let min = get_ulong(new, CKA_SOFTKMS_MIN_DECRYPT_VERSION).unwrap_or(0);
        let old_min = old.get_ulong(CKA_SOFTKMS_MIN_DECRYPT_VERSION).unwrap_or(1);
        let current = get_ulong(new, CKA_SOFTKMS_CURRENT_VERSION).unwrap_or(1);
        if min < old_min || min > current {
            return Err(Error::AttributeValueInvalid(
                CKA_SOFTKMS_MIN_DECRYPT_VERSION,
            ));
        }
        // Retired versions lose their material for good.
        let mut all = key_versions(new)?;
        for v in all.iter_mut().filter(|v| CK_ULONG::from(v.number) < min) {
            v.material = Zeroizing::new(Vec::new());
        }
        write_versions(new, &all);
    }
    Ok(())
}

/// Imports the same material again into a key whose imported material expired
/// (PendingImport): only material with the recorded SHA-256 is accepted. The key
/// becomes Enabled; its expiry is what the same write sets (or none).
pub(crate) fn reimport(old: &Object, new: &mut AttrMap, material: &[u8]) -> Result<()> {
    if old.get_ulong(CKA_SOFTKMS_KEY_STATE) != Some(SOFTKMS_KEY_STATE_PENDING_IMPORT) {
        return Err(denied(
            "material can only be imported again into a key in PendingImport",
        ));
    }
    let digest = crate::crypto::hash::digest(crate::crypto::hash::HashAlg::Sha256, material);
    let recorded = new
        .get(&CKA_SOFTKMS_MATERIAL_DIGEST)
        .ok_or_else(|| denied("the key records no imported material"))?;
    if !crate::crypto::hash::ct_eq(&digest, recorded) {
        log::info!("re-import refused: not the material this key had");
        return Err(Error::AttributeValueInvalid(CKA_SOFTKMS_IMPORT_FROM));
    }
    let mut all = key_versions(new)?;
    for v in &mut all {
        v.material = Zeroizing::new(material.to_vec());
    }
    write_versions(new, &all);
    new.insert(CKA_VALUE, Zeroizing::new(material.to_vec()));
    set_ulong(new, CKA_SOFTKMS_KEY_STATE, SOFTKMS_KEY_STATE_ENABLED);
    new.remove(&CKA_SOFTKMS_IMPORT_FROM);
    log::info!("imported key material again");
    Ok(())
}

/// The material a managed key decrypts with, newest version first (only the
/// versions at or above the minimum decryption version). A key without
/// versions decrypts with its value as version 1.
pub(crate) fn decrypt_versions(key: &Object) -> Result<Vec<(u32, Zeroizing<Vec<u8>>)>> {
    let attrs = key.attrs();
    let all = key_versions(attrs)?;
    if all.is_empty() {
        let v = attrs.get(&CKA_VALUE).cloned().unwrap_or_default();
        return Ok(vec![(1, v)]);
    }
    let min = get_ulong(attrs, CKA_SOFTKMS_MIN_DECRYPT_VERSION).unwrap_or(1);
    Ok(all
        .into_iter()
        .rev()
        .filter(|v| CK_ULONG::from(v.number) >= min && !v.material.is_empty())
        .map(|v| (v.number, v.material))
        .collect())
}

/// The version new encryptions use.
pub(crate) fn current_version(key: &Object) -> u32 {
    key.get_ulong(CKA_SOFTKMS_CURRENT_VERSION)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests;
