//! Secrets stay secret in the running process (DESIGN.md §3, docs/security.md):
//! nothing secret reaches the log at any level, and decrypted key material is
//! locked in memory and left out of core dumps.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use p11_testkit::keys::{self, envelope, ManagedKey};
use std::process::Command;

use p11_testkit::vendor::CKA_SOFTKMS_ROTATE as CKA_ROTATE;

const SO_PIN_1: &str = "so1-SECRET-pin-4242";
const SO_PIN_2: &str = "so2-SECRET-pin-5353";
const USER_PIN_1: &str = "usr1-SECRET-pin-1111";
const USER_PIN_2: &str = "usr2-SECRET-pin-2222";
const WRONG_PIN: &str = "wrong-SECRET-pin-9999";
const AES_VALUE: &[u8; 32] = b"K3y-Bytes-For-AES-256-Test-#0001";
const AES_BINARY: [u8; 16] = [
    0xA5, 0x5A, 0xC3, 0x3C, 0x96, 0x69, 0x0F, 0xF0, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF1,
];
const DATA_VALUE: &[u8] = b"DATA-SECRET-value-of-a-private-data-object";
const PLAINTEXT: &[u8] = b"PLAINTEXT-SECRET-attack-at-dawn-from-the-north";
use p11_testkit::P256_OID as P256;

fn ctx(c: &'static [u8]) -> EnvelopeParams {
    EnvelopeParams::new(c)
}

/// GenerateDataKey (`C_DeriveKey` with the vendor mechanism): the key and its wrapped form.
fn generate_data_key(
    s: &Session,
    k: ObjectHandle,
    template: &[Attribute],
) -> (ObjectHandle, Vec<u8>) {
    let (dk, buf, _) = keys::generate_data_key(s, k, b"tenant=secrets", Some(1024), template);
    (dk.unwrap(), buf)
}

/// A byte-string attribute's value.
fn bytes(s: &Session, h: ObjectHandle, ty: AttributeType) -> Vec<u8> {
    match s.get_attributes(h, &[ty]).unwrap().pop() {
        Some(
            Attribute::Value(v)
            | Attribute::PrivateExponent(v)
            | Attribute::Prime1(v)
            | Attribute::Prime2(v),
        ) => v,
        other => panic!("{ty:?}: {other:?}"),
    }
}

fn aes_template(value: &[u8], token: bool) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(token),
        Attribute::Private(true),
        Attribute::Value(value.to_vec()),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ]
}

