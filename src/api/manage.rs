//! Managing keys: create, find, describe, lifecycle, rotation, policy,
//! imported material. Each change is a PKCS#11 attribute write or key
//! generation, checked and audited by the module (`docs/kms.md`).

use super::error::{Error, ErrorKind, Result};
use super::keys::{
    KeyId, KeyMetadata, KeyOptions, KeyOrigin, KeyPolicy, KeyRef, KeySpec, KeyState, KeyUsage,
    KeyVersion,
};
use super::session::{call, label as label_attr, mech, Token};
use super::types::{SecretBytes, Timestamp};
use crate::abi::*;
use crate::error::Error as ModuleError;
use crate::mechanism::{Mechanism, Param};
use crate::object::attr::{decode_ulong, decode_ulongs, Attribute, Template};
use cryptoki_sys::*;

/// The DER OID of NIST P-256, 1.2.840.10045.3.1.7 (`CKA_EC_PARAMS`).
const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// The DER OID of NIST P-384, 1.3.132.0.34.
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// The DER OID of NIST P-521, 1.3.132.0.35.
const P521_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
/// The DER OID of SECG secp256k1, 1.3.132.0.10.
const SECP256K1_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
/// The DER OID of Ed25519, 1.3.101.112 (RFC 8410; `CKA_EC_PARAMS` of a
/// `CKK_EC_EDWARDS` key).
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// How a key pair of `spec` is generated: the mechanism, the attributes of
/// the public template that choose the key (curve, parameter set, modulus),
/// and the usage attributes of (private, public) for each usage. `None` for
/// symmetric specs.
#[allow(clippy::type_complexity)]
pub(super) fn pair_generation(
    spec: KeySpec,
) -> Option<(
    CK_MECHANISM_TYPE,
    Template,
    &'static [(
        KeyUsage,
        &'static [CK_ATTRIBUTE_TYPE],
        &'static [CK_ATTRIBUTE_TYPE],
    )],
)> {
    const EC_USES: &[(KeyUsage, &[CK_ATTRIBUTE_TYPE], &[CK_ATTRIBUTE_TYPE])] = &[
        (KeyUsage::SignVerify, &[CKA_SIGN], &[CKA_VERIFY]),
        (KeyUsage::KeyAgreement, &[CKA_DERIVE], &[]),
    ];
    const SIGN_USES: &[(KeyUsage, &[CK_ATTRIBUTE_TYPE], &[CK_ATTRIBUTE_TYPE])] =
        &[(KeyUsage::SignVerify, &[CKA_SIGN], &[CKA_VERIFY])];
    const RSA_USES: &[(KeyUsage, &[CK_ATTRIBUTE_TYPE], &[CK_ATTRIBUTE_TYPE])] = &[
        (KeyUsage::SignVerify, &[CKA_SIGN], &[CKA_VERIFY]),
        (
            KeyUsage::EncryptDecrypt,
            &[CKA_DECRYPT, CKA_UNWRAP],
            &[CKA_ENCRYPT, CKA_WRAP],
        ),
    ];
    let ec = |oid: &[u8]| vec![Attribute::new(CKA_EC_PARAMS, oid.to_vec())];
    let rsa = |bits: CK_ULONG| {
        vec![
            Attribute::ulong(CKA_MODULUS_BITS, bits),
            Attribute::new(CKA_PUBLIC_EXPONENT, vec![1, 0, 1]),
        ]
    };
    let ml_dsa = |set: CK_ULONG| vec![Attribute::ulong(CKA_PARAMETER_SET, set)];
    Some(match spec {
        KeySpec::EccNistP256 => (CKM_EC_KEY_PAIR_GEN, ec(P256_OID), EC_USES),
        KeySpec::EccNistP384 => (CKM_EC_KEY_PAIR_GEN, ec(P384_OID), EC_USES),
        KeySpec::EccNistP521 => (CKM_EC_KEY_PAIR_GEN, ec(P521_OID), EC_USES),
        KeySpec::EccSecgP256k1 => (CKM_EC_KEY_PAIR_GEN, ec(SECP256K1_OID), SIGN_USES),
        KeySpec::Ed25519 => (CKM_EC_EDWARDS_KEY_PAIR_GEN, ec(ED25519_OID), SIGN_USES),
        KeySpec::MlDsa44 => (CKM_ML_DSA_KEY_PAIR_GEN, ml_dsa(CKP_ML_DSA_44), SIGN_USES),
        KeySpec::MlDsa65 => (CKM_ML_DSA_KEY_PAIR_GEN, ml_dsa(CKP_ML_DSA_65), SIGN_USES),
        KeySpec::MlDsa87 => (CKM_ML_DSA_KEY_PAIR_GEN, ml_dsa(CKP_ML_DSA_87), SIGN_USES),
        KeySpec::Rsa2048 => (CKM_RSA_PKCS_KEY_PAIR_GEN, rsa(2048), RSA_USES),
        KeySpec::Rsa3072 => (CKM_RSA_PKCS_KEY_PAIR_GEN, rsa(3072), RSA_USES),
        KeySpec::Rsa4096 => (CKM_RSA_PKCS_KEY_PAIR_GEN, rsa(4096), RSA_USES),
        _ => return None,
    })
}

