//! Digests (§5.12) and HMAC (§5.13) in the catalogue, and the `*_GENERAL`
//! mechanisms' parameters.

use super::*;

/// This family's rows of the catalogue.
pub(super) fn specs(v: &mut Vec<Spec>) {
    // --- digests (§5.12), vectors: FIPS 180-4 / FIPS 202 "abc"
    let digests: [(&str, CK_MECHANISM_TYPE, &str); 12] = [
        ("MD5", CKM_MD5, "900150983cd24fb0d6963f7d28e17f72"),
        ("SHA_1", CKM_SHA_1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("SHA224", CKM_SHA224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
        ("SHA256", CKM_SHA256, ABC_SHA256),
        ("SHA384", CKM_SHA384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
        ("SHA512", CKM_SHA512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
        ("SHA512_224", CKM_SHA512_224, "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa"),
        ("SHA512_256", CKM_SHA512_256, "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"),
        ("SHA3_224", CKM_SHA3_224, "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf"),
        ("SHA3_256", CKM_SHA3_256, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"),
        ("SHA3_384", CKM_SHA3_384, "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25"),
        ("SHA3_512", CKM_SHA3_512, "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0"),
    ];
    for (name, ty, out) in digests {
        v.push(Spec {
            name,
            ty,
            fam: Fam::Digest,
            mech: digest_mech(ty),
            bad_param: None,
            multipart: true,
            deterministic: true,
            input_len: 100,
            kat: Some(Kat {
                key: None,
                mech: digest_mech(ty),
                op: Op::Digest,
                input: b"abc".to_vec(),
                output: hx(out),
            }),
        });
    }
    // --- HMAC (§5.13), vectors: RFC 2202 / RFC 4231 test case 6 (a key longer than
    // the block, so that no module's ulMinKeySize refuses it); SHA-512/224, SHA-512/256
    // and SHA-3 (3.0 current mechanisms §2.20-2.28) with the same key and data, values
    // computed with OpenSSL 3 (`openssl dgst -sha3-224 -mac HMAC`) and Python's hmac.
    const HMAC_DATA: &[u8] = b"Test Using Larger Than Block-Size Key - Hash Key First";
    let hmacs: [(&str, CK_MECHANISM_TYPE, CK_MECHANISM_TYPE, usize, &str); 11] = [
        ("SHA_1_HMAC", CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, 80, "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        ("SHA224_HMAC", CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL, 131, "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e"),
        ("SHA256_HMAC", CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL, 131, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ("SHA384_HMAC", CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, 131, "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"),
        ("SHA512_HMAC", CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL, 131, "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"),
        ("SHA512_224_HMAC", CKM_SHA512_224_HMAC, CKM_SHA512_224_HMAC_GENERAL, 131, "29bef8ce88b54d4226c3c7718ea9e32ace2429026f089e38cea9aeda"),
        ("SHA512_256_HMAC", CKM_SHA512_256_HMAC, CKM_SHA512_256_HMAC_GENERAL, 131, "87123c45f7c537a404f8f47cdbedda1fc9bec60eeb971982ce7ef10e774e6539"),
        ("SHA3_224_HMAC", CKM_SHA3_224_HMAC, CKM_SHA3_224_HMAC_GENERAL, 131, "b4a1f04c00287a9b7f6075b313d279b833bc8f75124352d05fb9995f"),
        ("SHA3_256_HMAC", CKM_SHA3_256_HMAC, CKM_SHA3_256_HMAC_GENERAL, 131, "ed73a374b96c005235f948032f09674a58c0ce555cfc1f223b02356560312c3b"),
        ("SHA3_384_HMAC", CKM_SHA3_384_HMAC, CKM_SHA3_384_HMAC_GENERAL, 131, "0fc19513bf6bd878037016706a0e57bc528139836b9a42c3d419e498e0e1fb9616fd669138d33a1105e07c72b6953bcc"),
        ("SHA3_512_HMAC", CKM_SHA3_512_HMAC, CKM_SHA3_512_HMAC_GENERAL, 131, "00f751a9e50695b090ed6911a4b65524951cdc15a73a5d58bb55215ea2cd839ac79d2b44a39bafab27e83fde9e11f6340b11d991b1b91bf2eee7fc872426c3a4"),
    ];
    for (name, ty, general, key_len, out) in hmacs {
        let key = Some(vec![0xaa; key_len]);
        v.push(Spec {
            name,
            ty,
            fam: Fam::Mac,
            mech: digest_mech(ty),
            bad_param: None,
            multipart: true,
            deterministic: true,
            input_len: 100,
            kat: Some(Kat {
                key: key.clone(),
                mech: digest_mech(ty),
                op: Op::Sign,
                input: HMAC_DATA.to_vec(),
                output: hx(out),
            }),
        });
        let gname: &'static str = Box::leak(format!("{name}_GENERAL").into_boxed_str());
        v.push(Spec {
            name: gname,
            ty: general,
            fam: Fam::Mac,
            mech: general_mech(general, 12),
            bad_param: Some(general_mech(general, 1000)),
            multipart: true,
            deterministic: true,
            input_len: 100,
            kat: Some(Kat {
                key,
                mech: general_mech(general, 12),
                op: Op::Sign,
                input: HMAC_DATA.to_vec(),
                output: hx(out)[..12].to_vec(),
            }),
        });
    }
}

pub(super) fn general_mech(ty: CK_MECHANISM_TYPE, len: CK_ULONG) -> fn() -> Mech {
    macro_rules! pick {
        ($($c:ident),*) => {
            match (ty, len) {
                $(($c, 12) => m!(Mech::with_ulong($c, 12)),
                  ($c, 8) => m!(Mech::with_ulong($c, 8)),
                  ($c, 17) => m!(Mech::with_ulong($c, 17)),
                  ($c, _) => m!(Mech::with_ulong($c, 1000)),)*
                _ => m!(Mech::new(CK_UNAVAILABLE_INFORMATION)),
            }
        };
    }
    pick!(
        CKM_SHA_1_HMAC_GENERAL,
        CKM_SHA224_HMAC_GENERAL,
        CKM_SHA256_HMAC_GENERAL,
        CKM_SHA384_HMAC_GENERAL,
        CKM_SHA512_HMAC_GENERAL,
        CKM_SHA512_224_HMAC_GENERAL,
        CKM_SHA512_256_HMAC_GENERAL,
        CKM_SHA3_224_HMAC_GENERAL,
        CKM_SHA3_256_HMAC_GENERAL,
        CKM_SHA3_384_HMAC_GENERAL,
        CKM_SHA3_512_HMAC_GENERAL,
        CKM_AES_CMAC_GENERAL
    )
}
