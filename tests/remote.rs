//! `libsoftkms.so` in client mode against `softkms serve` (issue 18), from
//! outside: the built binary serves a throw-away token on a Unix socket (or
//! TLS), and the built module, configured with a remote slot, is driven
//! through `cryptoki` — in this process under the lock of `tests/common`, or
//! in children (this binary run again with `--exact child`) that are killed
//! mid-operation. The hostile cases speak the protocol directly through
//! `softkms::internals::remote`.
//!
//! - the PKCS#11 surface through the client, beside a library-mode slot, and
//!   the library mode reading what the client wrote;
//! - login and key policies checked by the server, refusals audited;
//! - clients killed with SIGKILL (100 rounds): no lost writes, no leaked
//!   connection threads, the session limit intact;
//! - hostile bytes and limits on the socket;
//! - a server restart under a client; TLS with client certificates; the uid
//!   allow-list.

#![cfg(feature = "serve")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // the harnesses' items are `pub` for this file

mod common;
#[path = "common/gate.rs"]
mod gate;
mod remote_harness;
#[allow(dead_code)]
mod serve_harness;

use common::{module_path, pin, rv, Ctx};
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::{GcmMessageParams, GcmParams, GeneratorFunction};
use cryptoki::mechanism::hkdf::{HkdfParams, HkdfSalt};
use cryptoki::mechanism::{Mechanism, MechanismType, MessageParam};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki_sys::*;
use p11_testkit::keys::{envelope, ManagedKey};
use p11_testkit::vendor::EnvelopeParams;
use p11_testkit::{call_strict, Mech, P256_OID};
use remote_harness::*;
use serve_harness::{Token, OWNER_PIN};
use softkms::internals::remote::proto::{self, Body, Hello, Request, Secret, Welcome};
use softkms::internals::remote::{encode, read_frame, write_frame};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The slot of `ctx` with id `id`.
fn slot_of(ctx: &Ctx, id: u64) -> Slot {
    ctx.p11
        .get_all_slots()
        .unwrap()
        .into_iter()
        .find(|s| s.id() == id)
        .unwrap_or_else(|| panic!("no slot {id}"))
}

/// A client of `conf` in this process (under the lock of tests/common).
fn client(conf: &str) -> Ctx {
    Ctx::with_top_config(0, conf, "")
}

/// A R/W session of the remote slot logged in as the token owner.
fn owner_session(ctx: &Ctx) -> Session {
    let s = ctx.p11.open_rw_session(slot_of(ctx, REMOTE_SLOT)).unwrap();
    s.login(UserType::User, Some(&pin(OWNER_PIN))).unwrap();
    s
}

/// The first object labelled `label`.
fn by_label(s: &Session, label: &str) -> ObjectHandle {
    let found = s
        .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
        .unwrap();
    assert_eq!(found.len(), 1, "objects labelled {label}");
    found[0]
}

/// `CKA_VALUE` of an extractable, non-sensitive key.
fn value_of(s: &Session, k: ObjectHandle) -> Vec<u8> {
    match &s.get_attributes(k, &[AttributeType::Value]).unwrap()[..] {
        [Attribute::Value(v)] => v.clone(),
        other => panic!("CKA_VALUE: {other:?}"),
    }
}

fn gcm_encrypt(s: &Session, k: ObjectHandle, iv: [u8; 12], aad: &[u8], pt: &[u8]) -> Vec<u8> {
    let mut iv = iv;
    let m = Mechanism::AesGcm(GcmParams::new(&mut iv, aad, 128.into()).unwrap());
    s.encrypt(&m, k, pt).unwrap()
}

fn gcm_decrypt(
    s: &Session,
    k: ObjectHandle,
    iv: [u8; 12],
    aad: &[u8],
    ct: &[u8],
) -> cryptoki::error::Result<Vec<u8>> {
    let mut iv = iv;
    let m = Mechanism::AesGcm(GcmParams::new(&mut iv, aad, 128.into()).unwrap());
    s.decrypt(&m, k, ct)
}

/// A P-256 key pair on the token, labelled `label`.
fn ec_pair(s: &Session, label: &str) -> (ObjectHandle, ObjectHandle) {
    let l = Attribute::Label(label.as_bytes().to_vec());
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::EcParams(P256_OID.to_vec()),
            l.clone(),
        ],
        &[
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            l,
        ],
    )
    .unwrap()
}

const AAD: &[u8] = b"remote aad";
const PLAIN: &[u8] = b"forty-two bytes of plaintext for the test";
const IV1: [u8; 12] = [1; 12];
const IV2: [u8; 12] = [2; 12];
const CONTEXT: &[u8] = br#"{"app":"remote"}"#;

// ---------------------------------------------------------------------------
// 1. The PKCS#11 surface through the client
// ---------------------------------------------------------------------------

/// What the client produced in part 1, checked in library mode afterwards.
struct Produced {
    gcm: Vec<u8>,
    signature: Vec<u8>,
    envelope: Vec<u8>,
}

