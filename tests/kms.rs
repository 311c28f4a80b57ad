//! The KMS layer through the built module with stock `cryptoki` calls (vendor
//! attributes and mechanisms only): managed keys, rotation, envelope
//! encryption, data keys, lifecycle and expiring imported material.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::CK_ULONG;
use p11_testkit::keys::{
    envelope, generate_data_key, vendor_bool as bool_attr, vendor_ulong as ulong_attr, ManagedKey,
};

use p11_testkit::vendor::{
    CKA_SOFTKMS_CURRENT_VERSION as CURRENT_VERSION, CKA_SOFTKMS_DELETION_TIME as DELETION_TIME,
    CKA_SOFTKMS_IMPORT_FROM as IMPORT_FROM, CKA_SOFTKMS_KEY_STATE as KEY_STATE,
    CKA_SOFTKMS_MIN_DECRYPT_VERSION as MIN_DECRYPT_VERSION,
    CKA_SOFTKMS_NEXT_ROTATION as NEXT_ROTATION, CKA_SOFTKMS_ORIGIN as ORIGIN,
    CKA_SOFTKMS_PENDING_WINDOW as PENDING_WINDOW, CKA_SOFTKMS_ROTATE as ROTATE,
    CKA_SOFTKMS_ROTATION_PERIOD as ROTATION_PERIOD, CKA_SOFTKMS_VALID_TO as VALID_TO,
    SOFTKMS_KEY_STATE_DISABLED as DISABLED, SOFTKMS_KEY_STATE_ENABLED as ENABLED,
    SOFTKMS_KEY_STATE_PENDING_DELETION as PENDING_DELETION,
    SOFTKMS_KEY_STATE_PENDING_IMPORT as PENDING_IMPORT,
};
const DAY: i64 = 86_400;

fn set_clock(offset_seconds: i64) {
    std::env::set_var("SOFTKMS_TEST_CLOCK_OFFSET", offset_seconds.to_string());
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn ctx(c: &[u8]) -> EnvelopeParams {
    EnvelopeParams::new(c)
}

fn seal(s: &Session, k: ObjectHandle, c: &[u8], data: &[u8]) -> Vec<u8> {
    s.encrypt(&envelope(&ctx(c)), k, data).unwrap()
}

fn open(s: &Session, k: ObjectHandle, c: &[u8], msg: &[u8]) -> cryptoki::error::Result<Vec<u8>> {
    s.decrypt(&envelope(&ctx(c)), k, msg)
}

fn data_key_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::ValueLen(32.into()),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Encrypt(true),
    ]
}

#[test]
fn a_plain_key_rotates_and_old_ciphertexts_still_open() {
    let ctx0 = Ctx::new(1);
    ctx0.init_token(0);
    let s = ctx0.user_session(0);
    let k = ManagedKey::new("master").all_usages().generate(&s);
    assert_eq!(read_ulong(&s, k, KEY_STATE), ENABLED);
    assert_eq!(read_ulong(&s, k, CURRENT_VERSION), 1);
    assert_eq!(read_ulong(&s, k, ORIGIN), 1);
    let c1 = seal(&s, k, b"app=billing", b"first message");
    // Rotate twice, on demand, with a vendor attribute write.
    s.update_attributes(k, &[bool_attr(ROTATE, true)]).unwrap();
    s.update_attributes(k, &[bool_attr(ROTATE, true)]).unwrap();
    assert_eq!(read_ulong(&s, k, CURRENT_VERSION), 3);
    let c3 = seal(&s, k, b"app=billing", b"third version");
    assert_eq!(open(&s, k, b"app=billing", &c1).unwrap(), b"first message");
    assert_eq!(open(&s, k, b"app=billing", &c3).unwrap(), b"third version");
    // Standard GCM on the rotated key: old ciphertexts open too.
    // The minimum decryption version cuts version 1 off.
    s.update_attributes(k, &[ulong_attr(MIN_DECRYPT_VERSION, 2)])
        .unwrap();
    assert_eq!(
        rv(open(&s, k, b"app=billing", &c1)),
        RvError::KeyFunctionNotPermitted
    );
    assert_eq!(open(&s, k, b"app=billing", &c3).unwrap(), b"third version");
    assert_eq!(
        rv(s.update_attributes(k, &[ulong_attr(MIN_DECRYPT_VERSION, 1)])),
        RvError::AttributeValueInvalid
    );
}

