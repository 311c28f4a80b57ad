//! The key gate (issue 12, DESIGN §1 "The gate", §6): every path that touches
//! a key × every reason to refuse it, through the built module.
//!
//! One row per path, with the key kind it takes, the usage attribute and
//! policy action that govern it, a preparation made by the owner while the key
//! is still usable (a ciphertext, a signature, a wrapped key, a helper key) and
//! a closure that performs the use. One column per reason, with a setup that
//! makes the key fail that way. Each cell gets a fresh key; every refused cell
//! must return the column's code, change nothing the session can see (objects,
//! attribute values, key state) and leave exactly one audit record of the
//! refused call, with that code and a reason (`audit = "per-call"`). The two
//! control columns show that each row's use works for the owner and for a
//! principal the policy allows, so a refusal is the column's doing.
//! Lifecycle states do not refuse management (set-attribute, destroy): those
//! cells must work. One test per column, so the run names the failing reasons;
//! each lists every failing row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/gate.rs"]
mod gate;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::{GcmMessageParams, GcmParams, GeneratorFunction};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::hkdf::{HkdfParams, HkdfSalt};
use cryptoki::mechanism::{Mechanism, MechanismType, MessageParam};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use gate::*;

/// What a row's preparation leaves for its use.
#[derive(Default)]
struct Prep {
    /// The other key of the call (the key to wrap, the wrapping key, the HKDF base key).
    helper: Option<ObjectHandle>,
    /// A ciphertext, signature or wrapped key made while the key was usable.
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
}

type PrepFn = fn(&Session, ObjectHandle, &[u8]) -> Prep;
type UseFn = fn(&Session, ObjectHandle, &Prep, &[u8]) -> Result<(), Fail>;

/// One path that touches a key.
struct Row {
    name: &'static str,
    kind: Kind,
    /// The usage attribute that governs it (`CKA_EXTRACTABLE` for a wrapped key).
    usage: Option<CK_ATTRIBUTE_TYPE>,
    /// The mechanism, for `CKA_ALLOWED_MECHANISMS`.
    mech: Option<MechanismType>,
    /// The policy action it needs.
    action: &'static str,
    /// The call that is refused.
    function: &'static str,
    /// Management: lifecycle states do not refuse it.
    management: bool,
    /// Whether the call carries an encryption context.
    context: bool,
    /// Below the minimum decryption version: the call that fails and its code.
    below_min: Option<(&'static str, RvError)>,
    prep: PrepFn,
    run: UseFn,
}

const GCM_IV: [u8; 12] = [7; 12];

fn no_prep(_: &Session, _: ObjectHandle, _: &[u8]) -> Prep {
    Prep::default()
}

fn gcm(iv: &mut [u8]) -> Mechanism<'_> {
    Mechanism::AesGcm(GcmParams::new(iv, &[], 128.into()).unwrap())
}

fn hkdf_template_data() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(false),
        Attribute::ValueLen(32.into()),
    ]
}

