//! C_CopyObject (§5.7.2) and C_DestroyObject (§5.7.3) rules.

use super::*;

pub(super) fn copy(r: &mut Runner, env: &Env) {
    let copy_case =
        |r: &mut Runner, id: &str, tpl: Template, change: Template, expected: &[CK_RV]| {
            let expected = expected.to_vec();
            r.case(id, "§5.7.2", env, move |m, e| {
                let s = t!(user(m, e), "open+login");
                let o = t!(m.create(s, &tpl), "C_CreateObject");
                let rv = m.copy(s, o, &change);
                if let Ok(h) = rv {
                    if change.0.iter().any(|(t, v)| *t == CKA_TOKEN && v == &[1]) {
                        m.destroy(s, h);
                    }
                }
                expect_rv(&expected, crate::rv_of(&rv))
            });
        };
    copy_case(
        r,
        "copy.new-label",
        data("a"),
        Template::new().bytes(CKA_LABEL, b"copy"),
        &[CKR_OK],
    );
    copy_case(
        r,
        "copy.empty-template",
        aes(true, false),
        Template::new(),
        &[CKR_OK],
    );
    copy_case(
        r,
        "copy.sensitive-to-false",
        aes(true, true),
        Template::new().flag(CKA_SENSITIVE, false),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    copy_case(
        r,
        "copy.sensitive-to-true",
        aes(false, true),
        Template::new().flag(CKA_SENSITIVE, true),
        &[CKR_OK],
    );
    copy_case(
        r,
        "copy.extractable-to-true",
        aes(false, false),
        Template::new().flag(CKA_EXTRACTABLE, true),
        &[CKR_ATTRIBUTE_READ_ONLY],
    );
    copy_case(
        r,
        "copy.extractable-to-false",
        aes(false, true),
        Template::new().flag(CKA_EXTRACTABLE, false),
        &[CKR_OK],
    );
    copy_case(
        r,
        "copy.to-token",
        data("a"),
        Template::new().flag(CKA_TOKEN, true),
        &[CKR_OK],
    );
    copy_case(
        r,
        "copy.class-change",
        data("a"),
        Template::new().ulong(CKA_CLASS, CKO_SECRET_KEY),
        &[CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT],
    );
    copy_case(
        r,
        "copy.key-type-change",
        aes(false, true),
        Template::new().ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
        &[CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT],
    );
    copy_case(
        r,
        "copy.value-change",
        aes(false, true),
        Template::new().bytes(CKA_VALUE, b"fedcba9876543210"),
        &[CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT],
    );
    copy_case(
        r,
        "copy.not-copyable",
        data("a").flag(CKA_COPYABLE, false),
        Template::new(),
        &[CKR_ACTION_PROHIBITED],
    );
    copy_case(
        r,
        "copy.undefined-type",
        data("a"),
        Template::new().bytes(UNDEFINED_ATTR, b"x"),
        &[CKR_ATTRIBUTE_TYPE_INVALID, CKR_TEMPLATE_INCONSISTENT],
    );
    r.case("copy.same-value", "§5.7.2", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &aes(false, true)), "C_CreateObject");
        let c = t!(
            m.copy(s, o, &Template::new().bytes(CKA_LABEL, b"copy")),
            "C_CopyObject"
        );
        let v = t!(m.get(s, c, CKA_VALUE), "C_GetAttributeValue(copy)");
        let l = t!(m.get(s, o, CKA_LABEL), "C_GetAttributeValue(original)");
        check(c != o && v == AES_KEY && l == b"conf-aes", || {
            "expected a new handle with the same value and the original unchanged".into()
        })
    });
    r.case("copy.keeps-sensitive-flags", "§5.7.2", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &aes(true, false)), "C_CreateObject");
        let c = t!(m.copy(s, o, &Template::new()), "C_CopyObject");
        let sens = t!(m.get_bool(s, c, CKA_SENSITIVE), "CKA_SENSITIVE");
        let ext = t!(m.get_bool(s, c, CKA_EXTRACTABLE), "CKA_EXTRACTABLE");
        check(sens && !ext, || {
            format!("expected SENSITIVE=TRUE EXTRACTABLE=FALSE on the copy, got {sens} {ext}")
        })
    });
    r.case("copy.token-in-ro-session", "§5.7.2", env, |m, e| {
        let s = t!(m.open(e.slot, false), "C_OpenSession(RO)");
        let o = t!(m.create(s, &data("a")), "C_CreateObject(session)");
        expect_rv(
            &[CKR_SESSION_READ_ONLY],
            m.copy(s, o, &Template::new().flag(CKA_TOKEN, true))
                .err()
                .unwrap_or(CKR_OK),
        )
    });
    r.case("copy.invalid-object", "§5.7.2", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        expect_rv(
            &[CKR_OBJECT_HANDLE_INVALID],
            m.copy(s, 0x7FFF_FFF0, &Template::new())
                .err()
                .unwrap_or(CKR_OK),
        )
    });
    r.case("copy.null-handle", "§5.7.2", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("a")), "C_CreateObject");
        expect_rv(
            &[CKR_ARGUMENTS_BAD],
            call!(m.f, C_CopyObject, s, o, nul(), 0, nul()),
        )
    });
}

pub(super) fn destroy(r: &mut Runner, env: &Env) {
    r.case("destroy.then-invalid", "§5.7.3", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("a")), "C_CreateObject");
        ok!(m.destroy(s, o), "C_DestroyObject");
        expect_rv(
            &[CKR_OBJECT_HANDLE_INVALID],
            m.get(s, o, CKA_CLASS).err().unwrap_or(CKR_OK),
        )
    });
    r.case("destroy.twice", "§5.7.3", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("a")), "C_CreateObject");
        ok!(m.destroy(s, o), "C_DestroyObject");
        expect_rv(&[CKR_OBJECT_HANDLE_INVALID], m.destroy(s, o))
    });
    r.case("destroy.invalid", "§5.7.3", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        expect_rv(&[CKR_OBJECT_HANDLE_INVALID], m.destroy(s, 0x7FFF_FFF0))
    });
    r.case("destroy.not-destroyable", "§5.7.3", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(
            m.create(s, &data("a").flag(CKA_DESTROYABLE, false)),
            "C_CreateObject"
        );
        expect_rv(&[CKR_ACTION_PROHIBITED], m.destroy(s, o))
    });
    r.case(
        "destroy.token-object-in-ro-session",
        "§5.7.3",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let o = t!(
                m.create(s, &data("conf-ro-destroy").flag(CKA_TOKEN, true)),
                "C_CreateObject(token)"
            );
            let ro = t!(m.open(e.slot, false), "C_OpenSession(RO)");
            let rv = m.destroy(ro, o);
            if rv != CKR_OK {
                m.destroy(s, o);
            }
            expect_rv(&[CKR_SESSION_READ_ONLY], rv)
        },
    );
    r.case(
        "destroy.session-object-in-ro-session",
        "§5.7.3",
        env,
        |m, e| {
            let ro = t!(m.open(e.slot, false), "C_OpenSession(RO)");
            let o = t!(m.create(ro, &data("a")), "C_CreateObject(session)");
            expect_rv(&[CKR_OK], m.destroy(ro, o))
        },
    );
    r.case("destroy.invalid-session", "§5.7.3", env, |m, _| {
        expect_rv(&[CKR_SESSION_HANDLE_INVALID], m.destroy(0x7FFF_FFF0, 1))
    });
}
