//! HKDF (§5.18.5).

use super::*;

/// HKDF (§5.18.5 C_DeriveKey with CKM_HKDF_DERIVE), RFC 5869 test case 1.
pub(super) fn hkdf(r: &mut Runner, env: &Env) {
    let ids = [
        "mech.HKDF_DERIVE.known-answer",
        "mech.HKDF_DERIVE.param-invalid",
        "mech.HKDF_DERIVE.derived-attributes",
    ];
    if !env.mechs.contains(&CKM_HKDF_DERIVE) {
        for id in ids {
            r.record(
                id,
                "§5.18.5",
                Outcome::Skip("CKM_HKDF_DERIVE not supported (not advertised)".into()),
            );
        }
        return;
    }
    let ikm = vec![0x0bu8; 22];
    let salt = hx("000102030405060708090a0b0c");
    let info = hx("f0f1f2f3f4f5f6f7f8f9");
    let okm =
        hx("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    let tpl = || {
        Template::new()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .flag(CKA_TOKEN, false)
            .flag(CKA_SENSITIVE, false)
            .flag(CKA_EXTRACTABLE, true)
            .ulong(CKA_VALUE_LEN, 42)
    };
    let base = |m: &Module, s| {
        m.create(
            s,
            &Template::new()
                .ulong(CKA_CLASS, CKO_SECRET_KEY)
                .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                .flag(CKA_TOKEN, false)
                .flag(CKA_DERIVE, true)
                .bytes(CKA_VALUE, &ikm),
        )
    };
    r.case(ids[0], "§5.18.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let b = t!(base(m, s), "C_CreateObject(IKM)");
        let k = t!(
            m.derive(
                s,
                &Mech::hkdf(CKM_HKDF_DERIVE, CKM_SHA256, &salt, &info),
                b,
                &tpl()
            ),
            "C_DeriveKey"
        );
        let v = t!(m.get(s, k, CKA_VALUE), "CKA_VALUE");
        check(v == okm, || {
            format!("expected the RFC 5869 test case 1 OKM, got {}", hex(&v))
        })
    });
    r.case(ids[1], "§5.18.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let b = t!(base(m, s), "C_CreateObject(IKM)");
        expect_rv(
            &[CKR_MECHANISM_PARAM_INVALID],
            crate::rv_of(&m.derive(s, &Mech::new(CKM_HKDF_DERIVE), b, &tpl())),
        )
    });
    r.case(ids[2], "§5.18.5", env, |m, e| {
        let s = t!(user(m, e), "open+login");
        let b = t!(base(m, s), "C_CreateObject(IKM)");
        let k = t!(
            m.derive(
                s,
                &Mech::hkdf(CKM_HKDF_DERIVE, CKM_SHA256, &salt, &info),
                b,
                &tpl()
            ),
            "C_DeriveKey"
        );
        let local = t!(m.get_bool(s, k, CKA_LOCAL), "CKA_LOCAL");
        let len = t!(m.get_ulong(s, k, CKA_VALUE_LEN), "CKA_VALUE_LEN");
        check(!local && len == 42, || {
            format!("expected LOCAL=FALSE and CKA_VALUE_LEN 42, got {local} {len}")
        })
    });
}
