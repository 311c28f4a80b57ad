//! Object management (§5.7) and the attribute rules of chapter 4: creation
//! templates, the C_GetAttributeValue length-query convention with several
//! attributes and mixed errors, read-only attributes, CKA_SENSITIVE only to TRUE,
//! CKA_EXTRACTABLE only to FALSE, copy and destroy rules, finding in batches.

#![allow(unsafe_code)]

use crate::{check, ensure, expect_rv, ok, t, want, Env, Outcome, Runner};
use cryptoki_sys::*;
use p11_testkit::{call, rv_name, Module, Template};
use std::ffi::c_void;
use std::ptr::null_mut as nul;

const UNDEFINED_ATTR: CK_ATTRIBUTE_TYPE = 0x0000_7F7F;
const AES_KEY: [u8; 16] = *b"0123456789abcdef";

fn data(label: &str) -> Template {
    Template::new()
        .ulong(CKA_CLASS, CKO_DATA)
        .flag(CKA_TOKEN, false)
        .flag(CKA_PRIVATE, false)
        .bytes(CKA_LABEL, label.as_bytes())
        .bytes(CKA_VALUE, b"conformance value")
}

fn aes(sensitive: bool, extractable: bool) -> Template {
    Template::new()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .flag(CKA_TOKEN, false)
        .flag(CKA_SENSITIVE, sensitive)
        .flag(CKA_EXTRACTABLE, extractable)
        .flag(CKA_ENCRYPT, true)
        .flag(CKA_DECRYPT, true)
        .bytes(CKA_LABEL, b"conf-aes")
        .bytes(CKA_VALUE, &AES_KEY)
}

/// A logged-in R/W session.
fn user(m: &Module, e: &Env) -> Result<CK_SESSION_HANDLE, CK_RV> {
    let s = m.open(e.slot, true)?;
    let rv = m.login(s, CKU_USER, &e.pin);
    if rv != CKR_OK {
        return Err(rv);
    }
    Ok(s)
}

fn attr(ty: CK_ATTRIBUTE_TYPE, buf: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: if buf.is_empty() {
            nul()
        } else {
            buf.as_mut_ptr() as *mut c_void
        },
        ulValueLen: buf.len() as CK_ULONG,
    }
}

fn create_rv(m: &Module, e: &Env, t: Template) -> CK_RV {
    match user(m, e) {
        Ok(s) => crate::rv_of(&m.create(s, &t)),
        Err(rv) => rv,
    }
}

/// Runs the chapter.
pub fn run(r: &mut Runner) {
    r.group("objects", |r, env| {
        create(r, env);
        get(r, env);
        set(r, env);
        copy(r, env);
        destroy(r, env);
        find(r, env);
    });
}

