use super::*;

const BAD: Error = Error::AttributeValueInvalid(CKA_SOFTKMS_POLICY);

fn p(json: &str) -> Policy {
    match parse(json.as_bytes()) {
        Ok(p) => p,
        Err(e) => panic!("{json}: {e:?}"),
    }
}

/// The scenario of the issue: alice encrypts only, bob decrypts only with
/// app=billing, "admin" manages the policy.
const SCENARIO: &str = r#"{"statements": [
    {"sid": "encrypters", "principals": ["alice"], "allow": ["Encrypt", "GenerateDataKey"]},
    {"principals": ["bob"], "allow": ["Decrypt"],
     "condition": {"encryption_context": {"app": "billing"}}},
    {"principals": ["admin", "user"], "allow": ["*"]}
]}"#;

#[test]
fn actions_round_trip_by_name() {
    let mut n = 0;
    for a in Action::all() {
        assert_eq!(Action::from_name(a.name()), Some(a));
        n += 1;
    }
    assert_eq!(n, 13);
    assert_eq!(Action::from_name("encrypt"), None);
    assert_eq!(Action::from_name("*"), None);
    assert_eq!(Action::from_name(""), None);
}

#[test]
fn parses_the_documented_shape() {
    let pol = p(SCENARIO);
    assert_eq!(pol.statements.len(), 3);
    assert_eq!(
        pol.statements[0].principals,
        vec![Who::Named("alice".into())]
    );
    assert_eq!(
        pol.statements[0].allow,
        vec![Action::Encrypt, Action::GenerateDataKey]
    );
    assert_eq!(
        pol.statements[1].context.get("app").map(String::as_str),
        Some("billing")
    );
    assert_eq!(pol.statements[2].allow.len(), 13, "\"*\" is every action");
    let any = p(r#"{"statements":[{"principals":["*"],"allow":["Verify"]}]}"#);
    assert_eq!(any.statements[0].principals, vec![Who::Any]);
    // No statement at all parses (nobody may do anything); check_set refuses it.
    assert!(p(r#"{"statements":[]}"#).statements.is_empty());
}

#[test]
fn every_malformed_policy_is_refused() {
    let long = format!(
        r#"{{"statements":[{{"principals":["x"],"allow":["Encrypt"],"sid":"{}"}}]}}"#,
        "a".repeat(MAX_POLICY_LEN)
    );
    let many = format!(
        r#"{{"statements":[{}]}}"#,
        vec![r#"{"principals":["x"],"allow":["Encrypt"]}"#; MAX_STATEMENTS + 1].join(",")
    );
    let cases: &[&str] = &[
        "",
        "not json",
        "[]",
        "{}",
        r#"{"statements": {}}"#,
        r#"{"statements": [], "force": true}"#,
        r#"{"statements": [{"principals": ["alice"]}]}"#,
        r#"{"statements": [{"allow": ["Encrypt"]}]}"#,
        r#"{"statements": [{"principals": [], "allow": ["Encrypt"]}]}"#,
        r#"{"statements": [{"principals": ["alice"], "allow": []}]}"#,
        r#"{"statements": [{"principals": ["alice"], "alow": ["Encrypt"]}]}"#,
        r#"{"statements": [{"principals": ["alice"], "allow": ["Encrypt"], "deny": ["Decrypt"]}]}"#,
        r#"{"statements": [{"principals": ["alice"], "allow": ["encrypt"]}]}"#,
        r#"{"statements": [{"principals": ["alice"], "allow": ["Fly"]}]}"#,
        r#"{"statements": [{"principals": ["alice"], "allow": [1]}]}"#,
        r#"{"statements": [{"principals": ["so"], "allow": ["Encrypt"]}]}"#,
        r#"{"statements": [{"principals": ["a b"], "allow": ["Encrypt"]}]}"#,
        r#"{"statements": [{"principals": [""], "allow": ["Encrypt"]}]}"#,
        r#"{"statements": [{"principals": "alice", "allow": ["Encrypt"]}]}"#,
        r#"{"statements": [{"principals": ["alice"], "allow": ["Encrypt"], "condition": {}}]}"#,
        r#"{"statements": [{"principals": ["alice"], "allow": ["Encrypt"], "condition": {"encryption_context": {}}}]}"#,
        r#"{"statements": [{"principals": ["alice"], "allow": ["Encrypt"], "condition": {"encryption_context": {"app": 1}}}]}"#,
        r#"{"statements": [{"principals": ["alice"], "allow": ["Encrypt"], "condition": {"encryption_context": {"app": "x"}, "ip": "1"}}]}"#,
        r#"{"statements": [{"principals": ["alice"], "allow": ["Encrypt"], "sid": 3}]}"#,
        &long,
        &many,
    ];
    for c in cases {
        assert_eq!(parse(c.as_bytes()), Err(BAD), "{c}");
    }
    assert_eq!(parse(b"\xff\xfe"), Err(BAD));
}

#[test]
fn lockout_check() {
    assert_eq!(check_set(&p(SCENARIO), false), Ok(()));
    let named = p(r#"{"statements":[{"principals":["alice"],"allow":["SetPolicy"]}]}"#);
    assert_eq!(check_set(&named, false), Ok(()));
    let empty = p(r#"{"statements":[]}"#);
    assert_eq!(check_set(&empty, false), Err(BAD));
    assert_eq!(check_set(&empty, true), Ok(()));
    let no_set = p(r#"{"statements":[{"principals":["*"],"allow":["Encrypt","ManageKey"]}]}"#);
    assert_eq!(check_set(&no_set, false), Err(BAD));
    // A condition can never hold for a policy write: it does not count.
    let conditional = p(r#"{"statements":[{"principals":["*"],"allow":["SetPolicy"],
            "condition":{"encryption_context":{"a":"b"}}}]}"#);
    assert_eq!(check_set(&conditional, false), Err(BAD));
    assert_eq!(check_set(&conditional, true), Ok(()));
}

#[test]
fn the_issue_scenario() {
    let pol = p(SCENARIO);
    let billing = br#"{"app":"billing"}"#;
    let allow = |who: &str, a: Action, ctx: &[u8]| allows(Some(&pol), "user", who, a, ctx);
    assert_eq!(allow("alice", Action::Encrypt, b""), Ok(()));
    assert_eq!(allow("alice", Action::GenerateDataKey, billing), Ok(()));
    assert!(allow("alice", Action::Decrypt, billing).is_err());
    assert!(allow("alice", Action::SetPolicy, b"").is_err());
    assert_eq!(allow("bob", Action::Decrypt, billing), Ok(()));
    let why = allow("bob", Action::Decrypt, b"").expect_err("no context");
    assert!(why.contains("encryption context"), "{why}");
    assert!(allow("bob", Action::Decrypt, br#"{"app":"hr"}"#).is_err());
    assert!(allow("bob", Action::Encrypt, billing).is_err());
    assert_eq!(allow("admin", Action::SetPolicy, b""), Ok(()));
    assert_eq!(allow("user", Action::ManageKey, b""), Ok(()));
    let why = allow("carol", Action::Encrypt, b"").expect_err("not named");
    assert!(why.contains("\"carol\""), "{why}");
    // Nobody logged in matches only "*".
    assert!(allow(ANONYMOUS, Action::Encrypt, b"").is_err());
    assert!(allow("so", Action::Encrypt, b"").is_err());
}

#[test]
fn conditions_read_the_canonical_context() {
    let pol = p(r#"{"statements":[{"principals":["*"],"allow":["Decrypt"],
        "condition":{"encryption_context":{"app":"billing","env":"prod"}}}]}"#);
    let ok = |ctx: &[u8]| allows(Some(&pol), "user", "bob", Action::Decrypt, ctx).is_ok();
    assert!(ok(br#"{"app":"billing","env":"prod"}"#));
    assert!(ok(br#"{"app":"billing","env":"prod","extra":"x"}"#));
    assert!(
        ok(br#"{"env":"prod","app":"billing"}"#),
        "key order does not matter"
    );
    assert!(!ok(br#"{"app":"billing"}"#), "every pair is needed");
    assert!(!ok(br#"{"app":"billing","env":"dev"}"#));
    assert!(!ok(br#"{"app":"billing","env":1}"#), "only strings match");
    assert!(!ok(b"app=billing,env=prod"), "not JSON");
    assert!(!ok(br#"["app","billing"]"#), "not an object");
    assert!(!ok(b""));
    assert!(!ok(b"\xff"));
    // "*" matches anonymous sessions too.
    assert!(allows(
        Some(&pol),
        "user",
        ANONYMOUS,
        Action::Decrypt,
        br#"{"app":"billing","env":"prod"}"#
    )
    .is_ok());
}

#[test]
fn default_policy() {
    assert_eq!(
        allows(None, "alice", "alice", Action::SetPolicy, b""),
        Ok(())
    );
    assert_eq!(allows(None, "alice", "user", Action::Decrypt, b""), Ok(()));
    assert_eq!(allows(None, "user", "user", Action::ManageKey, b""), Ok(()));
    let why = allows(None, "alice", "bob", Action::Encrypt, b"").expect_err("bob");
    assert!(why.contains("no policy"), "{why}");
    assert!(allows(None, "user", "alice", Action::Encrypt, b"").is_err());
    // PKCS#11's own rules keep these to public objects.
    assert_eq!(allows(None, "user", ANONYMOUS, Action::Verify, b""), Ok(()));
    assert_eq!(allows(None, "user", "so", Action::Verify, b""), Ok(()));
}

#[test]
fn reencrypt_grants_both_halves() {
    let pol = p(r#"{"statements":[{"principals":["svc"],"allow":["ReEncrypt"]}]}"#);
    for a in [Action::Encrypt, Action::Decrypt, Action::ReEncrypt] {
        assert_eq!(allows(Some(&pol), "user", "svc", a, b""), Ok(()), "{a:?}");
    }
    for a in [Action::GenerateDataKey, Action::WrapKey, Action::SetPolicy] {
        assert!(allows(Some(&pol), "user", "svc", a, b"").is_err(), "{a:?}");
    }
}

#[test]
fn explicit_policy_binds_the_creator_and_owner_too() {
    let pol = p(r#"{"statements":[{"principals":["alice"],"allow":["*"]}]}"#);
    assert!(allows(Some(&pol), "bob", "bob", Action::Encrypt, b"").is_err());
    assert!(allows(Some(&pol), "bob", "user", Action::Encrypt, b"").is_err());
}

#[test]
fn operations_map_to_actions() {
    use crate::abi::{CKM_SOFTKMS_ENVELOPE as ENV, CKM_SOFTKMS_GENERATE_DATA_KEY as GDK};
    let cases = [
        (CKA_ENCRYPT, ENV, Action::Encrypt),
        (CKA_DECRYPT, ENV, Action::Decrypt),
        (CKA_ENCRYPT, CKM_AES_GCM, Action::Encrypt),
        (CKA_DECRYPT, CKM_RSA_PKCS_OAEP, Action::Decrypt),
        (CKA_DERIVE, GDK, Action::GenerateDataKey),
        (CKA_DERIVE, CKM_ECDH1_DERIVE, Action::DeriveKey),
        (CKA_WRAP, CKM_AES_KEY_WRAP, Action::WrapKey),
        (CKA_UNWRAP, CKM_AES_KEY_WRAP_PAD, Action::UnwrapKey),
        (CKA_WRAP, ENV, Action::Encrypt),
        (CKA_UNWRAP, ENV, Action::Decrypt),
        (CKA_SIGN, CKM_ECDSA, Action::Sign),
        (CKA_SIGN_RECOVER, CKM_RSA_X_509, Action::Sign),
        (CKA_VERIFY, CKM_SHA256_HMAC, Action::Verify),
        (CKA_VERIFY_RECOVER, CKM_RSA_X_509, Action::Verify),
        (CKA_LABEL, CKM_AES_GCM, Action::ManageKey),
    ];
    for (usage, mech, want) in cases {
        assert_eq!(action_for(usage, mech), want, "0x{usage:x} 0x{mech:x}");
    }
    use crate::abi::{CKA_SOFTKMS_KEY_STATE, CKA_SOFTKMS_ROTATE};
    assert_eq!(
        actions_for_set(&[CKA_SOFTKMS_KEY_STATE, CKA_LABEL, CKA_SOFTKMS_ROTATE]),
        vec![Action::ManageKey]
    );
    assert_eq!(
        actions_for_set(&[CKA_SOFTKMS_POLICY, CKA_SOFTKMS_POLICY_FORCE]),
        vec![Action::SetPolicy]
    );
    assert_eq!(
        actions_for_set(&[CKA_SOFTKMS_POLICY, CKA_LABEL]),
        vec![Action::ManageKey, Action::SetPolicy]
    );
    assert!(actions_for_set(&[]).is_empty());
}
