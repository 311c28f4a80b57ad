//! Issue 12, items 1, 2, 3, 4, 5 and 8, each shown as the attacker or the
//! auditor would, through the built module (items 6 and 7 are tested
//! elsewhere). Each test collects every broken promise of its item before
//! failing, so one run names them all.
//!
//! The children of items 5 and 8 are this test binary run again (`--exact
//! child`) with `GATE_ITEMS_ROLE` naming what to do.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;
#[path = "common/gate.rs"]
mod gate;
mod mech_common;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::{GcmMessageParams, GcmParams, GeneratorFunction};
use cryptoki::mechanism::hkdf::{HkdfParams, HkdfSalt};
use cryptoki::mechanism::{Mechanism, MechanismType, MessageParam};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use gate::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::process::Command;

const ROLE: &str = "GATE_ITEMS_ROLE";

/// The broken promises of one test.
#[derive(Default)]
struct Bad(Vec<String>);

impl Bad {
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.0.push(what.into());
        }
    }

    fn done(self) {
        assert!(
            self.0.is_empty(),
            "{} broken:\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        );
    }
}

fn gcm(iv: &mut [u8]) -> Mechanism<'_> {
    Mechanism::AesGcm(GcmParams::new(iv, &[], 128.into()).unwrap())
}

fn code<T>(r: cryptoki::error::Result<T>) -> Option<RvError> {
    r.err().map(|e| rv(Err::<(), _>(e)))
}

/// A message-based GCM parameter with `generator` and 32 fixed bits.
fn msg_param<'a>(
    iv: &'a mut [u8; 12],
    tag: &'a mut [u8; 16],
    generator: GeneratorFunction,
) -> GcmMessageParams<'a> {
    GcmMessageParams::new(iv, 32.into(), generator, tag).unwrap()
}

/// `C_MessageEncryptInit`, then one `C_EncryptMessage` with `generator` (IV
/// input `iv`): the IV the module used.
fn encrypt_message(
    s: &Session,
    k: ObjectHandle,
    generator: GeneratorFunction,
    iv: [u8; 12],
) -> Result<[u8; 12], RvError> {
    let (mut iv0, mut tag0) = (iv, [0u8; 16]);
    let init = Mechanism::AesGcmMessage(msg_param(&mut iv0, &mut tag0, generator));
    s.message_encrypt_init(&init, k)
        .map_err(|e| rv(Err::<(), _>(e)))?;
    let (mut iv1, mut tag1) = (iv, [0u8; 16]);
    let p = msg_param(&mut iv1, &mut tag1, generator);
    let r = s.encrypt_message(&MessageParam::AesGcmMessage(p), b"", b"message");
    let _ = s.message_encrypt_final();
    r.map_err(|e| rv(Err::<(), _>(e)))?;
    Ok(iv1)
}

/// A fresh R/W session of slot 0 (an operation left active dies with it).
fn fresh(ctx: &Ctx) -> Session {
    ctx.p11.open_rw_session(ctx.slot(0)).unwrap()
}

/// AES-256-GCM under raw `key` (the `aes-gcm` crate): ciphertext ‖ tag.
fn sw_gcm_seal(key: &[u8], nonce: [u8; 12], aad: &[u8], pt: &[u8]) -> Vec<u8> {
    Aes256Gcm::new_from_slice(key)
        .unwrap()
        .encrypt(&Nonce::from(nonce), Payload { msg: pt, aad })
        .unwrap()
}

fn sw_gcm_open(key: &[u8], nonce: [u8; 12], aad: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    Aes256Gcm::new_from_slice(key)
        .unwrap()
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
        .ok()
}

// ---------------------------------------------------------------- item 1

