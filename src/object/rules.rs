//! The validators that read the attribute table ([`crate::object::table`]): object
//! creation (`C_CreateObject`, `C_GenerateKey(Pair)`, `C_UnwrapKey`,
//! `C_DeriveKey`), `C_CopyObject`, `C_SetAttributeValue`, `C_GetAttributeValue`,
//! and the key-use and wrapping checks of the key management functions (§5.18).
//!
//! Error codes follow PKCS#11 3.0 §4.1.1–4.1.3: an attribute the object cannot
//! have is `CKR_ATTRIBUTE_TYPE_INVALID` (as SoftHSMv2 does; §4.1.1
//! would also allow `CKR_TEMPLATE_INCONSISTENT` for an attribute of another
//! class), a bad value `CKR_ATTRIBUTE_VALUE_INVALID`, an attribute that cannot be
//! set `CKR_ATTRIBUTE_READ_ONLY`, a missing one `CKR_TEMPLATE_INCOMPLETE`, values
//! that contradict each other (or an attribute given twice)
//! `CKR_TEMPLATE_INCONSISTENT`.
//!
//! Defaults the standard leaves to the token (footnote 9):
//! - `CKA_PRIVATE`: TRUE for private and secret keys, FALSE otherwise (SoftHSMv2).
//! - Key usage flags (`CKA_ENCRYPT`, `CKA_DECRYPT`, `CKA_SIGN`, `CKA_VERIFY`,
//!   `CKA_SIGN_RECOVER`, `CKA_VERIFY_RECOVER`, `CKA_WRAP`, `CKA_UNWRAP`): TRUE, as
//!   SoftHSMv2's `P11Attributes.cpp`; `CKA_DERIVE` FALSE (the standard's default).
//! - `CKA_SENSITIVE`: FALSE, the standard's stated default for secret keys (§4.10),
//!   used for private keys too (SoftHSMv2 does the same).
//! - `CKA_EXTRACTABLE` (per origin, [`table::EXTRACTABLE_DEFAULT`]): FALSE for a
//!   key the token generates (`C_GenerateKey`, the private half of
//!   `C_GenerateKeyPair`) or unwraps, as in a KMS: such a key never leaves the
//!   token unless its template asks for `CKA_EXTRACTABLE=TRUE`. A generated key
//!   then has `CKA_NEVER_EXTRACTABLE=TRUE`; an unwrapped one has FALSE, as the
//!   standard's `C_UnwrapKey` text requires (its material was outside the token).
//!   TRUE for `C_CreateObject` (the caller brings the value in the clear) and for
//!   `C_DeriveKey` (the derive mechanisms carry the base key's history into
//!   `CKA_NEVER_EXTRACTABLE`, and ECDH and data-key callers read the derived
//!   value). SoftHSMv2 defaults it to FALSE for every origin (`P11Attributes.cpp`);
//!   the `C_UnwrapKey` text says an unwrapped key is extractable "by default",
//!   which we do not follow, on purpose. See `docs/mechanisms.md`, "Defaults of
//!   new keys".

use crate::error::{Error, Result};
use crate::object::attr::{
    decode_bool, decode_template, decode_ulong, decode_ulongs, Attribute, Template,
};
use crate::object::table::{self, AttrDef, Check, DefaultValue, Flags, Kind, OriginDefaults};
use crate::object::table::{
    COPY_MODIFIABLE, KEY_MATERIAL, MODIFIABLE, NO_CREATE, NO_DERIVE, NO_GENERATE, NO_UNWRAP,
    REQ_CREATE, REQ_GENERATE, REQ_UNWRAP, SECRET, SO_TRUE_ONLY, TO_FALSE_ONLY, TO_TRUE_ONLY,
};
use crate::object::{AttrMap, Object};
use cryptoki_sys::*;
use zeroize::Zeroizing;

pub(crate) use crate::object::search::matches;

/// How a new object comes to be; it decides which attributes the caller may give
/// and which the token computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `C_CreateObject`.
    Create,
    /// `C_GenerateKey` / `C_GenerateKeyPair` with this key generation mechanism.
    Generate {
        /// The mechanism, recorded in `CKA_KEY_GEN_MECHANISM`.
        mechanism: CK_MECHANISM_TYPE,
    },
    /// `C_UnwrapKey`.
    Unwrap,
    /// `C_DeriveKey`.
    Derive,
}