/// A key the actor (alice included) may derive with: a token key, as private
/// session objects do not outlive the logout that switches actors.
fn helper_secret(s: &Session) -> ObjectHandle {
    make_key(
        s,
        Kind::Secret,
        "helper",
        &[Attribute::Token(true), policy_attr(&open_policy(ALICE))],
    )
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "C_EncryptInit CKM_AES_GCM",
            kind: Kind::Managed,
            usage: Some(CKA_ENCRYPT),
            mech: Some(MechanismType::AES_GCM),
            action: "Encrypt",
            function: "C_EncryptInit",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let mut iv = GCM_IV;
                at("C_EncryptInit", s.encrypt_init(&gcm(&mut iv), k))?;
                raw_encrypt(s, b"data")
            },
        },
        Row {
            name: "C_DecryptInit CKM_AES_GCM",
            kind: Kind::Managed,
            usage: Some(CKA_DECRYPT),
            mech: Some(MechanismType::AES_GCM),
            action: "Decrypt",
            function: "C_DecryptInit",
            management: false,
            context: false,
            below_min: Some(("C_Decrypt", RvError::EncryptedDataInvalid)),
            prep: |s, k, _| {
                let mut iv = GCM_IV;
                Prep {
                    data: s.encrypt(&gcm(&mut iv), k, b"secret").unwrap(),
                    ..Prep::default()
                }
            },
            run: |s, k, p, _| {
                let mut iv = GCM_IV;
                at("C_DecryptInit", s.decrypt_init(&gcm(&mut iv), k))?;
                raw_decrypt(s, &p.data)
            },
        },
        Row {
            name: "C_SignInit CKM_SHA256_HMAC",
            kind: Kind::Hmac,
            usage: Some(CKA_SIGN),
            mech: Some(MechanismType::SHA256_HMAC),
            action: "Sign",
            function: "C_SignInit",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                at("C_SignInit", s.sign(&Mechanism::Sha256Hmac, k, b"data")).map(drop)
            },
        },
        Row {
            name: "C_VerifyInit CKM_SHA256_HMAC",
            kind: Kind::Hmac,
            usage: Some(CKA_VERIFY),
            mech: Some(MechanismType::SHA256_HMAC),
            action: "Verify",
            function: "C_VerifyInit",
            management: false,
            context: false,
            below_min: None,
            prep: |s, k, _| Prep {
                data: s.sign(&Mechanism::Sha256Hmac, k, b"data").unwrap(),
                ..Prep::default()
            },
            run: |s, k, p, _| {
                at(
                    "C_VerifyInit",
                    s.verify(&Mechanism::Sha256Hmac, k, b"data", &p.data),
                )
            },
        },
        Row {
            name: "C_MessageEncryptInit CKM_AES_GCM (random IV)",
            kind: Kind::Managed,
            usage: Some(CKA_ENCRYPT),
            mech: Some(MechanismType::AES_GCM),
            action: "Encrypt",
            function: "C_MessageEncryptInit",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let (mut iv0, mut tag0) = ([0u8; 12], [0u8; 16]);
                let init = Mechanism::AesGcmMessage(
                    GcmMessageParams::new(
                        &mut iv0,
                        0.into(),
                        GeneratorFunction::GenerateRandom,
                        &mut tag0,
                    )
                    .unwrap(),
                );
                at("C_MessageEncryptInit", s.message_encrypt_init(&init, k))?;
                let (mut iv, mut tag) = ([0u8; 12], [0u8; 16]);
                let p = GcmMessageParams::new(
                    &mut iv,
                    0.into(),
                    GeneratorFunction::GenerateRandom,
                    &mut tag,
                )
                .unwrap();
                at(
                    "C_EncryptMessage",
                    s.encrypt_message(&MessageParam::AesGcmMessage(p), b"", b"data"),
                )?;
                at("C_MessageEncryptFinal", s.message_encrypt_final())
            },
        },
        Row {
            name: "C_MessageDecryptInit CKM_AES_GCM",
            kind: Kind::Managed,
            usage: Some(CKA_DECRYPT),
            mech: Some(MechanismType::AES_GCM),
            action: "Decrypt",
            function: "C_MessageDecryptInit",
            management: false,
            context: false,
            below_min: None,
            prep: |s, k, _| {
                let (mut iv0, mut tag0) = ([0u8; 12], [0u8; 16]);
                let init = Mechanism::AesGcmMessage(
                    GcmMessageParams::new(
                        &mut iv0,
                        0.into(),
                        GeneratorFunction::GenerateRandom,
                        &mut tag0,
                    )
                    .unwrap(),
                );
                s.message_encrypt_init(&init, k).unwrap();
                let (mut iv, mut tag) = ([0u8; 12], [0u8; 16]);
                let p = GcmMessageParams::new(
                    &mut iv,
                    0.into(),
                    GeneratorFunction::GenerateRandom,
                    &mut tag,
                )
                .unwrap();
                let data = s
                    .encrypt_message(&MessageParam::AesGcmMessage(p), b"", b"secret")
                    .unwrap();
                s.message_encrypt_final().unwrap();
                Prep {
                    data,
                    iv: iv.to_vec(),
                    tag: tag.to_vec(),
                    ..Prep::default()
                }
            },
            run: |s, k, p, _| {
                let (mut iv0, mut tag0) = ([0u8; 12], [0u8; 16]);
                let init = Mechanism::AesGcmMessage(
                    GcmMessageParams::new(
                        &mut iv0,
                        0.into(),
                        GeneratorFunction::NoGenerate,
                        &mut tag0,
                    )
                    .unwrap(),
                );
                at("C_MessageDecryptInit", s.message_decrypt_init(&init, k))?;
                let (mut iv, mut tag) = (p.iv.clone(), p.tag.clone());
                let mp = GcmMessageParams::new(
                    &mut iv,
                    0.into(),
                    GeneratorFunction::NoGenerate,
                    &mut tag,
                )
                .unwrap();
                at(
                    "C_DecryptMessage",
                    s.decrypt_message(&MessageParam::AesGcmMessage(mp), b"", &p.data),
                )?;
                at("C_MessageDecryptFinal", s.message_decrypt_final())
            },
        },
        Row {
            name: "C_WrapKey CKM_AES_KEY_WRAP, the wrapping key",
            kind: Kind::Managed,
            usage: Some(CKA_WRAP),
            mech: Some(MechanismType::AES_KEY_WRAP),
            action: "WrapKey",
            function: "C_WrapKey",
            management: false,
            context: false,
            below_min: None,
            prep: |s, _, _| Prep {
                helper: Some(session_aes(
                    s,
                    "to wrap",
                    &[Attribute::Token(true), policy_attr(&open_policy(ALICE))],
                )),
                ..Prep::default()
            },
            run: |s, k, p, _| {
                at(
                    "C_WrapKey",
                    s.wrap_key(&Mechanism::AesKeyWrap, k, p.helper.unwrap()),
                )
                .map(drop)
            },
        },
        Row {
            name: "C_WrapKey CKM_AES_KEY_WRAP, the key wrapped",
            kind: Kind::Exportable,
            usage: Some(CKA_EXTRACTABLE),
            mech: None,
            action: "ExportKey",
            function: "C_WrapKey",
            management: false,
            context: false,
            below_min: None,
            prep: |s, _, _| Prep {
                helper: Some(make_key(
                    s,
                    Kind::Managed,
                    "wrapping key",
                    &[policy_attr(&open_policy(ALICE))],
                )),
                ..Prep::default()
            },
            run: |s, k, p, _| {
                at(
                    "C_WrapKey",
                    s.wrap_key(&Mechanism::AesKeyWrap, p.helper.unwrap(), k),
                )
                .map(drop)
            },
        },
        Row {
            name: "C_UnwrapKey CKM_AES_KEY_WRAP",
            kind: Kind::Managed,
            usage: Some(CKA_UNWRAP),
            mech: Some(MechanismType::AES_KEY_WRAP),
            action: "UnwrapKey",
            function: "C_UnwrapKey",
            management: false,
            context: false,
            below_min: None,
            prep: |s, k, _| {
                let inner = session_aes(s, "inner", &[]);
                Prep {
                    data: s.wrap_key(&Mechanism::AesKeyWrap, k, inner).unwrap(),
                    ..Prep::default()
                }
            },
            run: |s, k, p, _| {
                at(
                    "C_UnwrapKey",
                    s.unwrap_key(&Mechanism::AesKeyWrap, k, &p.data, &unwrap_template()),
                )
                .map(drop)
            },
        },
        Row {
            name: "C_DeriveKey CKM_HKDF_DERIVE, the base key",
            kind: Kind::Secret,
            usage: Some(CKA_DERIVE),
            mech: Some(MechanismType::HKDF_DERIVE),
            action: "DeriveKey",
            function: "C_DeriveKey",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let m = Mechanism::HkdfDerive(HkdfParams::new(
                    MechanismType::SHA256,
                    Some(HkdfSalt::Data(b"salt")),
                    Some(b"info"),
                ));
                at("C_DeriveKey", s.derive_key(&m, k, &derive_template())).map(drop)
            },
        },
        Row {
            name: "C_DeriveKey CKM_HKDF_DATA, the base key",
            kind: Kind::Secret,
            usage: Some(CKA_DERIVE),
            mech: Some(MechanismType::HKDF_DATA),
            action: "DeriveKey",
            function: "C_DeriveKey",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let m = Mechanism::HkdfData(HkdfParams::new(
                    MechanismType::SHA256,
                    Some(HkdfSalt::Data(b"salt")),
                    Some(b"info"),
                ));
                at("C_DeriveKey", s.derive_key(&m, k, &hkdf_template_data())).map(drop)
            },
        },
        Row {
            name: "C_DeriveKey CKM_HKDF_DERIVE, the salt key",
            kind: Kind::Secret,
            usage: Some(CKA_DERIVE),
            mech: None,
            action: "DeriveKey",
            function: "C_DeriveKey",
            management: false,
            context: false,
            below_min: None,
            prep: |s, _, _| Prep {
                helper: Some(helper_secret(s)),
                ..Prep::default()
            },
            run: |s, k, p, _| {
                let m = Mechanism::HkdfDerive(HkdfParams::new(
                    MechanismType::SHA256,
                    Some(HkdfSalt::Key(k)),
                    Some(b"info"),
                ));
                at(
                    "C_DeriveKey",
                    s.derive_key(&m, p.helper.unwrap(), &derive_template()),
                )
                .map(drop)
            },
        },
        Row {
            name: "C_DeriveKey CKM_ECDH1_DERIVE, the base key",
            kind: Kind::Ec,
            usage: Some(CKA_DERIVE),
            mech: Some(MechanismType::ECDH1_DERIVE),
            action: "DeriveKey",
            function: "C_DeriveKey",
            management: false,
            context: false,
            below_min: None,
            prep: |s, _, _| {
                let (public, _) = s
                    .generate_key_pair(
                        &Mechanism::EccKeyPairGen,
                        &[Attribute::Token(false), Attribute::EcParams(P256.to_vec())],
                        &[Attribute::Token(false), Attribute::Derive(true)],
                    )
                    .unwrap();
                let point = read_bytes(s, public, AttributeType::EcPoint).unwrap();
                Prep {
                    data: point[2..].to_vec(),
                    ..Prep::default()
                }
            },
            run: |s, k, p, _| {
                let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &p.data));
                at("C_DeriveKey", s.derive_key(&m, k, &derive_template())).map(drop)
            },
        },
        Row {
            name: "C_DeriveKey CKM_SOFTKMS_GENERATE_DATA_KEY",
            kind: Kind::Managed,
            usage: Some(CKA_DERIVE),
            mech: Some(MechanismType::new_vendor_defined(CKM_GENERATE_DATA_KEY).unwrap()),
            action: "GenerateDataKey",
            function: "C_DeriveKey",
            management: false,
            context: true,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, c| at("C_DeriveKey", generate_data_key(s, k, c)).map(drop),
        },
        Row {
            name: "C_DigestKey",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "DeriveKey",
            function: "C_DigestKey",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                at("C_DigestInit", s.digest_init(&Mechanism::Sha256))?;
                at("C_DigestKey", s.digest_key(k))?;
                at("C_DigestFinal", s.digest_final()).map(drop)
            },
        },
        Row {
            name: "C_CopyObject",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "ManageKey",
            function: "C_CopyObject",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                at(
                    "C_CopyObject",
                    s.copy_object(k, &[Attribute::Label(b"copy".to_vec())]),
                )
                .map(drop)
            },
        },
        Row {
            name: "C_CopyObject with CKA_SOFTKMS_POLICY",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "SetPolicy",
            function: "C_CopyObject",
            management: false,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let p = policy(&[(&["*"], &["*"], None)]);
                at("C_CopyObject", s.copy_object(k, &[policy_attr(&p)])).map(drop)
            },
        },
        Row {
            name: "C_SetAttributeValue CKA_LABEL",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "ManageKey",
            function: "C_SetAttributeValue",
            management: true,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                at(
                    "C_SetAttributeValue",
                    s.update_attributes(k, &[Attribute::Label(b"renamed".to_vec())]),
                )
            },
        },
        Row {
            name: "C_SetAttributeValue CKA_SOFTKMS_POLICY",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "SetPolicy",
            function: "C_SetAttributeValue",
            management: true,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| {
                let p = policy(&[(&["user", ALICE, "bob"], &["*"], None)]);
                at(
                    "C_SetAttributeValue",
                    s.update_attributes(k, &[policy_attr(&p)]),
                )
            },
        },
        Row {
            name: "C_DestroyObject",
            kind: Kind::Secret,
            usage: None,
            mech: None,
            action: "ManageKey",
            function: "C_DestroyObject",
            management: true,
            context: false,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, _| at("C_DestroyObject", s.destroy_object(k)),
        },
        Row {
            name: "CKM_SOFTKMS_ENVELOPE C_EncryptInit",
            kind: Kind::Managed,
            usage: Some(CKA_ENCRYPT),
            mech: Some(MechanismType::new_vendor_defined(CKM_ENVELOPE).unwrap()),
            action: "Encrypt",
            function: "C_EncryptInit",
            management: false,
            context: true,
            below_min: None,
            prep: no_prep,
            run: |s, k, _, c| {
                let p = env_params(c);
                at("C_EncryptInit", s.encrypt_init(&envelope(&p), k))?;
                raw_encrypt(s, b"data")
            },
        },
        Row {
            name: "CKM_SOFTKMS_ENVELOPE C_DecryptInit",
            kind: Kind::Managed,
            usage: Some(CKA_DECRYPT),
            mech: Some(MechanismType::new_vendor_defined(CKM_ENVELOPE).unwrap()),
            action: "Decrypt",
            function: "C_DecryptInit",
            management: false,
            context: true,
            below_min: Some(("C_Decrypt", RvError::KeyFunctionNotPermitted)),
            prep: |s, k, c| Prep {
                data: s.encrypt(&envelope(&env_params(c)), k, b"secret").unwrap(),
                ..Prep::default()
            },
            run: |s, k, p, c| {
                at(
                    "C_DecryptInit",
                    s.decrypt_init(&envelope(&env_params(c)), k),
                )?;
                raw_decrypt(s, &p.data)
            },
        },
        Row {
            name: "CKM_SOFTKMS_ENVELOPE C_WrapKey",
            kind: Kind::Managed,
            usage: Some(CKA_WRAP),
            mech: Some(MechanismType::new_vendor_defined(CKM_ENVELOPE).unwrap()),
            action: "Encrypt",
            function: "C_WrapKey",
            management: false,
            context: true,
            below_min: None,
            prep: |s, _, _| Prep {
                helper: Some(session_aes(
                    s,
                    "to wrap",
                    &[Attribute::Token(true), policy_attr(&open_policy(ALICE))],
                )),
                ..Prep::default()
            },
            run: |s, k, p, c| {
                at(
                    "C_WrapKey",
                    s.wrap_key(&envelope(&env_params(c)), k, p.helper.unwrap()),
                )
                .map(drop)
            },
        },
        Row {
            name: "CKM_SOFTKMS_ENVELOPE C_UnwrapKey",
            kind: Kind::Managed,
            usage: Some(CKA_UNWRAP),
            mech: Some(MechanismType::new_vendor_defined(CKM_ENVELOPE).unwrap()),
            action: "Decrypt",
            function: "C_UnwrapKey",
            management: false,
            context: true,
            below_min: Some(("C_UnwrapKey", RvError::KeyFunctionNotPermitted)),
            prep: |s, k, c| {
                let inner = session_aes(s, "inner", &[]);
                Prep {
                    data: s.wrap_key(&envelope(&env_params(c)), k, inner).unwrap(),
                    ..Prep::default()
                }
            },
            run: |s, k, p, c| {
                at(
                    "C_UnwrapKey",
                    s.unwrap_key(&envelope(&env_params(c)), k, &p.data, &unwrap_template()),
                )
                .map(drop)
            },
        },
    ]
}