#[test]
fn item1_encrypt_permission_never_decrypts() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    add_principal(&ctx, slot, "enc", "enc-pin-1");
    add_principal(&ctx, slot, "wrapper", "wrapper-pin-1");
    let raw = Raw3::new();
    let mut bad = Bad::default();
    let s = ctx.user_session(0);
    let k = generated_managed(
        &s,
        "K",
        &[policy_attr(&policy(&[
            (&["user"], &["*"], None),
            (&["enc"], &["Encrypt"], None),
            (&["wrapper"], &["WrapKey"], None),
        ]))],
    );

    // A principal allowed only Encrypt chooses no IV, counter or nonce.
    let k_uid = uid_of(&s, k);
    let _ = s.logout();
    assert_eq!(raw.login_user(&s, "enc", "enc-pin-1"), CKR_OK);
    let k = refind(&s, &k_uid);
    let kfnp = Some(RvError::KeyFunctionNotPermitted);
    let mut iv = [7; 12];
    let chosen: [(&str, Mechanism); 4] = [
        ("CKM_AES_CBC", Mechanism::AesCbc([3; 16])),
        ("CKM_AES_CBC_PAD", Mechanism::AesCbcPad([3; 16])),
        ("CKM_AES_ECB", Mechanism::AesEcb),
        ("CKM_AES_GCM", gcm(&mut iv)),
    ];
    for (name, m) in chosen {
        let got = code(fresh(&ctx).encrypt_init(&m, k));
        bad.check(
            got == kfnp,
            format!("Encrypt-only C_EncryptInit {name}: {got:?}"),
        );
    }
    let ctr = CK_AES_CTR_PARAMS {
        ulCounterBits: 32,
        cb: [5; 16],
    };
    let u = fresh(&ctx);
    let got = mech_common::raw().encrypt_init(&u, &mech_common::mech(CKM_AES_CTR, Some(&ctr)), k);
    bad.check(
        got == Err(CKR_KEY_FUNCTION_NOT_PERMITTED),
        format!("Encrypt-only C_EncryptInit CKM_AES_CTR: {got:?}"),
    );
    let got = encrypt_message(&fresh(&ctx), k, GeneratorFunction::NoGenerate, [9; 12]);
    bad.check(
        got == Err(RvError::KeyFunctionNotPermitted),
        format!("Encrypt-only C_EncryptMessage CKG_NO_GENERATE: {got:?}"),
    );
    // What it may do: module-made IVs and the envelope.
    for g in [
        GeneratorFunction::GenerateRandom,
        GeneratorFunction::GenerateCounter,
    ] {
        let got = encrypt_message(&fresh(&ctx), k, g, [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
        bad.check(
            got.is_ok(),
            format!("Encrypt-only C_EncryptMessage {g:?}: {got:?}"),
        );
    }
    let got = fresh(&ctx).encrypt(&envelope(&env_params(BILLING)), k, b"data");
    bad.check(
        got.is_ok(),
        format!("Encrypt-only envelope encryption: {got:?}"),
    );

    // A principal allowed only WrapKey wraps with no IV of its choosing.
    let _ = s.logout();
    assert_eq!(raw.login_user(&s, "wrapper", "wrapper-pin-1"), CKR_OK);
    let k = refind(&s, &k_uid);
    let dk = session_aes(&s, "dk", &[]);
    let mut iv = [7; 12];
    let wraps: [(&str, Mechanism); 2] = [
        ("CKM_AES_GCM", gcm(&mut iv)),
        ("CKM_AES_CBC", Mechanism::AesCbc([3; 16])),
    ];
    for (name, m) in wraps {
        let got = code(fresh(&ctx).wrap_key(&m, k, dk));
        bad.check(
            got == kfnp,
            format!("WrapKey-only C_WrapKey {name}: {got:?}"),
        );
    }

    // Key separation, as an attacker would try it with the owner's rights.
    let _ = s.logout();
    s.login(cryptoki::session::UserType::User, Some(&pin(USER_PIN)))
        .unwrap();
    let known = make_key(&s, Kind::Managed, "known material", &[]);
    let msg = s
        .encrypt(&envelope(&env_params(BILLING)), known, b"the plaintext")
        .unwrap();
    let h = parse_envelope(&msg);
    let nonce: [u8; 12] = h.wrapped[..12].try_into().unwrap();
    let wrapped_ct = &h.wrapped[12..];
    let mut dek_aad = b"softkms envelope v1 data key".to_vec();
    dek_aad.push(u8::try_from(h.key_id.len()).unwrap());
    dek_aad.extend_from_slice(&h.key_id);
    dek_aad.extend_from_slice(&h.version.to_be_bytes());
    dek_aad.extend_from_slice(&Sha256::digest(BILLING));
    let dek = sw_gcm_open(&MATERIAL, nonce, &dek_aad, wrapped_ct);
    bad.check(
        dek.is_some(),
        "the wrapped data key does not open under the version's material (docs/envelope-format.md)",
    );
    let mut iv = nonce;
    let raw_out = s.encrypt(&gcm(&mut iv), known, &[0u8; 32]).unwrap();
    bad.check(
        raw_out != sw_gcm_seal(&MATERIAL, nonce, b"", &[0u8; 32]),
        "raw CKM_AES_GCM under the managed key is AES-GCM under its version material",
    );
    if let Some(dek) = dek {
        let guess: Vec<u8> = raw_out[..32]
            .iter()
            .zip(&wrapped_ct[..32])
            .map(|(a, b)| a ^ b)
            .collect();
        bad.check(
            guess != dek,
            "raw CKM_AES_GCM keystream at the envelope's nonce XOR the wrapped data key is the data key",
        );
    }
    bad.done();
}

// ---------------------------------------------------------------- item 2

#[test]
fn item2_manage_key_never_becomes_use() {
    let ctx = Ctx::with_config(1, "audit = \"per-call\"");
    let slot = ctx.init_token(0);
    add_principal(&ctx, slot, "mgr", "mgr-pin-1");
    let raw = Raw3::new();
    let mut bad = Bad::default();
    let s = ctx.user_session(0);
    let k = make_key(
        &s,
        Kind::Hmac,
        "managed by mgr",
        &[policy_attr(&only("mgr", &["ManageKey"]))],
    );
    let managed = make_key(&s, Kind::Managed, "a managed key", &[]);
    let (k_uid, managed_uid) = (uid_of(&s, k), uid_of(&s, managed));
    let _ = s.logout();
    assert_eq!(raw.login_user(&s, "mgr", "mgr-pin-1"), CKR_OK);
    let k = refind(&s, &k_uid);

    // A policy in the copy template needs SetPolicy.
    let seen = audit_head();
    let u = fresh(&ctx);
    let before = snapshot(&u);
    let open = policy(&[(&["*"], &["*"], None)]);
    let got = code(u.copy_object(k, &[policy_attr(&open)]));
    bad.check(
        got == Some(RvError::KeyFunctionNotPermitted),
        format!("ManageKey-only copy with CKA_SOFTKMS_POLICY: {got:?}"),
    );
    let changed = diff(&before, &snapshot(&u));
    bad.check(
        changed.is_empty(),
        format!("the refused copy changed {changed:?}"),
    );
    let (records, seen) = session_records_since(seen, &u);
    let wrong = check_refusal_records(&records, "C_CopyObject", CKR_KEY_FUNCTION_NOT_PERMITTED);
    bad.check(
        wrong.is_empty(),
        format!("the refused copy's audit: {wrong:?}"),
    );

    // A copy ManageKey allows is audited, and is no wider than its source.
    let u = fresh(&ctx);
    match u.copy_object(k, &[Attribute::Label(b"the copy".to_vec())]) {
        Ok(c) => {
            let (records, _) = session_records_since(seen, &u);
            bad.check(
                records
                    .iter()
                    .any(|r| fun(r) == "C_CopyObject" && result(r) == "CKR_OK"),
                format!("no C_CopyObject record of the copy: {}", show(&records)),
            );
            let got = code(u.sign(&Mechanism::Sha256Hmac, c, b"data"));
            bad.check(
                got == Some(RvError::KeyFunctionNotPermitted),
                format!("mgr signs with its copy: {got:?}"),
            );
        }
        Err(e) => bad.check(false, format!("ManageKey-only copy: {e}")),
    }

    // A managed key is not copied at all.
    let _ = s.logout();
    s.login(cryptoki::session::UserType::User, Some(&pin(USER_PIN)))
        .unwrap();
    let managed = refind(&s, &managed_uid);
    let got = code(fresh(&ctx).copy_object(managed, &[]));
    bad.check(
        got == Some(RvError::ActionProhibited),
        format!("copy of a managed key: {got:?}"),
    );
    bad.done();
}

// ---------------------------------------------------------------- item 3

#[test]
fn item3_lifecycle_never_escapes() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let mut bad = Bad::default();
    let s = ctx.user_session(0);
    let ro = Some(RvError::AttributeReadOnly);
    for (name, state) in [
        ("Disabled", DISABLED),
        ("PendingDeletion", PENDING_DELETION),
    ] {
        let k = make_key(&s, Kind::Hmac, name, &[]);
        s.update_attributes(k, &[ulong_attr(KEY_STATE, state)])
            .unwrap();
        let got = code(s.copy_object(k, &[ulong_attr(KEY_STATE, ENABLED)]));
        bad.check(
            got == ro,
            format!("copy of a {name} key as Enabled: {got:?}"),
        );
        // Without it: refused, or a copy in the same state that cannot be used.
        match s.copy_object(k, &[Attribute::Label(b"copy".to_vec())]) {
            Ok(c) => {
                let st = read_ulong(&s, c, KEY_STATE);
                bad.check(
                    st == state,
                    format!("a copy of a {name} key is in state {st}"),
                );
                let got = code(s.sign(&Mechanism::Sha256Hmac, c, b"data"));
                bad.check(
                    got == Some(RvError::KeyFunctionNotPermitted),
                    format!("sign with the copy of a {name} key: {got:?}"),
                );
            }
            Err(e) => {
                let got = rv(Err::<(), _>(e));
                bad.check(
                    got == RvError::KeyFunctionNotPermitted,
                    format!("copy of a {name} key refused with {got:?}"),
                );
            }
        }
    }
    // The expiry of imported material is fixed at creation, and copies keep it.
    let valid_to = now() + 3600;
    let k = make_key(
        &s,
        Kind::Hmac,
        "expiring",
        &[ulong_attr(VALID_TO, valid_to)],
    );
    for v in [0, valid_to + 3600] {
        let got = code(s.update_attributes(k, &[ulong_attr(VALID_TO, v)]));
        bad.check(
            got == ro,
            format!("CKA_SOFTKMS_VALID_TO written to {v}: {got:?}"),
        );
    }
    bad.check(
        read_ulong(&s, k, VALID_TO) == valid_to,
        "CKA_SOFTKMS_VALID_TO changed",
    );
    match s.copy_object(k, &[Attribute::Label(b"expiring copy".to_vec())]) {
        Ok(c) => {
            let v = read_ulong(&s, c, VALID_TO);
            bad.check(
                v == valid_to,
                format!("the copy's CKA_SOFTKMS_VALID_TO is {v}"),
            );
        }
        Err(e) => bad.check(false, format!("copy of an expiring key: {e}")),
    }
    let got = code(s.copy_object(k, &[ulong_attr(VALID_TO, 0)]));
    bad.check(
        got == ro,
        format!("copy naming CKA_SOFTKMS_VALID_TO: {got:?}"),
    );
    bad.done();
}

