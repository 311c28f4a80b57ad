//! C_FindObjects* (§5.7.7–§5.7.9): finding in batches.

use super::*;

pub(super) fn find(r: &mut Runner, env: &Env) {
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
