//! AES (§5.8/§5.10, CMAC §5.13) in the catalogue.

use super::*;

/// This family's rows of the catalogue.
pub(super) fn specs(v: &mut Vec<Spec>) {
    // --- AES (§5.8/§5.10), vectors: NIST SP 800-38A, RFC 4493, GCM spec test case 2
    v.push(Spec {
        name: "AES_ECB",
        ty: CKM_AES_ECB,
        fam: Fam::Cipher,
        mech: m!(Mech::new(CKM_AES_ECB)),
        bad_param: None,
        multipart: true,
        deterministic: true,
        input_len: 64,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: m!(Mech::new(CKM_AES_ECB)),
            op: Op::Encrypt,
            input: hx(SP800_38A_PT),
            output: hx("3ad77bb40d7a3660a89ecaf32466ef97"),
        }),
    });
    v.push(Spec {
        name: "AES_CBC",
        ty: CKM_AES_CBC,
        fam: Fam::Cipher,
        mech: m!(Mech::with_bytes(CKM_AES_CBC, &IV16)),
        bad_param: Some(m!(Mech::with_bytes(CKM_AES_CBC, &IV16[..8]))),
        multipart: true,
        deterministic: true,
        input_len: 64,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: m!(Mech::with_bytes(CKM_AES_CBC, &IV16)),
            op: Op::Encrypt,
            input: hx(SP800_38A_PT),
            output: hx("7649abac8119b246cee98e9b12e9197d"),
        }),
    });
    v.push(Spec {
        name: "AES_CBC_PAD",
        ty: CKM_AES_CBC_PAD,
        fam: Fam::Cipher,
        mech: m!(Mech::with_bytes(CKM_AES_CBC_PAD, &IV16)),
        bad_param: Some(m!(Mech::with_bytes(CKM_AES_CBC_PAD, &IV16[..8]))),
        multipart: true,
        deterministic: true,
        input_len: 61,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: m!(Mech::with_bytes(CKM_AES_CBC_PAD, &IV16)),
            op: Op::Encrypt,
            input: hx(SP800_38A_PT),
            // The SP 800-38A block, then a full block of PKCS#7 padding (0x10 * 16).
            output: hx("7649abac8119b246cee98e9b12e9197d8964e0b149c10b7b682e6e39aaeb731c"),
        }),
    });
    v.push(Spec {
        name: "AES_CTR",
        ty: CKM_AES_CTR,
        fam: Fam::Cipher,
        mech: m!(Mech::ctr(
            128,
            [
                0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd,
                0xfe, 0xff
            ]
        )),
        bad_param: Some(m!(Mech::ctr(129, [0; 16]))),
        multipart: true,
        deterministic: true,
        input_len: 61,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: m!(Mech::ctr(
                128,
                [
                    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc,
                    0xfd, 0xfe, 0xff
                ]
            )),
            op: Op::Encrypt,
            input: hx(SP800_38A_PT),
            output: hx("874d6191b620e3261bef6864990db6ce"),
        }),
    });
    v.push(Spec {
        name: "AES_GCM",
        ty: CKM_AES_GCM,
        fam: Fam::Cipher,
        mech: m!(Mech::gcm(&[7u8; 12], b"header", 128)),
        bad_param: Some(m!(Mech::gcm(&[7u8; 12], b"", 200))),
        multipart: true,
        deterministic: true,
        input_len: 61,
        kat: Some(Kat {
            key: Some(vec![0u8; 16]),
            mech: m!(Mech::gcm(&[0u8; 12], b"", 128)),
            op: Op::Encrypt,
            input: vec![0u8; 16],
            output: hx("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"),
        }),
    });
    v.push(Spec {
        name: "AES_CMAC",
        ty: CKM_AES_CMAC,
        fam: Fam::Mac,
        mech: m!(Mech::new(CKM_AES_CMAC)),
        bad_param: None,
        multipart: true,
        deterministic: true,
        input_len: 100,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: m!(Mech::new(CKM_AES_CMAC)),
            op: Op::Sign,
            input: hx(SP800_38A_PT),
            output: hx("070a16b46b4d4144f79bdd9dd04a287c"),
        }),
    });
    v.push(Spec {
        name: "AES_CMAC_GENERAL",
        ty: CKM_AES_CMAC_GENERAL,
        fam: Fam::Mac,
        mech: general_mech(CKM_AES_CMAC_GENERAL, 8),
        bad_param: Some(general_mech(CKM_AES_CMAC_GENERAL, 17)),
        multipart: true,
        deterministic: true,
        input_len: 100,
        kat: Some(Kat {
            key: Some(hx(SP800_38A_KEY)),
            mech: general_mech(CKM_AES_CMAC_GENERAL, 8),
            op: Op::Sign,
            input: hx(SP800_38A_PT),
            output: hx("070a16b46b4d4144"),
        }),
    });
}