// ---------------------------------------------------------------- item 4

/// `C_DeriveKey` with `CKM_HKDF_DERIVE` whose salt is the key `salt`.
fn derive_with_salt_key(
    s: &Session,
    base: ObjectHandle,
    salt: ObjectHandle,
) -> cryptoki::error::Result<ObjectHandle> {
    let m = Mechanism::HkdfDerive(HkdfParams::new(
        MechanismType::SHA256,
        Some(HkdfSalt::Key(salt)),
        Some(b"info"),
    ));
    s.derive_key(&m, base, &derive_template())
}

/// Checks a refused use in a fresh session `u`: code, nothing changed, one record.
fn refused(
    bad: &mut Bad,
    what: &str,
    ctx: &Ctx,
    function: &str,
    run: impl FnOnce(&Session) -> Option<RvError>,
) {
    let seen = audit_head();
    let u = fresh(ctx);
    let before = snapshot(&u);
    let got = run(&u);
    bad.check(
        got == Some(RvError::KeyFunctionNotPermitted),
        format!("{what}: {got:?}"),
    );
    if got.is_some() {
        let changed = diff(&before, &snapshot(&u));
        bad.check(changed.is_empty(), format!("{what} changed {changed:?}"));
        let (records, _) = session_records_since(seen, &u);
        let wrong = check_refusal_records(&records, function, CKR_KEY_FUNCTION_NOT_PERMITTED);
        bad.check(wrong.is_empty(), format!("{what}, audit: {wrong:?}"));
    }
}