/// The forms in which a secret could show up in a log line.
fn needles(name: &str, secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let head = &secret[..secret.len().min(12)];
    let decimal = format!("{:?}", &secret[..secret.len().min(6)]);
    vec![
        (format!("{name} (raw)"), secret.to_vec()),
        (format!("{name} (first 12 bytes)"), head.to_vec()),
        (
            format!("{name} (hex)"),
            hex.as_bytes()[..hex.len().min(24)].to_vec(),
        ),
        (
            format!("{name} (HEX)"),
            hex[..hex.len().min(24)].to_uppercase().into_bytes(),
        ),
        // `{:?}` of a byte slice: "[75, 51, 121, …"; the list without its closing bracket.
        (
            format!("{name} (decimal)"),
            decimal.trim_end_matches(']').as_bytes().to_vec(),
        ),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn nothing_secret_is_logged_at_trace_level() {
    let mut c = Ctx::new(1);
    // A config with top-level `log` and `log_file` (Ctx::new writes slots only).
    let log_path = c.dir.path().join("softkms.log");
    let conf = format!(
        "log = \"trace\"\nlog_file = \"{}\"\n[[slot]]\nid = 0\npath = \"{}\"\nkdf = \"fast\"\n",
        log_path.display(),
        c.token_path(0).display()
    );
    std::fs::write(c.dir.path().join("softkms.toml"), conf).unwrap();
    std::env::set_var("SOFTKMS_LOG", "trace");
    c.restart();

    let mut secrets: Vec<(String, Vec<u8>)> = vec![
        ("SO PIN 1".into(), SO_PIN_1.into()),
        ("SO PIN 2".into(), SO_PIN_2.into()),
        ("user PIN 1".into(), USER_PIN_1.into()),
        ("user PIN 2".into(), USER_PIN_2.into()),
        ("wrong PIN".into(), WRONG_PIN.into()),
        ("AES value".into(), AES_VALUE.to_vec()),
        ("AES binary value".into(), AES_BINARY.to_vec()),
        ("data value".into(), DATA_VALUE.to_vec()),
        ("plaintext".into(), PLAINTEXT.to_vec()),
    ];

    // Token init and PIN changes, with a wrong PIN on the way.
    let slot = c.slot(0);
    c.p11.init_token(slot, &pin(SO_PIN_1), "secrets").unwrap();
    let s = c.p11.open_rw_session(slot).unwrap();
    s.login(UserType::So, Some(&pin(SO_PIN_1))).unwrap();
    s.init_pin(&pin(USER_PIN_1)).unwrap();
    s.set_pin(&pin(SO_PIN_1), &pin(SO_PIN_2)).unwrap();
    s.logout().unwrap();
    assert!(s.login(UserType::User, Some(&pin(WRONG_PIN))).is_err());
    s.login(UserType::User, Some(&pin(USER_PIN_1))).unwrap();
    s.set_pin(&pin(USER_PIN_1), &pin(USER_PIN_2)).unwrap();
    assert!(s.set_pin(&pin(WRONG_PIN), &pin(USER_PIN_1)).is_err());

    // Objects with known values: AES keys (token and session), a private data object.
    let aes = s.create_object(&aes_template(AES_VALUE, true)).unwrap();
    let aes_session = s.create_object(&aes_template(&AES_BINARY, false)).unwrap();
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(b"secret data".to_vec()),
        Attribute::Value(DATA_VALUE.to_vec()),
    ])
    .unwrap();
    // Invalid templates that carry the secrets (failures are logged).
    assert!(s
        .create_object(&aes_template(&AES_VALUE[..31], true))
        .is_err());
    assert!(s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(AES_BINARY.to_vec()),
            Attribute::ValueLen(16.into()),
        ])
        .is_err());

    // Use the known keys.
    let iv = [7u8; 16];
    let ct = s
        .encrypt(&Mechanism::AesCbcPad(iv), aes, PLAINTEXT)
        .unwrap();
    assert_eq!(
        s.decrypt(&Mechanism::AesCbcPad(iv), aes, &ct).unwrap(),
        PLAINTEXT
    );
    let wrapped = s
        .wrap_key(&Mechanism::AesKeyWrap, aes, aes_session)
        .unwrap();
    let unwrapped = s
        .unwrap_key(
            &Mechanism::AesKeyWrap,
            aes,
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
    assert_eq!(bytes(&s, unwrapped, AttributeType::Value), AES_BINARY);
    // A wrong key cannot unwrap (a logged failure).
    assert!(s
        .unwrap_key(
            &Mechanism::AesKeyWrap,
            aes_session,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(false),
            ],
        )
        .is_err());

    // Generated RSA and EC keys, extractable so their secrets can be looked for.
    let (rsa_pub, rsa_priv) = s
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
                Attribute::Verify(true),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sign(true),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    let sig = s
        .sign(&Mechanism::Sha256RsaPkcs, rsa_priv, PLAINTEXT)
        .unwrap();
    s.verify(&Mechanism::Sha256RsaPkcs, rsa_pub, PLAINTEXT, &sig)
        .unwrap();
    for (name, ty) in [
        ("RSA d", AttributeType::PrivateExponent),
        ("RSA p", AttributeType::Prime1),
        ("RSA q", AttributeType::Prime2),
    ] {
        secrets.push((name.into(), bytes(&s, rsa_priv, ty)));
    }
    let (_, ec_priv) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(P256.to_vec()), Attribute::Verify(true)],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sign(true),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    s.sign(&Mechanism::EcdsaSha256, ec_priv, PLAINTEXT).unwrap();
    secrets.push((
        "EC private value".into(),
        bytes(&s, ec_priv, AttributeType::Value),
    ));

    // Envelope encryption of a known plaintext under a rotated managed key.
    let managed = ManagedKey::new("managed").all_usages().generate(&s);
    s.update_attributes(
        managed,
        &[Attribute::VendorDefined((
            AttributeType::VendorDefined(CKA_ROTATE),
            vec![1],
        ))],
    )
    .unwrap();
    let p = ctx(b"tenant=secrets");
    let msg = s.encrypt(&envelope(&p), managed, PLAINTEXT).unwrap();
    assert_eq!(s.decrypt(&envelope(&p), managed, &msg).unwrap(), PLAINTEXT);
    let other = ctx(b"tenant=other");
    assert!(s.decrypt(&envelope(&other), managed, &msg).is_err());

    // GenerateDataKey, then Decrypt and ReEncrypt of the data key.
    let (dk, blob) = generate_data_key(
        &s,
        managed,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::ValueLen(32.into()),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Encrypt(true),
        ],
    );
    let dk_value = bytes(&s, dk, AttributeType::Value);
    assert_eq!(s.decrypt(&envelope(&p), managed, &blob).unwrap(), dk_value);
    secrets.push(("data key".into(), dk_value));
    let env_wrapped = s.wrap_key(&envelope(&p), managed, aes).unwrap();
    let env_unwrapped = s
        .unwrap_key(
            &envelope(&p),
            managed,
            &env_wrapped,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(false),
                Attribute::Sensitive(true),
            ],
        )
        .unwrap();
    // Reading a sensitive value fails (a logged failure).
    assert!(s
        .get_attributes(env_unwrapped, &[AttributeType::Value])
        .map(|v| v.is_empty())
        .unwrap_or(true));

    // Log out and back in: the private objects are decrypted again from the file.
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN_2))).unwrap();
    let found = s
        .find_objects(&[Attribute::Label(b"secret data".to_vec())])
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(bytes(&s, found[0], AttributeType::Value), DATA_VALUE);
    drop(s);
    c.p11.clone().finalize().unwrap();
    std::env::remove_var("SOFTKMS_LOG");

    let log = std::fs::read(&log_path).expect("the log file was written");
    let text = String::from_utf8_lossy(&log);
    let lines = text.lines().count();
    println!(
        "log: {lines} lines, {} bytes; those above TRACE:",
        log.len()
    );
    for l in text.lines().filter(|l| !l.contains(" TRACE ")) {
        println!("  {l}");
    }
    // The log is not empty: the test could have failed.
    for expected in [
        "TRACE",
        "C_Login",
        "C_SetPIN",
        "C_CreateObject",
        "C_Encrypt",
        "C_WrapKey",
        "C_UnwrapKey",
        "C_DeriveKey",
        "failed",
    ] {
        assert!(
            text.contains(expected),
            "the log has no {expected:?}:\n{text}"
        );
    }
    let mut found = Vec::new();
    for (name, secret) in &secrets {
        for (form, needle) in needles(name, secret) {
            if contains(&log, &needle) {
                found.push(form);
            }
        }
    }
    assert!(found.is_empty(), "secrets in the log: {found:?}\n{text}");
    println!("{} secrets, none in the log", secrets.len());
}