#[test]
fn standard_gcm_decrypts_across_rotations() {
    let c = Ctx::new(1);
    c.init_token(0);
    let s = c.user_session(0);
    let k = ManagedKey::new("gcm").all_usages().generate(&s);
    fn gcm(iv: &mut [u8; 12]) -> Mechanism<'_> {
        Mechanism::AesGcm(
            cryptoki::mechanism::aead::GcmParams::new(iv, b"aad", 128.into()).unwrap(),
        )
    }
    let mut iv = [7u8; 12];
    let ct1 = s.encrypt(&gcm(&mut iv), k, b"before rotation").unwrap();
    s.update_attributes(k, &[bool_attr(ROTATE, true)]).unwrap();
    let ct2 = s.encrypt(&gcm(&mut iv), k, b"after rotation").unwrap();
    assert_ne!(ct1[..14], ct2[..14]);
    assert_eq!(
        s.decrypt(&gcm(&mut iv), k, &ct1).unwrap(),
        b"before rotation"
    );
    assert_eq!(
        s.decrypt(&gcm(&mut iv), k, &ct2).unwrap(),
        b"after rotation"
    );
}

#[test]
fn automatic_rotation_happens_on_the_first_use_after_it_is_due() {
    let c = Ctx::new(1);
    c.init_token(0);
    let s = c.user_session(0);
    let k = ManagedKey::new("auto")
        .all_usages()
        .with(&[ulong_attr(ROTATION_PERIOD, 90)])
        .generate(&s);
    let next = read_ulong(&s, k, NEXT_ROTATION);
    assert!(i64::try_from(next).unwrap() >= now() + 90 * DAY - 5);
    assert_eq!(
        rv(s.update_attributes(k, &[ulong_attr(ROTATION_PERIOD, 30)])),
        RvError::AttributeValueInvalid
    );
    let old = seal(&s, k, b"", b"old");
    set_clock(91 * DAY);
    let new = seal(&s, k, b"", b"new");
    assert_eq!(read_ulong(&s, k, CURRENT_VERSION), 2);
    assert_eq!(open(&s, k, b"", &old).unwrap(), b"old");
    assert_eq!(open(&s, k, b"", &new).unwrap(), b"new");
}

#[test]
fn data_keys_are_generated_decrypted_and_re_encrypted() {
    let c = Ctx::new(1);
    c.init_token(0);
    let s = c.user_session(0);
    let a = ManagedKey::new("key-a").all_usages().generate(&s);
    let b = ManagedKey::new("key-b").all_usages().generate(&s);
    // A null output buffer asks for the length and makes nothing.
    let (r, _, needed) = generate_data_key(&s, a, b"tenant=7", None, &data_key_template());
    assert_eq!(rv(r), RvError::BufferTooSmall);
    assert!(needed > 32);
    let (r, blob, len) = generate_data_key(&s, a, b"tenant=7", Some(needed), &data_key_template());
    let dk = r.unwrap();
    assert_eq!(len, blob.len());
    let value = match &s.get_attributes(dk, &[AttributeType::Value]).unwrap()[..] {
        [Attribute::Value(v)] => v.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(value.len(), 32);
    // Decrypt data key: the blob is an envelope message of the key bytes.
    assert_eq!(open(&s, a, b"tenant=7", &blob).unwrap(), value);
    assert_eq!(
        rv(open(&s, a, b"tenant=8", &blob)),
        RvError::EncryptedDataInvalid
    );
    // Re-encrypt under key B: unwrap into a sensitive session key, wrap under B.
    let tmp = s
        .unwrap_key(
            &envelope(&ctx(b"tenant=7")),
            a,
            &blob,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(false),
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    let blob_b = s.wrap_key(&envelope(&ctx(b"tenant=7")), b, tmp).unwrap();
    assert_eq!(open(&s, b, b"tenant=7", &blob_b).unwrap(), value);
    assert_eq!(
        rv(open(&s, a, b"tenant=7", &blob_b)),
        RvError::EncryptedDataInvalid
    );
    // Without plaintext: a sensitive, unextractable data key never shows its value.
    let mut t = data_key_template();
    t.retain(|x| !matches!(x, Attribute::Sensitive(_) | Attribute::Extractable(_)));
    t.push(Attribute::Sensitive(true));
    t.push(Attribute::Extractable(false));
    let (r, blob2, _) = generate_data_key(&s, a, b"", Some(1024), &t);
    let hidden = r.unwrap();
    assert_eq!(
        rv(s.get_attributes(hidden, &[AttributeType::Value])
            .map(|v| {
                assert!(v.is_empty(), "value returned: {v:?}");
                Err::<(), _>(cryptoki::error::Error::Pkcs11(
                    RvError::AttributeSensitive,
                    cryptoki::context::Function::GetAttributeValue,
                ))
            })
            .and_then(|e| e)),
        RvError::AttributeSensitive
    );
    assert_eq!(open(&s, a, b"", &blob2).unwrap().len(), 32);
}

#[test]
fn data_key_pairs_wrap_under_a_managed_key() {
    let c = Ctx::new(1);
    c.init_token(0);
    let s = c.user_session(0);
    let k = ManagedKey::new("pairs").all_usages().generate(&s);
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::EcParams(p11_testkit::P256_OID.to_vec()),
                Attribute::Verify(true),
            ],
            &[
                Attribute::Sign(true),
                Attribute::Extractable(true),
                Attribute::Sensitive(true),
            ],
        )
        .unwrap();
    let blob = s.wrap_key(&envelope(&ctx(b"pair")), k, private).unwrap();
    let back = s
        .unwrap_key(
            &envelope(&ctx(b"pair")),
            k,
            &blob,
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Token(false),
                Attribute::Sign(true),
            ],
        )
        .unwrap();
    let sig = s.sign(&Mechanism::EcdsaSha256, back, b"message").unwrap();
    s.verify(&Mechanism::EcdsaSha256, public, b"message", &sig)
        .unwrap();
}