#[test]
fn item4_digest_key_and_the_hkdf_salt_key_go_through_the_gate() {
    let ctx = Ctx::with_config(1, "audit = \"per-call\"");
    let slot = ctx.init_token(0);
    add_principal(&ctx, slot, ALICE, ALICE_PIN);
    let raw = Raw3::new();
    let mut bad = Bad::default();
    let s = ctx.user_session(0);
    let disabled = make_key(&s, Kind::Secret, "disabled", &[]);
    s.update_attributes(disabled, &[ulong_attr(KEY_STATE, DISABLED)])
        .unwrap();
    let no_derive = make_key(
        &s,
        Kind::Secret,
        "no DeriveKey for alice",
        &[policy_attr(&all_but(ALICE, "DeriveKey"))],
    );
    let base = make_key(
        &s,
        Kind::Secret,
        "base",
        &[policy_attr(&open_policy(ALICE))],
    );
    let digest_key = |k: ObjectHandle| {
        move |u: &Session| {
            u.digest_init(&Mechanism::Sha256).unwrap();
            code(u.digest_key(k))
        }
    };
    refused(
        &mut bad,
        "C_DigestKey of a Disabled key",
        &ctx,
        "C_DigestKey",
        digest_key(disabled),
    );
    refused(
        &mut bad,
        "Disabled HKDF salt key",
        &ctx,
        "C_DeriveKey",
        |u| code(derive_with_salt_key(u, base, disabled)),
    );
    let (mut no_derive, mut base) = (no_derive, base);
    become_with(&raw, &s, Who::Alice, &mut [&mut no_derive, &mut base]);
    refused(
        &mut bad,
        "C_DigestKey of a key whose policy denies DeriveKey",
        &ctx,
        "C_DigestKey",
        digest_key(no_derive),
    );
    refused(
        &mut bad,
        "HKDF salt key whose policy denies DeriveKey",
        &ctx,
        "C_DeriveKey",
        |u| code(derive_with_salt_key(u, base, no_derive)),
    );
    become_(&raw, &s, Who::Owner);
    bad.done();
}

