//! C_SetAttributeValue (§5.7.6): read-only attributes, CKA_SENSITIVE only to
//! TRUE, CKA_EXTRACTABLE only to FALSE.

use super::*;

pub(super) fn set(r: &mut Runner, env: &Env) {
    let set_case =
        |r: &mut Runner, id: &str, tpl: Template, change: Template, expected: &[CK_RV]| {
            let expected = expected.to_vec();
            r.case(id, "§5.7.6", env, move |m, e| {
                let s = t!(user(m, e), "open+login");
                let o = t!(m.create(s, &tpl), "C_CreateObject");
                expect_rv(&expected, m.set(s, o, &change))
            });
        };
    set_case(
        r,
        "set.label",
        data("a"),
        Template::new().bytes(CKA_LABEL, b"b"),
        &[CKR_OK],
    );
    set_case(
        r,
        "set.class-read-only",
        data("a"),
        Template::new().ulong(CKA_CLASS, CKO_SECRET_KEY),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    set_case(
        r,
        "set.key-type-read-only",
        aes(false, true),
        Template::new().ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    set_case(
        r,
        "set.secret-value-read-only",
        aes(false, true),
        Template::new().bytes(CKA_VALUE, b"fedcba9876543210"),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    set_case(
        r,
        "set.sensitive-true-to-false",
        aes(true, true),
        Template::new().flag(CKA_SENSITIVE, false),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    set_case(
        r,
        "set.sensitive-false-to-true",
        aes(false, true),
        Template::new().flag(CKA_SENSITIVE, true),
        &[CKR_OK],
    );
    set_case(
        r,
        "set.extractable-false-to-true",
        aes(false, false),
        Template::new().flag(CKA_EXTRACTABLE, true),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    set_case(
        r,
        "set.extractable-true-to-false",
        aes(false, true),
        Template::new().flag(CKA_EXTRACTABLE, false),
        &[CKR_OK],
    );
    set_case(
        r,
        "set.local-read-only",
        aes(false, true),
        Template::new().flag(CKA_LOCAL, true),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    set_case(
        r,
        "set.always-sensitive-read-only",
        aes(true, true),
        Template::new().flag(CKA_ALWAYS_SENSITIVE, true),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    set_case(
        r,
        "set.never-extractable-read-only",
        aes(false, false),
        Template::new().flag(CKA_NEVER_EXTRACTABLE, true),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    set_case(
        r,
        "set.token-read-only",
        data("a"),
        Template::new().flag(CKA_TOKEN, true),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    set_case(
        r,
        "set.modifiable-read-only",
        data("a"),
        Template::new().flag(CKA_MODIFIABLE, false),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    set_case(
        r,
        "set.undefined-type",
        data("a"),
        Template::new().bytes(UNDEFINED_ATTR, b"x"),
        &[CKR_ATTRIBUTE_TYPE_INVALID],
    );
    set_case(
        r,
        "set.bool-wrong-length",
        aes(false, true),
        Template::new().bytes(CKA_ENCRYPT, &[1, 0, 0, 0]),
        &[CKR_ATTRIBUTE_VALUE_INVALID],
    );
    set_case(
        r,
        "set.not-modifiable",
        data("a").flag(CKA_MODIFIABLE, false),
        Template::new().bytes(CKA_LABEL, b"b"),
        &[CKR_ACTION_PROHIBITED, CKR_ATTRIBUTE_READ_ONLY],
    );
    set_case(
        r,
        "set.usage-flag",
        aes(false, true),
        Template::new().flag(CKA_ENCRYPT, false),
        &[CKR_OK],
    );
    r.case("set.label-read-back", "§5.7.6", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("before")), "C_CreateObject");
        ok!(
            m.set(s, o, &Template::new().bytes(CKA_LABEL, b"after-change")),
            "C_SetAttributeValue"
        );
        let v = t!(m.get(s, o, CKA_LABEL), "C_GetAttributeValue");
        check(v == b"after-change", || {
            format!(
                "expected the new label, got {:?}",
                String::from_utf8_lossy(&v)
            )
        })
    });
    r.case(
        "set.sensitive-keeps-always-sensitive-false",
        "§4.10",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let o = t!(m.create(s, &aes(false, true)), "C_CreateObject");
            ok!(
                m.set(s, o, &Template::new().flag(CKA_SENSITIVE, true)),
                "C_SetAttributeValue(CKA_SENSITIVE=TRUE)"
            );
            let a = t!(
                m.get_bool(s, o, CKA_ALWAYS_SENSITIVE),
                "CKA_ALWAYS_SENSITIVE"
            );
            let v = m.get(s, o, CKA_VALUE).err().unwrap_or(CKR_OK);
            ensure!(!a, "expected CKA_ALWAYS_SENSITIVE to stay FALSE");
            expect_rv(&[CKR_ATTRIBUTE_SENSITIVE], v)
        },
    );
    r.case("set.token-object-in-ro-session", "§5.7.6", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(
            m.create(s, &data("conf-ro-set").flag(CKA_TOKEN, true)),
            "C_CreateObject(token)"
        );
        let ro = t!(m.open(e.slot, false), "C_OpenSession(RO)");
        let rv = m.set(ro, o, &Template::new().bytes(CKA_LABEL, b"x"));
        m.destroy(s, o);
        expect_rv(&[CKR_SESSION_READ_ONLY], rv)
    });
    r.case("set.atomic", "§5.7.6", env, |m, e| {
        // A template with one invalid attribute changes nothing.
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("unchanged")), "C_CreateObject");
        let rv = m.set(
            s,
            o,
            &Template::new()
                .bytes(CKA_LABEL, b"changed")
                .ulong(CKA_CLASS, CKO_SECRET_KEY),
        );
        want!(rv, [CKR_ATTRIBUTE_READ_ONLY], "C_SetAttributeValue");
        let v = t!(m.get(s, o, CKA_LABEL), "C_GetAttributeValue");
        check(v == b"unchanged", || {
            format!(
                "expected the label unchanged, got {:?}",
                String::from_utf8_lossy(&v)
            )
        })
    });
}
