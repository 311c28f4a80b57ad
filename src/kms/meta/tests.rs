use super::*;

fn tags(json: &str) -> std::result::Result<Vec<u8>, String> {
    parse_tags(json.as_bytes()).map(|t| encode_tags(&t))
}

#[test]
fn tags_are_canonical() {
    assert_eq!(
        tags(r#" { "b" : "2", "a": "", "é": "x" } "#).as_deref(),
        Ok(r#"{"a":"","b":"2","é":"x"}"#.as_bytes())
    );
    assert_eq!(tags("{}").as_deref(), Ok(&b"{}"[..]));
    assert!(parse_tags(b"").is_ok_and(|t| t.is_empty()));
}

#[test]
fn tags_out_of_the_rules_are_refused() {
    for (json, why) in [
        (r#"{"a":"1","a":"2"}"#, "twice"),
        (r#"{"a":1}"#, "JSON object of strings"),
        (r#"["a"]"#, "JSON object of strings"),
        (r#"{"":"x"}"#, "1 to 128"),
        (r#"{"aws:x":"y"}"#, "reserved"),
        (r#"{"AWS:x":"y"}"#, "reserved"),
        ("not json", "JSON object"),
    ] {
        let e = tags(json).unwrap_err();
        assert!(e.contains(why), "{json}: {e}");
    }
    let long_key = format!(r#"{{"{}":"v"}}"#, "k".repeat(129));
    assert!(tags(&long_key).is_err());
    assert!(tags(&format!(r#"{{"{}":"v"}}"#, "é".repeat(128))).is_ok());
    let long_value = format!(r#"{{"k":"{}"}}"#, "v".repeat(257));
    assert!(tags(&long_value).is_err());
    let many: BTreeMap<String, String> =
        (0..51).map(|i| (format!("k{i}"), String::new())).collect();
    assert!(parse_tags(&encode_tags(&many)).is_err());
    let fifty: BTreeMap<String, String> =
        (0..50).map(|i| (format!("k{i}"), String::new())).collect();
    assert!(parse_tags(&encode_tags(&fifty)).is_ok());
}

#[test]
fn descriptions_have_a_limit() {
    assert!(check_description(&[b'x'; MAX_DESCRIPTION]).is_ok());
    assert_eq!(
        check_description(&[b'x'; MAX_DESCRIPTION + 1]),
        Err(Error::AttributeValueInvalid(CKA_SOFTKMS_DESCRIPTION))
    );
    assert!(check_description(&[0xff]).is_err());
}

#[test]
fn oversized_tags_are_refused_before_parsing() {
    let mut huge = String::from("{\"k\":\"v\"");
    huge.push_str(&" ".repeat(MAX_TAGS_BYTES));
    huge.push('}');
    let e = parse_tags(huge.as_bytes()).unwrap_err();
    assert!(e.contains("at most"), "{e}");
    // The longest set the rules allow still fits.
    let longest: BTreeMap<String, String> = (0..MAX_TAGS)
        .map(|i| (format!("{i:0>128}"), "\u{1F600}".repeat(MAX_TAG_VALUE)))
        .collect();
    let json = serde_json::to_vec(&longest).unwrap_or_default();
    assert!(json.len() <= MAX_TAGS_BYTES);
    assert_eq!(parse_tags(&json), Ok(longest));
}
