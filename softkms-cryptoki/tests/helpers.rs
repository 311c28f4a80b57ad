//! The helpers against the built libsoftkms.so, each test on its own
//! throw-away token (p11-testkit::throwaway): what they return, and that the
//! module's refusals come back as its CKR_ codes.

use cryptoki::error::RvError;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::Session;
use p11_testkit::throwaway::Token;
use softkms_cryptoki::*;

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs.iter().copied().collect()
}

fn rv<T: std::fmt::Debug>(r: Result<T>) -> RvError {
    match r {
        Err(e) => e.rv().unwrap_or_else(|| panic!("not a PKCS#11 error: {e}")),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

fn objects(s: &Session) -> usize {
    s.find_objects(&[]).expect("find").len()
}

#[test]
fn envelope_round_trip_and_refusals() {
    let t = Token::new();
    let s = t.user_session();
    let key = t.managed_key(&s, "orders");
    let c = ctx(&[("tenant", "7"), ("app", "billing")]);
    for len in [0usize, 1, 65_536, 200_000] {
        let plain: Vec<u8> = (0..len)
            .map(|i| u8::try_from(i % 251).unwrap_or(0))
            .collect();
        let m = envelope_encrypt(&s, key, &plain, &c).expect("encrypt");
        let h = MessageHeader::parse(&m).expect("header");
        assert_eq!(h.key_id, KeyInfo::read(&s, key).expect("info").unique_id);
        assert_eq!(h.key_version, 1);
        assert_eq!(
            &envelope_decrypt(&s, &m, &c).expect("decrypt")[..],
            &plain[..]
        );
    }
    let m = envelope_encrypt(&s, key, b"secret", &c).expect("encrypt");
    // Another context, the empty one, a changed byte: the data is invalid.
    assert_eq!(
        rv(envelope_decrypt(&s, &m, &ctx(&[("tenant", "7")]))),
        RvError::EncryptedDataInvalid
    );
    assert_eq!(
        rv(envelope_decrypt(&s, &m, &EncryptionContext::new())),
        RvError::EncryptedDataInvalid
    );
    let mut bad = m.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        rv(envelope_decrypt(&s, &bad, &c)),
        RvError::EncryptedDataInvalid
    );
    // Not an envelope; a key the token does not have.
    assert!(matches!(
        envelope_decrypt(&s, b"plain text", &c),
        Err(Error::NotAnEnvelope)
    ));
    let id = KeyInfo::read(&s, key).expect("info").unique_id;
    s.destroy_object(key).expect("destroy");
    match envelope_decrypt(&s, &m, &c) {
        Err(Error::KeyNotFound { key_id }) => assert_eq!(key_id, id),
        other => panic!("expected KeyNotFound, got {other:?}"),
    }
}

#[test]
fn keys_by_label_and_id() {
    let t = Token::new();
    let s = t.user_session();
    let a = t.managed_key(&s, "a");
    assert_eq!(find_key_by_label(&s, "a").expect("find"), Some(a));
    assert_eq!(find_key_by_label(&s, "none").expect("find"), None);
    let id = KeyInfo::read(&s, a).expect("info").unique_id;
    assert_eq!(find_key_by_id(&s, &id).expect("find"), Some(a));
    t.managed_key(&s, "a");
    assert!(matches!(
        find_key_by_label(&s, "a"),
        Err(Error::AmbiguousLabel { .. })
    ));
}

#[test]
fn data_keys() {
    let t = Token::new();
    let s = t.user_session();
    let key = t.managed_key(&s, "dk");
    let other = t.managed_key(&s, "dk2");
    let c = ctx(&[("file", "a.pdf")]);
    let before = objects(&s);
    for bytes in [1usize, 16, 32, 1024] {
        let (plain, blob) = generate_data_key(&s, key, bytes, &c).expect("generate");
        assert_eq!(plain.len(), bytes);
        assert_eq!(decrypt_data_key(&s, &blob, &c).expect("decrypt"), plain);
        let id = KeyInfo::read(&s, key).expect("info").unique_id;
        // docs/vendor-abi.md: header + one frame, from the sizes alone.
        assert_eq!(blob.len(), 157 + id.len() + bytes);
    }
    // The session objects the module made are gone again.
    assert_eq!(objects(&s), before);
    assert!(matches!(
        generate_data_key(&s, key, 0, &c),
        Err(Error::TooLong)
    ));
    assert!(matches!(
        generate_data_key(&s, key, 1025, &c),
        Err(Error::TooLong)
    ));

    // Without plaintext: the blob alone, which decrypts to a 32-byte key.
    let blob = generate_data_key_without_plaintext(&s, key, 32, &c).expect("generate");
    let plain = decrypt_data_key(&s, &blob, &c).expect("decrypt");
    assert_eq!(plain.len(), 32);
    assert_eq!(objects(&s), before);
    assert_eq!(
        rv(decrypt_data_key(&s, &blob, &EncryptionContext::new())),
        RvError::EncryptedDataInvalid
    );

    // Unwrapped into an object: the same bytes.
    let readable = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    let k = unwrap_data_key(&s, &blob, &c, &readable).expect("unwrap");
    match s
        .get_attributes(k, &[AttributeType::Value])
        .expect("value")
        .as_slice()
    {
        [Attribute::Value(v)] => assert_eq!(v, &plain[..]),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rv(unwrap_data_key(
            &s,
            &blob,
            &ctx(&[("file", "b")]),
            &readable
        )),
        RvError::WrappedKeyInvalid
    );

    // Re-encrypted under another key and context.
    let c2 = ctx(&[("moved", "yes")]);
    let blob2 = re_encrypt_data_key(&s, &blob, &c, other, &c2).expect("re-encrypt");
    let h = MessageHeader::parse(&blob2).expect("header");
    assert_eq!(h.key_id, KeyInfo::read(&s, other).expect("info").unique_id);
    assert_eq!(decrypt_data_key(&s, &blob2, &c2).expect("decrypt"), plain);
    assert!(decrypt_data_key(&s, &blob2, &c).is_err());
}

/// The parameter's length query: CKR_BUFFER_TOO_SMALL, the length needed,
/// and no object made.
#[test]
fn the_data_key_length_query() {
    let t = Token::new();
    let s = t.user_session();
    let key = t.managed_key(&s, "q");
    let id = KeyInfo::read(&s, key).expect("info").unique_id;
    let before = objects(&s);
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::ValueLen(32.into()),
    ];
    let context = ctx(&[("a", "b")]).to_bytes();
    let p = GenerateDataKeyParams::new(&context, None).expect("params");
    match s.derive_key(&p.mechanism(), key, &template) {
        Err(cryptoki::error::Error::Pkcs11(RvError::BufferTooSmall, _)) => {}
        other => panic!("expected CKR_BUFFER_TOO_SMALL, got {other:?}"),
    }
    assert_eq!(p.wrapped_key_len(), 157 + id.len() + 32);
    assert_eq!(objects(&s), before);
    let mut buf = vec![0u8; p.wrapped_key_len()];
    let len = {
        let p = GenerateDataKeyParams::new(&context, Some(&mut buf)).expect("params");
        s.derive_key(&p.mechanism(), key, &template)
            .expect("derive");
        p.wrapped_key_len()
    };
    assert_eq!(len, buf.len());
    assert_eq!(
        decrypt_data_key(&s, &buf, &ctx(&[("a", "b")]))
            .expect("decrypt")
            .len(),
        32
    );
}