impl Origin {
    fn forbidden(self) -> Flags {
        match self {
            Origin::Create => NO_CREATE,
            Origin::Generate { .. } => NO_GENERATE,
            Origin::Unwrap => NO_UNWRAP,
            Origin::Derive => NO_DERIVE,
        }
    }
    /// This origin's entry of a per-origin default.
    fn pick(self, by: OriginDefaults) -> bool {
        match self {
            Origin::Create => by.create,
            Origin::Generate { .. } => by.generate,
            Origin::Unwrap => by.unwrap,
            Origin::Derive => by.derive,
        }
    }
    fn required(self) -> Option<Flags> {
        match self {
            Origin::Create => Some(REQ_CREATE),
            Origin::Generate { .. } => Some(REQ_GENERATE),
            Origin::Unwrap => Some(REQ_UNWRAP),
            Origin::Derive => None,
        }
    }
}

/// The class of an object and its key type (keys) or certificate type (certificates).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) class: CK_OBJECT_CLASS,
    pub(crate) sub: Option<CK_ULONG>,
}

impl Shape {
    pub(crate) fn def(self, ty: CK_ATTRIBUTE_TYPE) -> Option<&'static AttrDef> {
        table::def(self.class, self.sub, ty)
    }
}

/// The shape of a stored object (already validated when it was made).
pub(crate) fn shape_of(attrs: &AttrMap) -> Option<Shape> {
    let ulong = |ty| attrs.get(&ty).and_then(|v| decode_ulong(ty, v).ok());
    let class = ulong(CKA_CLASS)?;
    let sub = if table::is_key_class(class) {
        Some(ulong(CKA_KEY_TYPE)?)
    } else if class == CKO_CERTIFICATE {
        Some(ulong(CKA_CERTIFICATE_TYPE)?)
    } else {
        None
    };
    Some(Shape { class, sub })
}

/// True when the key's secret attributes (footnote 7) may not be revealed.
pub(crate) fn hides_secrets(attrs: &AttrMap) -> bool {
    let flag = |ty, default| {
        attrs
            .get(&ty)
            .and_then(|v| decode_bool(ty, v).ok())
            .unwrap_or(default)
    };
    // Fail closed: a key without the attributes (never made by `new_object`) is hidden.
    flag(CKA_SENSITIVE, true) || !flag(CKA_EXTRACTABLE, false)
}

fn bool_value(v: bool) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(vec![if v { CK_TRUE } else { CK_FALSE }])
}

fn ulong_value(v: CK_ULONG) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(v.to_ne_bytes().to_vec())
}