/// Sums the `kB` fields of `/proc/self/status` line `VmLck`.
fn vm_lck_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmLck in /proc/self/status")
}

/// The soft `RLIMIT_MEMLOCK` in bytes (`None` = unlimited).
fn memlock_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))
        .expect("Max locked memory in /proc/self/limits");
    let soft = line
        .trim_start_matches("Max locked memory")
        .split_whitespace()
        .next()
        .unwrap();
    soft.parse().ok()
}

/// Writable mappings marked dont-dump (`dd`) and locked (`lo`), from `/proc/self/smaps`.
fn secret_mappings() -> (usize, usize) {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let flags: Vec<Vec<&str>> = smaps
        .lines()
        .filter_map(|l| l.strip_prefix("VmFlags:"))
        .map(|f| f.split_whitespace().collect())
        .filter(|f: &Vec<&str>| f.contains(&"wr"))
        .collect();
    let dd = flags.iter().filter(|f| f.contains(&"dd")).count();
    let lo = flags.iter().filter(|f| f.contains(&"lo")).count();
    (dd, lo)
}

const CHILD: &str = "SOFTKMS_SECRETS_CHILD";

/// Run in a fresh process (this test binary again), so that nothing another
/// test did in this process counts: the parent makes the token, the child only
/// logs in, which decrypts the keys from the file (`Token::reload`), uses them,
/// and makes a session key (`Module::add_object`).
#[test]
#[cfg(target_os = "linux")]
fn key_material_is_locked_and_not_dumped() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let c = Ctx::new(1);
    c.init_token(0);
    let s = c.user_session(0);
    s.create_object(&aes_template(AES_VALUE, true)).unwrap();
    let managed = ManagedKey::new("managed").all_usages().generate(&s);
    s.update_attributes(
        managed,
        &[Attribute::VendorDefined((
            AttributeType::VendorDefined(CKA_ROTATE),
            vec![1],
        ))],
    )
    .unwrap();
    drop(s);
    c.p11.clone().finalize().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "key_material_is_locked_and_not_dumped",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("TEST_PKCS11_MODULE", module_path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("child: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the child failed");
    assert!(stdout.contains("1 passed"), "the child ran no test");
}

#[cfg(target_os = "linux")]
fn child() {
    let (dd0, lo0) = secret_mappings();
    let lck0 = vm_lck_kib();
    let limit = memlock_limit();
    println!("before: {dd0} dd and {lo0} lo writable mappings, VmLck {lck0} kB, RLIMIT_MEMLOCK {limit:?}");
    let c = Ctx::with_existing_config();
    let s = c.user_session(0);
    let aes = s
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
        ])
        .unwrap();
    assert_eq!(aes.len(), 2);
    let p = ctx(b"tenant=secrets");
    for k in aes {
        s.encrypt(&Mechanism::AesCbcPad([0; 16]), k, PLAINTEXT)
            .unwrap();
        // The managed key is sensitive; the other gets CKR_KEY_FUNCTION_NOT_PERMITTED.
        let _ = s.encrypt(&envelope(&p), k, PLAINTEXT);
    }
    let (dd1, lo1) = secret_mappings();
    let lck1 = vm_lck_kib();
    println!("after login (Token::reload): {dd1} dd, {lo1} lo, VmLck {lck1} kB");
    assert!(
        dd1 > dd0,
        "no new dont-dump mapping after the keys were loaded"
    );
    s.create_object(&aes_template(&AES_BINARY, false)).unwrap();
    let (dd2, lo2) = secret_mappings();
    let lck2 = vm_lck_kib();
    println!("after a session key (Module::add_object): {dd2} dd, {lo2} lo, VmLck {lck2} kB");
    assert!(dd2 >= 1);
    match limit {
        Some(0) => println!("RLIMIT_MEMLOCK is 0 (ulimit -l): the VmLck assertion is skipped"),
        _ => {
            assert!(lck1 > lck0, "VmLck did not grow after the keys were loaded");
            assert!(
                lo1 > lo0,
                "no locked writable mapping after the keys were loaded"
            );
        }
    }
}