#[test]
fn basics_through_the_client_beside_a_local_slot() {
    let t = Token::blank();
    let srv = start(&t, &Opts::default());
    let local = t.path("local.db");
    let mut ctx = client(&client_conf(&srv.unix_target(), Some(&local)));
    let produced = client_part(&ctx);
    // The token file the server made for C_InitToken is its owner's alone
    // (the server refuses to start on anything else).
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(t.path("token.db")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o077, 0, "token file mode {mode:o}");

    // Library mode on the server's own token file (same uid): what the
    // client wrote is there, under the PIN the client set.
    let conf = format!(
        "{}[[slot]]\nid = 1\npath = \"{}\"\nkdf = \"fast\"\n",
        client_conf(&srv.unix_target(), Some(&local)),
        t.path("token.db").display()
    );
    std::fs::write(ctx.dir.path().join("softkms.toml"), conf).unwrap();
    ctx.restart();
    let lib = ctx.p11.open_rw_session(slot_of(&ctx, 1)).unwrap();
    lib.login(UserType::User, Some(&pin(common::USER_PIN)))
        .unwrap();
    let k = by_label(&lib, "gcm-renamed");
    assert_eq!(
        gcm_decrypt(&lib, k, IV1, AAD, &produced.gcm).unwrap(),
        PLAIN,
        "library mode decrypts what the client encrypted"
    );
    let public = lib
        .find_objects(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Label(b"ec".to_vec()),
        ])
        .unwrap();
    assert_eq!(public.len(), 1);
    lib.verify(
        &Mechanism::EcdsaSha256,
        public[0],
        PLAIN,
        &produced.signature,
    )
    .expect("library mode verifies the client's signature");
    let params = EnvelopeParams::new(CONTEXT);
    assert_eq!(
        lib.decrypt(&envelope(&params), k, &produced.envelope)
            .unwrap(),
        PLAIN,
        "library mode opens the client's envelope"
    );
    // And the other way round: the client decrypts what library mode made.
    let ct = gcm_encrypt(&lib, k, IV2, AAD, PLAIN);
    let remote = ctx.p11.open_rw_session(slot_of(&ctx, REMOTE_SLOT)).unwrap();
    remote
        .login(UserType::User, Some(&pin(common::USER_PIN)))
        .unwrap();
    let rk = by_label(&remote, "gcm-renamed");
    assert_eq!(gcm_decrypt(&remote, rk, IV2, AAD, &ct).unwrap(), PLAIN);
}

