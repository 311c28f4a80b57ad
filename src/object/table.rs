//! The attribute rules of PKCS#11 3.0 as data.
//!
//! One [`AttrDef`] row per attribute, per object class and key (or certificate)
//! type where the rules differ. The flags are the footnotes of the standard's
//! "Common footnotes for object attribute tables" (PKCS#11 3.0 §4.2, Table 10):
//!
//! | footnote | flag |
//! | --- | --- |
//! | 1 MUST be specified when created with `C_CreateObject` | [`REQ_CREATE`] |
//! | 2 MUST not be specified when created with `C_CreateObject` | [`NO_CREATE`] |
//! | 3 MUST be specified when generated | [`REQ_GENERATE`] |
//! | 4 MUST not be specified when generated | [`NO_GENERATE`] |
//! | 5 MUST be specified when unwrapped | [`REQ_UNWRAP`] |
//! | 6 MUST not be specified when unwrapped | [`NO_UNWRAP`] |
//! | 7 cannot be revealed if sensitive or unextractable | [`SECRET`] |
//! | 8 may be modified (`C_SetAttributeValue`, `C_CopyObject`) | [`MODIFIABLE`] |
//! | 10 can only be set to `CK_TRUE` by the SO | [`SO_TRUE_ONLY`] |
//! | 11 cannot be changed once `CK_TRUE` | [`TO_TRUE_ONLY`] |
//! | 12 cannot be changed once `CK_FALSE` | [`TO_FALSE_ONLY`] |
//!
//! plus our own: [`NO_DERIVE`] (the derivation mechanism supplies it),
//! [`COPY_MODIFIABLE`] (the four attributes `C_CopyObject` may also change, §4.1.3)
//! and [`KEY_MATERIAL`] (sealed in storage even on a public object).
//!
//! Where the standard's own text overrides a footnote we follow the text and say
//! so on the row (e.g. `CKA_VALUE_LEN` may be given to `C_UnwrapKey`, because the
//! block-cipher unwrap mechanisms truncate the key to it).
//!
//! Vendor extensions: a later layer adds its classes to [`VENDOR_CLASSES`], its
//! key types to [`VENDOR_KEY_TYPES`] and its attribute rows (types
//! `CKA_VENDOR_DEFINED | 0x534B0000 | n`) to [`VENDOR`]; nothing else changes.

use crate::abi;
use cryptoki_sys::*;

/// How an attribute value is laid out and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `CK_BBOOL`: exactly one byte.
    Bool,
    /// `CK_ULONG` (and the types defined as it): exactly `size_of::<CK_ULONG>()` bytes.
    Ulong,
    /// An arbitrary byte array.
    Bytes,
    /// An RFC 2279 (UTF-8) string.
    Utf8,
    /// `CK_DATE`: empty, or 8 ASCII digits `YYYYMMDD`.
    Date,
    /// A big-endian unsigned integer (non-empty).
    BigInteger,
    /// An array of `CK_ULONG` (`CKA_ALLOWED_MECHANISMS`).
    UlongArray,
    /// A nested template in the encoding of [`crate::object::attr::encode_template`].
    Template,
}

/// The default an attribute gets when neither the template nor the mechanism gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefaultValue {
    /// No default: the attribute stays absent.
    None,
    /// `CK_FALSE`.
    False,
    /// `CK_TRUE`.
    True,
    /// An empty value.
    Empty,
    /// A `CK_ULONG`.
    Ulong(CK_ULONG),
    /// A `CK_BBOOL` whose default depends on how the object comes to be
    /// (footnote 9 lets the token choose, "and may depend on the values of other
    /// attributes").
    ByOrigin(OriginDefaults),
    /// Computed by [`crate::object::rules`] (`CKA_LOCAL`, `CKA_UNIQUE_ID`, …).
    Computed,
}

/// The default of a boolean attribute for each way an object comes to be
/// ([`DefaultValue::ByOrigin`]). A copy validated as a fresh object counts as
/// `create`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OriginDefaults {
    /// `C_CreateObject`: the caller brings the value.
    pub create: bool,
    /// `C_GenerateKey` / `C_GenerateKeyPair`.
    pub generate: bool,
    /// `C_UnwrapKey`.
    pub unwrap: bool,
    /// `C_DeriveKey`.
    pub derive: bool,
}

/// `CKA_EXTRACTABLE`'s default, as a KMS would have it: a key the token makes
/// (generated) or takes in under a key (unwrapped) stays in the token unless the
/// template asks otherwise; a key whose value the caller brings in the clear
/// (`C_CreateObject`) or that a derivation makes keeps the standard's examples'
/// TRUE (see `docs/mechanisms.md`, "Defaults of new keys").
pub(crate) const EXTRACTABLE_DEFAULT: OriginDefaults = OriginDefaults {
    create: true,
    generate: false,
    unwrap: false,
    derive: true,
};

/// An extra check on a value, beyond its [`Kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Nothing more.
    None,
    /// The value length must be one of these (e.g. AES keys).
    Lens(&'static [usize]),
    /// A `CK_ULONG` value must be at most this.
    UlongMax(CK_ULONG),
    /// A DES key value: this many bytes, each with odd parity (FIPS 46-3; the
    /// standard's DES3 key objects: "attempting to create or unwrap a DES3
    /// key with incorrect parity" fails).
    OddParity(usize),
}

/// A set of rule flags (see the module docs for the footnotes they stand for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flags(u32);