#[test]
fn lifecycle() {
    let t = Token::new();
    let s = t.user_session();
    let key = t.managed_key(&s, "life");
    let c = EncryptionContext::new();
    let info = KeyInfo::read(&s, key).expect("info");
    assert_eq!(info.state, KeyState::Enabled);
    assert!(info.made_by_softkms);
    assert_eq!(info.current_version, Some(1));
    assert_eq!(info.min_decrypt_version, Some(1));
    assert_eq!(info.rotation_period_days, Some(0));
    assert_eq!(info.next_rotation, None);
    assert_eq!(info.deletion_time, None);
    assert_eq!(info.versions.len(), 1);
    assert_eq!(info.policy, None);
    assert_eq!(info.creator.as_deref(), Some("user"));

    disable(&s, key).expect("disable");
    assert_eq!(
        KeyInfo::read(&s, key).expect("info").state,
        KeyState::Disabled
    );
    assert_eq!(
        rv(envelope_encrypt(&s, key, b"x", &c)),
        RvError::KeyFunctionNotPermitted
    );
    enable(&s, key).expect("enable");
    let v1 = envelope_encrypt(&s, key, b"one", &c).expect("encrypt");
    assert_eq!(rotate(&s, key).expect("rotate"), 2);
    let v2 = envelope_encrypt(&s, key, b"two", &c).expect("encrypt");
    assert_eq!(MessageHeader::parse(&v2).expect("header").key_version, 2);
    assert_eq!(rotate(&s, key).expect("rotate"), 3);
    let info = KeyInfo::read(&s, key).expect("info");
    assert_eq!(
        info.versions.iter().map(|v| v.0).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(&envelope_decrypt(&s, &v1, &c).expect("v1")[..], b"one");
    set_min_decrypt_version(&s, key, 2).expect("retire v1");
    assert_eq!(
        rv(envelope_decrypt(&s, &v1, &c)),
        RvError::KeyFunctionNotPermitted
    );
    assert_eq!(&envelope_decrypt(&s, &v2, &c).expect("v2")[..], b"two");
    assert_eq!(
        rv(set_min_decrypt_version(&s, key, 1)),
        RvError::AttributeValueInvalid
    );

    set_rotation_period(&s, key, 90).expect("period");
    let info = KeyInfo::read(&s, key).expect("info");
    assert_eq!(info.rotation_period_days, Some(90));
    assert!(info.next_rotation.is_some());
    assert_eq!(
        rv(set_rotation_period(&s, key, 30)),
        RvError::AttributeValueInvalid
    );

    assert_eq!(
        rv(schedule_deletion(&s, key, 3)),
        RvError::AttributeValueInvalid
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let when = schedule_deletion(&s, key, 7).expect("schedule");
    assert!(when >= now + 7 * 86_400 - 5 && when <= now + 7 * 86_400 + 60);
    assert_eq!(
        KeyInfo::read(&s, key).expect("info").state,
        KeyState::PendingDeletion
    );
    assert_eq!(rv(enable(&s, key)), RvError::AttributeValueInvalid);
    assert_eq!(rv(rotate(&s, key)), RvError::KeyFunctionNotPermitted);
    cancel_deletion(&s, key).expect("cancel");
    let info = KeyInfo::read(&s, key).expect("info");
    assert_eq!((info.state, info.deletion_time), (KeyState::Disabled, None));
}

#[test]
fn policies() {
    let t = Token::new();
    let s = t.user_session();
    let key = t.managed_key(&s, "p");
    // A key with the default policy has no CKA_SOFTKMS_POLICY value.
    let policy_type = AttributeType::VendorDefined(abi::CKA_SOFTKMS_POLICY);
    assert!(matches!(
        s.get_attribute_info(key, &[policy_type])
            .expect("info")
            .as_slice(),
        [cryptoki::object::AttributeInfo::TypeInvalid]
    ));
    let keep = r#"{"statements":[{"principals":["user"],"allow":["*"]}]}"#;
    set_policy(&s, key, keep, false).expect("policy");
    assert_eq!(
        KeyInfo::read(&s, key).expect("info").policy.as_deref(),
        Some(keep)
    );
    // A policy nobody could change again needs force.
    let lock = r#"{"statements":[{"principals":["user"],"allow":["Encrypt","Decrypt"]}]}"#;
    assert_eq!(
        rv(set_policy(&s, key, lock, false)),
        RvError::AttributeValueInvalid
    );
    assert_eq!(
        rv(set_policy(&s, key, "{\"alow\":[]}", false)),
        RvError::AttributeValueInvalid
    );
    // A derived key (a data key object) may be given a policy in its template;
    // other vendor attributes but the pending window and expiry may not.
    let context: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1024];
    let mut derive = |extra: Attribute| {
        let p = GenerateDataKeyParams::new(&context, Some(&mut buf)).expect("params");
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::ValueLen(32.into()),
            extra,
        ];
        s.derive_key(&p.mechanism(), key, &template)
            .map_err(Error::from)
    };
    let dk = derive(attrs::policy(keep)).expect("a policy in a derive template");
    assert_eq!(
        KeyInfo::read(&s, dk).expect("info").policy.as_deref(),
        Some(keep)
    );
    derive(attrs::pending_window(7)).expect("a pending window in a derive template");
    assert_eq!(
        rv(derive(attrs::key_state(KeyState::Disabled))),
        RvError::AttributeReadOnly
    );
    // An empty value returns the key to the default policy.
    let other = t.managed_key(&s, "p2");
    set_policy(&s, other, keep, false).expect("policy");
    set_policy(&s, other, "", false).expect("back to the default policy");
    assert_eq!(KeyInfo::read(&s, other).expect("info").policy, None);
    assert!(matches!(
        s.get_attribute_info(other, &[policy_type])
            .expect("info")
            .as_slice(),
        [cryptoki::object::AttributeInfo::Available(0)]
    ));
    set_policy(&s, key, lock, true).expect("forced");
    assert_eq!(rv(disable(&s, key)), RvError::KeyFunctionNotPermitted);
    envelope_encrypt(&s, key, b"still", &EncryptionContext::new()).expect("encrypt");
}