#[test]
fn disable_enable_and_scheduled_deletion() {
    let c = Ctx::new(1);
    c.init_token(0);
    let s = c.user_session(0);
    let k = ManagedKey::new("life").all_usages().generate(&s);
    s.update_attributes(k, &[ulong_attr(KEY_STATE, DISABLED)])
        .unwrap();
    assert_eq!(
        rv(s.encrypt(&envelope(&ctx(b"")), k, b"x")),
        RvError::KeyFunctionNotPermitted
    );
    s.update_attributes(k, &[ulong_attr(KEY_STATE, ENABLED)])
        .unwrap();
    seal(&s, k, b"", b"x");
    // Schedule deletion with a 7-day window; unusable while pending.
    s.update_attributes(
        k,
        &[
            ulong_attr(KEY_STATE, PENDING_DELETION),
            ulong_attr(PENDING_WINDOW, 7),
        ],
    )
    .unwrap();
    let when = i64::try_from(read_ulong(&s, k, DELETION_TIME)).unwrap();
    assert!((when - (now() + 7 * DAY)).abs() < 60);
    assert_eq!(
        rv(s.encrypt(&envelope(&ctx(b"")), k, b"x")),
        RvError::KeyFunctionNotPermitted
    );
    // Cancel: back to Disabled.
    s.update_attributes(k, &[ulong_attr(KEY_STATE, DISABLED)])
        .unwrap();
    assert_eq!(read_ulong(&s, k, KEY_STATE), DISABLED);
    assert_eq!(read_ulong(&s, k, DELETION_TIME), 0);
    assert_eq!(
        rv(s.update_attributes(k, &[ulong_attr(KEY_STATE, PENDING_IMPORT)])),
        RvError::AttributeValueInvalid
    );
    // Schedule again; with the clock past the window the key is gone.
    s.update_attributes(
        k,
        &[
            ulong_attr(KEY_STATE, PENDING_DELETION),
            ulong_attr(PENDING_WINDOW, 7),
        ],
    )
    .unwrap();
    set_clock(8 * DAY);
    assert_eq!(
        rv(s.encrypt(&envelope(&ctx(b"")), k, b"x")),
        RvError::KeyHandleInvalid
    );
    assert!(s
        .find_objects(&[Attribute::Label(b"life".to_vec())])
        .unwrap()
        .is_empty());
}

#[test]
fn a_due_deletion_happens_at_login_too() {
    let mut c = Ctx::new(1);
    c.init_token(0);
    {
        let s = c.user_session(0);
        let k = ManagedKey::new("doomed").all_usages().generate(&s);
        s.update_attributes(
            k,
            &[
                ulong_attr(KEY_STATE, PENDING_DELETION),
                ulong_attr(PENDING_WINDOW, 30),
            ],
        )
        .unwrap();
    }
    c.restart();
    set_clock(31 * DAY);
    let s = c.user_session(0);
    assert!(s
        .find_objects(&[Attribute::Label(b"doomed".to_vec())])
        .unwrap()
        .is_empty());
    set_clock(0);
    c.restart();
    let s = c.user_session(0);
    assert!(
        s.find_objects(&[Attribute::Label(b"doomed".to_vec())])
            .unwrap()
            .is_empty(),
        "deleted for good"
    );
}