/// Part 1 of the basics, all through the client (slot [`REMOTE_SLOT`]) with
/// the local slot beside it.
fn client_part(ctx: &Ctx) -> Produced {
    use common::{SO_PIN, USER_PIN};
    // Slots: the local one and the remote one, side by side.
    let mut ids: Vec<u64> = ctx
        .p11
        .get_all_slots()
        .unwrap()
        .iter()
        .map(|s| s.id())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![LOCAL_SLOT, REMOTE_SLOT]);
    let (r, l) = (slot_of(ctx, REMOTE_SLOT), slot_of(ctx, LOCAL_SLOT));
    assert!(ctx.p11.get_slot_info(r).unwrap().token_present());
    assert!(!ctx.p11.get_token_info(r).unwrap().token_initialized());

    // C_InitToken, C_InitPIN and the logins, through the socket.
    ctx.p11.init_token(r, &pin(SO_PIN), "remote").unwrap();
    ctx.p11.init_token(l, &pin(SO_PIN), "local").unwrap();
    let info = ctx.p11.get_token_info(r).unwrap();
    assert!(info.token_initialized());
    assert_eq!(info.label(), "remote");
    assert_eq!(ctx.p11.get_token_info(l).unwrap().label(), "local");
    for slot in [r, l] {
        let so = ctx.p11.open_rw_session(slot).unwrap();
        so.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
        so.init_pin(&pin(USER_PIN)).unwrap();
        so.logout().unwrap();
    }
    gate::add_principal(ctx, r, "carol", "carol-pin-1");
    let s = ctx.p11.open_rw_session(r).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("not-the-pin")))),
        RvError::PinIncorrect
    );
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(
        s.get_session_info().unwrap().session_state(),
        SessionState::RwUser
    );
    s.logout().unwrap();
    assert_eq!(
        s.get_session_info().unwrap().session_state(),
        SessionState::RwPublic
    );
    let raw3 = gate::Raw3::new();
    assert_eq!(raw3.login_user(&s, "carol", "wrong"), CKR_PIN_INCORRECT);
    assert_eq!(raw3.login_user(&s, "carol", "carol-pin-1"), CKR_OK);
    assert_eq!(
        s.get_session_info().unwrap().session_state(),
        SessionState::RwUser
    );
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let ls = ctx.p11.open_rw_session(l).unwrap();
    ls.login(UserType::User, Some(&pin(USER_PIN))).unwrap();

    // AES-GCM with the length rules: a null buffer asks, a small one is
    // CKR_BUFFER_TOO_SMALL and the operation stays alive.
    let k = ManagedKey::new("gcm").all_usages().generate(&s);
    let raw = p11_testkit::session::Raw::new(module_path());
    let m = Mech::gcm(&IV1, AAD, 128);
    raw.encrypt_init(&s, &m.raw(), k).unwrap();
    let (code, need, _) = raw.encrypt_into(&s, PLAIN, 4);
    assert_eq!(code, CKR_BUFFER_TOO_SMALL);
    assert_eq!(need, PLAIN.len() + 16);
    let (code, n, gcm) = raw.encrypt_into(&s, PLAIN, need);
    assert_eq!(
        (code, n),
        (CKR_OK, need),
        "the operation survived the short buffer"
    );
    let query = raw.encrypt(&s, &Mech::gcm(&IV1, AAD, 128).raw(), k, PLAIN);
    assert_eq!(query.unwrap(), gcm, "size query, then the call");
    assert_eq!(gcm_decrypt(&s, k, IV1, AAD, &gcm).unwrap(), PLAIN);
    let mut bad = gcm.clone();
    bad[0] ^= 1;
    assert_eq!(
        rv(gcm_decrypt(&s, k, IV1, AAD, &bad)),
        RvError::EncryptedDataInvalid
    );

    // Multi-part AES-CBC-PAD.
    let cbc = Mechanism::AesCbcPad([9; 16]);
    s.encrypt_init(&cbc, k).unwrap();
    let mut ct = s.encrypt_update(&PLAIN[..7]).unwrap();
    ct.extend(s.encrypt_update(&PLAIN[7..30]).unwrap());
    ct.extend(s.encrypt_update(&PLAIN[30..]).unwrap());
    ct.extend(s.encrypt_final().unwrap());
    assert_eq!(ct.len(), 48);
    assert_eq!(s.decrypt(&cbc, k, &ct).unwrap(), PLAIN);
    s.decrypt_init(&cbc, k).unwrap();
    let mut pt = s.decrypt_update(&ct[..20]).unwrap();
    pt.extend(s.decrypt_update(&ct[20..]).unwrap());
    pt.extend(s.decrypt_final().unwrap());
    assert_eq!(pt, PLAIN);

    // ECDSA P-256.
    let (public, private) = ec_pair(&s, "ec");
    let signature = s.sign(&Mechanism::EcdsaSha256, private, PLAIN).unwrap();
    assert_eq!(signature.len(), 64);
    s.verify(&Mechanism::EcdsaSha256, public, PLAIN, &signature)
        .unwrap();
    assert_eq!(
        rv(s.verify(&Mechanism::EcdsaSha256, public, b"other", &signature)),
        RvError::SignatureInvalid
    );

    // Digests agree with the local slot's.
    for m in [Mechanism::Sha256, Mechanism::Sha384] {
        assert_eq!(s.digest(&m, PLAIN).unwrap(), ls.digest(&m, PLAIN).unwrap());
    }
    s.digest_init(&Mechanism::Sha256).unwrap();
    s.digest_update(&PLAIN[..5]).unwrap();
    s.digest_update(&PLAIN[5..]).unwrap();
    assert_eq!(
        s.digest_final().unwrap(),
        ls.digest(&Mechanism::Sha256, PLAIN).unwrap()
    );

    // Find, read and write attributes.
    assert_eq!(by_label(&s, "gcm"), k);
    let privates = s
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap();
    assert_eq!(privates, vec![private]);
    let got = s
        .get_attributes(
            k,
            &[
                AttributeType::Label,
                AttributeType::ValueLen,
                AttributeType::Sensitive,
            ],
        )
        .unwrap();
    assert_eq!(
        got,
        vec![
            Attribute::Label(b"gcm".to_vec()),
            Attribute::ValueLen(32.into()),
            Attribute::Sensitive(true)
        ]
    );
    let f = p11_testkit::function_list(module_path());
    let mut a = CK_ATTRIBUTE {
        type_: CKA_VALUE,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    };
    let code = call_strict!(f, C_GetAttributeValue, s.handle(), k.handle(), &mut a, 1);
    assert_eq!(code, CKR_ATTRIBUTE_SENSITIVE);
    assert_eq!(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    s.update_attributes(k, &[Attribute::Label(b"gcm-renamed".to_vec())])
        .unwrap();
    assert_eq!(by_label(&s, "gcm-renamed"), k);
    assert!(s
        .find_objects(&[Attribute::Label(b"gcm".to_vec())])
        .unwrap()
        .is_empty());

    // Copy and destroy.
    let plain = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(16.into()),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::Encrypt(true),
                Attribute::Label(b"plain".to_vec()),
            ],
        )
        .unwrap();
    let copy = s
        .copy_object(plain, &[Attribute::Label(b"plain-copy".to_vec())])
        .unwrap();
    assert_ne!(copy, plain);
    assert_eq!(value_of(&s, copy), value_of(&s, plain));
    s.destroy_object(copy).unwrap();
    assert_eq!(
        rv(s.get_attributes(copy, &[AttributeType::Label])),
        RvError::ObjectHandleInvalid
    );

    // Wrap and unwrap (AES key wrap, RFC 3394, under the managed key).
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, k, plain).unwrap();
    assert_eq!(wrapped.len(), 24);
    let back = s
        .unwrap_key(
            &Mechanism::AesKeyWrap,
            k,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(false),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::Encrypt(true),
            ],
        )
        .unwrap();
    assert_eq!(value_of(&s, back), value_of(&s, plain));

    // HKDF: RFC 5869 A.1.
    let ikm = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::Derive(true),
            Attribute::Value(vec![0x0b; 22]),
        ])
        .unwrap();
    let salt: Vec<u8> = (0u8..=0x0c).collect();
    let info: Vec<u8> = (0xf0u8..=0xf9).collect();
    let okm = s
        .derive_key(
            &Mechanism::HkdfDerive(HkdfParams::new(
                MechanismType::SHA256,
                Some(HkdfSalt::Data(&salt)),
                Some(&info),
            )),
            ikm,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(false),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::ValueLen(42.into()),
            ],
        )
        .unwrap();
    assert_eq!(
        common::hex(&value_of(&s, okm)),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    );

    // Message-based GCM: the IV the server generates comes back.
    let (mut iv0, mut tag0) = ([7u8; 12], [0u8; 16]);
    let init = GcmMessageParams::new(
        &mut iv0,
        32.into(),
        GeneratorFunction::GenerateRandom,
        &mut tag0,
    )
    .unwrap();
    s.message_encrypt_init(&Mechanism::AesGcmMessage(init), k)
        .unwrap();
    let (mut iv, mut tag) = ([7u8, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0], [0u8; 16]);
    let p = GcmMessageParams::new(
        &mut iv,
        32.into(),
        GeneratorFunction::GenerateRandom,
        &mut tag,
    )
    .unwrap();
    let msg = s
        .encrypt_message(&MessageParam::AesGcmMessage(p), AAD, PLAIN)
        .unwrap();
    s.message_encrypt_final().unwrap();
    assert_eq!(iv[..4], [7; 4], "the fixed part stays");
    assert_ne!(iv[4..], [0; 8], "the generated part came back");
    assert_ne!(tag, [0; 16], "the tag came back");
    let mut whole = msg.clone();
    whole.extend_from_slice(&tag);
    assert_eq!(
        gcm_decrypt(&s, k, iv, AAD, &whole).unwrap(),
        PLAIN,
        "C_Decrypt opens what C_EncryptMessage sealed"
    );

    // The SoftKMS envelope.
    let params = EnvelopeParams::new(CONTEXT);
    let env = s.encrypt(&envelope(&params), k, PLAIN).unwrap();
    assert_eq!(s.decrypt(&envelope(&params), k, &env).unwrap(), PLAIN);
    Produced {
        gcm,
        signature,
        envelope: env,
    }
}

