use super::*;

#[test]
fn specs_read_as_people_write_them() {
    for (name, words) in [
        ("p256", "P-256"),
        ("aes256", "AES-256"),
        ("hmac384", "HMAC-384"),
        ("rsa2048", "RSA 2048"),
        ("ml-dsa-65", "ML-DSA-65"),
        ("ed25519", "Ed25519"),
        ("secp256k1", "secp256k1"),
    ] {
        assert_eq!(spec_words(name), words);
    }
}

#[test]
fn limits_say_their_rule() {
    assert!(check_rotation_days(0).is_ok());
    assert!(check_rotation_days(90).is_ok());
    let e = check_rotation_days(30).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("0 (off) or 90 to 2560 days"), "{e}");
    assert!(check_deletion_window(3)
        .unwrap_err()
        .message()
        .contains("7 to 30 days"));
    assert!(check_data_key_len(0)
        .unwrap_err()
        .message()
        .contains("1 to 1024 bytes"));
    assert!(check_data_key_len(1024).is_ok());
    let mut tags = BTreeMap::new();
    tags.insert("aws:x".to_string(), String::new());
    assert!(check_tags(&tags)
        .unwrap_err()
        .message()
        .contains("reserved"));
}
