//! RSA (§5.13/§5.15, §5.8/§5.10) and ECDSA in the catalogue (one row of each
//! per hash), and the PSS parameters.

use super::*;

/// This family's rows of the catalogue.
pub(super) fn specs(v: &mut Vec<Spec>) {
    // --- RSA (§5.13/§5.15, §5.8/§5.10), vectors made by OpenSSL with the key in vectors.rs
    v.push(Spec {
        name: "RSA_PKCS",
        ty: CKM_RSA_PKCS,
        fam: Fam::RsaSign,
        mech: m!(Mech::new(CKM_RSA_PKCS)),
        bad_param: None,
        multipart: false,
        deterministic: true,
        input_len: 51,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::new(CKM_RSA_PKCS)),
            op: Op::Sign,
            input: [hx(DIGEST_INFO_SHA256), hx(ABC_SHA256)].concat(),
            output: hx(v::RSA_PKCS1_SHA256),
        }),
    });
    v.push(Spec {
        name: "RSA_PKCS(encrypt)",
        ty: CKM_RSA_PKCS,
        fam: Fam::RsaEnc,
        mech: m!(Mech::new(CKM_RSA_PKCS)),
        bad_param: None,
        multipart: false,
        deterministic: false,
        input_len: 32,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::new(CKM_RSA_PKCS)),
            op: Op::Decrypt,
            input: hx(v::RSA_PKCS1_CT),
            output: b"abc".to_vec(),
        }),
    });
    v.push(Spec {
        name: "RSA_PKCS_OAEP",
        ty: CKM_RSA_PKCS_OAEP,
        fam: Fam::RsaEnc,
        mech: m!(Mech::oaep(CKM_SHA_1, CKG_MGF1_SHA1)),
        bad_param: Some(m!(Mech::oaep(CKM_SHA_1, 0x99))),
        multipart: false,
        deterministic: false,
        input_len: 32,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::oaep(CKM_SHA_1, CKG_MGF1_SHA1)),
            op: Op::Decrypt,
            input: hx(v::RSA_OAEP_SHA1_CT),
            output: b"abc".to_vec(),
        }),
    });
    v.push(Spec {
        name: "RSA_PKCS_PSS",
        ty: CKM_RSA_PKCS_PSS,
        fam: Fam::RsaSign,
        mech: m!(Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32)),
        bad_param: Some(m!(Mech::new(CKM_RSA_PKCS_PSS))),
        multipart: false,
        deterministic: false,
        input_len: 32,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32)),
            op: Op::Verify,
            input: hx(ABC_SHA256),
            output: hx(v::RSA_PSS_SHA256),
        }),
    });
    let hashed: [(&str, CK_MECHANISM_TYPE, &str, &str, &str); 5] = [
        (
            "SHA1",
            CKM_SHA1_RSA_PKCS,
            v::RSA_PKCS1_SHA1,
            v::RSA_PSS_SHA1,
            v::ECDSA_SHA1,
        ),
        (
            "SHA224",
            CKM_SHA224_RSA_PKCS,
            v::RSA_PKCS1_SHA224,
            v::RSA_PSS_SHA224,
            v::ECDSA_SHA224,
        ),
        (
            "SHA256",
            CKM_SHA256_RSA_PKCS,
            v::RSA_PKCS1_SHA256,
            v::RSA_PSS_SHA256,
            v::ECDSA_SHA256,
        ),
        (
            "SHA384",
            CKM_SHA384_RSA_PKCS,
            v::RSA_PKCS1_SHA384,
            v::RSA_PSS_SHA384,
            v::ECDSA_SHA384,
        ),
        (
            "SHA512",
            CKM_SHA512_RSA_PKCS,
            v::RSA_PKCS1_SHA512,
            v::RSA_PSS_SHA512,
            v::ECDSA_SHA512,
        ),
    ];
    for (h, pkcs, pkcs_sig, pss_sig, ecdsa_sig) in hashed {
        let (pss, ecdsa) = match pkcs {
            CKM_SHA1_RSA_PKCS => (CKM_SHA1_RSA_PKCS_PSS, CKM_ECDSA_SHA1),
            CKM_SHA224_RSA_PKCS => (CKM_SHA224_RSA_PKCS_PSS, CKM_ECDSA_SHA224),
            CKM_SHA256_RSA_PKCS => (CKM_SHA256_RSA_PKCS_PSS, CKM_ECDSA_SHA256),
            CKM_SHA384_RSA_PKCS => (CKM_SHA384_RSA_PKCS_PSS, CKM_ECDSA_SHA384),
            _ => (CKM_SHA512_RSA_PKCS_PSS, CKM_ECDSA_SHA512),
        };
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        v.push(Spec {
            name: leak(format!("{h}_RSA_PKCS")),
            ty: pkcs,
            fam: Fam::RsaSign,
            mech: simple(pkcs),
            bad_param: None,
            multipart: true,
            deterministic: true,
            input_len: 100,
            kat: Some(Kat {
                key: None,
                mech: simple(pkcs),
                op: Op::Sign,
                input: b"abc".to_vec(),
                output: hx(pkcs_sig),
            }),
        });
        v.push(Spec {
            name: leak(format!("{h}_RSA_PKCS_PSS")),
            ty: pss,
            fam: Fam::RsaSign,
            mech: pss_mech(pss),
            bad_param: Some(pss_wrong_hash(pss)),
            multipart: true,
            deterministic: false,
            input_len: 100,
            kat: Some(Kat {
                key: None,
                mech: pss_mech(pss),
                op: Op::Verify,
                input: b"abc".to_vec(),
                output: hx(pss_sig),
            }),
        });
        v.push(Spec {
            name: leak(format!("ECDSA_{h}")),
            ty: ecdsa,
            fam: Fam::Ecdsa,
            mech: simple(ecdsa),
            bad_param: None,
            multipart: true,
            deterministic: false,
            input_len: 100,
            kat: Some(Kat {
                key: None,
                mech: simple(ecdsa),
                op: Op::Verify,
                input: b"abc".to_vec(),
                output: hx(ecdsa_sig),
            }),
        });
    }
    v.push(Spec {
        name: "ECDSA",
        ty: CKM_ECDSA,
        fam: Fam::Ecdsa,
        mech: m!(Mech::new(CKM_ECDSA)),
        bad_param: None,
        multipart: false,
        deterministic: false,
        input_len: 32,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::new(CKM_ECDSA)),
            op: Op::Verify,
            input: hx(ABC_SHA256),
            output: hx(v::ECDSA_SHA256),
        }),
    });
}