// ---------------------------------------------------------------------------
// 2. Login and key policies are the server's
// ---------------------------------------------------------------------------

const BOB_PIN: &str = "bob-pin-2";

#[test]
fn login_and_key_policy_are_checked_and_audited_by_the_server() {
    let t = initialized_token();
    t.ok_with(&[("SOFTKMS_NEW_PIN", BOB_PIN)], &["user", "add", "bob"]);
    let srv = start(
        &t,
        &Opts {
            only: false,
            ..Opts::default()
        },
    );
    let ctx = client(&client_conf(&srv.unix_target(), None));
    let r = slot_of(&ctx, REMOTE_SLOT);
    let s = ctx.p11.open_rw_session(r).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("wrong-pin")))),
        RvError::PinIncorrect
    );
    s.login(UserType::User, Some(&pin(OWNER_PIN))).unwrap();
    let policy = gate::only("bob", &["Encrypt"]);
    ManagedKey::new("bob-may-encrypt")
        .policy(&policy)
        .generate(&s);
    s.logout().unwrap();

    let raw3 = gate::Raw3::new();
    assert_eq!(raw3.login_user(&s, "bob", "not-bobs"), CKR_PIN_INCORRECT);
    assert_eq!(raw3.login_user(&s, "bob", BOB_PIN), CKR_OK);
    // Handles may change with the login (PKCS#11 §5.6): find the key again.
    let k = by_label(&s, "bob-may-encrypt");
    let params = EnvelopeParams::new(CONTEXT);
    let ct = s
        .encrypt(&envelope(&params), k, PLAIN)
        .expect("bob may encrypt");
    assert_eq!(
        rv(s.decrypt(&envelope(&params), k, &ct)),
        RvError::KeyFunctionNotPermitted,
        "bob may not decrypt"
    );
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(OWNER_PIN))).unwrap();
    let k = by_label(&s, "bob-may-encrypt");
    assert_eq!(
        s.decrypt(&envelope(&params), k, &ct).unwrap(),
        PLAIN,
        "the owner may"
    );
    drop(s);
    drop(ctx); // C_Finalize: the server ends the connection and flushes.

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let records = t.audit();
        let refused = records.iter().any(|r| {
            r["returnValue"] == "CKR_KEY_FUNCTION_NOT_PERMITTED"
                && r["userIdentity"]["principalId"] == "bob"
                && r["eventName"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("C_Decrypt"))
        });
        if refused {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no audit record of bob's refused decryption: {}",
            gate::show(&records)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let stderr = srv.server.stderr_text();
    for secret in [OWNER_PIN, BOB_PIN, "not-bobs", "wrong-pin"] {
        assert!(!stderr.contains(secret), "a PIN in the server's log");
    }
}

// ---------------------------------------------------------------------------
// 3. Clients killed mid-operation
// ---------------------------------------------------------------------------

const ROLE: &str = "SOFTKMS_REMOTE_ROLE";
const LOG: &str = "SOFTKMS_REMOTE_LOG";
const ROUND: &str = "SOFTKMS_REMOTE_ROUND";
const SESSIONS_PER_CHILD: usize = 4;