#[test]
fn item4_unwrap_permission_is_not_a_decryption() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    add_principal(&ctx, slot, "unw", "unw-pin-1");
    let raw = Raw3::new();
    let mut bad = Bad::default();
    let s = ctx.user_session(0);
    let k = generated_managed(&s, "K", &[policy_attr(&only("unw", &["UnwrapKey"]))]);
    let secret = [0x5a; 32];
    let mut iv = [8; 12];
    let ct = s.encrypt(&gcm(&mut iv), k, &secret).unwrap();
    let k_uid = uid_of(&s, k);
    let _ = s.logout();
    assert_eq!(raw.login_user(&s, "unw", "unw-pin-1"), CKR_OK);
    let k = refind(&s, &k_uid);
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    let mut iv = [8; 12];
    match s.unwrap_key(&gcm(&mut iv), k, &ct, &template) {
        Ok(h) => {
            let value = read_bytes(&s, h, AttributeType::Value);
            bad.check(
                false,
                format!(
                    "UnwrapKey-only principal unwrapped a CKM_AES_GCM ciphertext into a readable key{}",
                    if value.as_deref() == Some(&secret[..]) {
                        ": its value is the plaintext"
                    } else {
                        ""
                    }
                ),
            );
        }
        Err(e) => {
            let got = rv(Err::<(), _>(e));
            bad.check(
                matches!(
                    got,
                    RvError::WrappedKeyInvalid | RvError::KeyFunctionNotPermitted
                ),
                format!("unwrap refused with {got:?}"),
            );
        }
    }
    bad.done();
}

