//! Triple-DES (the "Triple-DES" mechanisms of the current-mechanisms
//! specification) in the catalogue. SoftKMS offers it only with
//! `legacy_mechanisms = true`; without it the cases are skipped (not
//! advertised). Vectors: NIST SP 800-67 Rev. 2 Appendix B and NIST's TDES_CBC
//! example (the SP 800-38A plaintext under the SP 800-67 keys).

use super::*;

/// The three keys of the SP 800-67 example (odd parity in every byte).
pub(super) const SP800_67_KEY: &str = "0123456789abcdef23456789abcdef01456789abcdef0123";
const IV8: [u8; 8] = [0xf6, 0x9f, 0x24, 0x45, 0xdf, 0x4f, 0x9b, 0x17];

/// This family's rows of the catalogue.
pub(super) fn specs(v: &mut Vec<Spec>) {
    v.push(Spec {
        name: "DES3_ECB",
        ty: CKM_DES3_ECB,
        fam: Fam::Cipher,
        mech: m!(Mech::new(CKM_DES3_ECB)),
        bad_param: None,
        multipart: true,
        deterministic: true,
        input_len: 64,
        kat: Some(Kat {
            key: Some(hx(SP800_67_KEY)),
            mech: m!(Mech::new(CKM_DES3_ECB)),
            op: Op::Encrypt,
            // "The qufck brown fox jump" (sic, SP 800-67).
            input: hx("54686520717566636b2062726f776e20666f78206a756d70"),
            output: hx("a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900"),
        }),
    });
    v.push(Spec {
        name: "DES3_CBC",
        ty: CKM_DES3_CBC,
        fam: Fam::Cipher,
        mech: m!(Mech::with_bytes(CKM_DES3_CBC, &IV8)),
        bad_param: Some(m!(Mech::with_bytes(CKM_DES3_CBC, &IV8[..4]))),
        multipart: true,
        deterministic: true,
        input_len: 64,
        kat: Some(Kat {
            key: Some(hx(SP800_67_KEY)),
            mech: m!(Mech::with_bytes(CKM_DES3_CBC, &IV8)),
            op: Op::Encrypt,
            input: hx("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"),
            output: hx("2079c3d53aa763e193b79e2569ab5262516570481f25b50f73c0bda85c8e0da7"),
        }),
    });
    v.push(Spec {
        name: "DES3_CBC_PAD",
        ty: CKM_DES3_CBC_PAD,
        fam: Fam::Cipher,
        mech: m!(Mech::with_bytes(CKM_DES3_CBC_PAD, &IV8)),
        bad_param: Some(m!(Mech::with_bytes(CKM_DES3_CBC_PAD, &IV8[..4]))),
        multipart: true,
        deterministic: true,
        input_len: 61,
        kat: None,
    });
}