/// The children's entry point (does nothing in an ordinary run): logs in,
/// opens sessions, leaves operations active in three of them and creates
/// token objects in the fourth, writing `ok LABEL` after each one, until it
/// is killed (or for a minute, should the parent be gone).
#[test]
fn child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    assert_eq!(role, "create");
    let round = std::env::var(ROUND).unwrap();
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(std::env::var_os(LOG).unwrap())
        .unwrap();
    let mut line = |l: &str| log.write_all(format!("{l}\n").as_bytes()).unwrap();
    let ctx = Ctx::with_existing_config();
    let slot = slot_of(&ctx, REMOTE_SLOT);
    let ss: Vec<Session> = (0..SESSIONS_PER_CHILD)
        .map(|_| ctx.p11.open_rw_session(slot).unwrap())
        .collect();
    ss[0].login(UserType::User, Some(&pin(OWNER_PIN))).unwrap();
    let key = ss[0]
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(16.into()),
                Attribute::Encrypt(true),
            ],
        )
        .unwrap();
    ss[0]
        .encrypt_init(&Mechanism::AesCbcPad([3; 16]), key)
        .unwrap();
    ss[0].encrypt_update(&[0; 40]).unwrap();
    let mut objects = ss[1].iter_objects(&[]).unwrap();
    let _ = objects.next();
    ss[2].digest_init(&Mechanism::Sha256).unwrap();
    ss[2].digest_update(b"begun").unwrap();
    line("ready");
    let until = Instant::now() + Duration::from_secs(60);
    let mut i = 0u64;
    while Instant::now() < until {
        let label = format!("r{round}-{i}");
        ss[3]
            .create_object(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Value(label.as_bytes().repeat(40)),
            ])
            .unwrap();
        line(&format!("ok {label}"));
        ss[0].encrypt_update(&[i.to_le_bytes()[0]; 32]).unwrap();
        ss[2].digest_update(label.as_bytes()).unwrap();
        i += 1;
    }
}