/// The spec name of a key pair from its key type and the attributes that
/// choose its key (`CKA_EC_PARAMS`, `CKA_PARAMETER_SET`, the modulus size).
fn pair_spec_name(
    key_type: CK_KEY_TYPE,
    ec_params: Option<&[u8]>,
    parameter_set: Option<u64>,
    modulus_bits: Option<u64>,
) -> String {
    let curve = |p: Option<&[u8]>| match p {
        Some(P256_OID) => "p256",
        Some(P384_OID) => "p384",
        Some(P521_OID) => "p521",
        Some(SECP256K1_OID) => "secp256k1",
        Some(ED25519_OID) => "ed25519",
        _ => "other",
    };
    match key_type {
        CKK_RSA => format!("rsa{}", modulus_bits.unwrap_or(0)),
        CKK_EC | CKK_EC_EDWARDS => curve(ec_params).into(),
        CKK_ML_DSA => match parameter_set {
            Some(CKP_ML_DSA_44) => "ml-dsa-44".into(),
            Some(CKP_ML_DSA_65) => "ml-dsa-65".into(),
            Some(CKP_ML_DSA_87) => "ml-dsa-87".into(),
            _ => "other".into(),
        },
        _ => "other".into(),
    }
}

/// Label of the token's RSA key pair for importing material (like AWS KMS's
/// `GetParametersForImport`): made on first use, RSA-3072, OAEP with SHA-256.
pub const IMPORT_KEY_LABEL: &str = "softkms-import";

/// The attributes [`Token::describe`] reads, in this order.
const DESCRIBE: [CK_ATTRIBUTE_TYPE; 27] = [
    CKA_LABEL,
    CKA_UNIQUE_ID,
    CKA_CLASS,
    CKA_KEY_TYPE,
    CKA_VALUE_LEN,
    CKA_MODULUS_BITS,
    CKA_SOFTKMS_KEY_STATE,
    CKA_SOFTKMS_ORIGIN,
    CKA_SOFTKMS_CURRENT_VERSION,
    CKA_SOFTKMS_MIN_DECRYPT_VERSION,
    CKA_SOFTKMS_VERSION_TIMES,
    CKA_SOFTKMS_ROTATION_PERIOD,
    CKA_SOFTKMS_NEXT_ROTATION,
    CKA_SOFTKMS_DELETION_TIME,
    CKA_SOFTKMS_VALID_TO,
    CKA_SOFTKMS_POLICY,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_DERIVE,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
    CKA_EC_PARAMS,
    CKA_PARAMETER_SET,
    CKA_SOFTKMS_DESCRIPTION,
    CKA_SOFTKMS_TAGS,
    CKA_SOFTKMS_CREATOR,
];

/// The refusal to rotate a key of spec `spec` (named `name`, already quoted,
/// if it has one).
fn not_rotatable(name: Option<&str>, spec: &str) -> Error {
    let what = match name {
        Some(n) => format!("key {n} ({spec})"),
        None => format!("a {spec} key"),
    };
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "{what} does not rotate: only symmetric keys (aes256, aes128) have versions and \
             rotation, as in AWS KMS"
        ),
    )
}

fn state_of(v: Option<u64>) -> Option<KeyState> {
    match v? {
        SOFTKMS_KEY_STATE_ENABLED => Some(KeyState::Enabled),
        SOFTKMS_KEY_STATE_DISABLED => Some(KeyState::Disabled),
        SOFTKMS_KEY_STATE_PENDING_DELETION => Some(KeyState::PendingDeletion),
        SOFTKMS_KEY_STATE_PENDING_IMPORT => Some(KeyState::PendingImport),
        _ => None,
    }
}

