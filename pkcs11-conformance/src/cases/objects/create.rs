//! Creation templates (§5.7.1, chapter 4's required and forbidden attributes).

use super::*;

pub(super) fn create(r: &mut Runner, env: &Env) {
    r.case("create.data-object", "§5.7.1", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("conf-data")), "C_CreateObject");
        let class = t!(
            m.get_ulong(s, o, CKA_CLASS),
            "C_GetAttributeValue(CKA_CLASS)"
        );
        check(class == CKO_DATA, || {
            format!("expected CKA_CLASS CKO_DATA, got {class}")
        })
    });
    r.case("create.missing-class", "§5.7.1", env, |m, e| {
        expect_rv(
            &[CKR_TEMPLATE_INCOMPLETE],
            create_rv(
                m,
                e,
                Template::new()
                    .flag(CKA_TOKEN, false)
                    .bytes(CKA_VALUE, b"x"),
            ),
        )
    });
    r.case("create.secret-key-missing-value", "§5.7.1", env, |m, e| {
        let t = Template::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .flag(CKA_TOKEN, false);
        expect_rv(&[CKR_TEMPLATE_INCOMPLETE], create_rv(m, e, t))
    });
    r.case(
        "create.secret-key-missing-key-type",
        "§5.7.1",
        env,
        |m, e| {
            let t = Template::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .flag(CKA_TOKEN, false)
                .bytes(CKA_VALUE, &AES_KEY);
            expect_rv(&[CKR_TEMPLATE_INCOMPLETE], create_rv(m, e, t))
        },
    );
    r.case("create.undefined-attribute-type", "§5.7.1", env, |m, e| {
        expect_rv(
            &[CKR_ATTRIBUTE_TYPE_INVALID],
            create_rv(m, e, data("conf-bad").bytes(UNDEFINED_ATTR, b"x")),
        )
    });
    r.case("create.bool-wrong-length", "§5.7.1", env, |m, e| {
        let t = Template::new()
            .ulong(CKA_CLASS, CKO_DATA)
            .bytes(CKA_TOKEN, &[0, 0, 0, 0])
            .bytes(CKA_VALUE, b"x");
        expect_rv(&[CKR_ATTRIBUTE_VALUE_INVALID], create_rv(m, e, t))
    });
    r.case("create.class-wrong-length", "§5.7.1", env, |m, e| {
        let t = Template::new()
            .bytes(CKA_CLASS, &[0])
            .flag(CKA_TOKEN, false)
            .bytes(CKA_VALUE, b"x");
        expect_rv(&[CKR_ATTRIBUTE_VALUE_INVALID], create_rv(m, e, t))
    });
    r.case("create.class-undefined", "§5.7.1", env, |m, e| {
        let t = Template::new()
            .ulong(CKA_CLASS, 0x7F7F)
            .flag(CKA_TOKEN, false)
            .bytes(CKA_VALUE, b"x");
        expect_rv(
            &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT],
            create_rv(m, e, t),
        )
    });
    r.case("create.aes-bad-value-length", "§5.7.1", env, |m, e| {
        let mut t = aes(false, true);
        t.0.retain(|(ty, _)| *ty != CKA_VALUE);
        let t = t.bytes(CKA_VALUE, &AES_KEY[..15]);
        expect_rv(
            &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT],
            create_rv(m, e, t),
        )
    });
    r.case("create.local-read-only", "§5.7.1", env, |m, e| {
        expect_rv(
            &[CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT],
            create_rv(m, e, aes(false, true).flag(CKA_LOCAL, true)),
        )
    });
    r.case(
        "create.always-sensitive-read-only",
        "§5.7.1",
        env,
        |m, e| {
            expect_rv(
                &[CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT],
                create_rv(m, e, aes(true, true).flag(CKA_ALWAYS_SENSITIVE, true)),
            )
        },
    );
    r.case(
        "create.key-gen-mechanism-read-only",
        "§5.7.1",
        env,
        |m, e| {
            expect_rv(
                &[CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT],
                create_rv(
                    m,
                    e,
                    aes(false, true).ulong(CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN),
                ),
            )
        },
    );
    r.case("create.null-template", "§5.7.1", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let mut h: CK_OBJECT_HANDLE = 0;
        expect_rv(
            &[CKR_ARGUMENTS_BAD],
            call!(m.f, C_CreateObject, s, nul(), 3, &mut h),
        )
    });
    r.case("create.null-handle", "§5.7.1", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let mut a = data("conf").raw();
        expect_rv(
            &[CKR_ARGUMENTS_BAD],
            call!(
                m.f,
                C_CreateObject,
                s,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                nul()
            ),
        )
    });
    r.case("create.invalid-session", "§5.7.1", env, |m, _| {
        expect_rv(
            &[CKR_SESSION_HANDLE_INVALID],
            m.create(0x7FFF_FFF0, &data("conf")).err().unwrap_or(CKR_OK),
        )
    });
    r.case("create.imported-key-flags", "§4.10", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &aes(true, false)), "C_CreateObject");
        let local = t!(m.get_bool(s, o, CKA_LOCAL), "CKA_LOCAL");
        let asens = t!(m.get_bool(s, o, CKA_ALWAYS_SENSITIVE), "CKA_ALWAYS_SENSITIVE");
        let nex = t!(m.get_bool(s, o, CKA_NEVER_EXTRACTABLE), "CKA_NEVER_EXTRACTABLE");
        check(!local && !asens && !nex, || {
            format!("expected CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE all FALSE on an imported key, got {local}, {asens}, {nex}")
        })
    });
    r.case("create.imported-key-gen-mechanism", "§4.8", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &aes(false, true)), "C_CreateObject");
        let v = t!(
            m.get_ulong(s, o, CKA_KEY_GEN_MECHANISM),
            "CKA_KEY_GEN_MECHANISM"
        );
        check(v == CK_UNAVAILABLE_INFORMATION, || {
            format!("expected CK_UNAVAILABLE_INFORMATION, got 0x{v:x}")
        })
    });
    r.case("create.defaults", "§4.4", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &Template::new().ulong(CKA_CLASS, CKO_DATA).bytes(CKA_VALUE, b"x")), "C_CreateObject");
        let token = t!(m.get_bool(s, o, CKA_TOKEN), "CKA_TOKEN");
        let modif = t!(m.get_bool(s, o, CKA_MODIFIABLE), "CKA_MODIFIABLE");
        let copyable = m.get_bool(s, o, CKA_COPYABLE).unwrap_or(true);
        let destroyable = m.get_bool(s, o, CKA_DESTROYABLE).unwrap_or(true);
        check(!token && modif && copyable && destroyable, || {
            format!("expected defaults TOKEN=FALSE MODIFIABLE=TRUE COPYABLE=TRUE DESTROYABLE=TRUE, got {token} {modif} {copyable} {destroyable}")
        })
    });
    r.case("create.secret-key-defaults", "§4.10", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let t = Template::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .flag(CKA_TOKEN, false)
            .bytes(CKA_VALUE, &AES_KEY);
        let o = t!(m.create(s, &t), "C_CreateObject");
        let len = t!(m.get_ulong(s, o, CKA_VALUE_LEN), "CKA_VALUE_LEN");
        check(len == 16, || {
            format!("expected CKA_VALUE_LEN 16, got {len}")
        })
    });
}