#[test]
fn clients_killed_mid_operation_leave_nothing_behind() {
    const ROUNDS: usize = 100;
    let began = Instant::now();
    let t = initialized_token();
    let mut srv = start(&t, &Opts::default());
    std::thread::sleep(Duration::from_millis(300));
    let baseline = srv.threads();
    let conf = t.path("client.toml");
    std::fs::write(&conf, client_conf(&srv.unix_target(), None)).unwrap();
    let module = module_path();
    let mut rng = Rng::from_env();
    let mut printed = Vec::new();
    let (mut early, mut busy, mut peak) = (0, 0, 0);
    for round in 0..ROUNDS {
        let log = t.path(&format!("child-{round}.log"));
        let mut c = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env(ROLE, "create")
            .env(ROUND, round.to_string())
            .env(LOG, &log)
            .env("SOFTKMS_CONF", &conf)
            // The module this process built: a child must not run cargo.
            .env("TEST_PKCS11_MODULE", &module)
            .env_remove("SOFTKMS_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(t.path(&format!("child-{round}.err"))).unwrap())
            .spawn()
            .unwrap();
        if rng.below(5) == 0 {
            // Anywhere in the start: loading, the handshake, the login.
            early += 1;
            std::thread::sleep(Duration::from_millis(rng.below(40)));
        } else {
            // In the middle of the work.
            busy += 1;
            let deadline = Instant::now() + Duration::from_secs(20);
            while !common::lines(&log).iter().any(|l| l == "ready") {
                assert!(Instant::now() < deadline, "child {round} never got ready");
                assert!(
                    c.try_wait().unwrap().is_none(),
                    "child {round} exited before it was killed"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            // The child's connection has a thread of its own.
            peak = peak.max(srv.threads());
            std::thread::sleep(Duration::from_millis(rng.below(60)));
        }
        c.kill().unwrap();
        c.wait().unwrap();
        printed.extend(
            common::lines(&log)
                .iter()
                .filter_map(|l| l.strip_prefix("ok ").map(str::to_string)),
        );
        assert!(srv.alive(), "the server died in round {round}");
    }
    eprintln!(
        "{ROUNDS} rounds ({early} early, {busy} busy), {} objects reported, {:?}",
        printed.len(),
        began.elapsed()
    );

    // No connection thread is left (each killed client's connection ended).
    assert!(
        peak > baseline,
        "threads: {peak} with a client, {baseline} without"
    );
    let after = srv.threads_settle(baseline, Duration::from_secs(15));
    eprintln!("server threads: {baseline} before, {peak} at most, {after} after");
    assert!(
        after <= baseline,
        "the server has {after} threads, {baseline} before the clients"
    );

    // No lost write: every object a child saw created is there.
    let ctx = client(&client_conf(&srv.unix_target(), None));
    let s = owner_session(&ctx);
    // Nothing half-written either: every object carries its whole value.
    let mut labels = std::collections::HashSet::new();
    for o in s
        .find_objects(&[Attribute::Class(ObjectClass::DATA)])
        .unwrap()
    {
        match &s
            .get_attributes(o, &[AttributeType::Label, AttributeType::Value])
            .unwrap()[..]
        {
            [Attribute::Label(l), Attribute::Value(v)] => {
                assert_eq!(
                    *v,
                    l.repeat(40),
                    "the value of {}",
                    String::from_utf8_lossy(l)
                );
                labels.insert(String::from_utf8(l.clone()).unwrap());
            }
            other => panic!("a data object: {other:?}"),
        }
    }
    let lost: Vec<&String> = printed.iter().filter(|l| !labels.contains(*l)).collect();
    assert!(lost.is_empty(), "lost writes: {lost:?}");

    // The session limit is whole for a new client.
    let slot = slot_of(&ctx, REMOTE_SLOT);
    let mut more = Vec::new();
    for i in 1..softkms::serve::MAX_PKCS11_SESSIONS {
        more.push(
            ctx.p11
                .open_ro_session(slot)
                .unwrap_or_else(|e| panic!("session {}: {e}", i + 1)),
        );
    }
    assert_eq!(
        rv(ctx.p11.open_ro_session(slot)),
        RvError::SessionCount,
        "session {} of one connection",
        softkms::serve::MAX_PKCS11_SESSIONS + 1
    );
    drop(more);
    drop(s);
    drop(ctx);
    assert!(srv.alive());
    eprintln!("whole test: {:?}", began.elapsed());
}

// ---------------------------------------------------------------------------
// 4. Hostile input and limits on the socket
// ---------------------------------------------------------------------------

fn hostile_server() -> (Token, P11Server) {
    let t = initialized_token();
    let srv = start(&t, &Opts::default());
    (t, srv)
}

/// After a hostile case: the server lives and serves a normal client.
fn survives(srv: &mut P11Server) {
    assert!(srv.alive(), "the server died: {}", srv.server.stderr_text());
    still_serves(&srv.socket);
}

#[test]
fn wrong_magic_is_closed() {
    let (_t, mut srv) = hostile_server();
    let mut s = dial(&srv.socket);
    let mut b = b"SOFTKMS\x02".to_vec();
    b.extend_from_slice(&encode(&Hello::ours()).unwrap().unwrap());
    s.write_all(&b).unwrap();
    assert!(closed(&mut s), "a wrong magic is answered");
    let mut s = dial(&srv.socket);
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert!(closed(&mut s), "an HTTP request is answered");
    survives(&mut srv);
}

#[test]
fn wrong_version_or_layout_is_refused() {
    let (_t, mut srv) = hostile_server();
    for hello in [
        Hello {
            version: proto::VERSION + 1,
            ..Hello::ours()
        },
        Hello {
            version: 0,
            ..Hello::ours()
        },
        Hello {
            ulong_size: 4,
            ..Hello::ours()
        },
        Hello {
            little_endian: !Hello::ours().little_endian,
            ..Hello::ours()
        },
    ] {
        let mut s = dial(&srv.socket);
        write_frame(&mut s, &hello_bytes(&hello)).unwrap();
        match read_frame::<Welcome>(&mut s).unwrap() {
            Some(Welcome::Refused { rv, .. }) => assert_eq!(rv, CKR_GENERAL_ERROR, "{hello:?}"),
            other => panic!("{hello:?}: {other:?}"),
        }
        assert!(closed(&mut s), "{hello:?}: not closed after the refusal");
    }
    survives(&mut srv);
}

#[test]
fn a_frame_beyond_the_limit_closes_the_connection() {
    let (_t, mut srv) = hostile_server();
    for len in [proto::MAX_FRAME + 1, usize::try_from(u32::MAX).unwrap()] {
        let mut w = Wire::open(&srv.socket).unwrap();
        let n = u32::try_from(len).unwrap();
        w.s.write_all(&n.to_be_bytes()).unwrap();
        let _ = w.s.write_all(&[0u8; 1024]);
        assert!(closed(&mut w.s), "a frame of {len} bytes is read");
    }
    // Also as the first frame, instead of the hello.
    let mut s = dial(&srv.socket);
    let mut b = proto::MAGIC.to_vec();
    b.extend_from_slice(&u32::try_from(proto::MAX_FRAME + 1).unwrap().to_be_bytes());
    s.write_all(&b).unwrap();
    assert!(closed(&mut s));
    survives(&mut srv);
}

#[test]
fn garbage_frames_close_the_connection() {
    let (_t, mut srv) = hostile_server();
    let valid = encode(&Request::GenerateRandom { h: 1, len: 8 })
        .unwrap()
        .unwrap();
    let mut trailing = valid.to_vec();
    trailing.push(0);
    let n = u32::try_from(trailing.len() - 4).unwrap();
    trailing[..4].copy_from_slice(&n.to_be_bytes());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "0xff bytes",
            [&16u32.to_be_bytes()[..], &[0xff; 16]].concat(),
        ),
        (
            "an unknown variant",
            [&2u32.to_be_bytes()[..], &[0x7f, 0]].concat(),
        ),
        ("an empty frame", 0u32.to_be_bytes().to_vec()),
        ("a trailing byte", trailing),
    ];
    for (what, bytes) in cases {
        let mut w = Wire::open(&srv.socket).unwrap();
        w.s.write_all(&bytes).unwrap();
        assert!(closed(&mut w.s), "{what}: the connection stays");
    }
    // A frame cut short, then the client goes: the server is not stuck.
    let mut w = Wire::open(&srv.socket).unwrap();
    w.s.write_all(&valid[..valid.len() - 2]).unwrap();
    drop(w);
    // A garbage hello.
    let mut s = dial(&srv.socket);
    let mut b = proto::MAGIC.to_vec();
    b.extend_from_slice(&[0, 0, 0, 3, 0xff, 0xff, 0xff]);
    s.write_all(&b).unwrap();
    assert!(closed(&mut s));
    survives(&mut srv);
}

#[test]
fn another_connections_session_handle_is_invalid() {
    let (_t, mut srv) = hostile_server();
    let mut a = Wire::open(&srv.socket).unwrap();
    let r = a
        .call(&Request::OpenSession {
            flags: CKF_SERIAL_SESSION | CKF_RW_SESSION,
        })
        .unwrap();
    let Body::Handle(h) = r.body else {
        panic!("{r:?}")
    };
    let mut b = Wire::open(&srv.socket).unwrap();
    for req in [
        Request::SessionInfo { h },
        Request::Login {
            h,
            user: CKU_USER,
            pin: Secret::new(OWNER_PIN.as_bytes()),
            username: None,
        },
        Request::GenerateRandom { h, len: 16 },
        Request::CloseSession { h },
    ] {
        let r = b.call(&req).unwrap();
        assert_eq!(r.rv, CKR_SESSION_HANDLE_INVALID, "{req:?} → {r:?}");
    }
    // The session is still the first connection's, and not logged in.
    let r = a.call(&Request::SessionInfo { h }).unwrap();
    assert_eq!(r.rv, CKR_OK, "{r:?}");
    let Body::SessionInfo(info) = r.body else {
        panic!("{r:?}")
    };
    assert_eq!(info.state, CKS_RW_PUBLIC_SESSION, "{info:?}");
    survives(&mut srv);
}

#[test]
fn connections_beyond_the_limit_are_refused_with_device_memory() {
    // All connections here are one uid's: its limit is the one reached
    // (the server's own limit, MAX_PKCS11_CONNECTIONS, is larger).
    let max = softkms::serve::MAX_PKCS11_CONNECTIONS_PER_UID;
    assert!(max < softkms::serve::MAX_PKCS11_CONNECTIONS);
    let (_t, mut srv) = hostile_server();
    std::thread::sleep(Duration::from_millis(200));
    let baseline = srv.threads();
    let mut open: Vec<Wire> = (0..max)
        .map(|i| Wire::open(&srv.socket).unwrap_or_else(|w| panic!("connection {i}: {w:?}")))
        .collect();
    match Wire::open(&srv.socket) {
        Err(Welcome::Refused { rv, .. }) => assert_eq!(rv, CKR_DEVICE_MEMORY),
        Err(w) => panic!("{w:?}"),
        Ok(_) => panic!("connection {} accepted", max + 1),
    }
    // Every connection accepted still works.
    for w in open.iter_mut().step_by(51) {
        let r = w.call(&Request::SlotInfo).unwrap();
        assert_eq!(r.rv, CKR_OK);
    }
    // One goes; a new one is accepted (once the server saw it go).
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    let again = loop {
        match Wire::open(&srv.socket) {
            Ok(w) => break w,
            Err(Welcome::Refused { rv, .. }) if rv == CKR_DEVICE_MEMORY => {
                assert!(Instant::now() < deadline, "no room after a client left");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(w) => panic!("{w:?}"),
        }
    };
    drop(again);
    drop(open);
    let after = srv.threads_settle(baseline, Duration::from_secs(15));
    assert!(after <= baseline, "{after} threads, {baseline} before");
    survives(&mut srv);
}

// ---------------------------------------------------------------------------
// 5. The server restarts under a client
// ---------------------------------------------------------------------------

#[test]
fn a_server_restart_removes_the_sessions_and_the_client_reconnects() {
    let t = initialized_token();
    let mut srv = start(&t, &Opts::default());
    let ctx = client(&client_conf(&srv.unix_target(), None));
    let slot = slot_of(&ctx, REMOTE_SLOT);
    let s = owner_session(&ctx);
    let k = ManagedKey::new("survivor").generate(&s);
    let ct = gcm_encrypt(&s, k, IV1, AAD, PLAIN);

    srv.stop();
    assert_eq!(
        rv(s.get_session_info()),
        RvError::DeviceRemoved,
        "the first call after the server went"
    );
    assert_eq!(
        rv(s.get_session_info()),
        RvError::SessionHandleInvalid,
        "the session died with the connection"
    );
    assert_eq!(
        rv(ctx.p11.open_rw_session(slot)),
        RvError::TokenNotPresent,
        "no server, no token"
    );

    let _srv = start(&t, &Opts::default());
    // No C_Finalize: a new session works on a new connection.
    let s2 = owner_session(&ctx);
    let k2 = by_label(&s2, "survivor");
    assert_eq!(gcm_decrypt(&s2, k2, IV1, AAD, &ct).unwrap(), PLAIN);
    assert_eq!(rv(s.get_session_info()), RvError::SessionHandleInvalid);
}

// ---------------------------------------------------------------------------
// 6. TLS with client certificates
// ---------------------------------------------------------------------------

/// A CA: its certificate (PEM) and what signs with it.
struct Ca {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} CA"));
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: rcgen::Issuer::new(p, key),
    }
}