// ---------------------------------------------------------------- item 5

/// Inits per process, messages per init.
const INITS: usize = 50;
const MESSAGES: usize = 3;
const FIXED: [u8; 12] = [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0];

/// `INITS` × `MESSAGES` counter-generated IVs under the key labelled "iv key".
fn counter_ivs(s: &Session) -> Vec<[u8; 12]> {
    let k = s
        .find_objects(&[Attribute::Label(b"iv key".to_vec())])
        .unwrap()[0];
    let mut ivs = Vec::new();
    for _ in 0..INITS {
        let (mut iv0, mut tag0) = (FIXED, [0u8; 16]);
        let init = Mechanism::AesGcmMessage(msg_param(
            &mut iv0,
            &mut tag0,
            GeneratorFunction::GenerateCounter,
        ));
        s.message_encrypt_init(&init, k).unwrap();
        for _ in 0..MESSAGES {
            let (mut iv, mut tag) = (FIXED, [0u8; 16]);
            let p = msg_param(&mut iv, &mut tag, GeneratorFunction::GenerateCounter);
            s.encrypt_message(&MessageParam::AesGcmMessage(p), b"", b"m")
                .unwrap();
            ivs.push(iv);
        }
        s.message_encrypt_final().unwrap();
    }
    ivs
}

fn spawn_child(role: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn item5_gcm_counter_ivs_never_repeat() {
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    let mut bad = Bad::default();
    {
        let s = ctx.user_session(0);
        let k = generated_managed(&s, "iv key", &[]);
        let a = encrypt_message(&fresh(&ctx), k, GeneratorFunction::GenerateCounter, FIXED);
        let b = encrypt_message(&fresh(&ctx), k, GeneratorFunction::GenerateCounter, FIXED);
        bad.check(
            a.is_ok() && a != b,
            format!("two inits with CKG_GENERATE_COUNTER: {a:?} and {b:?}"),
        );
    }
    // 4 processes and this one, before and after a restart of the module.
    let children: Vec<_> = (0..4).map(|_| spawn_child("iv")).collect();
    let mut seen: HashMap<[u8; 12], String> = HashMap::new();
    let mut repeats = Vec::new();
    let mut note = |iv: [u8; 12], who: String| {
        if let Some(first) = seen.insert(iv, who.clone()) {
            repeats.push(format!("{} by {first} and {who}", hex(&iv)));
        }
    };
    for iv in counter_ivs(&ctx.user_session(0)) {
        note(iv, "the parent".into());
    }
    ctx.restart();
    for iv in counter_ivs(&ctx.user_session(0)) {
        note(iv, "the parent after a restart".into());
    }
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        bad.check(out.status.success(), format!("child {i} failed"));
        let text = String::from_utf8_lossy(&out.stdout);
        // (libtest's "test child ... " may precede the first line)
        let ivs: Vec<&str> = text.lines().filter_map(|l| l.split("IV ").nth(1)).collect();
        bad.check(
            ivs.len() == INITS * MESSAGES,
            format!("child {i} made {} IVs", ivs.len()),
        );
        for iv in ivs {
            note(unhex(iv).try_into().unwrap(), format!("child {i}"));
        }
    }
    bad.check(
        repeats.is_empty(),
        format!(
            "{} IVs repeated under one key, e.g. {:?}",
            repeats.len(),
            &repeats[..repeats.len().min(3)]
        ),
    );
    bad.done();
}