/// `C_Encrypt` of `data` in the operation the caller started.
fn raw_encrypt(s: &Session, data: &[u8]) -> Result<(), Fail> {
    Raw3::new()
        .encrypt(s, data)
        .map(drop)
        .map_err(|rv| ("C_Encrypt", rv_error(rv)))
}

/// `C_Decrypt` of `data` in the operation the caller started (`cryptoki`'s
/// `decrypt` would start another).
fn raw_decrypt(s: &Session, data: &[u8]) -> Result<(), Fail> {
    let raw = Raw3::new();
    raw.decrypt(s, data)
        .map(drop)
        .map_err(|rv| ("C_Decrypt", rv_error(rv)))
}

/// One reason to refuse (or a control).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    /// The owner, nothing wrong: the use works.
    OwnerWorks,
    /// A principal the policy allows: the use works.
    PrincipalWorks,
    UsageFalse,
    MechanismNotAllowed,
    Disabled,
    PendingDeletion,
    PendingImport,
    BelowMinDecryptVersion,
    PolicyDenies,
    ContextUnmet,
}

/// What a cell expects.
enum Expect {
    NotApplicable,
    Works,
    Refused(&'static str, RvError),
}

fn expect(row: &Row, col: Col) -> Expect {
    let kfnp = RvError::KeyFunctionNotPermitted;
    match col {
        Col::OwnerWorks | Col::PrincipalWorks => Expect::Works,
        Col::UsageFalse => match row.usage {
            Some(CKA_EXTRACTABLE) => Expect::Refused(row.function, RvError::KeyUnextractable),
            Some(_) => Expect::Refused(row.function, kfnp),
            None => Expect::NotApplicable,
        },
        Col::MechanismNotAllowed => match row.mech {
            Some(_) => Expect::Refused(row.function, kfnp),
            None => Expect::NotApplicable,
        },
        Col::Disabled | Col::PendingDeletion | Col::PendingImport => {
            if row.management {
                Expect::Works
            } else {
                Expect::Refused(row.function, kfnp)
            }
        }
        Col::BelowMinDecryptVersion => match row.below_min {
            Some((f, code)) => Expect::Refused(f, code),
            None => Expect::NotApplicable,
        },
        Col::PolicyDenies => Expect::Refused(row.function, kfnp),
        Col::ContextUnmet if row.context => Expect::Refused(row.function, kfnp),
        Col::ContextUnmet => Expect::NotApplicable,
    }
}

/// A mechanism list that leaves out every row's mechanism for `kind`.
fn other_mechanism(kind: Kind) -> MechanismType {
    match kind {
        Kind::Managed | Kind::Exportable => MechanismType::AES_CBC_PAD,
        Kind::Hmac | Kind::Secret => MechanismType::SHA512_HMAC,
        Kind::Ec => MechanismType::ECDSA,
    }
}

struct Matrix {
    ctx: Ctx,
    raw: Raw3,
    /// The session that holds the login (PKCS#11 logins are the application's).
    login: Session,
    /// The last audit record seen.
    seen: std::cell::Cell<u64>,
}

impl Matrix {
    fn new() -> Matrix {
        let ctx = Ctx::with_config(1, "audit = \"per-call\"");
        let slot = ctx.init_token(0);
        add_principal(&ctx, slot, ALICE, ALICE_PIN);
        let login = ctx.user_session(0);
        Matrix {
            raw: Raw3::new(),
            ctx,
            login,
            seen: std::cell::Cell::new(audit_head()),
        }
    }