#[test]
fn principals_by_the_so() {
    let t = Token::new();
    let so = t.so_session();
    let alice = create_principal(&so, "alice", "alice-pin-1").expect("alice");
    create_principal(&so, "bob", "bob-pin-1").expect("bob");
    let mut names: Vec<String> = principals(&so)
        .expect("list")
        .into_iter()
        .map(|p| p.1)
        .collect();
    names.sort();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(
        rv(create_principal(&so, "alice", "again-pin-1")),
        RvError::AttributeValueInvalid
    );
    set_principal_pin(&so, alice, "alice-pin-2").expect("new PIN");
    drop(so);
    // Only the SO manages principals.
    let user = t.user_session();
    assert_eq!(
        rv(create_principal(&user, "carol", "carol-pin-1")),
        RvError::UserNotLoggedIn
    );
}

/// Streams: the same message as the one-shot call reads back; a cut or
/// changed stream fails at the end; a failed stream leaves the session usable.
#[test]
fn streams() {
    let t = Token::new();
    let s = t.user_session();
    let key = t.managed_key(&s, "files");
    let c = ctx(&[("file", "x")]);
    let data: Vec<u8> = (0..(2 << 20) + 12_345)
        .map(|i: usize| u8::try_from(i % 253).unwrap_or(0))
        .collect();
    let mut m = Vec::new();
    let n = envelope_encrypt_stream(&s, key, &c, &data[..], &mut m).expect("encrypt");
    assert_eq!(n, data.len() as u64);
    // The one-shot call opens what the stream wrote, and the other way round.
    assert_eq!(
        &envelope_decrypt(&s, &m, &c).expect("decrypt")[..],
        &data[..]
    );
    let one = envelope_encrypt(&s, key, &data, &c).expect("encrypt");
    let mut back = Vec::new();
    envelope_decrypt_stream(&s, &c, &one[..], &mut back).expect("decrypt");
    assert_eq!(back, data);

    let mut sink = Vec::new();
    let cut = &m[..m.len() - 100];
    assert_eq!(
        rv(envelope_decrypt_stream(&s, &c, cut, &mut sink)),
        RvError::EncryptedDataInvalid
    );
    let mut sink = Vec::new();
    assert_eq!(
        rv(envelope_decrypt_stream(
            &s,
            &EncryptionContext::new(),
            &m[..],
            &mut sink
        )),
        RvError::EncryptedDataInvalid
    );
    assert!(matches!(
        envelope_decrypt_stream(&s, &c, &b"not a message"[..], &mut Vec::new()),
        Err(Error::NotAnEnvelope)
    ));

    // An output that fails: the error, and the session still works.
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    assert!(matches!(
        envelope_encrypt_stream(&s, key, &c, &data[..], Broken),
        Err(Error::Io(_))
    ));
    assert!(matches!(
        envelope_decrypt_stream(&s, &c, &m[..], Broken),
        Err(Error::Io(_))
    ));
    assert_eq!(
        &envelope_decrypt(&s, &one, &c).expect("the session still works")[..],
        &data[..]
    );
}