fn valid_date(v: &[u8]) -> bool {
    if v.is_empty() {
        return true;
    }
    if v.len() != 8 || !v.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let num =
        |r: std::ops::Range<usize>| v[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    (1..=12).contains(&num(4..6)) && (1..=31).contains(&num(6..8))
}

/// Checks a value against its row and returns it in canonical form (booleans
/// become exactly `CK_TRUE`/`CK_FALSE`).
pub(crate) fn validate_value(d: &AttrDef, v: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let bad = || Error::AttributeValueInvalid(d.ty);
    match d.kind {
        Kind::Bool => return Ok(bool_value(decode_bool(d.ty, v)?)),
        Kind::Ulong => {
            let n = decode_ulong(d.ty, v)?;
            if let Check::UlongMax(max) = d.check {
                if n > max {
                    return Err(bad());
                }
            }
        }
        Kind::Bytes => {}
        Kind::Utf8 => {
            std::str::from_utf8(v).map_err(|_| bad())?;
        }
        Kind::Date => {
            if !valid_date(v) {
                return Err(bad());
            }
        }
        Kind::BigInteger => {
            if v.is_empty() {
                return Err(bad());
            }
        }
        Kind::UlongArray => {
            decode_ulongs(d.ty, v)?;
        }
        Kind::Template => {
            let t = decode_template(v).ok_or_else(bad)?;
            if has_duplicates(&t).is_some()
                || t.iter()
                    .any(|a| crate::object::attr::is_template_attribute(a.ty))
            {
                return Err(bad());
            }
        }
    }
    if let Check::Lens(lens) = d.check {
        if !lens.contains(&v.len()) {
            return Err(bad());
        }
    }
    if let Check::OddParity(len) = d.check {
        if v.len() != len || !v.iter().all(|b| b.count_ones() % 2 == 1) {
            return Err(bad());
        }
        // Three-key Triple-DES whose first two or last two keys are equal is
        // single DES (SP 800-67 Rev. 2 §3.1): not a DES3 key.
        if len == 24 && (v[..8] == v[8..16] || v[8..16] == v[16..]) {
            return Err(bad());
        }
    }
    Ok(Zeroizing::new(v.to_vec()))
}

/// The first attribute type that appears twice, if any.
fn has_duplicates(t: &[Attribute]) -> Option<CK_ATTRIBUTE_TYPE> {
    let mut seen = std::collections::BTreeSet::new();
    t.iter().map(|a| a.ty).find(|ty| !seen.insert(*ty))
}

fn reject_duplicates(t: &[Attribute]) -> Result<()> {
    match has_duplicates(t) {
        Some(_) => Err(Error::TemplateInconsistent(
            "an attribute appears twice in the template",
        )),
        None => Ok(()),
    }
}

/// The value of `ty` in a template (the first one).
fn find(t: &[Attribute], ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
    t.iter().find(|a| a.ty == ty).map(|a| a.value.as_slice())
}

/// A `CK_ULONG` given by the template or the mechanism; both must agree.
fn agreed_ulong(
    template: &[Attribute],
    generated: &[Attribute],
    ty: CK_ATTRIBUTE_TYPE,
    why: &'static str,
) -> Result<Option<CK_ULONG>> {
    let t = find(template, ty)
        .map(|v| decode_ulong(ty, v))
        .transpose()?;
    let g = find(generated, ty)
        .map(|v| decode_ulong(ty, v))
        .transpose()?;
    match (t, g) {
        (Some(a), Some(b)) if a != b => Err(Error::TemplateInconsistent(why)),
        (a, b) => Ok(a.or(b)),
    }
}

/// Works out the class and sub-type of a new object from the template and the
/// attributes the mechanism produced.
fn new_shape(template: &[Attribute], generated: &[Attribute]) -> Result<Shape> {
    let class = agreed_ulong(
        template,
        generated,
        CKA_CLASS,
        "CKA_CLASS differs from the mechanism's",
    )?
    .ok_or(Error::TemplateIncomplete { missing: CKA_CLASS })?;
    if !table::class_known(class) {
        return Err(Error::AttributeValueInvalid(CKA_CLASS));
    }
    let sub = if table::is_key_class(class) {
        let kt = agreed_ulong(
            template,
            generated,
            CKA_KEY_TYPE,
            "CKA_KEY_TYPE differs from the mechanism's",
        )?
        .ok_or(Error::TemplateIncomplete {
            missing: CKA_KEY_TYPE,
        })?;
        if !table::key_type_known(class, kt) {
            return Err(Error::AttributeValueInvalid(CKA_KEY_TYPE));
        }
        Some(kt)
    } else if class == CKO_CERTIFICATE {
        let ct = agreed_ulong(
            template,
            generated,
            CKA_CERTIFICATE_TYPE,
            "CKA_CERTIFICATE_TYPE differs",
        )?
        .ok_or(Error::TemplateIncomplete {
            missing: CKA_CERTIFICATE_TYPE,
        })?;
        if !table::cert_type_known(ct) {
            return Err(Error::AttributeValueInvalid(CKA_CERTIFICATE_TYPE));
        }
        Some(ct)
    } else {
        None
    };
    Ok(Shape { class, sub })
}

/// True when `attrs` is a key of a type offered only with
/// `legacy_mechanisms = true` (Triple-DES).
pub(crate) fn is_legacy_key(attrs: &AttrMap) -> bool {
    shape_of(attrs)
        .is_some_and(|s| table::is_key_class(s.class) && s.sub.is_some_and(table::legacy_key_type))
}

/// Number of significant bits of a big-endian integer.
fn bit_length(v: &[u8]) -> usize {
    match v.iter().position(|b| *b != 0) {
        None => 0,
        Some(i) => {
            let mut top = v[i];
            let mut bits = (v.len() - i - 1) * 8;
            while top != 0 {
                bits += 1;
                top >>= 1;
            }
            bits
        }
    }
}

/// Sets a computed `CK_ULONG` attribute; a different value already there (given by
/// the template or the mechanism) is a contradiction.
fn set_computed_ulong(
    map: &mut AttrMap,
    ty: CK_ATTRIBUTE_TYPE,
    v: CK_ULONG,
    why: &'static str,
) -> Result<()> {
    if let Some(old) = map.get(&ty) {
        if decode_ulong(ty, old)? != v {
            return Err(Error::TemplateInconsistent(why));
        }
    }
    map.insert(ty, ulong_value(v));
    Ok(())
}

fn map_flag(map: &AttrMap, ty: CK_ATTRIBUTE_TYPE, default: bool) -> bool {
    map.get(&ty)
        .and_then(|v| decode_bool(ty, v).ok())
        .unwrap_or(default)
}

/// Validates the caller's `template` for a new object made by `origin`, merges the
/// attributes the mechanism produced (`generated`: all key material and domain
/// parameters of the new key (e.g. `CKA_EC_PARAMS` of a generated EC private key,
/// `CKA_MODULUS` and `CKA_PUBLIC_EXPONENT` of both RSA halves), maybe `CKA_CLASS`
/// and `CKA_KEY_TYPE`, values the module computed such as `CKA_CHECK_VALUE`, and
/// for `Derive` the `CKA_ALWAYS_SENSITIVE`/`CKA_NEVER_EXTRACTABLE` it worked out),
/// fills the defaults and the attributes the token computes, and returns the new
/// object's attributes.
///
/// The template may not contradict `generated`. `uid` becomes `CKA_UNIQUE_ID`;
/// `so` says whether the SO is logged in (only the SO may set `CKA_TRUSTED`).
pub(crate) fn new_object(
    template: &Template,
    origin: Origin,
    generated: &Template,
    uid: &str,
    so: bool,
) -> Result<AttrMap> {
    reject_duplicates(template)?;
    if has_duplicates(generated).is_some() {
        return Err(Error::General(
            "mechanism produced an attribute twice".into(),
        ));
    }
    let shape = new_shape(template, generated)?;

    // The caller's attributes.
    let mut given = Vec::with_capacity(template.len());
    for a in template {
        let d = shape.def(a.ty).ok_or(Error::AttributeTypeInvalid(a.ty))?;
        if d.flags.any(origin.forbidden()) {
            return Err(Error::AttributeReadOnly(a.ty));
        }
        let v = validate_value(d, &a.value)?;
        if d.flags.any(SO_TRUE_ONLY) && v.first() == Some(&CK_TRUE) && !so {
            return Err(Error::AttributeReadOnly(a.ty));
        }
        given.push((a.ty, v));
    }
    // The mechanism's attributes: trusted, but still well-formed and not
    // contradicted by the template.
    let mut made = Vec::with_capacity(generated.len());
    for a in generated {
        let d = shape.def(a.ty).ok_or(Error::AttributeTypeInvalid(a.ty))?;
        let v = validate_value(d, &a.value)?;
        if let Some((_, t)) = given.iter().find(|(ty, _)| *ty == a.ty) {
            if *t != v {
                return Err(match a.ty {
                    CKA_CHECK_VALUE => Error::AttributeValueInvalid(CKA_CHECK_VALUE),
                    _ => Error::TemplateInconsistent("the template contradicts the mechanism"),
                });
            }
        }
        made.push((a.ty, v));
    }

    // Required by this origin (footnotes 3, 5) and required in every object (1).
    let present = |ty| given.iter().chain(&made).any(|(t, _)| *t == ty);
    for d in table::defs_for(shape.class, shape.sub) {
        let required = d.flags.any(REQ_CREATE) || origin.required().is_some_and(|f| d.flags.any(f));
        if required && !present(d.ty) {
            return Err(Error::TemplateIncomplete { missing: d.ty });
        }
    }

    // Defaults, then the template, then the mechanism.
    let mut map = AttrMap::new();
    for d in table::defs_for(shape.class, shape.sub) {
        let v = match d.default {
            DefaultValue::None | DefaultValue::Computed => continue,
            DefaultValue::False => bool_value(false),
            DefaultValue::True => bool_value(true),
            DefaultValue::ByOrigin(by) => bool_value(origin.pick(by)),
            DefaultValue::Empty => Zeroizing::new(Vec::new()),
            DefaultValue::Ulong(n) => ulong_value(n),
        };
        map.insert(d.ty, v);
    }
    let generated_has = |ty| made.iter().any(|(t, _)| *t == ty);
    for (ty, v) in given.into_iter().chain(made.iter().cloned()) {
        map.insert(ty, v);
    }

    // Attributes the token computes.
    let has_row = |ty| shape.def(ty).is_some();
    if has_row(CKA_UNIQUE_ID) {
        map.insert(CKA_UNIQUE_ID, Zeroizing::new(uid.as_bytes().to_vec()));
    }
    if has_row(CKA_LOCAL) && !generated_has(CKA_LOCAL) {
        map.insert(
            CKA_LOCAL,
            bool_value(matches!(origin, Origin::Generate { .. })),
        );
    }
    if has_row(CKA_KEY_GEN_MECHANISM) && !generated_has(CKA_KEY_GEN_MECHANISM) {
        let m = match origin {
            Origin::Generate { mechanism } => mechanism,
            _ => CK_UNAVAILABLE_INFORMATION,
        };
        map.insert(CKA_KEY_GEN_MECHANISM, ulong_value(m));
    }
    let generate = matches!(origin, Origin::Generate { .. });
    if has_row(CKA_ALWAYS_SENSITIVE) && !generated_has(CKA_ALWAYS_SENSITIVE) {
        let v = generate && map_flag(&map, CKA_SENSITIVE, false);
        map.insert(CKA_ALWAYS_SENSITIVE, bool_value(v));
    }
    if has_row(CKA_NEVER_EXTRACTABLE) && !generated_has(CKA_NEVER_EXTRACTABLE) {
        let v = generate && !map_flag(&map, CKA_EXTRACTABLE, true);
        map.insert(CKA_NEVER_EXTRACTABLE, bool_value(v));
    }
    if has_row(CKA_VALUE_LEN) {
        if let Some(len) = map.get(&CKA_VALUE).map(|v| v.len()) {
            let len =
                CK_ULONG::try_from(len).map_err(|_| Error::AttributeValueInvalid(CKA_VALUE))?;
            set_computed_ulong(
                &mut map,
                CKA_VALUE_LEN,
                len,
                "CKA_VALUE_LEN differs from the key's length",
            )?;
        }
    }
    if has_row(CKA_MODULUS_BITS) {
        if let Some(bits) = map.get(&CKA_MODULUS).map(|v| bit_length(v)) {
            let bits =
                CK_ULONG::try_from(bits).map_err(|_| Error::AttributeValueInvalid(CKA_MODULUS))?;
            set_computed_ulong(
                &mut map,
                CKA_MODULUS_BITS,
                bits,
                "CKA_MODULUS_BITS differs from the modulus",
            )?;
        }
    }
    check_consistency(shape, &map)?;
    Ok(map)
}

/// Rules that tie several attributes together.
fn check_consistency(shape: Shape, map: &AttrMap) -> Result<()> {
    // §4.9: CKA_ALWAYS_AUTHENTICATE may only be TRUE on a private object.
    if map_flag(map, CKA_ALWAYS_AUTHENTICATE, false) && !map_flag(map, CKA_PRIVATE, false) {
        return Err(Error::TemplateInconsistent(
            "CKA_ALWAYS_AUTHENTICATE needs CKA_PRIVATE",
        ));
    }
    // §4.6.3 footnote 2: an X.509 certificate's CKA_VALUE is non-empty unless CKA_URL is given.
    if shape.class == CKO_CERTIFICATE {
        let empty = |ty| map.get(&ty).is_none_or(|v| v.is_empty());
        if empty(CKA_VALUE) && empty(CKA_URL) {
            return Err(Error::AttributeValueInvalid(CKA_VALUE));
        }
    }
    Ok(())
}

/// Applies the direction rules of footnotes 10–12 to a write of `new` over the
/// current value `current` (`None`: the object does not have it yet).
fn check_direction(d: &AttrDef, current: Option<&[u8]>, new: &[u8], so: bool) -> Result<()> {
    if d.kind != Kind::Bool {
        return Ok(());
    }
    let cur = current.and_then(|v| decode_bool(d.ty, v).ok());
    let new = new.first() == Some(&CK_TRUE);
    if d.flags.any(TO_TRUE_ONLY) && cur == Some(true) {
        return Err(Error::AttributeReadOnly(d.ty));
    }
    if d.flags.any(TO_FALSE_ONLY) && cur == Some(false) {
        return Err(Error::AttributeReadOnly(d.ty));
    }
    if d.flags.any(SO_TRUE_ONLY) && new && !so {
        return Err(Error::AttributeReadOnly(d.ty));
    }
    Ok(())
}

/// Validates a change template against an existing object; `allowed` are the
/// flags that make an attribute changeable. Returns the new attribute map.
fn apply_changes(
    obj: &Object,
    template: &Template,
    allowed: Flags,
    so: bool,
) -> Result<(Shape, AttrMap)> {
    let shape = shape_of(obj.attrs())
        .ok_or_else(|| Error::General("stored object without class".into()))?;
    reject_duplicates(template)?;
    let mut map = obj.attrs().clone();
    for a in template {
        let d = shape.def(a.ty).ok_or(Error::AttributeTypeInvalid(a.ty))?;
        if !d.flags.any(allowed) {
            return Err(Error::AttributeReadOnly(a.ty));
        }
        let v = validate_value(d, &a.value)?;
        check_direction(d, obj.get(a.ty), &v, so)?;
        map.insert(a.ty, v);
    }
    Ok((shape, map))
}

/// `C_CopyObject` (§5.7, §4.1.3): the attributes of the copy of `src` changed by
/// `template`. Only attributes `C_SetAttributeValue` could change, plus
/// `CKA_TOKEN`, `CKA_PRIVATE`, `CKA_MODIFIABLE` and `CKA_DESTROYABLE`, may be given;
/// the direction rules apply. `CKA_LOCAL`, `CKA_ALWAYS_SENSITIVE`,
/// `CKA_NEVER_EXTRACTABLE` carry over; the copy gets `uid` as `CKA_UNIQUE_ID`.
pub(crate) fn copy_object(src: &Object, template: &Template, uid: &str) -> Result<AttrMap> {
    if !src.flag(CKA_COPYABLE, true) {
        return Err(Error::ActionProhibited);
    }
    let (shape, mut map) = apply_changes(src, template, MODIFIABLE.or(COPY_MODIFIABLE), false)?;
    if shape.def(CKA_UNIQUE_ID).is_some() {
        map.insert(CKA_UNIQUE_ID, Zeroizing::new(uid.as_bytes().to_vec()));
    }
    check_consistency(shape, &map)?;
    Ok(map)
}

/// `C_SetAttributeValue` (§5.7, §4.1.2): the object's attributes after the change,
/// or the first error with nothing changed. `so` says whether the SO is logged in.
pub(crate) fn set_attributes(obj: &Object, template: &Template, so: bool) -> Result<AttrMap> {
    if !obj.flag(CKA_MODIFIABLE, true) {
        return Err(Error::ActionProhibited);
    }
    // §4.6: "Trusted certificates cannot be modified."
    if obj.class() == Some(CKO_CERTIFICATE) && obj.flag(CKA_TRUSTED, false) {
        return Err(Error::ActionProhibited);
    }
    let (shape, map) = apply_changes(obj, template, MODIFIABLE, so)?;
    check_consistency(shape, &map)?;
    Ok(map)
}

/// The outcome of reading one attribute (`C_GetAttributeValue`, §5.7).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AttrRead {
    /// The value.
    Value(#[serde(with = "crate::object::attr::zeroizing_bytes")] Zeroizing<Vec<u8>>),
    /// The attribute is secret and the key sensitive or unextractable
    /// (`CKR_ATTRIBUTE_SENSITIVE`).
    Sensitive,
    /// The object has no such attribute (`CKR_ATTRIBUTE_TYPE_INVALID`).
    Invalid,
}

impl std::fmt::Debug for AttrRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Never print the value: it may be key material.
            AttrRead::Value(v) => write!(f, "Value({} bytes)", v.len()),
            AttrRead::Sensitive => f.write_str("Sensitive"),
            AttrRead::Invalid => f.write_str("Invalid"),
        }
    }
}

