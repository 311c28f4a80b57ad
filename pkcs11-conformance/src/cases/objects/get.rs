//! C_GetAttributeValue (§5.7.5): the length-query convention with several
//! attributes, mixed errors, sensitive and unextractable values.

use super::*;

pub(super) fn get(r: &mut Runner, env: &Env) {
    r.case("get.length-query", "§5.7.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("conf-len")), "C_CreateObject");
        let mut a = [attr(CKA_VALUE, &mut [])];
        ok!(m.get_raw(s, o, &mut a), "C_GetAttributeValue(NULL)");
        check(a[0].ulValueLen == 17, || {
            format!("expected ulValueLen 17, got {}", a[0].ulValueLen)
        })
    });
    r.case("get.exact-buffer", "§5.7.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("conf-len")), "C_CreateObject");
        let mut buf = [0u8; 17];
        let mut a = [attr(CKA_VALUE, &mut buf)];
        ok!(m.get_raw(s, o, &mut a), "C_GetAttributeValue");
        check(&buf == b"conformance value", || {
            "expected the value back".into()
        })
    });
    r.case("get.larger-buffer", "§5.7.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("conf-len")), "C_CreateObject");
        let mut buf = [0u8; 64];
        let mut a = [attr(CKA_VALUE, &mut buf)];
        ok!(m.get_raw(s, o, &mut a), "C_GetAttributeValue");
        check(a[0].ulValueLen == 17, || {
            format!("expected ulValueLen set to 17, got {}", a[0].ulValueLen)
        })
    });
    r.case("get.too-small", "§5.7.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("conf-len")), "C_CreateObject");
        let mut buf = [0u8; 4];
        let mut a = [attr(CKA_VALUE, &mut buf)];
        let rv = m.get_raw(s, o, &mut a);
        check(rv == CKR_BUFFER_TOO_SMALL && a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION, || {
            format!("expected CKR_BUFFER_TOO_SMALL and ulValueLen CK_UNAVAILABLE_INFORMATION, got {} and {}", rv_name(rv), a[0].ulValueLen as i64)
        })
    });
    r.case("get.undefined-type", "§5.7.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("conf")), "C_CreateObject");
        let mut buf = [0u8; 8];
        let mut a = [attr(UNDEFINED_ATTR, &mut buf)];
        let rv = m.get_raw(s, o, &mut a);
        check(rv == CKR_ATTRIBUTE_TYPE_INVALID && a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION, || {
            format!("expected CKR_ATTRIBUTE_TYPE_INVALID and CK_UNAVAILABLE_INFORMATION, got {} and {}", rv_name(rv), a[0].ulValueLen as i64)
        })
    });
    r.case("get.attribute-of-other-class", "§5.7.5", env, |m, e| {
        // CKA_MODULUS exists, but not on a data object: CKR_ATTRIBUTE_TYPE_INVALID.
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("conf")), "C_CreateObject");
        let mut buf = [0u8; 8];
        let mut a = [attr(CKA_MODULUS, &mut buf)];
        let rv = m.get_raw(s, o, &mut a);
        check(rv == CKR_ATTRIBUTE_TYPE_INVALID && a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION, || {
            format!("expected CKR_ATTRIBUTE_TYPE_INVALID and CK_UNAVAILABLE_INFORMATION, got {} and {}", rv_name(rv), a[0].ulValueLen as i64)
        })
    });
    r.case(
        "get.mixed.invalid-type-others-filled",
        "§5.7.5",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let o = t!(m.create(s, &data("conf-mixed")), "C_CreateObject");
            let (mut c, mut x, mut l) = ([0u8; 8], [0u8; 8], [0u8; 32]);
            let mut a = [
                attr(CKA_CLASS, &mut c),
                attr(UNDEFINED_ATTR, &mut x),
                attr(CKA_LABEL, &mut l),
            ];
            let rv = m.get_raw(s, o, &mut a);
            ensure!(
                rv == CKR_ATTRIBUTE_TYPE_INVALID,
                "expected CKR_ATTRIBUTE_TYPE_INVALID, got {}",
                rv_name(rv)
            );
            ensure!(
                a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION,
                "expected the invalid one's length CK_UNAVAILABLE_INFORMATION, got {}",
                a[1].ulValueLen
            );
            check(
                a[0].ulValueLen == 8
                    && CK_ULONG::from_ne_bytes(c) == CKO_DATA
                    && a[2].ulValueLen == 10
                    && &l[..10] == b"conf-mixed",
                || {
                    format!(
                        "expected CKA_CLASS and CKA_LABEL still filled, got lengths {} and {}",
                        a[0].ulValueLen, a[2].ulValueLen
                    )
                },
            )
        },
    );
    r.case(
        "get.mixed.sensitive-others-filled",
        "§5.7.5",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let o = t!(m.create(s, &aes(true, true)), "C_CreateObject");
            let (mut v, mut k) = ([0u8; 16], [0u8; 8]);
            let mut a = [attr(CKA_VALUE, &mut v), attr(CKA_KEY_TYPE, &mut k)];
            let rv = m.get_raw(s, o, &mut a);
            ensure!(
                rv == CKR_ATTRIBUTE_SENSITIVE,
                "expected CKR_ATTRIBUTE_SENSITIVE, got {}",
                rv_name(rv)
            );
            ensure!(
                a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION,
                "expected CKA_VALUE length CK_UNAVAILABLE_INFORMATION, got {}",
                a[0].ulValueLen
            );
            ensure!(
                v == [0u8; 16],
                "the sensitive value was written to the buffer"
            );
            check(
                a[1].ulValueLen == 8 && CK_ULONG::from_ne_bytes(k) == CKK_AES,
                || "expected CKA_KEY_TYPE still filled".into(),
            )
        },
    );
    r.case(
        "get.mixed.too-small-others-filled",
        "§5.7.5",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            let o = t!(m.create(s, &data("conf-mixed")), "C_CreateObject");
            let (mut c, mut l) = ([0u8; 8], [0u8; 3]);
            let mut a = [attr(CKA_CLASS, &mut c), attr(CKA_LABEL, &mut l)];
            let rv = m.get_raw(s, o, &mut a);
            ensure!(
                rv == CKR_BUFFER_TOO_SMALL,
                "expected CKR_BUFFER_TOO_SMALL, got {}",
                rv_name(rv)
            );
            ensure!(
                a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION,
                "expected CKA_LABEL length CK_UNAVAILABLE_INFORMATION, got {}",
                a[1].ulValueLen
            );
            check(
                a[0].ulValueLen == 8 && CK_ULONG::from_ne_bytes(c) == CKO_DATA,
                || "expected CKA_CLASS still filled".into(),
            )
        },
    );
    r.case("get.mixed.length-queries", "§5.7.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("conf-mixed")), "C_CreateObject");
        let mut a = [
            attr(CKA_CLASS, &mut []),
            attr(CKA_LABEL, &mut []),
            attr(CKA_VALUE, &mut []),
        ];
        ok!(m.get_raw(s, o, &mut a), "C_GetAttributeValue");
        check(
            a[0].ulValueLen == 8 && a[1].ulValueLen == 10 && a[2].ulValueLen == 17,
            || {
                format!(
                    "expected lengths 8, 10, 17, got {}, {}, {}",
                    a[0].ulValueLen, a[1].ulValueLen, a[2].ulValueLen
                )
            },
        )
    });
    r.case("get.mixed.sensitive-and-invalid", "§5.7.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &aes(true, true)), "C_CreateObject");
        let (mut v, mut x, mut k) = ([0u8; 16], [0u8; 8], [0u8; 8]);
        let mut a = [
            attr(CKA_VALUE, &mut v),
            attr(UNDEFINED_ATTR, &mut x),
            attr(CKA_KEY_TYPE, &mut k),
        ];
        let rv = m.get_raw(s, o, &mut a);
        // Any of the applicable codes may be returned (§5.7.5).
        ensure!(
            rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID,
            "expected CKR_ATTRIBUTE_SENSITIVE or CKR_ATTRIBUTE_TYPE_INVALID, got {}",
            rv_name(rv)
        );
        check(
            a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION
                && a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION
                && a[2].ulValueLen == 8,
            || {
                format!(
                    "expected lengths UNAVAILABLE, UNAVAILABLE, 8, got {}, {}, {}",
                    a[0].ulValueLen as i64, a[1].ulValueLen as i64, a[2].ulValueLen as i64
                )
            },
        )
    });
    r.case("get.sensitive-value", "§4.10", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &aes(true, true)), "C_CreateObject");
        expect_rv(
            &[CKR_ATTRIBUTE_SENSITIVE],
            m.get(s, o, CKA_VALUE).err().unwrap_or(CKR_OK),
        )
    });
    r.case("get.unextractable-value", "§4.10", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &aes(false, false)), "C_CreateObject");
        expect_rv(
            &[CKR_ATTRIBUTE_SENSITIVE],
            m.get(s, o, CKA_VALUE).err().unwrap_or(CKR_OK),
        )
    });
    r.case("get.extractable-value", "§4.10", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &aes(false, true)), "C_CreateObject");
        let v = t!(m.get(s, o, CKA_VALUE), "C_GetAttributeValue(CKA_VALUE)");
        check(v == AES_KEY, || "expected the key value back".into())
    });
    r.case("get.invalid-object", "§5.7.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        expect_rv(
            &[CKR_OBJECT_HANDLE_INVALID],
            m.get(s, 0x7FFF_FFF0, CKA_CLASS).err().unwrap_or(CKR_OK),
        )
    });
    r.case("get.null-template", "§5.7.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("conf")), "C_CreateObject");
        expect_rv(
            &[CKR_ARGUMENTS_BAD],
            call!(m.f, C_GetAttributeValue, s, o, nul(), 1),
        )
    });
    r.case("get.invalid-session", "§5.7.5", env, |m, _| {
        expect_rv(
            &[CKR_SESSION_HANDLE_INVALID],
            m.get(0x7FFF_FFF0, 1, CKA_CLASS).err().unwrap_or(CKR_OK),
        )
    });
    r.case("object-size.query", "§5.7.4", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let o = t!(m.create(s, &data("conf")), "C_CreateObject");
        match m.object_size(s, o) {
            Ok(n) => check(n > 0, || {
                "expected a size or CK_UNAVAILABLE_INFORMATION, got 0".into()
            }),
            Err(CKR_FUNCTION_NOT_SUPPORTED) => {
                Outcome::Skip("C_GetObjectSize not supported".into())
            }
            Err(rv) => Outcome::Fail(format!("expected CKR_OK, got {}", rv_name(rv))),
        }
    });
    r.case("object-size.invalid-object", "§5.7.4", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        expect_rv(
            &[CKR_OBJECT_HANDLE_INVALID, CKR_FUNCTION_NOT_SUPPORTED],
            m.object_size(s, 0x7FFF_FFF0).err().unwrap_or(CKR_OK),
        )
    });
}