/// A certificate for `names` signed by `ca`, written to DIR/NAME.pem and
/// DIR/NAME.key (mode 600): the two paths.
fn issue(
    ca: &Ca,
    names: &[&str],
    server: bool,
    dir: &Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let mut p =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, name.to_string());
    p.extended_key_usages = vec![if server {
        rcgen::ExtendedKeyUsagePurpose::ServerAuth
    } else {
        rcgen::ExtendedKeyUsagePurpose::ClientAuth
    }];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    let (c, k) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
    (c, k)
}

#[test]
fn tls_with_client_certificates() {
    let t = initialized_token();
    let dir = t.dir.path();
    let (good, other) = (ca("good"), ca("other"));
    let ca_pem = dir.join("ca.pem");
    std::fs::write(&ca_pem, &good.pem).unwrap();
    let (srv_cert, srv_key) = issue(&good, &["localhost", "127.0.0.1"], true, dir, "server");
    let (cli_cert, cli_key) = issue(&good, &["client"], false, dir, "client");
    let (bad_cert, bad_key) = issue(&other, &["client"], false, dir, "stranger");
    let srv = start(
        &t,
        &Opts {
            only: false,
            args: &[
                "--pkcs11-listen",
                "127.0.0.1:0",
                "--pkcs11-client-ca",
                ca_pem.to_str().unwrap(),
                "--tls-cert",
                srv_cert.to_str().unwrap(),
                "--tls-key",
                srv_key.to_str().unwrap(),
            ],
            ..Opts::default()
        },
    );
    let port = srv.tls.unwrap().port();
    let target = |cert: &Path, key: &Path| {
        format!(
            "server = \"tls://localhost:{port}\"\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n",
            ca_pem.display(),
            cert.display(),
            key.display()
        )
    };
    {
        let ctx = client(&client_conf(&target(&cli_cert, &cli_key), None));
        let s = owner_session(&ctx);
        let k = ManagedKey::new("over-tls").generate(&s);
        let ct = gcm_encrypt(&s, k, IV1, AAD, PLAIN);
        assert_eq!(gcm_decrypt(&s, k, IV1, AAD, &ct).unwrap(), PLAIN);
    }
    {
        let ctx = client(&client_conf(&target(&bad_cert, &bad_key), None));
        let slot = slot_of(&ctx, REMOTE_SLOT);
        assert_eq!(
            rv(ctx.p11.open_rw_session(slot)),
            RvError::TokenNotPresent,
            "a client certificate of another CA"
        );
        assert_eq!(rv(ctx.p11.get_token_info(slot)), RvError::TokenNotPresent);
    }
    {
        // The client trusts another CA: the server's certificate is refused.
        let other_pem = dir.join("other-ca.pem");
        std::fs::write(&other_pem, &other.pem).unwrap();
        let t = target(&cli_cert, &cli_key).replace(
            &format!("ca = \"{}\"", ca_pem.display()),
            &format!("ca = \"{}\"", other_pem.display()),
        );
        assert!(t.contains("other-ca.pem"));
        let ctx = client(&client_conf(&t, None));
        let slot = slot_of(&ctx, REMOTE_SLOT);
        assert_eq!(
            rv(ctx.p11.open_rw_session(slot)),
            RvError::TokenNotPresent,
            "a server certificate of another CA"
        );
    }
    // A client that speaks no TLS to the TLS port is not served.
    let mut plain = std::net::TcpStream::connect(srv.tls.unwrap()).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = plain.write_all(&hello_bytes(&Hello::ours()));
    let mut b = [0u8; 256];
    let n = std::io::Read::read(&mut plain, &mut b).unwrap_or(0);
    assert!(n == 0 || b[0] == 0x15, "a plain client got {:?}", &b[..n]);
}