/// Reads attribute `ty` of `obj` as `C_GetAttributeValue` may reveal it.
pub(crate) fn read_attribute(obj: &Object, ty: CK_ATTRIBUTE_TYPE) -> AttrRead {
    let Some(shape) = shape_of(obj.attrs()) else {
        return AttrRead::Invalid;
    };
    let (Some(d), Some(v)) = (shape.def(ty), obj.get(ty)) else {
        return AttrRead::Invalid;
    };
    if d.flags.any(SECRET) && hides_secrets(obj.attrs()) {
        return AttrRead::Sensitive;
    }
    AttrRead::Value(Zeroizing::new(v.to_vec()))
}

/// The attributes of an object that are key material and must be sealed in
/// storage even when the object is public.
pub(crate) fn key_material_types(obj_attrs: &AttrMap) -> Vec<CK_ATTRIBUTE_TYPE> {
    let Some(shape) = shape_of(obj_attrs) else {
        return Vec::new();
    };
    // Only the few types that are key material for some object can be.
    table::key_material_candidates()
        .iter()
        .copied()
        .filter(|ty| obj_attrs.contains_key(ty))
        .filter(|ty| shape.def(*ty).is_some_and(|d| d.flags.any(KEY_MATERIAL)))
        .collect()
}

/// An estimate of the object's size in bytes (`C_GetObjectSize`): its attribute
/// values plus a fixed overhead per attribute and per object.
pub(crate) fn object_size(obj: &Object) -> usize {
    const PER_OBJECT: usize = 64;
    const PER_ATTRIBUTE: usize = 16;
    obj.attrs().values().fold(PER_OBJECT, |n, v| {
        n.saturating_add(v.len()).saturating_add(PER_ATTRIBUTE)
    })
}