#[test]
fn aliases_descriptions_and_tags() {
    let t = Token::new();
    let s = t.user_session();
    let a = t.managed_key(&s, "a");
    let b = t.managed_key(&s, "b");
    let id = |k| KeyInfo::read(&s, k).expect("info").unique_id;
    let alias = s
        .create_object(&attrs::alias_template("alias/app", &id(a)))
        .expect("alias");
    let target = |s: &Session| {
        let v = s
            .get_attributes(
                alias,
                &[AttributeType::VendorDefined(abi::CKA_SOFTKMS_ALIAS_TARGET)],
            )
            .expect("read");
        match v.first() {
            Some(Attribute::VendorDefined((_, bytes))) => {
                String::from_utf8(bytes.clone()).expect("utf-8")
            }
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(target(&s), id(a));
    s.update_attributes(alias, &[attrs::alias_target(&id(b))])
        .expect("re-point");
    assert_eq!(target(&s), id(b));
    // A second alias of the same name is refused.
    assert_eq!(
        rv(s.create_object(&attrs::alias_template("alias/app", &id(a)))
            .map_err(Error::from)),
        RvError::AttributeValueInvalid
    );
    let tags: std::collections::BTreeMap<String, String> =
        [("team".to_string(), "pay".to_string())].into();
    s.update_attributes(a, &[attrs::description("orders"), attrs::tags(&tags)])
        .expect("describe");
    let v = s
        .get_attributes(
            a,
            &[
                AttributeType::VendorDefined(abi::CKA_SOFTKMS_DESCRIPTION),
                AttributeType::VendorDefined(abi::CKA_SOFTKMS_TAGS),
            ],
        )
        .expect("read");
    let text = |i: usize| match v.get(i) {
        Some(Attribute::VendorDefined((_, bytes))) => {
            String::from_utf8(bytes.clone()).expect("utf-8")
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(text(0), "orders");
    assert_eq!(text(1), r#"{"team":"pay"}"#);
}