// ---------------------------------------------------------------- item 8

#[test]
fn item8_failures_inside_an_operation_are_audited() {
    let ctx = Ctx::with_config(1, "audit = \"per-call\"");
    ctx.init_token(0);
    let mut bad = Bad::default();
    let s = ctx.user_session(0);
    let k = generated_managed(&s, "K", &[]);
    let raw = Raw3::new();

    // An envelope decryption with the wrong context.
    let msg = s
        .encrypt(&envelope(&env_params(BILLING)), k, b"data")
        .unwrap();
    let seen = audit_head();
    let u = fresh(&ctx);
    let got = u
        .decrypt_init(&envelope(&env_params(HR)), k)
        .map_err(|e| ck(rv(Err::<(), _>(e))))
        .and_then(|()| raw.decrypt(&u, &msg));
    bad.check(got.is_err(), "the wrong context decrypted");
    let (records, seen) = session_records_since(seen, &u);
    let codes = [
        rv_name(CKR_ENCRYPTED_DATA_INVALID),
        rv_name(CKR_KEY_FUNCTION_NOT_PERMITTED),
    ];
    bad.check(
        records.iter().any(|r| codes.iter().any(|c| c == result(r))),
        format!(
            "the wrong-context decryption is not audited as failed: {}",
            show(&records)
        ),
    );

    // A bad tag at C_Decrypt of raw GCM.
    let mut iv = [4; 12];
    let mut ct = s.encrypt(&gcm(&mut iv), k, b"data").unwrap();
    *ct.last_mut().unwrap() ^= 1;
    let u = fresh(&ctx);
    let mut iv = [4; 12];
    u.decrypt_init(&gcm(&mut iv), k).unwrap();
    let got = raw.decrypt(&u, &ct);
    bad.check(
        got == Err(CKR_ENCRYPTED_DATA_INVALID),
        format!("bad tag: {got:?}"),
    );
    let (records, _) = session_records_since(seen, &u);
    bad.check(
        records
            .iter()
            .any(|r| fun(r) == "C_Decrypt" && result(r) == rv_name(CKR_ENCRYPTED_DATA_INVALID)),
        format!("the bad tag is not audited: {}", show(&records)),
    );
    bad.done();
}