const USAGES: &[(CK_ATTRIBUTE_TYPE, &str)] = &[
    (CKA_ENCRYPT, "CKA_ENCRYPT"),
    (CKA_DECRYPT, "CKA_DECRYPT"),
    (CKA_SIGN, "CKA_SIGN"),
    (CKA_VERIFY, "CKA_VERIFY"),
    (CKA_SIGN_RECOVER, "CKA_SIGN_RECOVER"),
    (CKA_VERIFY_RECOVER, "CKA_VERIFY_RECOVER"),
    (CKA_WRAP, "CKA_WRAP"),
    (CKA_UNWRAP, "CKA_UNWRAP"),
    (CKA_DERIVE, "CKA_DERIVE"),
    (CKA_ENCAPSULATE, "CKA_ENCAPSULATE"),
    (CKA_DECAPSULATE, "CKA_DECAPSULATE"),
];

/// Checks that `key` may be used for `usage` (`CKA_ENCRYPT`, `CKA_SIGN`, …,
/// `CKA_DERIVE`) with `mechanism`: the usage attribute must be TRUE and a
/// non-empty `CKA_ALLOWED_MECHANISMS` must list the mechanism
/// (`CKR_KEY_FUNCTION_NOT_PERMITTED` otherwise). `CKA_START_DATE`/`CKA_END_DATE`
/// are not enforced: §4.7 says Cryptoki attaches no meaning to them.
pub(crate) fn check_key_use(
    key: &Object,
    usage: CK_ATTRIBUTE_TYPE,
    mechanism: CK_MECHANISM_TYPE,
) -> Result<()> {
    let name = USAGES
        .iter()
        .find(|(t, _)| *t == usage)
        .map(|(_, n)| *n)
        .ok_or_else(|| {
            Error::KeyFunctionNotPermitted(format!("0x{usage:x} is not a key usage attribute"))
        })?;
    if key.get_bool(usage) != Some(true) {
        return Err(Error::KeyFunctionNotPermitted(format!(
            "{name} is not TRUE on the key"
        )));
    }
    if let Some(v) = key.get(CKA_ALLOWED_MECHANISMS) {
        let allowed = decode_ulongs(CKA_ALLOWED_MECHANISMS, v).map_err(|_| {
            Error::KeyFunctionNotPermitted("malformed CKA_ALLOWED_MECHANISMS".into())
        })?;
        if !allowed.is_empty() && !allowed.contains(&mechanism) {
            return Err(Error::KeyFunctionNotPermitted(format!(
                "mechanism 0x{mechanism:x} is not in the key's CKA_ALLOWED_MECHANISMS"
            )));
        }
    }
    Ok(())
}