#[test]
fn imported_material_expires_into_pending_import() {
    let c = Ctx::new(1);
    c.init_token(0);
    let s = c.user_session(0);
    let valid_to = CK_ULONG::try_from(now() + 3600).unwrap();
    let k = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Label(b"imported".to_vec()),
            Attribute::Value(vec![0x42; 32]),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            ulong_attr(VALID_TO, valid_to),
        ])
        .unwrap();
    assert_eq!(read_ulong(&s, k, ORIGIN), 2);
    let msg = seal(&s, k, b"", b"while valid");
    set_clock(2 * 3600);
    assert_eq!(rv(open(&s, k, b"", &msg)), RvError::KeyFunctionNotPermitted);
    assert_eq!(read_ulong(&s, k, KEY_STATE), PENDING_IMPORT);
    // Generated material cannot be given an expiry.
    set_clock(0);
    assert_eq!(
        rv(s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(32.into()),
                ulong_attr(VALID_TO, valid_to)
            ]
        )),
        RvError::TemplateInconsistent
    );
}

#[test]
fn tampered_envelopes_fail_with_encrypted_data_invalid() {
    let c = Ctx::new(2);
    c.init_token(0);
    c.init_token(1);
    let s = c.user_session(0);
    let k = ManagedKey::new("tamper").all_usages().generate(&s);
    let msg = seal(&s, k, b"ctx", b"small secret message");
    for bit in 0..msg.len() * 8 {
        let mut bad = msg.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let r = open(&s, k, b"ctx", &bad);
        assert_eq!(rv(r), RvError::EncryptedDataInvalid, "bit {bit}");
    }
    for cut in [1, 16, msg.len() / 2, msg.len() - 1] {
        assert_eq!(
            rv(open(&s, k, b"ctx", &msg[..msg.len() - cut])),
            RvError::EncryptedDataInvalid
        );
    }
    assert_eq!(
        rv(open(&s, k, b"other", &msg)),
        RvError::EncryptedDataInvalid
    );
    // A message from another token's key.
    let s1 = c.user_session(1);
    let k1 = ManagedKey::new("tamper").all_usages().generate(&s1);
    let foreign = seal(&s1, k1, b"ctx", b"small secret message");
    assert_eq!(
        rv(open(&s, k, b"ctx", &foreign)),
        RvError::EncryptedDataInvalid
    );
    // Multi-part decryption of a truncated stream fails at the end, never with partial success.
    s.decrypt_init(&envelope(&ctx(b"ctx")), k).unwrap();
    let _ = s.decrypt_update(&msg[..msg.len() - 5]);
    assert_eq!(rv(s.decrypt_final()), RvError::EncryptedDataInvalid);
}

#[test]
fn large_messages_stream_in_parts() {
    let c = Ctx::new(1);
    c.init_token(0);
    let s = c.user_session(0);
    let k = ManagedKey::new("stream").all_usages().generate(&s);
    let data: Vec<u8> = (0..300_000u32)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    s.encrypt_init(&envelope(&ctx(b"c")), k).unwrap();
    let mut msg = Vec::new();
    for chunk in data.chunks(4097) {
        msg.extend(s.encrypt_update(chunk).unwrap());
    }
    msg.extend(s.encrypt_final().unwrap());
    assert_eq!(open(&s, k, b"c", &msg).unwrap(), data);
    s.decrypt_init(&envelope(&ctx(b"c")), k).unwrap();
    let mut out = Vec::new();
    for chunk in msg.chunks(17) {
        out.extend(s.decrypt_update(chunk).unwrap());
    }
    out.extend(s.decrypt_final().unwrap());
    assert_eq!(out, data);
}