fn create(r: &mut Runner, env: &Env) {
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

fn get(r: &mut Runner, env: &Env) {
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

fn set(r: &mut Runner, env: &Env) {
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

fn copy(r: &mut Runner, env: &Env) {
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

fn destroy(r: &mut Runner, env: &Env) {
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

fn find(r: &mut Runner, env: &Env) {
    r.case("find.batches", "§5.7.8", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let mut made = Vec::new();
        for i in 0..7 {
            made.push(t!(
                m.create(
                    s,
                    &data(&format!("x{i}")).bytes(CKA_APPLICATION, b"conf-batch")
                ),
                "C_CreateObject"
            ));
        }
        ok!(
            m.find_init(s, &Template::new().bytes(CKA_APPLICATION, b"conf-batch")),
            "C_FindObjectsInit"
        );
        let mut sizes = Vec::new();
        let mut all = Vec::new();
        loop {
            let v = t!(m.find_next(s, 3), "C_FindObjects");
            sizes.push(v.len());
            if v.is_empty() {
                break;
            }
            all.extend(v);
            ensure!(sizes.len() < 10, "C_FindObjects never returned 0");
        }
        ok!(m.find_final(s), "C_FindObjectsFinal");
        all.sort_unstable();
        made.sort_unstable();
        ensure!(
            sizes == vec![3, 3, 1, 0],
            "expected batches of 3, 3, 1, 0, got {sizes:?}"
        );
        check(all == made, || {
            "expected exactly the 7 objects, each once".into()
        })
    });
    r.case("find.empty-template-finds-all", "§5.7.7", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let a = t!(m.create(s, &data("conf-all-1")), "C_CreateObject");
        let b = t!(m.create(s, &aes(true, false)), "C_CreateObject");
        let v = t!(m.find(s, &Template::new()), "C_FindObjects");
        check(v.contains(&a) && v.contains(&b), || {
            "expected the empty template to match both objects".into()
        })
    });
    r.case("find.no-match", "§5.7.7", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let v = t!(
            m.find(
                s,
                &Template::new().bytes(CKA_LABEL, b"conf-no-object-has-this-label")
            ),
            "C_FindObjects"
        );
        check(v.is_empty(), || {
            format!("expected no objects, got {}", v.len())
        })
    });
    r.case("find.by-class", "§5.7.7", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let d = t!(m.create(s, &data("conf-class")), "C_CreateObject");
        let k = t!(m.create(s, &aes(false, true)), "C_CreateObject");
        let v = t!(
            m.find(s, &Template::new().ulong(CKA_CLASS, CKO_SECRET_KEY)),
            "C_FindObjects"
        );
        check(v.contains(&k) && !v.contains(&d), || {
            "expected the key and not the data object".into()
        })
    });
    r.case(
        "find.undefined-attribute-matches-nothing",
        "§5.7.7",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            t!(m.create(s, &data("conf")), "C_CreateObject");
            match m.find(s, &Template::new().bytes(UNDEFINED_ATTR, b"x")) {
                Ok(v) => check(v.is_empty(), || {
                    format!("expected no objects, got {}", v.len())
                }),
                Err(rv) => expect_rv(&[CKR_ATTRIBUTE_TYPE_INVALID], rv),
            }
        },
    );
    r.case("find.init-twice", "§5.7.7", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        ok!(m.find_init(s, &Template::new()), "C_FindObjectsInit");
        expect_rv(&[CKR_OPERATION_ACTIVE], m.find_init(s, &Template::new()))
    });
    r.case("find.without-init", "§5.7.8", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        expect_rv(
            &[CKR_OPERATION_NOT_INITIALIZED],
            m.find_next(s, 4).err().unwrap_or(CKR_OK),
        )
    });
    r.case("find.final-without-init", "§5.7.9", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        expect_rv(&[CKR_OPERATION_NOT_INITIALIZED], m.find_final(s))
    });
    r.case("find.after-final", "§5.7.9", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        ok!(m.find_init(s, &Template::new()), "C_FindObjectsInit");
        ok!(m.find_final(s), "C_FindObjectsFinal");
        expect_rv(
            &[CKR_OPERATION_NOT_INITIALIZED],
            m.find_next(s, 4).err().unwrap_or(CKR_OK),
        )
    });
    r.case("find.null-count", "§5.7.8", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        ok!(m.find_init(s, &Template::new()), "C_FindObjectsInit");
        let mut h = [0 as CK_OBJECT_HANDLE; 4];
        expect_rv(
            &[CKR_ARGUMENTS_BAD],
            call!(m.f, C_FindObjects, s, h.as_mut_ptr(), 4, nul()),
        )
    });
    r.case(
        "find.null-template-nonzero-count",
        "§5.7.7",
        env,
        |m, e| {
            let s = t!(user(m, e), "open+login");
            expect_rv(
                &[CKR_ARGUMENTS_BAD],
                call!(m.f, C_FindObjectsInit, s, nul(), 2),
            )
        },
    );
    r.case("find.other-session-objects", "§5.7.7", env, |m, e| {
        let a = t!(user(m, e), "open+login");
        let b = t!(m.open(e.slot, false), "C_OpenSession");
        let o = t!(m.create(a, &data("conf-other")), "C_CreateObject");
        let v = t!(
            m.find(b, &Template::new().bytes(CKA_LABEL, b"conf-other")),
            "C_FindObjects"
        );
        check(v == vec![o], || {
            format!("expected the other session's object, got {v:?}")
        })
    });
    r.case("find.invalid-session", "§5.7.7", env, |m, _| {
        expect_rv(
            &[CKR_SESSION_HANDLE_INVALID],
            m.find_init(0x7FFF_FFF0, &Template::new()),
        )
    });
}