#[test]
fn item8_data_events_survive_an_exit_without_finalize() {
    let ctx = Ctx::new(1); // audit = "aggregate", the default
    ctx.init_token(0);
    let s = ctx.user_session(0);
    generated_managed(&s, "exit key", &[]);
    let child = spawn_child("exit");
    let pid = u64::from(child.id());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the child failed");
    let uses: u64 = audit_records()
        .iter()
        .filter(|r| r["processId"].as_u64() == Some(pid) && fun(r) == "C_EncryptInit")
        .map(|r| r["eventCount"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(
        uses, 3,
        "the child's 3 encryptions, made before it exited without C_Finalize, are in the log"
    );
}

#[test]
fn item8_reading_the_log_needs_read_audit() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    add_principal(&ctx, slot, "carol", "carol-pin-1");
    let s = ctx.user_session(0);
    generated_managed(&s, "K", &[]);
    let mut bad = Bad::default();
    let show = ["--json", "audit", "show"];
    let carol = cli(
        &[("SOFTKMS_PIN", "carol-pin-1")],
        &["--user", "carol", "--json", "audit", "show"],
    );
    let printed = String::from_utf8_lossy(&carol.stdout);
    bad.check(
        carol.status.code() == Some(1) && !printed.contains("sequence"),
        format!(
            "a principal without ReadAudit: exit {:?}, {} bytes of records",
            carol.status.code(),
            printed.len()
        ),
    );
    for (who, env) in [("the SO", "SOFTKMS_SO_PIN"), ("the owner", "SOFTKMS_PIN")] {
        let p = if env == "SOFTKMS_PIN" {
            USER_PIN
        } else {
            SO_PIN
        };
        let out = cli(&[(env, p)], &show);
        let records: Vec<serde_json::Value> =
            serde_json::from_slice(&out.stdout).unwrap_or_default();
        bad.check(
            out.status.success() && !records.is_empty(),
            format!(
                "{who} cannot read the log: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        );
    }
    bad.done();
}

// ---------------------------------------------------------------- children

/// The children's entry point: does nothing in an ordinary test run.
#[test]
fn child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let ctx = Ctx::with_existing_config();
    let s = ctx.user_session(0);
    match role.as_str() {
        "iv" => {
            for iv in counter_ivs(&s) {
                println!("IV {}", hex(&iv));
            }
        }
        "exit" => {
            let k = s
                .find_objects(&[Attribute::Label(b"exit key".to_vec())])
                .unwrap()[0];
            for _ in 0..3 {
                s.encrypt(&envelope(&env_params(BILLING)), k, b"data")
                    .unwrap();
            }
            // Gone without C_Finalize or closing the session.
            std::process::exit(0);
        }
        other => panic!("unknown role {other}"),
    }
}

// ---------------------------------------------------------------- data key pairs

/// `GenerateDataKey` lets a principal envelope-wrap a session key the module
/// generated (a data key pair's private key), never a key of a value it chose:
/// it never encrypts chosen bytes, as `Encrypt` would.
#[test]
fn generate_data_key_wraps_only_keys_the_module_generated() {
    let ctx = Ctx::new(1);
    let slot = ctx.init_token(0);
    add_principal(&ctx, slot, "gdk", "gdk-pin-1");
    let raw = Raw3::new();
    let s = ctx.user_session(0);
    let k = generated_managed(
        &s,
        "K",
        &[policy_attr(&policy(&[
            (&["user"], &["*"], None),
            (&["gdk"], &["GenerateDataKey"], None),
        ]))],
    );
    let k_uid = uid_of(&s, k);
    let _ = s.logout();
    assert_eq!(raw.login_user(&s, "gdk", "gdk-pin-1"), CKR_OK);
    let k = refind(&s, &k_uid);
    let params = env_params(BILLING);
    let m = envelope(&params);
    let kfnp = Some(RvError::KeyFunctionNotPermitted);
    // A key whose value the caller chose (C_CreateObject), and one unwrapped
    // from bytes it chose: refused.
    let chosen = session_aes(&s, "chosen", &[]);
    assert_eq!(code(s.wrap_key(&m, k, chosen)), kfnp);
    let mut iv = [1; 12];
    let ct = s.encrypt(&gcm(&mut iv), chosen, &[0x42; 32]).unwrap();
    let unwrapped = s
        .unwrap_key(&gcm(&mut iv), chosen, &ct, &unwrap_template())
        .unwrap();
    assert_eq!(code(s.wrap_key(&m, k, unwrapped)), kfnp);
    // Nor a plain encryption.
    assert_eq!(code(s.encrypt(&m, k, b"chosen bytes")), kfnp);
    // A key the module generated in this session: wrapped.
    let generated = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    assert!(s.wrap_key(&m, k, generated).is_ok());
}