/// The checks of `C_WrapKey` (§5.18.3) on the key to be wrapped: it must be
/// extractable (`CKR_KEY_UNEXTRACTABLE`); if it has `CKA_WRAP_WITH_TRUSTED`, the
/// wrapping key must be `CKA_TRUSTED`; and it must match the wrapping key's
/// `CKA_WRAP_TEMPLATE` (`CKR_KEY_NOT_WRAPPABLE` for both).
pub(crate) fn check_wrappable(wrapping_key: &Object, key: &Object) -> Result<()> {
    if matches!(key.class(), Some(CKO_PRIVATE_KEY | CKO_SECRET_KEY))
        && !key.flag(CKA_EXTRACTABLE, false)
    {
        return Err(Error::KeyUnextractable);
    }
    if key.flag(CKA_WRAP_WITH_TRUSTED, false) && !wrapping_key.flag(CKA_TRUSTED, false) {
        return Err(Error::KeyNotWrappable);
    }
    if let Some(enc) = wrapping_key.get(CKA_WRAP_TEMPLATE) {
        let t = decode_template(enc)
            .ok_or_else(|| Error::General("stored CKA_WRAP_TEMPLATE is malformed".into()))?;
        if !crate::object::search::matches_plain(key, &t) {
            return Err(Error::KeyNotWrappable);
        }
    }
    Ok(())
}