    /// Runs one cell; `Err` says what is wrong with it.
    fn cell(&self, row: &Row, col: Col, i: usize) -> Result<(), String> {
        let want = expect(row, col);
        if matches!(want, Expect::NotApplicable) {
            return Ok(());
        }
        become_(&self.raw, &self.login, Who::Owner);
        set_clock(0);
        let s = self.ctx.p11.open_rw_session(self.ctx.slot(0)).unwrap();
        let label = format!("{} {col:?} {i}", row.name);
        let context = if col == Col::ContextUnmet {
            HR
        } else {
            BILLING
        };
        // The key, failing the column's way where that is fixed at creation.
        let mut extra = vec![];
        match col {
            Col::UsageFalse => extra.push(usage_off(row.usage.unwrap())),
            // CKA_ALLOWED_MECHANISMS is fixed at creation.
            Col::MechanismNotAllowed => {
                extra.push(Attribute::AllowedMechanisms(vec![other_mechanism(
                    row.kind,
                )]))
            }
            Col::PendingImport => extra.push(ulong_attr(VALID_TO, now() + 3600)),
            Col::PolicyDenies => extra.push(policy_attr(&all_but(ALICE, row.action))),
            Col::ContextUnmet => extra.push(policy_attr(&policy(&[
                (&["user"], &["*"], None),
                (&[ALICE], &["*"], Some(BILLING)),
            ]))),
            Col::PrincipalWorks => extra.push(policy_attr(&open_policy(ALICE))),
            _ => {}
        }
        let mut k = if col == Col::BelowMinDecryptVersion {
            generated_managed(&s, &label, &extra)
        } else {
            make_key(&s, row.kind, &label, &extra)
        };
        // The preparation needs the mechanism the key may not use: a twin
        // key (same kind and material) makes it; the refusal comes first.
        let prep = if col == Col::MechanismNotAllowed {
            let twin = make_key(&s, row.kind, &format!("{label} twin"), &[]);
            (row.prep)(&s, twin, context)
        } else {
            (row.prep)(&s, k, context)
        };
        let mut prep = prep;
        // The rest of the column's setup, now that the preparation is made.
        let setup: cryptoki::error::Result<()> = match col {
            Col::Disabled => s.update_attributes(k, &[ulong_attr(KEY_STATE, DISABLED)]),
            Col::PendingDeletion => s.update_attributes(
                k,
                &[
                    ulong_attr(KEY_STATE, PENDING_DELETION),
                    ulong_attr(PENDING_WINDOW, 7),
                ],
            ),
            Col::BelowMinDecryptVersion => s
                .update_attributes(k, &[bool_attr(ROTATE, true)])
                .and_then(|()| s.update_attributes(k, &[ulong_attr(MIN_DECRYPT_VERSION, 2)])),
            Col::PendingImport => {
                // Past the expiry; the first use moves the key to PendingImport
                // (management works on it: no trigger needed).
                set_clock(7200);
                if !row.management {
                    let _ = (row.run)(&s, k, &prep, context);
                }
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = setup {
            return Err(format!("setup failed: {e}"));
        }
        let who = match col {
            Col::PolicyDenies | Col::ContextUnmet | Col::PrincipalWorks => Who::Alice,
            _ => Who::Owner,
        };
        // Handles of private objects do not survive the switch (§5.6).
        let mut keys: Vec<&mut ObjectHandle> = vec![&mut k];
        if let Some(h) = prep.helper.as_mut() {
            keys.push(h);
        }
        become_with(&self.raw, &self.login, who, &mut keys);
        // The use runs in a session of its own: its audit records are the
        // ones of that session after the last record seen.
        let u = self.ctx.p11.open_rw_session(self.ctx.slot(0)).unwrap();
        let before = snapshot(&u);
        let got = (row.run)(&u, k, &prep, context);
        let r = match want {
            Expect::NotApplicable => Ok(()),
            Expect::Works => got.map_err(|(f, rv)| format!("{f} failed: {rv:?}")),
            Expect::Refused(function, code) => match got {
                Ok(()) => Err(format!("worked; want {function} to refuse with {code:?}")),
                Err((f, rv)) if (f, rv) != (function, code) => {
                    Err(format!("{f} gave {rv:?}; want {function} with {code:?}"))
                }
                Err(_) => {
                    let mut bad = diff(&before, &snapshot(&u));
                    let (records, last) = session_records_since(self.seen.get(), &u);
                    self.seen.set(last);
                    bad.extend(check_refusal_records(&records, function, ck(code)));
                    if bad.is_empty() {
                        Ok(())
                    } else {
                        Err(bad.join("; "))
                    }
                }
            },
        };
        set_clock(0);
        drop(u);
        drop(s);
        r
    }
}

/// Runs the column for every row; fails naming each wrong cell.
fn column(col: Col) {
    let m = Matrix::new();
    let mut bad = Vec::new();
    for (i, row) in rows().iter().enumerate() {
        if let Err(why) = m.cell(row, col, i) {
            bad.push(format!("  [{} × {col:?}] {why}", row.name));
        }
    }
    become_(&m.raw, &m.login, Who::Owner);
    assert!(
        bad.is_empty(),
        "{} cells wrong:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn control_the_owner_may_use_every_path() {
    column(Col::OwnerWorks);
}

#[test]
fn control_a_principal_the_policy_allows_may_use_every_path() {
    column(Col::PrincipalWorks);
}

#[test]
fn usage_attribute_false() {
    column(Col::UsageFalse);
}

#[test]
fn mechanism_not_in_allowed_mechanisms() {
    column(Col::MechanismNotAllowed);
}

#[test]
fn disabled_key() {
    column(Col::Disabled);
}

#[test]
fn pending_deletion_key() {
    column(Col::PendingDeletion);
}

#[test]
fn pending_import_key_expired_material() {
    column(Col::PendingImport);
}

#[test]
fn below_the_minimum_decryption_version() {
    column(Col::BelowMinDecryptVersion);
}

#[test]
fn policy_denies_the_principal() {
    column(Col::PolicyDenies);
}

#[test]
fn encryption_context_condition_unmet() {
    column(Col::ContextUnmet);
}