fn pss_mech(ty: CK_MECHANISM_TYPE) -> fn() -> Mech {
    match ty {
        CKM_SHA1_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA1_RSA_PKCS_PSS,
            CKM_SHA_1,
            CKG_MGF1_SHA1,
            20
        )),
        CKM_SHA224_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA224_RSA_PKCS_PSS,
            CKM_SHA224,
            CKG_MGF1_SHA224,
            28
        )),
        CKM_SHA256_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            32
        )),
        CKM_SHA384_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA384_RSA_PKCS_PSS,
            CKM_SHA384,
            CKG_MGF1_SHA384,
            48
        )),
        _ => m!(Mech::pss(
            CKM_SHA512_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            64
        )),
    }
}

/// A PSS parameter whose hashAlg is not the mechanism's hash (§2.1.15 of the mechanisms spec).
fn pss_wrong_hash(ty: CK_MECHANISM_TYPE) -> fn() -> Mech {
    match ty {
        CKM_SHA1_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA1_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            20
        )),
        CKM_SHA224_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA224_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            28
        )),
        CKM_SHA256_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            32
        )),
        CKM_SHA384_RSA_PKCS_PSS => m!(Mech::pss(
            CKM_SHA384_RSA_PKCS_PSS,
            CKM_SHA512,
            CKG_MGF1_SHA512,
            48
        )),
        _ => m!(Mech::pss(
            CKM_SHA512_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            64
        )),
    }
}