impl Flags {
    #[cfg(test)]
    /// True when every flag of `other` is set (always true for [`NONE`]).
    pub(crate) const fn has(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    /// True when at least one flag of `other` is set.
    pub(crate) const fn any(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }
    /// The union of two sets.
    pub(crate) const fn or(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

/// No flag.
pub(crate) const NONE: Flags = Flags(0);
/// Footnote 1: required by `C_CreateObject` (and required in the finished object).
pub(crate) const REQ_CREATE: Flags = Flags(1);
/// Footnote 2: may not be given to `C_CreateObject`.
pub(crate) const NO_CREATE: Flags = Flags(1 << 1);
/// Footnote 3: required by `C_GenerateKey`/`C_GenerateKeyPair`.
pub(crate) const REQ_GENERATE: Flags = Flags(1 << 2);
/// Footnote 4: may not be given to `C_GenerateKey`/`C_GenerateKeyPair`.
pub(crate) const NO_GENERATE: Flags = Flags(1 << 3);
/// Footnote 5: required by `C_UnwrapKey`.
pub(crate) const REQ_UNWRAP: Flags = Flags(1 << 4);
/// Footnote 6: may not be given to `C_UnwrapKey`.
pub(crate) const NO_UNWRAP: Flags = Flags(1 << 5);
/// Footnote 7: hidden when the key is sensitive or unextractable.
pub(crate) const SECRET: Flags = Flags(1 << 6);
/// Footnote 8: changeable by `C_SetAttributeValue` and `C_CopyObject`.
pub(crate) const MODIFIABLE: Flags = Flags(1 << 7);
/// Footnote 10: only the SO may set it to `CK_TRUE`.
pub(crate) const SO_TRUE_ONLY: Flags = Flags(1 << 8);
/// Footnote 11: read-only once `CK_TRUE`.
pub(crate) const TO_TRUE_ONLY: Flags = Flags(1 << 9);
/// Footnote 12: read-only once `CK_FALSE`.
pub(crate) const TO_FALSE_ONLY: Flags = Flags(1 << 10);
/// May not be given to `C_DeriveKey` (the mechanism or the token supplies it).
pub(crate) const NO_DERIVE: Flags = Flags(1 << 11);
/// Changeable by `C_CopyObject` only (`CKA_TOKEN`, `CKA_PRIVATE`, `CKA_MODIFIABLE`,
/// `CKA_DESTROYABLE`, §4.1.3).
pub(crate) const COPY_MODIFIABLE: Flags = Flags(1 << 12);
/// Key material: sealed in storage even when the object is public.
pub(crate) const KEY_MATERIAL: Flags = Flags(1 << 13);

/// Set by the token alone, whatever creates the object (footnotes 2,4,6 + derive).
pub(crate) const TOKEN_SET: Flags = Flags(NO_CREATE.0 | NO_GENERATE.0 | NO_UNWRAP.0 | NO_DERIVE.0);
/// Secret key material: 1,4,6,7, also not given to `C_DeriveKey`.
const SECRET_MATERIAL: Flags =
    Flags(REQ_CREATE.0 | NO_GENERATE.0 | NO_UNWRAP.0 | NO_DERIVE.0 | SECRET.0 | KEY_MATERIAL.0);
/// Optional secret key material (RSA CRT components): 4,6,7.
const OPT_SECRET_MATERIAL: Flags =
    Flags(NO_GENERATE.0 | NO_UNWRAP.0 | NO_DERIVE.0 | SECRET.0 | KEY_MATERIAL.0);

/// One attribute rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttrDef {
    /// The `CKA_*` type.
    pub ty: CK_ATTRIBUTE_TYPE,
    /// Its name: the table reads as the standard's list, its tests name the
    /// rows they find wrong, and errors name the attribute ([`name_of`]).
    pub name: &'static str,
    /// Its value layout.
    pub kind: Kind,
    /// Its rules.
    pub flags: Flags,
    /// Its default.
    pub default: DefaultValue,
    /// An extra value check.
    pub check: Check,
    /// The object classes the row applies to; empty: every class.
    pub classes: &'static [CK_OBJECT_CLASS],
    /// The key types (for key classes) or certificate types (for certificates)
    /// the row applies to; empty: every one.
    pub subtypes: &'static [CK_ULONG],
}

const fn row(
    ty: CK_ATTRIBUTE_TYPE,
    name: &'static str,
    kind: Kind,
    flags: Flags,
    default: DefaultValue,
    classes: &'static [CK_OBJECT_CLASS],
) -> AttrDef {
    AttrDef {
        ty,
        name,
        kind,
        flags,
        default,
        check: Check::None,
        classes,
        subtypes: &[],
    }
}

const fn sub(mut d: AttrDef, subtypes: &'static [CK_ULONG]) -> AttrDef {
    d.subtypes = subtypes;
    d
}

const fn check(mut d: AttrDef, check: Check) -> AttrDef {
    d.check = check;
    d
}

use DefaultValue as D;
use Kind::*;

const STORAGE_CLASSES: &[CK_OBJECT_CLASS] = &[
    abi::CKO_SOFTKMS_PRINCIPAL,
    abi::CKO_SOFTKMS_ALIAS,
    CKO_DATA,
    CKO_CERTIFICATE,
    CKO_PUBLIC_KEY,
    CKO_PRIVATE_KEY,
    CKO_SECRET_KEY,
];
const KEYS: &[CK_OBJECT_CLASS] = &[CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY];
const PUB: &[CK_OBJECT_CLASS] = &[CKO_PUBLIC_KEY];
const PRIV: &[CK_OBJECT_CLASS] = &[CKO_PRIVATE_KEY];
const SEC: &[CK_OBJECT_CLASS] = &[CKO_SECRET_KEY];
const PUB_SEC: &[CK_OBJECT_CLASS] = &[CKO_PUBLIC_KEY, CKO_SECRET_KEY];
const PRIV_SEC: &[CK_OBJECT_CLASS] = &[CKO_PRIVATE_KEY, CKO_SECRET_KEY];
/// Private unless the template says otherwise: private and secret keys, and
/// key aliases (which must stay private: `kms::aliases`).
const PRIVATE_BY_DEFAULT: &[CK_OBJECT_CLASS] =
    &[CKO_PRIVATE_KEY, CKO_SECRET_KEY, abi::CKO_SOFTKMS_ALIAS];
/// Key aliases (`kms::aliases`).
const ALIAS: &[CK_OBJECT_CLASS] = &[abi::CKO_SOFTKMS_ALIAS];
const PUB_PRIV: &[CK_OBJECT_CLASS] = &[CKO_PUBLIC_KEY, CKO_PRIVATE_KEY];
const PUB_SEC_CERT: &[CK_OBJECT_CLASS] = &[CKO_PUBLIC_KEY, CKO_SECRET_KEY, CKO_CERTIFICATE];
const SEC_CERT: &[CK_OBJECT_CLASS] = &[CKO_SECRET_KEY, CKO_CERTIFICATE];
const NOT_PRIVATE_OR_SECRET: &[CK_OBJECT_CLASS] = &[
    CKO_DATA,
    CKO_CERTIFICATE,
    CKO_PUBLIC_KEY,
    abi::CKO_SOFTKMS_PRINCIPAL,
];
const DATA: &[CK_OBJECT_CLASS] = &[CKO_DATA];
const CERT: &[CK_OBJECT_CLASS] = &[CKO_CERTIFICATE];

const X509: &[CK_ULONG] = &[CKC_X_509];
const RSA: &[CK_ULONG] = &[CKK_RSA];
const EC: &[CK_ULONG] = &[CKK_EC];
/// Every key type with `CKA_EC_PARAMS` and `CKA_EC_POINT` (§2.3: short
/// Weierstrass, Edwards and Montgomery curves).
const EC_ALL: &[CK_ULONG] = &[CKK_EC, CKK_EC_EDWARDS, CKK_EC_MONTGOMERY];
/// Edwards and Montgomery keys, whose `CKA_VALUE` is a byte string (RFC 8032 and
/// RFC 7748 encodings), not a big integer.
const ECX: &[CK_ULONG] = &[CKK_EC_EDWARDS, CKK_EC_MONTGOMERY];
const AES: &[CK_ULONG] = &[CKK_AES];
/// Triple-DES keys (only with `legacy_mechanisms = true`: [`LEGACY_KEY_TYPES`]).
const DES3: &[CK_ULONG] = &[CKK_DES3];
const ML_KEM: &[CK_ULONG] = &[CKK_ML_KEM];
/// The post-quantum key types of PKCS#11 3.2 (ML-DSA, ML-KEM).
const ML: &[CK_ULONG] = &[CKK_ML_DSA, CKK_ML_KEM];
/// Secret key types whose `CKA_VALUE` has any length.
#[rustfmt::skip]
const GENERIC: &[CK_ULONG] = &[
    CKK_GENERIC_SECRET,
    CKK_HKDF,
    CKK_SHA_1_HMAC,
    CKK_SHA224_HMAC,
    CKK_SHA256_HMAC,
    CKK_SHA384_HMAC,
    CKK_SHA512_HMAC,
    CKK_SHA512_224_HMAC,
    CKK_SHA512_256_HMAC,
    CKK_SHA3_224_HMAC,
    CKK_SHA3_256_HMAC,
    CKK_SHA3_384_HMAC,
    CKK_SHA3_512_HMAC,
];
/// Every secret key type SoftKMS stores (AES, generic, HKDF and the HMAC
/// types).
#[rustfmt::skip]
pub(crate) const SECRET_TYPES: &[CK_ULONG] = &[
    CKK_GENERIC_SECRET,
    CKK_AES,
    CKK_SHA_1_HMAC,
    CKK_SHA224_HMAC,
    CKK_SHA256_HMAC,
    CKK_SHA384_HMAC,
    CKK_SHA512_HMAC,
    CKK_SHA512_224_HMAC,
    CKK_SHA512_256_HMAC,
    CKK_SHA3_224_HMAC,
    CKK_SHA3_256_HMAC,
    CKK_SHA3_384_HMAC,
    CKK_SHA3_512_HMAC,
    CKK_HKDF,
];

/// §4.2–4.4: attributes of every object and of storage objects.
#[rustfmt::skip]
const COMMON: &[AttrDef] = &[
    row(CKA_CLASS, "CKA_CLASS", Ulong, REQ_CREATE, D::None, &[]),
    row(CKA_UNIQUE_ID, "CKA_UNIQUE_ID", Utf8, TOKEN_SET, D::Computed, STORAGE_CLASSES),
    row(CKA_TOKEN, "CKA_TOKEN", Bool, COPY_MODIFIABLE, D::False, STORAGE_CLASSES),
    // Footnote 9 leaves the default to the token: TRUE for private and secret keys
    // (as SoftHSMv2), FALSE otherwise.
    row(CKA_PRIVATE, "CKA_PRIVATE", Bool, COPY_MODIFIABLE, D::True, PRIVATE_BY_DEFAULT),
    row(CKA_PRIVATE, "CKA_PRIVATE", Bool, COPY_MODIFIABLE, D::False, NOT_PRIVATE_OR_SECRET),
    row(CKA_MODIFIABLE, "CKA_MODIFIABLE", Bool, COPY_MODIFIABLE, D::True, STORAGE_CLASSES),
    row(CKA_LABEL, "CKA_LABEL", Utf8, MODIFIABLE, D::Empty, STORAGE_CLASSES),
    // "Can't be set to TRUE once it is set to FALSE" (§4.4).
    row(CKA_COPYABLE, "CKA_COPYABLE", Bool, MODIFIABLE.or(TO_FALSE_ONLY), D::True, STORAGE_CLASSES),
    row(CKA_DESTROYABLE, "CKA_DESTROYABLE", Bool, COPY_MODIFIABLE, D::True, STORAGE_CLASSES),
];

/// §4.5: data objects.
#[rustfmt::skip]
const DATA_ROWS: &[AttrDef] = &[
    row(CKA_APPLICATION, "CKA_APPLICATION", Utf8, MODIFIABLE, D::Empty, DATA),
    row(CKA_OBJECT_ID, "CKA_OBJECT_ID", Bytes, MODIFIABLE, D::Empty, DATA),
    row(CKA_VALUE, "CKA_VALUE", Bytes, MODIFIABLE, D::Empty, DATA),
];

/// §4.6: certificates; X.509 public key certificates (§4.6.3). Only `CKA_ID`,
/// `CKA_ISSUER`, `CKA_SERIAL_NUMBER` (and `CKA_LABEL`) may change.
#[rustfmt::skip]
const CERT_ROWS: &[AttrDef] = &[
    row(CKA_CERTIFICATE_TYPE, "CKA_CERTIFICATE_TYPE", Ulong, REQ_CREATE, D::None, CERT),
    check(
        row(CKA_CERTIFICATE_CATEGORY, "CKA_CERTIFICATE_CATEGORY", Ulong, NONE, D::Ulong(0), CERT),
        Check::UlongMax(CK_CERTIFICATE_CATEGORY_OTHER_ENTITY),
    ),
    row(CKA_START_DATE, "CKA_START_DATE", Date, NONE, D::Empty, CERT),
    row(CKA_END_DATE, "CKA_END_DATE", Date, NONE, D::Empty, CERT),
    row(CKA_PUBLIC_KEY_INFO, "CKA_PUBLIC_KEY_INFO", Bytes, NONE, D::Empty, CERT),
    sub(row(CKA_SUBJECT, "CKA_SUBJECT", Bytes, REQ_CREATE, D::None, CERT), X509),
    sub(row(CKA_ID, "CKA_ID", Bytes, MODIFIABLE, D::Empty, CERT), X509),
    sub(row(CKA_ISSUER, "CKA_ISSUER", Bytes, MODIFIABLE, D::Empty, CERT), X509),
    sub(row(CKA_SERIAL_NUMBER, "CKA_SERIAL_NUMBER", Bytes, MODIFIABLE, D::Empty, CERT), X509),
    sub(row(CKA_VALUE, "CKA_VALUE", Bytes, REQ_CREATE, D::None, CERT), X509),
    sub(row(CKA_URL, "CKA_URL", Utf8, NONE, D::Empty, CERT), X509),
    sub(
        row(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, "CKA_HASH_OF_SUBJECT_PUBLIC_KEY", Bytes, NONE, D::Empty, CERT),
        X509,
    ),
    sub(
        row(CKA_HASH_OF_ISSUER_PUBLIC_KEY, "CKA_HASH_OF_ISSUER_PUBLIC_KEY", Bytes, NONE, D::Empty, CERT),
        X509,
    ),
    sub(
        check(
            row(CKA_JAVA_MIDP_SECURITY_DOMAIN, "CKA_JAVA_MIDP_SECURITY_DOMAIN", Ulong, NONE, D::Ulong(0), CERT),
            Check::UlongMax(CK_SECURITY_DOMAIN_THIRD_PARTY),
        ),
        X509,
    ),
    sub(row(CKA_NAME_HASH_ALGORITHM, "CKA_NAME_HASH_ALGORITHM", Ulong, NONE, D::None, CERT), X509),
];

/// §4.7–4.9: common, public, private and secret key attributes.
#[rustfmt::skip]
const KEY_ROWS: &[AttrDef] = &[
    row(CKA_KEY_TYPE, "CKA_KEY_TYPE", Ulong, REQ_CREATE.or(REQ_UNWRAP), D::None, KEYS),
    row(CKA_ID, "CKA_ID", Bytes, MODIFIABLE, D::Empty, KEYS),
    row(CKA_START_DATE, "CKA_START_DATE", Date, MODIFIABLE, D::Empty, KEYS),
    row(CKA_END_DATE, "CKA_END_DATE", Date, MODIFIABLE, D::Empty, KEYS),
    row(CKA_DERIVE, "CKA_DERIVE", Bool, MODIFIABLE, D::False, KEYS),
    row(CKA_LOCAL, "CKA_LOCAL", Bool, TOKEN_SET, D::Computed, KEYS),
    row(CKA_KEY_GEN_MECHANISM, "CKA_KEY_GEN_MECHANISM", Ulong, TOKEN_SET, D::Computed, KEYS),
    row(CKA_ALLOWED_MECHANISMS, "CKA_ALLOWED_MECHANISMS", UlongArray, NONE, D::None, KEYS),
    // Public keys (§4.8). Usage defaults TRUE, as SoftHSMv2 (footnote 9).
    row(CKA_SUBJECT, "CKA_SUBJECT", Bytes, MODIFIABLE, D::Empty, PUB_PRIV),
    row(CKA_ENCRYPT, "CKA_ENCRYPT", Bool, MODIFIABLE, D::True, PUB_SEC),
    row(CKA_VERIFY, "CKA_VERIFY", Bool, MODIFIABLE, D::True, PUB_SEC),
    row(CKA_VERIFY_RECOVER, "CKA_VERIFY_RECOVER", Bool, MODIFIABLE, D::True, PUB),
    row(CKA_WRAP, "CKA_WRAP", Bool, MODIFIABLE, D::True, PUB_SEC),
    // Footnote 10; modifiable so that the SO can set it (§4.6: "set by the SO").
    row(CKA_TRUSTED, "CKA_TRUSTED", Bool, MODIFIABLE.or(SO_TRUE_ONLY), D::False, PUB_SEC_CERT),
    row(CKA_WRAP_TEMPLATE, "CKA_WRAP_TEMPLATE", Template, NONE, D::None, PUB_SEC),
    row(CKA_PUBLIC_KEY_INFO, "CKA_PUBLIC_KEY_INFO", Bytes, MODIFIABLE, D::Empty, PUB_PRIV),
    // Private keys (§4.9) and secret keys (§4.10).
    row(CKA_SENSITIVE, "CKA_SENSITIVE", Bool, MODIFIABLE.or(TO_TRUE_ONLY), D::False, PRIV_SEC),
    row(CKA_DECRYPT, "CKA_DECRYPT", Bool, MODIFIABLE, D::True, PRIV_SEC),
    row(CKA_SIGN, "CKA_SIGN", Bool, MODIFIABLE, D::True, PRIV_SEC),
    row(CKA_SIGN_RECOVER, "CKA_SIGN_RECOVER", Bool, MODIFIABLE, D::True, PRIV),
    row(CKA_UNWRAP, "CKA_UNWRAP", Bool, MODIFIABLE, D::True, PRIV_SEC),
    // Footnote 9: FALSE when generated or unwrapped, TRUE when created or derived.
    row(CKA_EXTRACTABLE, "CKA_EXTRACTABLE", Bool, MODIFIABLE.or(TO_FALSE_ONLY), D::ByOrigin(EXTRACTABLE_DEFAULT), PRIV_SEC),
    row(CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE", Bool, TOKEN_SET, D::Computed, PRIV_SEC),
    row(CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE", Bool, TOKEN_SET, D::Computed, PRIV_SEC),
    row(CKA_WRAP_WITH_TRUSTED, "CKA_WRAP_WITH_TRUSTED", Bool, MODIFIABLE.or(TO_TRUE_ONLY), D::False, PRIV_SEC),
    row(CKA_UNWRAP_TEMPLATE, "CKA_UNWRAP_TEMPLATE", Template, NONE, D::None, PRIV_SEC),
    row(CKA_DERIVE_TEMPLATE, "CKA_DERIVE_TEMPLATE", Template, NONE, D::None, PRIV_SEC),
    row(CKA_ALWAYS_AUTHENTICATE, "CKA_ALWAYS_AUTHENTICATE", Bool, NONE, D::False, PRIV),
    // Secret keys' CKA_CHECK_VALUE and certificates' (§4.6, §4.10): computed by the
    // module layer (passed in `generated`) or checked against the value.
    row(CKA_CHECK_VALUE, "CKA_CHECK_VALUE", Bytes, NONE, D::None, SEC_CERT),
];

/// §2.1 (RSA) key objects.
#[rustfmt::skip]
const RSA_ROWS: &[AttrDef] = &[
    sub(row(CKA_MODULUS, "CKA_MODULUS", BigInteger, REQ_CREATE.or(NO_GENERATE), D::None, PUB), RSA),
    sub(
        row(CKA_MODULUS_BITS, "CKA_MODULUS_BITS", Ulong, NO_CREATE.or(REQ_GENERATE).or(NO_UNWRAP).or(NO_DERIVE), D::Computed, PUB),
        RSA,
    ),
    sub(row(CKA_PUBLIC_EXPONENT, "CKA_PUBLIC_EXPONENT", BigInteger, REQ_CREATE, D::None, PUB), RSA),
    sub(
        row(CKA_MODULUS, "CKA_MODULUS", BigInteger, REQ_CREATE.or(NO_GENERATE).or(NO_UNWRAP).or(NO_DERIVE), D::None, PRIV),
        RSA,
    ),
    // Not in the standard's private key table; kept (computed) so that the key size
    // of a private key can be read without its public half.
    sub(row(CKA_MODULUS_BITS, "CKA_MODULUS_BITS", Ulong, TOKEN_SET, D::Computed, PRIV), RSA),
    // Required on C_CreateObject since v2.40 (§4.9: "added … to the list of
    // attributes required for an RSA private key").
    sub(
        row(CKA_PUBLIC_EXPONENT, "CKA_PUBLIC_EXPONENT", BigInteger, REQ_CREATE.or(NO_GENERATE).or(NO_UNWRAP).or(NO_DERIVE), D::None, PRIV),
        RSA,
    ),
    sub(row(CKA_PRIVATE_EXPONENT, "CKA_PRIVATE_EXPONENT", BigInteger, SECRET_MATERIAL, D::None, PRIV), RSA),
    sub(row(CKA_PRIME_1, "CKA_PRIME_1", BigInteger, OPT_SECRET_MATERIAL, D::None, PRIV), RSA),
    sub(row(CKA_PRIME_2, "CKA_PRIME_2", BigInteger, OPT_SECRET_MATERIAL, D::None, PRIV), RSA),
    sub(row(CKA_EXPONENT_1, "CKA_EXPONENT_1", BigInteger, OPT_SECRET_MATERIAL, D::None, PRIV), RSA),
    sub(row(CKA_EXPONENT_2, "CKA_EXPONENT_2", BigInteger, OPT_SECRET_MATERIAL, D::None, PRIV), RSA),
    sub(row(CKA_COEFFICIENT, "CKA_COEFFICIENT", BigInteger, OPT_SECRET_MATERIAL, D::None, PRIV), RSA),
];

/// §2.3 (EC) key objects: short Weierstrass (§2.3.3, §2.3.4), Edwards (§2.3.5,
/// §2.3.6) and Montgomery (§2.3.7, §2.3.8) keys share the rows; only the form of
/// the private `CKA_VALUE` differs.
#[rustfmt::skip]
const EC_ROWS: &[AttrDef] = &[
    sub(row(CKA_EC_PARAMS, "CKA_EC_PARAMS", Bytes, REQ_CREATE.or(REQ_GENERATE), D::None, PUB), EC_ALL),
    sub(row(CKA_EC_POINT, "CKA_EC_POINT", Bytes, REQ_CREATE.or(NO_GENERATE), D::None, PUB), EC_ALL),
    sub(
        row(CKA_EC_PARAMS, "CKA_EC_PARAMS", Bytes, REQ_CREATE.or(NO_GENERATE).or(NO_UNWRAP).or(NO_DERIVE), D::None, PRIV),
        EC_ALL,
    ),
    sub(row(CKA_VALUE, "CKA_VALUE", BigInteger, SECRET_MATERIAL, D::None, PRIV), EC),
    sub(row(CKA_VALUE, "CKA_VALUE", Bytes, SECRET_MATERIAL, D::None, PRIV), ECX),
    // Not in the standard's private-key table: SoftKMS keeps the public point on
    // the private key too, because OpenSSL's PKCS#11 engine and provider look for
    // it there (SoftHSMv2 and Kryoptic do the same).
    sub(row(CKA_EC_POINT, "CKA_EC_POINT", Bytes, NONE, D::None, PRIV), EC_ALL),
];

/// PKCS#11 3.2 ML-DSA (§6.67) and ML-KEM (§6.68) key objects. The public key's
/// `CKA_VALUE` is its encoding (FIPS 204 `pkEncode`, FIPS 203 `ek`); the private
/// key holds the seed (`CKA_SEED`: ξ, or `d || z`) and the expanded private key
/// (`CKA_VALUE`). `C_CreateObject` takes either or both (a seed alone is expanded,
/// both must agree: `keys::check_key_attributes`). `CKA_ENCAPSULATE` and
/// `CKA_DECAPSULATE` (3.2 §4.8, §4.9) are the usage attributes of
/// `C_EncapsulateKey`/`C_DecapsulateKey`; SoftKMS has them on ML-KEM keys only,
/// the only type it encapsulates with, and they default TRUE like the other
/// usage attributes.
#[rustfmt::skip]
const PQ_ROWS: &[AttrDef] = &[
    sub(row(CKA_PARAMETER_SET, "CKA_PARAMETER_SET", Ulong, REQ_CREATE.or(REQ_GENERATE), D::None, PUB), ML),
    sub(row(CKA_VALUE, "CKA_VALUE", Bytes, REQ_CREATE.or(NO_GENERATE), D::None, PUB), ML),
    sub(
        row(CKA_PARAMETER_SET, "CKA_PARAMETER_SET", Ulong, REQ_CREATE.or(NO_UNWRAP).or(NO_DERIVE), D::None, PRIV),
        ML,
    ),
    sub(row(CKA_SEED, "CKA_SEED", Bytes, OPT_SECRET_MATERIAL, D::None, PRIV), ML),
    sub(row(CKA_VALUE, "CKA_VALUE", Bytes, OPT_SECRET_MATERIAL, D::None, PRIV), ML),
    sub(row(CKA_ENCAPSULATE, "CKA_ENCAPSULATE", Bool, MODIFIABLE, D::True, PUB), ML_KEM),
    sub(row(CKA_DECAPSULATE, "CKA_DECAPSULATE", Bool, MODIFIABLE, D::True, PRIV), ML_KEM),
];

/// §2.8 (AES), generic secret and HMAC key objects. `CKA_VALUE_LEN` carries
/// footnotes 2,3 (and 6 in the table), but the block-cipher unwrap mechanisms read
/// it from the unwrap template and the derivation mechanisms from the derive
/// template, so it is accepted there.
#[rustfmt::skip]
const SECRET_ROWS: &[AttrDef] = &[
    sub(check(row(CKA_VALUE, "CKA_VALUE", Bytes, SECRET_MATERIAL, D::None, SEC), Check::Lens(&[16, 24, 32])), AES),
    sub(row(CKA_VALUE, "CKA_VALUE", Bytes, SECRET_MATERIAL, D::None, SEC), GENERIC),
    // DES3 (current mechanisms, "DES3 secret key objects"): 24 bytes with the
    // parity bits set; no CKA_VALUE_LEN, the length is fixed.
    sub(check(row(CKA_VALUE, "CKA_VALUE", Bytes, SECRET_MATERIAL, D::None, SEC), Check::OddParity(24)), DES3),
    sub(row(CKA_VALUE_LEN, "CKA_VALUE_LEN", Ulong, NO_CREATE.or(REQ_GENERATE), D::Computed, SEC), SECRET_TYPES),
];

/// Vendor attribute rows (`CKA_VENDOR_DEFINED | 0x534B0000 | n`): the KMS layer
/// adds its rows here, and nowhere else.
#[rustfmt::skip]
pub(crate) const VENDOR: &[AttrDef] = &[
    row(abi::CKA_SOFTKMS_KEY_STATE, "CKA_SOFTKMS_KEY_STATE", Ulong, MODIFIABLE.or(NO_DERIVE), D::Ulong(abi::SOFTKMS_KEY_STATE_ENABLED), KEYS),
    row(abi::CKA_SOFTKMS_PENDING_WINDOW, "CKA_SOFTKMS_PENDING_WINDOW", Ulong, MODIFIABLE, D::Ulong(30), KEYS),
    row(abi::CKA_SOFTKMS_DELETION_TIME, "CKA_SOFTKMS_DELETION_TIME", Ulong, TOKEN_SET, D::Ulong(0), KEYS),
    row(abi::CKA_SOFTKMS_VALID_TO, "CKA_SOFTKMS_VALID_TO", Ulong, MODIFIABLE, D::Ulong(0), KEYS),
    row(abi::CKA_SOFTKMS_CREATOR, "CKA_SOFTKMS_CREATOR", Utf8, TOKEN_SET, D::None, KEYS),
    row(abi::CKA_SOFTKMS_POLICY_FORCE, "CKA_SOFTKMS_POLICY_FORCE", Bool, MODIFIABLE, D::None, KEYS),
    sub(row(abi::CKA_SOFTKMS_IMPORT_FROM, "CKA_SOFTKMS_IMPORT_FROM", Ulong, TOKEN_SET.or(MODIFIABLE), D::None, SEC), AES),
    row(abi::CKA_SOFTKMS_ORIGIN, "CKA_SOFTKMS_ORIGIN", Ulong, TOKEN_SET, D::None, KEYS),
    row(abi::CKA_SOFTKMS_POLICY, "CKA_SOFTKMS_POLICY", Utf8, MODIFIABLE, D::None, KEYS),
    row(abi::CKA_SOFTKMS_DESCRIPTION, "CKA_SOFTKMS_DESCRIPTION", Utf8, MODIFIABLE, D::None, KEYS),
    row(abi::CKA_SOFTKMS_TAGS, "CKA_SOFTKMS_TAGS", Utf8, MODIFIABLE, D::None, KEYS),
    sub(row(abi::CKA_SOFTKMS_CURRENT_VERSION, "CKA_SOFTKMS_CURRENT_VERSION", Ulong, TOKEN_SET, D::None, SEC), AES),
    sub(row(abi::CKA_SOFTKMS_MIN_DECRYPT_VERSION, "CKA_SOFTKMS_MIN_DECRYPT_VERSION", Ulong, TOKEN_SET.or(MODIFIABLE), D::None, SEC), AES),
    sub(row(abi::CKA_SOFTKMS_ROTATION_PERIOD, "CKA_SOFTKMS_ROTATION_PERIOD", Ulong, MODIFIABLE.or(NO_DERIVE), D::None, SEC), AES),
    sub(row(abi::CKA_SOFTKMS_NEXT_ROTATION, "CKA_SOFTKMS_NEXT_ROTATION", Ulong, TOKEN_SET, D::None, SEC), AES),
    sub(row(abi::CKA_SOFTKMS_ROTATE, "CKA_SOFTKMS_ROTATE", Bool, TOKEN_SET.or(MODIFIABLE), D::None, SEC), AES),
    sub(row(abi::CKA_SOFTKMS_VERSION_TIMES, "CKA_SOFTKMS_VERSION_TIMES", UlongArray, TOKEN_SET, D::None, SEC), AES),
    sub(row(abi::CKA_SOFTKMS_VERSIONS, "CKA_SOFTKMS_VERSIONS", Bytes, TOKEN_SET.or(SECRET).or(KEY_MATERIAL), D::None, SEC), AES),
    sub(row(abi::CKA_SOFTKMS_MATERIAL_DIGEST, "CKA_SOFTKMS_MATERIAL_DIGEST", Bytes, TOKEN_SET.or(SECRET), D::None, SEC), AES),
    row(abi::CKA_SOFTKMS_ALIAS_TARGET, "CKA_SOFTKMS_ALIAS_TARGET", Utf8, REQ_CREATE.or(MODIFIABLE), D::None, ALIAS),
];

/// Vendor object classes accepted besides the standard ones.
pub(crate) const VENDOR_CLASSES: &[CK_OBJECT_CLASS] =
    &[abi::CKO_SOFTKMS_PRINCIPAL, abi::CKO_SOFTKMS_ALIAS];

/// Vendor key types accepted besides the standard ones, with their class.
pub(crate) const VENDOR_KEY_TYPES: &[(CK_OBJECT_CLASS, CK_KEY_TYPE)] = &[];

/// Every group of rows, searched in order.
const GROUPS: &[&[AttrDef]] = &[
    COMMON,
    DATA_ROWS,
    CERT_ROWS,
    KEY_ROWS,
    RSA_ROWS,
    EC_ROWS,
    PQ_ROWS,
    SECRET_ROWS,
    VENDOR,
];

/// The key types this token knows, with the class each belongs to.
#[rustfmt::skip]
const KEY_TYPES: &[(CK_OBJECT_CLASS, CK_KEY_TYPE)] = &[
    (CKO_PUBLIC_KEY, CKK_RSA),
    (CKO_PRIVATE_KEY, CKK_RSA),
    (CKO_PUBLIC_KEY, CKK_EC),
    (CKO_PRIVATE_KEY, CKK_EC),
    (CKO_PUBLIC_KEY, CKK_EC_EDWARDS),
    (CKO_PRIVATE_KEY, CKK_EC_EDWARDS),
    (CKO_PUBLIC_KEY, CKK_EC_MONTGOMERY),
    (CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY),
    (CKO_PUBLIC_KEY, CKK_ML_DSA),
    (CKO_PRIVATE_KEY, CKK_ML_DSA),
    (CKO_PUBLIC_KEY, CKK_ML_KEM),
    (CKO_PRIVATE_KEY, CKK_ML_KEM),
    (CKO_SECRET_KEY, CKK_AES),
    (CKO_SECRET_KEY, CKK_GENERIC_SECRET),
    (CKO_SECRET_KEY, CKK_HKDF),
    (CKO_SECRET_KEY, CKK_SHA_1_HMAC),
    (CKO_SECRET_KEY, CKK_SHA224_HMAC),
    (CKO_SECRET_KEY, CKK_SHA256_HMAC),
    (CKO_SECRET_KEY, CKK_SHA384_HMAC),
    (CKO_SECRET_KEY, CKK_SHA512_HMAC),
    (CKO_SECRET_KEY, CKK_SHA512_224_HMAC),
    (CKO_SECRET_KEY, CKK_SHA512_256_HMAC),
    (CKO_SECRET_KEY, CKK_SHA3_224_HMAC),
    (CKO_SECRET_KEY, CKK_SHA3_256_HMAC),
    (CKO_SECRET_KEY, CKK_SHA3_384_HMAC),
    (CKO_SECRET_KEY, CKK_SHA3_512_HMAC),
    (CKO_SECRET_KEY, CKK_DES3),
];

/// Key types the module accepts only with `legacy_mechanisms = true` (the
/// module refuses to make such an object otherwise, with
/// `CKR_ATTRIBUTE_VALUE_INVALID` for its `CKA_KEY_TYPE`, as for any key type
/// it does not support).
const LEGACY_KEY_TYPES: &[CK_KEY_TYPE] = &[CKK_DES3];

/// True for a key type of [`LEGACY_KEY_TYPES`].
pub(crate) fn legacy_key_type(key_type: CK_KEY_TYPE) -> bool {
    LEGACY_KEY_TYPES.contains(&key_type)
}

/// True for the classes objects can be created in.
pub(crate) fn class_known(class: CK_OBJECT_CLASS) -> bool {
    STORAGE_CLASSES.contains(&class) || VENDOR_CLASSES.contains(&class)
}

/// True for key classes (they need `CKA_KEY_TYPE`).
pub(crate) fn is_key_class(class: CK_OBJECT_CLASS) -> bool {
    KEYS.contains(&class) || VENDOR_KEY_TYPES.iter().any(|(c, _)| *c == class)
}

/// True when `key_type` is a known key type of `class`.
pub(crate) fn key_type_known(class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE) -> bool {
    KEY_TYPES
        .iter()
        .chain(VENDOR_KEY_TYPES)
        .any(|&(c, k)| c == class && k == key_type)
}

/// True when `cert_type` is a supported certificate type.
pub(crate) fn cert_type_known(cert_type: CK_CERTIFICATE_TYPE) -> bool {
    X509.contains(&cert_type)
}

fn applies(d: &AttrDef, class: CK_OBJECT_CLASS, subtype: Option<CK_ULONG>) -> bool {
    (d.classes.is_empty() || d.classes.contains(&class))
        && (d.subtypes.is_empty() || subtype.is_some_and(|s| d.subtypes.contains(&s)))
}

/// The rule for attribute `ty` of an object of `class` whose key type (for keys)
/// or certificate type (for certificates) is `subtype`; `None` when the attribute
/// is not valid for such an object.
pub(crate) fn def(
    class: CK_OBJECT_CLASS,
    subtype: Option<CK_ULONG>,
    ty: CK_ATTRIBUTE_TYPE,
) -> Option<&'static AttrDef> {
    // The rules of each attribute type, in table order, indexed once: this is
    // asked for every attribute of every object a login loads.
    static BY_TYPE: once_cell::sync::Lazy<
        std::collections::HashMap<CK_ATTRIBUTE_TYPE, Vec<&'static AttrDef>>,
    > = once_cell::sync::Lazy::new(|| {
        let mut m: std::collections::HashMap<CK_ATTRIBUTE_TYPE, Vec<&'static AttrDef>> =
            std::collections::HashMap::new();
        for d in GROUPS.iter().flat_map(|g| g.iter()) {
            m.entry(d.ty).or_default().push(d);
        }
        m
    });
    BY_TYPE
        .get(&ty)?
        .iter()
        .copied()
        .find(|d| applies(d, class, subtype))
}

/// The attribute types that are key material ([`KEY_MATERIAL`]) for some kind
/// of object, ascending.
pub(crate) fn key_material_candidates() -> &'static [CK_ATTRIBUTE_TYPE] {
    static TYPES: once_cell::sync::Lazy<Vec<CK_ATTRIBUTE_TYPE>> =
        once_cell::sync::Lazy::new(|| {
            let mut v: Vec<CK_ATTRIBUTE_TYPE> = GROUPS
                .iter()
                .flat_map(|g| g.iter())
                .filter(|d| d.flags.any(KEY_MATERIAL))
                .map(|d| d.ty)
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        });
    &TYPES
}

/// Every rule that applies to an object of `class` and `subtype`.
pub(crate) fn defs_for(
    class: CK_OBJECT_CLASS,
    subtype: Option<CK_ULONG>,
) -> impl Iterator<Item = &'static AttrDef> {
    GROUPS
        .iter()
        .flat_map(|g| g.iter())
        .filter(move |d| applies(d, class, subtype))
}

/// The `CKA_*` name of attribute `ty`, when the table knows it.
pub(crate) fn name_of(ty: CK_ATTRIBUTE_TYPE) -> Option<&'static str> {
    GROUPS
        .iter()
        .flat_map(|g| g.iter())
        .find(|d| d.ty == ty)
        .map(|d| d.name)
}