// ---------------------------------------------------------------------------
// 7. Who may talk to whom on the Unix socket
// ---------------------------------------------------------------------------

/// The server serves its own uid (and the uids it is given); other uids are
/// checked by `pkcs11-conformance/remote/run.sh`, which has two users. Here:
/// the client refuses a server that does not run as the uid it expects (the
/// owner of the socket's directory, or `server_uid`), before it sends
/// anything, so a process that took the socket's path first gets no PIN.
#[test]
fn the_client_talks_only_to_the_expected_server_uid() {
    use std::os::unix::fs::MetadataExt;
    let t = initialized_token();
    let me = std::fs::metadata(t.path("token.db")).unwrap().uid();
    let srv = start(
        &t,
        &Opts {
            args: &["--pkcs11-allow-uid", &(me + 1).to_string()],
            ..Opts::default()
        },
    );
    // Expecting another uid: the token is absent, and nothing was sent.
    let other = format!("{}server_uid = {}\n", srv.unix_target(), me + 1);
    let ctx = client(&client_conf(&other, None));
    let slot = slot_of(&ctx, REMOTE_SLOT);
    assert_eq!(rv(ctx.p11.get_token_info(slot)), RvError::TokenNotPresent);
    assert_eq!(rv(ctx.p11.open_rw_session(slot)), RvError::TokenNotPresent);
    drop(ctx);
    // Expecting ours (given, or as the owner of the socket's directory):
    // served, since the server always serves its own uid.
    let ours = format!("{}server_uid = {me}\n", srv.unix_target());
    let ctx = client(&client_conf(&ours, None));
    owner_session(&ctx).get_session_info().unwrap();
    drop(ctx);
    let ctx = client(&client_conf(&srv.unix_target(), None));
    owner_session(&ctx).get_session_info().unwrap();
}