/// Merges a stored nested template (`CKA_UNWRAP_TEMPLATE` or
/// `CKA_DERIVE_TEMPLATE`) with the caller's template: an attribute both give
/// with different values is `CKR_TEMPLATE_INCONSISTENT`.
fn merge_template(key: &Object, ty: CK_ATTRIBUTE_TYPE, template: &Template) -> Result<Template> {
    let Some(enc) = key.get(ty) else {
        return Ok(template.clone());
    };
    let mut out = decode_template(enc)
        .ok_or_else(|| Error::General("stored nested template is malformed".into()))?;
    let stored = out.len();
    for a in template {
        match out[..stored].iter().find(|s| s.ty == a.ty) {
            Some(s) if crate::object::search::same_value(a.ty, &s.value, &a.value) => {}
            Some(_) => {
                return Err(Error::TemplateInconsistent(
                    "the template contradicts the key's nested template",
                ))
            }
            None => out.push(a.clone()),
        }
    }
    Ok(out)
}

/// `C_UnwrapKey` (§5.18.4): the template for the new key, with the unwrapping
/// key's `CKA_UNWRAP_TEMPLATE` merged in.
pub(crate) fn apply_unwrap_template(
    unwrapping_key: &Object,
    template: &Template,
) -> Result<Template> {
    merge_template(unwrapping_key, CKA_UNWRAP_TEMPLATE, template)
}

/// `C_DeriveKey` (§5.18.5): the template for the new key, with the base key's
/// `CKA_DERIVE_TEMPLATE` merged in.
pub(crate) fn apply_derive_template(base_key: &Object, template: &Template) -> Result<Template> {
    merge_template(base_key, CKA_DERIVE_TEMPLATE, template)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