/// The kind of the first row of attribute `ty` (rows of one type differ at most
/// between `Bytes` and `BigInteger`; a boolean is a boolean everywhere).
pub(crate) fn kind_of(ty: CK_ATTRIBUTE_TYPE) -> Option<Kind> {
    GROUPS
        .iter()
        .flat_map(|g| g.iter())
        .find(|d| d.ty == ty)
        .map(|d| d.kind)
}

#[cfg(test)]
/// True when `ty` has a row for some class (an attribute the token knows at all).
pub(crate) fn known_anywhere(ty: CK_ATTRIBUTE_TYPE) -> bool {
    GROUPS.iter().flat_map(|g| g.iter()).any(|d| d.ty == ty)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn no_two_rows_overlap() {
        // For every class/subtype pair, each attribute type has at most one row.
        let subs: Vec<Option<CK_ULONG>> = KEY_TYPES
            .iter()
            .map(|(_, k)| Some(*k))
            .chain([None, Some(CKC_X_509)])
            .collect();
        for class in STORAGE_CLASSES {
            for s in &subs {
                let rows: Vec<_> = defs_for(*class, *s).collect();
                for (i, a) in rows.iter().enumerate() {
                    for b in &rows[i + 1..] {
                        assert_ne!(a.ty, b.ty, "{} twice for class {class} sub {s:?}", a.name);
                    }
                }
            }
        }
    }

    #[test]
    fn booleans_are_booleans_in_every_row() {
        for d in GROUPS.iter().flat_map(|g| g.iter()) {
            assert_eq!(
                kind_of(d.ty) == Some(Kind::Bool),
                d.kind == Kind::Bool,
                "{}",
                d.name
            );
        }
    }

    #[test]
    fn footnotes_of_the_standard() {
        let aes = |ty| def(CKO_SECRET_KEY, Some(CKK_AES), ty).unwrap();
        assert!(aes(CKA_VALUE)
            .flags
            .has(REQ_CREATE.or(NO_GENERATE).or(NO_UNWRAP).or(SECRET)));
        assert_eq!(aes(CKA_VALUE).check, Check::Lens(&[16, 24, 32]));
        assert!(aes(CKA_VALUE_LEN).flags.has(NO_CREATE.or(REQ_GENERATE)));
        assert!(aes(CKA_SENSITIVE).flags.has(MODIFIABLE.or(TO_TRUE_ONLY)));
        assert!(aes(CKA_EXTRACTABLE).flags.has(MODIFIABLE.or(TO_FALSE_ONLY)));
        // Generated and unwrapped keys stay in the token unless asked otherwise.
        for ty in [CKO_SECRET_KEY, CKO_PRIVATE_KEY] {
            let kt = if ty == CKO_SECRET_KEY {
                CKK_AES
            } else {
                CKK_EC
            };
            assert_eq!(
                def(ty, Some(kt), CKA_EXTRACTABLE).unwrap().default,
                D::ByOrigin(EXTRACTABLE_DEFAULT)
            );
        }
        assert_eq!(
            EXTRACTABLE_DEFAULT,
            OriginDefaults {
                create: true,
                generate: false,
                unwrap: false,
                derive: true,
            }
        );
        assert!(aes(CKA_TRUSTED).flags.has(SO_TRUE_ONLY));
        assert!(aes(CKA_LOCAL).flags.has(TOKEN_SET));
        assert!(aes(CKA_UNIQUE_ID).flags.has(TOKEN_SET));
        let rsa_priv = |ty| def(CKO_PRIVATE_KEY, Some(CKK_RSA), ty).unwrap();
        for ty in [
            CKA_PRIVATE_EXPONENT,
            CKA_PRIME_1,
            CKA_PRIME_2,
            CKA_EXPONENT_1,
            CKA_EXPONENT_2,
            CKA_COEFFICIENT,
        ] {
            assert!(rsa_priv(ty).flags.has(SECRET.or(KEY_MATERIAL)));
        }
        assert!(!rsa_priv(CKA_MODULUS).flags.has(SECRET));
        assert!(def(CKO_PUBLIC_KEY, Some(CKK_RSA), CKA_MODULUS_BITS)
            .unwrap()
            .flags
            .has(REQ_GENERATE));
        assert!(def(CKO_PUBLIC_KEY, Some(CKK_EC), CKA_EC_PARAMS)
            .unwrap()
            .flags
            .has(REQ_GENERATE));
        assert!(def(CKO_CERTIFICATE, Some(CKC_X_509), CKA_SUBJECT)
            .unwrap()
            .flags
            .has(REQ_CREATE));
        assert!(!def(CKO_CERTIFICATE, Some(CKC_X_509), CKA_SUBJECT)
            .unwrap()
            .flags
            .has(MODIFIABLE));
        assert!(def(CKO_PUBLIC_KEY, Some(CKK_EC), CKA_SUBJECT)
            .unwrap()
            .flags
            .has(MODIFIABLE));
    }

    #[test]
    fn attributes_of_other_classes_are_not_valid() {
        assert!(def(CKO_SECRET_KEY, Some(CKK_AES), CKA_MODULUS).is_none());
        assert!(def(CKO_PUBLIC_KEY, Some(CKK_RSA), CKA_SENSITIVE).is_none());
        assert!(def(CKO_DATA, None, CKA_KEY_TYPE).is_none());
        assert!(def(CKO_PUBLIC_KEY, Some(CKK_EC), CKA_VALUE).is_none());
        assert!(def(CKO_SECRET_KEY, None, CKA_VALUE).is_none());
        assert!(known_anywhere(CKA_MODULUS));
        assert!(!known_anywhere(CKA_VENDOR_DEFINED | 0x534B_0000));
    }

    #[test]
    fn private_default_depends_on_class() {
        assert_eq!(
            def(CKO_SECRET_KEY, Some(CKK_AES), CKA_PRIVATE)
                .unwrap()
                .default,
            D::True
        );
        assert_eq!(
            def(CKO_PRIVATE_KEY, Some(CKK_EC), CKA_PRIVATE)
                .unwrap()
                .default,
            D::True
        );
        assert_eq!(
            def(CKO_PUBLIC_KEY, Some(CKK_EC), CKA_PRIVATE)
                .unwrap()
                .default,
            D::False
        );
        assert_eq!(def(CKO_DATA, None, CKA_PRIVATE).unwrap().default, D::False);
    }

    #[test]
    fn key_types_belong_to_classes() {
        assert!(key_type_known(CKO_SECRET_KEY, CKK_AES));
        assert!(!key_type_known(CKO_SECRET_KEY, CKK_RSA));
        assert!(!key_type_known(CKO_PUBLIC_KEY, CKK_AES));
        assert!(class_known(CKO_DATA) && !class_known(CKO_HW_FEATURE));
        assert!(cert_type_known(CKC_X_509) && !cert_type_known(CKC_WTLS));
    }
}