#[test]
fn imported_material_is_unwrapped_expires_and_only_the_same_material_returns() {
    let c = Ctx::new(1);
    c.init_token(0);
    let s = c.user_session(0);
    // The token's import key pair (what GetParametersForImport hands out).
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::ModulusBits(2048.into()),
                Attribute::Encrypt(true),
                Attribute::Wrap(true),
            ],
            &[
                Attribute::Unwrap(true),
                Attribute::Decrypt(false),
                Attribute::Sensitive(true),
            ],
        )
        .unwrap();
    let oaep = || {
        Mechanism::RsaPkcsOaep(cryptoki::mechanism::rsa::PkcsOaepParams::new(
            MechanismType::SHA256,
            cryptoki::mechanism::rsa::PkcsMgfType::MGF1_SHA256,
            cryptoki::mechanism::rsa::PkcsOaepSource::empty(),
        ))
    };
    let material = [0x5Au8; 32];
    let unwrap_template = |token: bool, extra: &[Attribute]| {
        let mut t = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(token),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ];
        t.extend_from_slice(extra);
        t
    };
    let valid_to = CK_ULONG::try_from(now() + 3600).unwrap();
    let wrapped = s.encrypt(&oaep(), public, &material).unwrap();
    let k = s
        .unwrap_key(
            &oaep(),
            private,
            &wrapped,
            &unwrap_template(
                true,
                &[
                    Attribute::Label(b"byok".to_vec()),
                    ulong_attr(VALID_TO, valid_to),
                ],
            ),
        )
        .unwrap();
    assert_eq!(read_ulong(&s, k, ORIGIN), 2);
    assert_eq!(read_ulong(&s, k, CURRENT_VERSION), 1);
    let msg = seal(&s, k, b"", b"sealed with imported material");
    set_clock(7200);
    assert_eq!(rv(open(&s, k, b"", &msg)), RvError::KeyFunctionNotPermitted);
    assert_eq!(read_ulong(&s, k, KEY_STATE), PENDING_IMPORT);
    // Other material is refused.
    let other = s.encrypt(&oaep(), public, &[0x11u8; 32]).unwrap();
    let wrong = s
        .unwrap_key(&oaep(), private, &other, &unwrap_template(false, &[]))
        .unwrap();
    assert_eq!(
        rv(s.update_attributes(k, &[ulong_attr(IMPORT_FROM, wrong.handle())])),
        RvError::AttributeValueInvalid
    );
    assert_eq!(read_ulong(&s, k, KEY_STATE), PENDING_IMPORT);
    // The same material comes back, with a new (or no) expiry.
    let wrapped = s.encrypt(&oaep(), public, &material).unwrap();
    let same = s
        .unwrap_key(&oaep(), private, &wrapped, &unwrap_template(false, &[]))
        .unwrap();
    s.update_attributes(
        k,
        &[
            ulong_attr(IMPORT_FROM, same.handle()),
            ulong_attr(VALID_TO, 0),
        ],
    )
    .unwrap();
    assert_eq!(read_ulong(&s, k, KEY_STATE), ENABLED);
    assert_eq!(
        open(&s, k, b"", &msg).unwrap(),
        b"sealed with imported material"
    );
}

#[test]
fn key_uses_and_management_events_reach_the_audit_log() {
    let mut c = Ctx::new(1);
    c.init_token(0);
    {
        let s = c.user_session(0);
        let k = ManagedKey::new("audited").all_usages().generate(&s);
        for _ in 0..25 {
            seal(&s, k, b"app=billing", b"x");
        }
        s.update_attributes(k, &[ulong_attr(KEY_STATE, DISABLED)])
            .unwrap();
        assert_eq!(
            rv(s.encrypt(&envelope(&ctx(b"")), k, b"x")),
            RvError::KeyFunctionNotPermitted
        );
    }
    c.restart();
    let store = softkms::internals::store::Store::open(&c.token_path(0)).unwrap();
    assert!(
        store.verify_audit().unwrap().problems.is_empty(),
        "the chain verifies"
    );
    let mut encrypts = 0u64;
    let mut denied = 0u64;
    let mut functions = std::collections::BTreeSet::new();
    store
        .for_each_audit(|r| {
            functions.insert(r.function.clone());
            if r.function == "C_EncryptInit" && r.rv == 0 {
                encrypts += r.count;
                assert_eq!(r.context.as_deref(), Some("app=billing"));
            }
            if r.function == "C_EncryptInit" && r.rv == cryptoki_sys::CKR_KEY_FUNCTION_NOT_PERMITTED
            {
                denied += r.count;
                assert!(r.reason.contains("disabled"), "{}", r.reason);
            }
            assert!(!r.reason.contains("user-pin"), "no PIN in the log");
            Ok(())
        })
        .unwrap();
    assert_eq!(encrypts, 25, "aggregated data events add up");
    assert_eq!(denied, 1);
    for f in [
        "C_InitToken",
        "C_Login",
        "C_InitPIN",
        "C_GenerateKey",
        "C_SetAttributeValue",
    ] {
        assert!(functions.contains(f), "{f} missing from {functions:?}");
    }
}
