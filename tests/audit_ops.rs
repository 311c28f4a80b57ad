//! A scripted run of 1,000 key uses across three principals: the audit log
//! accounts for every one of them (counts add up per key, principal and
//! operation), and the chain verifies (issue: principals, policies, audit).

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

use cryptoki_sys::*;
use softkms::abi::*;
use softkms::internals::mechanism::{Mechanism, Param};
use softkms::internals::module::{self, InitArgs};
use softkms::internals::object::attr::Attribute;
use softkms::internals::OutBuf;
use std::collections::HashMap;

fn envelope() -> Mechanism {
    Mechanism {
        mech: CKM_SOFTKMS_ENVELOPE,
        param: Param::Envelope {
            context: b"app=audit".to_vec(),
        },
    }
}

#[test]
fn every_key_use_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("softkms.toml");
    std::fs::write(
        &conf,
        format!(
            "[[slot]]\npath = \"{}\"\nkdf = \"fast\"\n",
            dir.path().join("t.db").display()
        ),
    )
    .unwrap();
    std::env::set_var("SOFTKMS_CONF", &conf);
    module::initialize(InitArgs {
        os_locking_ok: true,
        ..InitArgs::default()
    })
    .unwrap();
    let m = module::get().unwrap();
    let rw = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    m.init_token(0, b"so-pin-123", &[b' '; 32]).unwrap();
    let h = m.open_session(0, rw).unwrap();
    m.login(h, CKU_SO, b"so-pin-123", None).unwrap();
    m.init_pin(h, b"user-pin-1").unwrap();
    for (name, pin) in [("alice", "alice-pin-1"), ("bob", "bob-pin-1")] {
        m.create_object(
            h,
            &vec![
                Attribute::ulong(CKA_CLASS, CKO_SOFTKMS_PRINCIPAL),
                Attribute::new(CKA_LABEL, name.as_bytes().to_vec()),
                Attribute::new(CKA_SOFTKMS_PRINCIPAL_PIN, pin.as_bytes().to_vec()),
            ],
        )
        .unwrap();
    }
    m.logout(h).unwrap();
    // The owner makes a key every principal may encrypt with.
    m.login(h, CKU_USER, b"user-pin-1", None).unwrap();
    let _shared = m
        .generate_key(
            h,
            &Mechanism { mech: CKM_AES_KEY_GEN, param: Param::None },
            &vec![
                Attribute::bool(CKA_TOKEN, true),
                Attribute::ulong(CKA_VALUE_LEN, 32),
                Attribute::bool(CKA_SENSITIVE, true),
                Attribute::bool(CKA_EXTRACTABLE, false),
                Attribute::new(CKA_LABEL, b"shared".to_vec()),
                Attribute::new(
                    CKA_SOFTKMS_POLICY,
                    br#"{"statements":[{"principals":["user"],"allow":["*"]},{"principals":["alice","bob"],"allow":["Encrypt"]}]}"#.to_vec(),
                ),
            ],
        )
        .unwrap();
    m.logout(h).unwrap();
    // A handle to a private object dies with the logout (§5.6): each login
    // finds the key again.
    let find_key = || {
        m.find_init(h, &vec![Attribute::new(CKA_LABEL, b"shared".to_vec())])
            .unwrap();
        let found = m.find(h, 2).unwrap();
        m.find_final(h).unwrap();
        assert_eq!(found.len(), 1);
        found[0]
    };
    // 1,000 encryptions: 500 by the owner, 300 by alice, 200 by bob.
    let plan = [
        (None, "user-pin-1", 500u64),
        (Some("alice"), "alice-pin-1", 300),
        (Some("bob"), "bob-pin-1", 200),
    ];
    for (who, pin, n) in plan {
        m.login(h, CKU_USER, pin.as_bytes(), who.map(str::as_bytes))
            .unwrap();
        let key = find_key();
        for _ in 0..n {
            m.encrypt_init(h, &envelope(), key).unwrap();
            let mut out = vec![0u8; 512];
            m.encrypt(h, b"payload", &mut OutBuf::new(Some(&mut out)))
                .unwrap();
        }
        m.logout(h).unwrap();
    }
    m.close_session(h).unwrap();
    module::finalize().unwrap();

    // The CLI reads it back (as the SO).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_softkms"))
        .args(["--json", "audit", "show"])
        .env("SOFTKMS_CONF", &conf)
        .env("SOFTKMS_SO_PIN", "so-pin-123")
        .env_remove("SOFTKMS_PIN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut counts: HashMap<(String, String, String), u64> = HashMap::new();
    for r in records.as_array().unwrap() {
        let text = r.to_string();
        if !text.contains("C_EncryptInit") {
            continue;
        }
        let s = |v: &serde_json::Value| v.as_str().map(str::to_string).unwrap_or_default();
        let count = r["eventCount"].as_u64().unwrap_or(1);
        let key = (
            s(&r["userIdentity"]["principalId"]),
            s(&r["eventName"]),
            s(&r["requestParameters"]["keyId"]),
        );
        *counts.entry(key).or_default() += count;
    }
    let total: u64 = counts.values().sum();
    assert_eq!(total, 1000, "{counts:?}");
    let by_principal = |p: &str| {
        counts
            .iter()
            .filter(|(k, _)| k.0 == p)
            .map(|(_, v)| v)
            .sum::<u64>()
    };
    assert_eq!(by_principal("user"), 500, "{counts:?}");
    assert_eq!(by_principal("alice"), 300, "{counts:?}");
    assert_eq!(by_principal("bob"), 200, "{counts:?}");
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_softkms"))
        .args(["audit", "verify"])
        .env("SOFTKMS_CONF", &conf)
        .env("SOFTKMS_SO_PIN", "so-pin-123")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