/// Whether `s` has the form of the `CKA_UNIQUE_ID` SoftKMS gives an
/// object: 32 lower-case hex digits.
fn looks_like_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Token {
    // ---- finding keys (the caller holds `take`)

    /// The handle of the key `key` names.
    pub(super) fn key_handle(&self, key: &KeyRef) -> Result<CK_OBJECT_HANDLE> {
        match key {
            KeyRef::Id(id) => self.handle_by_id(id).and_then(|h| {
                h.ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no key with id {id}")))
            }),
            KeyRef::Alias(name) => self.alias_key_handle(name),
            // A name shaped like a key id is only an id: a key labelled with
            // the id of a key deleted since never captures it.
            KeyRef::Name(name) if looks_like_id(name) => self
                .key_by_id(&KeyId::new(name.as_str()))?
                .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no key with id {name}"))),
            KeyRef::Name(name) => {
                self.key_handle(&KeyRef::Label(name.clone()))
                    .map_err(|e| match e.kind() {
                        ErrorKind::NotFound => {
                            e.with_message(format!("no key with the id or label {name:?}"))
                        }
                        _ => e,
                    })
            }
            KeyRef::Label(name) => {
                // Secret keys and private keys (a pair's public key carries
                // the same label as its private key): one in all, or an error.
                let mut found = Vec::new();
                for class in [CKO_SECRET_KEY, CKO_PRIVATE_KEY] {
                    let t = vec![label_attr(name), Attribute::ulong(CKA_CLASS, class)];
                    found.extend(self.find(&t, 2)?);
                }
                match found.as_slice() {
                    [k] => Ok(*k),
                    [] => Err(Error::new(
                        ErrorKind::NotFound,
                        format!("no key labelled {name:?}"),
                    )),
                    _ => Err(Error::new(
                        ErrorKind::Ambiguous,
                        format!(
                            "more than one key is labelled {name:?}: name it by its id \
                             (softkms key list shows ids)"
                        ),
                    )),
                }
            }
        }
    }

    /// The object whose unique id is `id`, if this session sees it.
    pub(super) fn handle_by_id(&self, id: &KeyId) -> Result<Option<CK_OBJECT_HANDLE>> {
        let t = vec![Attribute::new(
            CKA_UNIQUE_ID,
            id.as_str().as_bytes().to_vec(),
        )];
        Ok(self.find(&t, 1)?.first().copied())
    }

    /// A refused use of `k`, told apart by the key's state: a disabled key is
    /// [`ErrorKind::Disabled`], one pending deletion or import
    /// [`ErrorKind::InvalidState`], anything else stays as it is.
    pub(super) fn refine(&self, k: CK_OBJECT_HANDLE, e: Error) -> Error {
        if e.kind() != ErrorKind::AccessDenied {
            return e;
        }
        let name = || {
            let meta = self.describe(k);
            super::words::key_name(&meta)
        };
        match state_of(self.ulong(k, CKA_SOFTKMS_KEY_STATE)) {
            Some(KeyState::Disabled) => e.with_kind(ErrorKind::Disabled).with_message(format!(
                "key {} is disabled: enable it with softkms key enable",
                name()
            )),
            Some(KeyState::PendingDeletion) => {
                e.with_kind(ErrorKind::InvalidState).with_message(format!(
                    "key {} is pending deletion: cancel the deletion first (softkms key \
                     cancel-deletion) to use it again",
                    name()
                ))
            }
            Some(KeyState::PendingImport) => {
                e.with_kind(ErrorKind::InvalidState).with_message(format!(
                    "key {} has no key material (its imported material expired): import the \
                     same material again (softkms key import)",
                    name()
                ))
            }
            _ => e,
        }
    }

    /// Everything non-secret about the key `k`.
    pub(super) fn describe(&self, k: CK_OBJECT_HANDLE) -> KeyMetadata {
        let v = self.attrs(k, &DESCRIBE);
        let raw = |i: usize| v.get(i).and_then(Option::as_ref);
        let text = |i: usize| raw(i).map(|b| String::from_utf8_lossy(b).into_owned());
        let num = |i: usize| {
            let ty = DESCRIBE.get(i).copied().unwrap_or(0);
            raw(i).and_then(|b| decode_ulong(ty, b).ok())
        };
        let flag = |i: usize| raw(i).is_some_and(|b| b.first() == Some(&CK_TRUE));
        let (class, key_type) = (num(2), num(3));
        let bytes = num(4).unwrap_or(0);
        let spec_name = match key_type {
            Some(CKK_AES) => format!("aes{}", bytes * 8),
            Some(CKK_GENERIC_SECRET) => format!("hmac{}", bytes * 8),
            Some(kt) => pair_spec_name(kt, raw(22).map(|v| v.as_slice()), num(23), num(5)),
            None => "other".into(),
        };
        let spec = spec_name.parse::<KeySpec>().ok();
        let versions = raw(10)
            .and_then(|b| decode_ulongs(CKA_SOFTKMS_VERSION_TIMES, b).ok())
            .unwrap_or_default()
            .chunks(2)
            .map(|p| KeyVersion {
                version: p.first().copied().unwrap_or(0),
                created: Timestamp::from_attr(p.get(1).copied()),
            })
            .collect();
        let (encrypt, decrypt, sign, derive) = (flag(16), flag(17), flag(18), flag(19));
        let mut usages = Vec::new();
        match key_type {
            Some(CKK_GENERIC_SECRET) if sign => usages.push(KeyUsage::GenerateVerifyMac),
            Some(CKK_RSA | CKK_EC | CKK_EC_EDWARDS | CKK_ML_DSA) if sign => {
                usages.push(KeyUsage::SignVerify);
            }
            _ => {}
        }
        if (encrypt || decrypt) && matches!(key_type, Some(CKK_AES | CKK_RSA)) {
            usages.push(KeyUsage::EncryptDecrypt);
        }
        if derive && key_type == Some(CKK_EC) {
            usages.push(KeyUsage::KeyAgreement);
        }
        KeyMetadata {
            id: KeyId::new(text(1).unwrap_or_default()),
            label: text(0),
            spec,
            spec_name,
            usages,
            managed: class == Some(CKO_SECRET_KEY)
                && key_type == Some(CKK_AES)
                && flag(20)
                && !flag(21)
                && num(8).is_some(),
            state: state_of(num(6)),
            origin: match num(7) {
                Some(SOFTKMS_ORIGIN_EXTERNAL) => KeyOrigin::External,
                _ => KeyOrigin::Softkms,
            },
            current_version: num(8),
            min_decrypt_version: num(9),
            versions,
            rotation_period_days: num(11).filter(|d| *d > 0),
            next_rotation: Timestamp::from_attr(num(12)),
            deletion_time: Timestamp::from_attr(num(13)),
            valid_to: Timestamp::from_attr(num(14)),
            policy: raw(15).map(|b| KeyPolicy::stored(b)),
            description: text(24).filter(|d| !d.is_empty()),
            tags: raw(25)
                .and_then(|b| crate::kms::meta::parse_tags(b).ok())
                .unwrap_or_default(),
            creator: text(26),
        }
    }

    // ---- the API

    /// Makes a token key of `spec` (`C_GenerateKey`, or `C_GenerateKeyPair`
    /// for RSA and EC: the [`KeyId`] of a pair is its private key's). Needs a
    /// user or named principal logged in, who becomes the key's creator.
    pub fn create_key(&self, spec: KeySpec, options: &KeyOptions) -> Result<KeyMetadata> {
        self.create_key_unlogged(spec, options)
            .inspect_err(|e| super::words::failed(&format!("create a {spec} key"), e))
    }

    fn create_key_unlogged(&self, spec: KeySpec, options: &KeyOptions) -> Result<KeyMetadata> {
        let usage = options.usage;
        if let Some(u) = usage {
            if !spec.usages().contains(&u) {
                return Err(Error::invalid(format!(
                    "a {spec} key cannot have the usage {}",
                    u.aws_name()
                )));
            }
        }
        if options.rotation_period_days.is_some_and(|d| d != 0) && !spec.is_managed() {
            let name = options.label.as_ref().map(|l| format!("{l:?}"));
            return Err(not_rotatable(name.as_deref(), spec.name()));
        }
        if let Some(days) = options.rotation_period_days {
            super::words::check_rotation_days(days)?;
        }
        if let Some(d) = &options.description {
            super::words::check_description(d)?;
        }
        super::words::check_tags(&options.tags)?;
        if let (Some(p), false) = (&options.policy, options.bypass_policy_lockout_safety_check) {
            super::words::check_lockout(p)?;
        }
        let wants = |u: KeyUsage| usage.is_none_or(|x| x == u);
        let mut common = vec![
            Attribute::bool(CKA_TOKEN, true),
            Attribute::bool(CKA_PRIVATE, true),
        ];
        if let Some(l) = &options.label {
            common.push(label_attr(l));
        }
        let mut kms_attrs = Vec::new();
        if let Some(d) = &options.description {
            kms_attrs.push(Attribute::new(
                CKA_SOFTKMS_DESCRIPTION,
                d.as_bytes().to_vec(),
            ));
        }
        if !options.tags.is_empty() {
            kms_attrs.push(Attribute::new(
                CKA_SOFTKMS_TAGS,
                crate::kms::meta::encode_tags(&options.tags),
            ));
        }
        if let Some(p) = &options.policy {
            kms_attrs.push(Attribute::new(
                CKA_SOFTKMS_POLICY,
                p.as_str().as_bytes().to_vec(),
            ));
            if options.bypass_policy_lockout_safety_check {
                kms_attrs.push(Attribute::bool(CKA_SOFTKMS_POLICY_FORCE, true));
            }
        }
        let _g = self.take();
        let handle = if spec.is_pair() {
            let (generator, public_key, uses) = pair_generation(spec)
                .ok_or_else(|| Error::invalid(format!("{spec} is not a key pair")))?;
            // Every usage of the spec is set, TRUE when wanted and FALSE
            // otherwise: the token's defaults would give the others.
            let mut private_uses = Vec::new();
            let mut public_uses = Vec::new();
            for (u, private, public) in uses {
                let on = wants(*u);
                private_uses.extend(private.iter().map(|a| Attribute::bool(*a, on)));
                public_uses.extend(public.iter().map(|a| Attribute::bool(*a, on)));
            }
            let mut public = public_key;
            public.extend(common.iter().filter(|a| a.ty != CKA_PRIVATE).cloned());
            public.push(Attribute::bool(CKA_PRIVATE, false));
            public.extend(public_uses);
            let mut private = vec![
                Attribute::bool(CKA_SENSITIVE, true),
                Attribute::bool(CKA_EXTRACTABLE, false),
            ];
            private.extend(private_uses);
            private.extend(common);
            private.extend(kms_attrs);
            self.m()
                .generate_key_pair(self.h(), &mech(generator), &public, &private)?
                .1
        } else {
            let (generator, len, uses): (_, CK_ULONG, &[CK_ATTRIBUTE_TYPE]) = match spec {
                KeySpec::Aes256 => (
                    CKM_AES_KEY_GEN,
                    32,
                    &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE],
                ),
                KeySpec::Aes128 => (
                    CKM_AES_KEY_GEN,
                    16,
                    &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP],
                ),
                KeySpec::Hmac224 => (CKM_GENERIC_SECRET_KEY_GEN, 28, &[CKA_SIGN, CKA_VERIFY]),
                KeySpec::Hmac256 => (CKM_GENERIC_SECRET_KEY_GEN, 32, &[CKA_SIGN, CKA_VERIFY]),
                KeySpec::Hmac384 => (CKM_GENERIC_SECRET_KEY_GEN, 48, &[CKA_SIGN, CKA_VERIFY]),
                _ => (CKM_GENERIC_SECRET_KEY_GEN, 64, &[CKA_SIGN, CKA_VERIFY]),
            };
            let mut t = vec![
                Attribute::ulong(CKA_VALUE_LEN, len),
                Attribute::bool(CKA_SENSITIVE, true),
                Attribute::bool(CKA_EXTRACTABLE, false),
            ];
            t.extend(uses.iter().map(|u| Attribute::bool(*u, true)));
            t.extend(common);
            if let Some(days) = options.rotation_period_days.filter(|d| *d != 0) {
                t.push(Attribute::ulong(CKA_SOFTKMS_ROTATION_PERIOD, days));
            }
            t.extend(kms_attrs);
            self.m().generate_key(self.h(), &mech(generator), &t)?
        };
        Ok(self.describe(handle))
    }

    /// Everything non-secret about a key (AWS KMS's `DescribeKey`).
    pub fn describe_key(&self, key: &KeyRef) -> Result<KeyMetadata> {
        let _g = self.take();
        let k = self
            .key_handle(key)
            .inspect_err(|e| super::words::failed(&format!("find key {key:?}"), e))?;
        Ok(self.describe(k))
    }

    /// Every token key this session sees (secret keys and private keys), with
    /// its metadata.
    pub fn list_keys(&self) -> Result<Vec<KeyMetadata>> {
        let _g = self.take();
        let mut keys = Vec::new();
        for class in [CKO_SECRET_KEY, CKO_PRIVATE_KEY] {
            let t = vec![
                Attribute::ulong(CKA_CLASS, class),
                Attribute::bool(CKA_TOKEN, true),
            ];
            keys.extend(self.find(&t, usize::MAX)?);
        }
        Ok(keys.into_iter().map(|k| self.describe(k)).collect())
    }

    /// Writes `template` to the key and describes it afterwards.
    pub(super) fn change(
        &self,
        what: &str,
        key: &KeyRef,
        template: &Template,
    ) -> Result<KeyMetadata> {
        let r = (|| {
            let _g = self.take();
            let k = self.key_handle(key)?;
            self.set(k, template).map_err(|e| self.refine(k, e))?;
            Ok(self.describe(k))
        })();
        r.inspect_err(|e| super::words::failed(&format!("{what} of key {key:?}"), e))
    }

    /// A state change; an invalid transition is [`ErrorKind::InvalidState`].
    fn change_state(&self, what: &str, key: &KeyRef, template: &Template) -> Result<KeyMetadata> {
        let r = (|| {
            let _g = self.take();
            let k = self.key_handle(key)?;
            match self.m().set_attributes(self.h(), k, template) {
                Ok(()) => Ok(self.describe(k)),
                Err(e @ ModuleError::AttributeValueInvalid(CKA_SOFTKMS_KEY_STATE)) => {
                    let meta = self.describe(k);
                    let state = meta.state.map_or("without a state", KeyState::name);
                    Err(Error::from(e)
                        .with_kind(ErrorKind::InvalidState)
                        .with_message(format!(
                            "key {} is {state}: it cannot {what} from there",
                            super::words::key_name(&meta)
                        )))
                }
                Err(e) => Err(self.refine(k, e.into())),
            }
        })();
        r.inspect_err(|e| super::words::failed(&format!("{what} key {key:?}"), e))
    }

    /// Refuses a lifecycle change that the key's state does not allow, in
    /// words (`allowed` says which states may).
    fn expect_state(&self, key: &KeyRef, what: &str, allowed: &[KeyState]) -> Result<()> {
        let meta = self.describe_key(key)?;
        let Some(state) = meta.state else {
            return Ok(());
        };
        if allowed.contains(&state) {
            return Ok(());
        }
        let name = super::words::key_name(&meta);
        let message = match state {
            KeyState::PendingDeletion => format!(
                "key {name} is pending deletion: cancel the deletion first (softkms key \
                 cancel-deletion)"
            ),
            KeyState::PendingImport => format!(
                "key {name} has no key material (its imported material expired): import the same \
                 material again first (softkms key import)"
            ),
            s => format!("key {name} is {s}: it cannot {what}"),
        };
        let e =
            Error::new(ErrorKind::InvalidState, message).with_code("CKR_ATTRIBUTE_VALUE_INVALID");
        super::words::failed(&format!("{what} key {key:?}"), &e);
        Err(e)
    }

    /// Enables a disabled key (needs `ManageKey`).
    pub fn enable_key(&self, key: &KeyRef) -> Result<KeyMetadata> {
        self.expect_state(key, "be enabled", &[KeyState::Enabled, KeyState::Disabled])?;
        self.change_state(
            "be enabled",
            key,
            &vec![Attribute::ulong(
                CKA_SOFTKMS_KEY_STATE,
                SOFTKMS_KEY_STATE_ENABLED,
            )],
        )
    }

    /// Disables a key: every use fails until it is enabled (needs `ManageKey`).
    pub fn disable_key(&self, key: &KeyRef) -> Result<KeyMetadata> {
        self.expect_state(key, "be disabled", &[KeyState::Enabled, KeyState::Disabled])?;
        self.change_state(
            "be disabled",
            key,
            &vec![Attribute::ulong(
                CKA_SOFTKMS_KEY_STATE,
                SOFTKMS_KEY_STATE_DISABLED,
            )],
        )
    }

    /// Schedules the key's deletion in `pending_window_days` (7–30; `None`:
    /// 30). Unusable meanwhile; destroyed for good when the window passes.
    pub fn schedule_key_deletion(
        &self,
        key: &KeyRef,
        pending_window_days: Option<u64>,
    ) -> Result<KeyMetadata> {
        if let Some(days) = pending_window_days {
            super::words::check_deletion_window(days)?;
        }
        self.change_state(
            "be scheduled for deletion",
            key,
            &vec![
                Attribute::ulong(
                    CKA_SOFTKMS_PENDING_WINDOW,
                    pending_window_days.unwrap_or(30),
                ),
                Attribute::ulong(CKA_SOFTKMS_KEY_STATE, SOFTKMS_KEY_STATE_PENDING_DELETION),
            ],
        )
    }

    /// Cancels a scheduled deletion: the key is Disabled again.
    pub fn cancel_key_deletion(&self, key: &KeyRef) -> Result<KeyMetadata> {
        let meta = self.describe_key(key)?;
        if meta.state.is_some_and(|s| s != KeyState::PendingDeletion) {
            let e = Error::new(
                ErrorKind::InvalidState,
                format!(
                    "key {} is not pending deletion: there is no deletion to cancel",
                    super::words::key_name(&meta)
                ),
            )
            .with_code("CKR_ATTRIBUTE_VALUE_INVALID");
            super::words::failed(&format!("cancel the deletion of key {key:?}"), &e);
            return Err(e);
        }
        self.change_state(
            "have its deletion cancelled",
            key,
            &vec![Attribute::ulong(
                CKA_SOFTKMS_KEY_STATE,
                SOFTKMS_KEY_STATE_DISABLED,
            )],
        )
    }

    /// Refuses to rotate a key that is not a managed (AES) key: asymmetric
    /// and HMAC keys never rotate, as in AWS KMS.
    pub(super) fn check_rotatable(&self, key: &KeyRef) -> Result<KeyMetadata> {
        let meta = self.describe_key(key)?;
        if meta.managed || meta.spec.is_some_and(KeySpec::is_managed) {
            // A managed key, or an AES key the module will judge itself.
            return Ok(meta);
        }
        let name = super::words::key_name(&meta);
        let e = not_rotatable(Some(&name), &meta.spec_name);
        super::words::failed(&format!("rotation of key {key:?}"), &e);
        Err(e)
    }

    /// Rotates a managed key now: new material becomes the next version; the
    /// old versions stay, for decryption only. Asymmetric and HMAC keys do
    /// not rotate ([`ErrorKind::Unsupported`]).
    pub fn rotate_key(&self, key: &KeyRef) -> Result<KeyMetadata> {
        self.check_rotatable(key)?;
        self.change(
            "rotation",
            key,
            &vec![Attribute::bool(CKA_SOFTKMS_ROTATE, true)],
        )
    }

    /// Turns automatic rotation on (every `days` days, 90–2560) or off (`None`).
    /// Asymmetric and HMAC keys do not rotate ([`ErrorKind::Unsupported`]).
    pub fn set_rotation_period(&self, key: &KeyRef, days: Option<u64>) -> Result<KeyMetadata> {
        if let Some(d) = days {
            super::words::check_rotation_days(d)
                .inspect_err(|e| super::words::failed("set a rotation period", e))?;
        }
        self.check_rotatable(key)?;
        self.change(
            "rotation period",
            key,
            &vec![Attribute::ulong(
                CKA_SOFTKMS_ROTATION_PERIOD,
                days.unwrap_or(0),
            )],
        )
    }

    /// The versions of a managed key, oldest first (AWS KMS's
    /// `ListKeyRotations`).
    pub fn list_key_versions(&self, key: &KeyRef) -> Result<Vec<KeyVersion>> {
        Ok(self.describe_key(key)?.versions)
    }

    /// The key's policy; `None` for the default policy.
    pub fn get_key_policy(&self, key: &KeyRef) -> Result<Option<KeyPolicy>> {
        Ok(self.describe_key(key)?.policy)
    }

    /// Replaces the key's policy (needs `SetPolicy` under the current one).
    /// A policy that [locks out](KeyPolicy::locks_out) everybody is refused
    /// unless `bypass_lockout_safety_check`.
    pub fn put_key_policy(
        &self,
        key: &KeyRef,
        policy: &KeyPolicy,
        bypass_lockout_safety_check: bool,
    ) -> Result<KeyMetadata> {
        if !bypass_lockout_safety_check {
            super::words::check_lockout(policy)?;
        }
        let mut t = vec![Attribute::new(
            CKA_SOFTKMS_POLICY,
            policy.as_str().as_bytes().to_vec(),
        )];
        if bypass_lockout_safety_check {
            t.push(Attribute::bool(CKA_SOFTKMS_POLICY_FORCE, true));
        }
        self.change("policy", key, &t)
    }

    /// Imports 32 bytes of AES-256 material as the managed key labelled
    /// `label`, of origin "external", valid until `valid_to` if given. The
    /// material travels into the module wrapped with the token's import key
    /// (RSA-OAEP SHA-256; the pair labelled [`IMPORT_KEY_LABEL`], made on
    /// first use). A key `label` in PendingImport takes the same material
    /// again, and only the same.
    pub fn import_key_material(
        &self,
        label: &str,
        material: &SecretBytes,
        valid_to: Option<Timestamp>,
    ) -> Result<KeyMetadata> {
        if material.len() != 32 {
            return Err(Error::invalid(format!(
                "key material must be 32 bytes (AES-256), not {}",
                material.len()
            )));
        }
        let valid_to = match valid_to {
            Some(t) => CK_ULONG::try_from(t.unix())
                .map_err(|_| Error::invalid("the expiry is before 1970"))?,
            None => 0,
        };
        let _g = self.take();
        let (public, private) = self.import_key_pair()?;
        let m = self.m();
        let h = self.h();
        m.encrypt_init(h, &oaep_sha256(), public)?;
        let wrapped = call(|ob| m.encrypt(h, material.as_bytes(), ob))?;
        let existing = self.key_handle(&KeyRef::label(label)).ok();
        let mut t = vec![
            Attribute::ulong(CKA_CLASS, CKO_SECRET_KEY),
            Attribute::ulong(CKA_KEY_TYPE, CKK_AES),
            Attribute::bool(CKA_TOKEN, existing.is_none()),
            Attribute::bool(CKA_SENSITIVE, true),
            Attribute::bool(CKA_EXTRACTABLE, false),
        ];
        if existing.is_none() {
            t.push(label_attr(label));
            t.push(Attribute::bool(CKA_PRIVATE, true));
            for u in [CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE] {
                t.push(Attribute::bool(u, true));
            }
            t.push(Attribute::ulong(CKA_SOFTKMS_VALID_TO, valid_to));
        }
        let k = m.unwrap_key(h, &oaep_sha256(), private, &wrapped, &t)?;
        let key = match existing {
            None => k,
            Some(target) => {
                let set = vec![
                    Attribute::ulong(CKA_SOFTKMS_IMPORT_FROM, k),
                    Attribute::ulong(CKA_SOFTKMS_VALID_TO, valid_to),
                ];
                let r = self.set(target, &set);
                let _ = m.destroy_object(h, k);
                r?;
                target
            }
        };
        Ok(self.describe(key))
    }

    /// The import key pair (public, private), made on first use.
    fn import_key_pair(&self) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let find = |class| -> Result<Option<CK_OBJECT_HANDLE>> {
            let t = vec![
                label_attr(IMPORT_KEY_LABEL),
                Attribute::ulong(CKA_CLASS, class),
            ];
            Ok(self.find(&t, 1)?.first().copied())
        };
        if let (Some(p), Some(k)) = (find(CKO_PUBLIC_KEY)?, find(CKO_PRIVATE_KEY)?) {
            return Ok((p, k));
        }
        let public = vec![
            label_attr(IMPORT_KEY_LABEL),
            Attribute::bool(CKA_TOKEN, true),
            Attribute::ulong(CKA_MODULUS_BITS, 3072),
            Attribute::new(CKA_PUBLIC_EXPONENT, vec![1, 0, 1]),
            Attribute::bool(CKA_ENCRYPT, true),
            Attribute::bool(CKA_WRAP, true),
            Attribute::bool(CKA_VERIFY, false),
        ];
        let private = vec![
            label_attr(IMPORT_KEY_LABEL),
            Attribute::bool(CKA_TOKEN, true),
            Attribute::bool(CKA_PRIVATE, true),
            Attribute::bool(CKA_SENSITIVE, true),
            Attribute::bool(CKA_EXTRACTABLE, false),
            Attribute::bool(CKA_UNWRAP, true),
            Attribute::bool(CKA_DECRYPT, false),
            Attribute::bool(CKA_SIGN, false),
        ];
        Ok(self.m().generate_key_pair(
            self.h(),
            &mech(CKM_RSA_PKCS_KEY_PAIR_GEN),
            &public,
            &private,
        )?)
    }
}

fn oaep_sha256() -> Mechanism {
    Mechanism {
        mech: CKM_RSA_PKCS_OAEP,
        param: Param::Oaep {
            hash: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            label: Vec::new(),
        },
    }
}
