//! Unit tests of the RSA mechanisms: generation, signatures, encryption,
//! wrapping, PKCS#8.

use super::aes_wrap::{aes_unwrap, aes_wrap};
use super::cipher::{decrypt_init, encrypt_init, oaep, unwrap, wrap};
use super::keygen::generate_key_pair;
use super::sign::{sign_init, verify_init};
use super::*;
use crate::crypto::rsa::HashAlg;
use crate::gate::Granted;
use crate::mechanism::keys::hash_from_mech;
use crate::mechanism::keys::test_util::*;
use crate::mechanism::keys::{check_key_attributes, private_key_from_pkcs8, private_key_to_pkcs8};
use crate::mechanism::{Mechanism, Param};
use crate::object::attr::Attribute;
use crate::outbuf::OutBuf;
use once_cell::sync::Lazy;

struct Pair {
    public: Arc<Object>,
    private: Arc<Object>,
}

/// One 2048-bit key for the whole module (generation is slow in debug builds).
static KEY: Lazy<Pair> = Lazy::new(|| {
    let m = Mechanism {
        mech: CKM_RSA_PKCS_KEY_PAIR_GEN,
        param: Param::None,
    };
    let t = vec![Attribute::ulong(CKA_MODULUS_BITS, 2048)];
    let (public, private) = generate_key_pair(&m, &t, &vec![]).unwrap();
    Pair {
        public: obj(&public),
        private: obj(&private),
    }
});

fn mech(mech: CK_MECHANISM_TYPE, param: Param) -> Mechanism {
    Mechanism { mech, param }
}

fn pss(hash: CK_MECHANISM_TYPE, mgf: CK_ULONG, salt_len: CK_ULONG) -> Param {
    Param::Pss {
        hash,
        mgf,
        salt_len,
    }
}

fn sign(m: &Mechanism, data: &[u8]) -> Result<Vec<u8>> {
    let mut op = sign_init(m, &Granted::for_tests(&KEY.private))?;
    let mut buf = vec![0u8; 512];
    let mut out = OutBuf::new(Some(&mut buf));
    op.one_shot(data, &mut out)?;
    let n = out.len();
    buf.truncate(n);
    Ok(buf)
}

fn verify(m: &Mechanism, data: &[u8], sig: &[u8]) -> Result<()> {
    verify_init(m, &Granted::for_tests(&KEY.public))?.one_shot(data, sig)
}

const HASHES: [(
    CK_MECHANISM_TYPE,
    CK_MECHANISM_TYPE,
    CK_MECHANISM_TYPE,
    CK_ULONG,
); 5] = [
    (
        CKM_SHA1_RSA_PKCS,
        CKM_SHA1_RSA_PKCS_PSS,
        CKM_SHA_1,
        CKG_MGF1_SHA1,
    ),
    (
        CKM_SHA224_RSA_PKCS,
        CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA224,
        CKG_MGF1_SHA224,
    ),
    (
        CKM_SHA256_RSA_PKCS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA256,
        CKG_MGF1_SHA256,
    ),
    (
        CKM_SHA384_RSA_PKCS,
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA384,
        CKG_MGF1_SHA384,
    ),
    (
        CKM_SHA512_RSA_PKCS,
        CKM_SHA512_RSA_PKCS_PSS,
        CKM_SHA512,
        CKG_MGF1_SHA512,
    ),
];

#[test]
fn generated_key_is_consistent() {
    check_key_attributes(KEY.private.attrs()).unwrap();
    check_key_attributes(KEY.public.attrs()).unwrap();
    assert_eq!(KEY.public.get(CKA_MODULUS).unwrap().len(), 256);
    assert_eq!(KEY.public.get(CKA_PUBLIC_EXPONENT).unwrap(), &[1, 0, 1]);
    for ty in [
        CKA_PRIME_1,
        CKA_PRIME_2,
        CKA_EXPONENT_1,
        CKA_EXPONENT_2,
        CKA_COEFFICIENT,
    ] {
        assert_ne!(KEY.private.get(ty).unwrap()[0], 0, "no leading zero");
    }
}

#[test]
fn digest_info_prefixes_match_the_rsa_crate() {
    use rsa::Pkcs1v15Sign;
    let want = [
        Pkcs1v15Sign::new::<sha1::Sha1>().prefix,
        Pkcs1v15Sign::new::<sha2::Sha224>().prefix,
        Pkcs1v15Sign::new::<sha2::Sha256>().prefix,
        Pkcs1v15Sign::new::<sha2::Sha384>().prefix,
        Pkcs1v15Sign::new::<sha2::Sha512>().prefix,
    ];
    let got = [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ];
    for (w, g) in want.iter().zip(got) {
        assert_eq!(&w[..], g.digest_info_prefix());
    }
}

#[test]
fn wycheproof_pkcs1_sha256_verify() {
    let v = vectors("asym-wycheproof-rsa-pkcs1-2048-sha256.json");
    let key = obj(&[
        Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_RSA),
        Attribute::new(CKA_MODULUS, hex(v["modulus"].as_str().unwrap())),
        Attribute::new(
            CKA_PUBLIC_EXPONENT,
            hex(v["publicExponent"].as_str().unwrap()),
        ),
    ]);
    let m = mech(CKM_SHA256_RSA_PKCS, Param::None);
    let mut checked = 0;
    for t in v["tests"].as_array().unwrap() {
        let msg = hex(t["msg"].as_str().unwrap());
        let sig = hex(t["sig"].as_str().unwrap());
        let got = verify_init(&m, &Granted::for_tests(&key))
            .unwrap()
            .one_shot(&msg, &sig);
        match t["result"].as_str().unwrap() {
            "valid" => assert_eq!(got, Ok(()), "tcId {}", t["tcId"]),
            "invalid" => assert!(got.is_err(), "tcId {}", t["tcId"]),
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 10);
}

#[test]
fn raw_pkcs1_sign_equals_hash_and_sign() {
    let data = b"message";
    let mut info = HashAlg::Sha256.digest_info_prefix().to_vec();
    info.extend_from_slice(&HashAlg::Sha256.digest(&[data]));
    let raw = sign(&mech(CKM_RSA_PKCS, Param::None), &info).unwrap();
    let hashed = sign(&mech(CKM_SHA256_RSA_PKCS, Param::None), data).unwrap();
    assert_eq!(raw, hashed, "PKCS#1 v1.5 is deterministic");
    verify(&mech(CKM_RSA_PKCS, Param::None), &info, &raw).unwrap();
    assert_eq!(
        verify(&mech(CKM_RSA_PKCS, Param::None), b"other", &raw),
        Err(Error::SignatureInvalid)
    );
    assert_eq!(
        verify(&mech(CKM_RSA_PKCS, Param::None), &info, &raw[1..]),
        Err(Error::SignatureLenRange)
    );
    assert_eq!(
        sign(&mech(CKM_RSA_PKCS, Param::None), &[0; 246]),
        Err(Error::DataLenRange)
    );
    assert_eq!(
        sign(&mech(CKM_RSA_PKCS, Param::None), &[0; 245]).map(|s| s.len()),
        Ok(256)
    );
}

#[test]
fn every_signature_mechanism_round_trips_and_multipart_matches() {
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    for (pkcs, pss_mech, hash, mgf) in HASHES {
        let h = hash_from_mech(hash).unwrap();
        for m in [mech(pkcs, Param::None), mech(pss_mech, pss(hash, mgf, 20))] {
            let single = sign(&m, &data).unwrap();
            verify(&m, &data, &single).unwrap();
            for chunk in [1usize, 15, 17, 4097] {
                let mut op = sign_init(&m, &Granted::for_tests(&KEY.private)).unwrap();
                for c in data.chunks(chunk) {
                    op.update(c).unwrap();
                }
                let mut buf = vec![0u8; 256];
                op.finish(&mut OutBuf::new(Some(&mut buf))).unwrap();
                if m.mech == pkcs {
                    assert_eq!(buf, single, "chunk {chunk}");
                }
                let mut v = verify_init(&m, &Granted::for_tests(&KEY.public)).unwrap();
                for c in data.chunks(chunk) {
                    v.update(c).unwrap();
                }
                v.finish(&buf).unwrap();
            }
            let mut bad = single.clone();
            bad[10] ^= 1;
            assert_eq!(verify(&m, &data, &bad), Err(Error::SignatureInvalid));
        }
        // Raw PSS over the hash, salt lengths 0 and hLen.
        for salt in [0, h.len() as CK_ULONG] {
            let m = mech(CKM_RSA_PKCS_PSS, pss(hash, mgf, salt));
            let digest = h.digest(&[&data]);
            let sig = sign(&m, &digest).unwrap();
            verify(&m, &digest, &sig).unwrap();
            // the hash-and-sign form verifies the same signature
            verify(&mech(pss_mech, pss(hash, mgf, salt)), &data, &sig).unwrap();
            assert_eq!(sign(&m, &digest[1..]), Err(Error::DataLenRange));
        }
    }
}

#[test]
fn pss_takes_the_largest_salt_rfc_8017_allows() {
    // 2048-bit modulus: emLen = ⌈2047/8⌉ = 256, so sLen ≤ 256 − 32 − 2 = 222
    // (what OpenSSL asks for with rsa_pss_saltlen:max, the default when signing).
    let digest = HashAlg::Sha256.digest(&[b"max salt"]);
    let m = mech(CKM_RSA_PKCS_PSS, pss(CKM_SHA256, CKG_MGF1_SHA256, 222));
    let sig = sign(&m, &digest).unwrap();
    verify(&m, &digest, &sig).unwrap();
    let over = mech(CKM_RSA_PKCS_PSS, pss(CKM_SHA256, CKG_MGF1_SHA256, 223));
    assert_eq!(
        sign_init(&over, &Granted::for_tests(&KEY.private)).err(),
        Some(Error::MechanismParamInvalid)
    );
}

#[test]
fn pss_parameters_are_checked() {
    let bad = [
        mech(CKM_SHA256_RSA_PKCS_PSS, pss(CKM_SHA_1, CKG_MGF1_SHA1, 20)),
        mech(CKM_SHA256_RSA_PKCS_PSS, pss(CKM_SHA256, CKG_MGF1_SHA1, 32)),
        mech(CKM_RSA_PKCS_PSS, pss(CKM_MD5, CKG_MGF1_SHA1, 0)),
        mech(CKM_RSA_PKCS_PSS, pss(CKM_SHA512, CKG_MGF1_SHA512, 200)),
        mech(CKM_RSA_PKCS_PSS, Param::None),
    ];
    for m in bad {
        assert_eq!(
            sign_init(&m, &Granted::for_tests(&KEY.private)).err(),
            Some(Error::MechanismParamInvalid),
            "{m:?}"
        );
    }
}

#[test]
fn size_query_and_short_buffer_keep_the_state() {
    let m = mech(CKM_SHA256_RSA_PKCS, Param::None);
    let mut op = sign_init(&m, &Granted::for_tests(&KEY.private)).unwrap();
    op.update(b"abc").unwrap();
    let mut q = OutBuf::query();
    op.finish(&mut q).unwrap();
    assert_eq!(q.len(), 256);
    let mut small = [0u8; 10];
    let mut o = OutBuf::new(Some(&mut small));
    assert_eq!(op.finish(&mut o), Err(Error::BufferTooSmall));
    assert_eq!(o.len(), 256);
    let mut buf = [0u8; 256];
    op.finish(&mut OutBuf::new(Some(&mut buf))).unwrap();
    assert_eq!(buf.to_vec(), sign(&m, b"abc").unwrap());

    let mut op = sign_init(
        &mech(CKM_RSA_PKCS, Param::None),
        &Granted::for_tests(&KEY.private),
    )
    .unwrap();
    let mut q = OutBuf::query();
    op.one_shot(b"x", &mut q).unwrap();
    assert_eq!(q.len(), 256);
    assert_eq!(op.update(b"x"), Err(Error::FunctionNotSupported));
}

fn oaep_param(hash: CK_MECHANISM_TYPE, mgf: CK_ULONG, label: &[u8]) -> Param {
    Param::Oaep {
        hash,
        mgf,
        label: label.to_vec(),
    }
}

fn encrypt(m: &Mechanism, data: &[u8]) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let mut out = OutBuf::new(Some(&mut buf));
    encrypt_init(m, &Granted::for_tests(&KEY.public))?.one_shot(data, &mut out)?;
    Ok(buf)
}

fn decrypt(m: &Mechanism, data: &[u8]) -> Result<Vec<u8>> {
    let mut op = decrypt_init(m, &Granted::for_tests(&KEY.private))?;
    let mut q = OutBuf::query();
    op.one_shot(data, &mut q)?;
    let mut buf = vec![0u8; q.len()];
    let mut out = OutBuf::new(Some(&mut buf));
    op.one_shot(data, &mut out)?;
    let n = out.len();
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn encrypt_decrypt_round_trips() {
    let ms = [
        mech(CKM_RSA_PKCS, Param::None),
        mech(CKM_RSA_PKCS_OAEP, oaep_param(CKM_SHA_1, CKG_MGF1_SHA1, b"")),
        mech(
            CKM_RSA_PKCS_OAEP,
            oaep_param(CKM_SHA256, CKG_MGF1_SHA1, b"label"),
        ),
        mech(
            CKM_RSA_PKCS_OAEP,
            oaep_param(CKM_SHA512, CKG_MGF1_SHA384, b""),
        ),
    ];
    for m in &ms {
        let max = if m.mech == CKM_RSA_PKCS {
            245
        } else {
            256 - 2 - 2 * oaep(&m.param).unwrap().0.len()
        };
        for len in [0, 1, max] {
            let pt: Vec<u8> = (0..len).map(|i| u8::try_from(i % 256).unwrap()).collect();
            let ct = encrypt(m, &pt).unwrap();
            assert_eq!(decrypt(m, &ct).unwrap(), pt, "{m:?} {len}");
        }
        assert_eq!(encrypt(m, &vec![0; max + 1]), Err(Error::DataLenRange));
        assert_eq!(decrypt(m, &[1; 255]), Err(Error::EncryptedDataLenRange));
    }
    // OAEP: a wrong label or a flipped byte fails
    let ct = encrypt(&ms[2], b"secret").unwrap();
    let other = mech(
        CKM_RSA_PKCS_OAEP,
        oaep_param(CKM_SHA256, CKG_MGF1_SHA1, b"label2"),
    );
    assert_eq!(decrypt(&other, &ct), Err(Error::EncryptedDataInvalid));
    let mut bad = ct.clone();
    bad[100] ^= 1;
    assert_eq!(decrypt(&ms[2], &bad), Err(Error::EncryptedDataInvalid));
    let bad_param = mech(CKM_RSA_PKCS_OAEP, oaep_param(CKM_SHA256, 0x99, b""));
    assert_eq!(
        encrypt_init(&bad_param, &Granted::for_tests(&KEY.public)).err(),
        Some(Error::MechanismParamInvalid)
    );
    // wrong key class
    assert_eq!(
        encrypt_init(&ms[0], &Granted::for_tests(&KEY.private)).err(),
        Some(Error::KeyTypeInconsistent)
    );
}

#[test]
fn wrap_unwrap_round_trips() {
    let secret = [7u8; 32];
    let ms = [
        mech(CKM_RSA_PKCS, Param::None),
        mech(
            CKM_RSA_PKCS_OAEP,
            oaep_param(CKM_SHA256, CKG_MGF1_SHA256, b""),
        ),
    ];
    for m in &ms {
        let w = wrap(m, &Granted::for_tests(&KEY.public), &secret).unwrap();
        assert_eq!(
            unwrap(m, &Granted::for_tests(&KEY.private), &w)
                .unwrap()
                .as_slice(),
            &secret
        );
        assert_eq!(
            unwrap(m, &Granted::for_tests(&KEY.private), &w[1..]).err(),
            Some(Error::WrappedKeyLenRange)
        );
        assert_eq!(
            wrap(m, &Granted::for_tests(&KEY.private), &secret).err(),
            Some(Error::WrappingKeyTypeInconsistent)
        );
    }
    // RSA-AES key wrap of a whole private key (PKCS#8), every AES size.
    let pkcs8 = private_key_to_pkcs8(&KEY.private).unwrap();
    for bits in [128, 192, 256] {
        let m = mech(
            CKM_RSA_AES_KEY_WRAP,
            Param::RsaAesKeyWrap {
                aes_key_bits: bits,
                hash: CKM_SHA256,
                mgf: CKG_MGF1_SHA256,
                label: Vec::new(),
            },
        );
        let w = aes_wrap(&m, &Granted::for_tests(&KEY.public), &pkcs8).unwrap();
        assert_eq!(w.len(), 256 + pkcs8.len().div_ceil(8) * 8 + 8);
        let back = aes_unwrap(&m, &Granted::for_tests(&KEY.private), &w).unwrap();
        assert_eq!(back.as_slice(), pkcs8.as_slice());
        let mut bad = w.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            aes_unwrap(&m, &Granted::for_tests(&KEY.private), &bad).err(),
            Some(Error::WrappedKeyInvalid)
        );
        assert_eq!(
            aes_unwrap(&m, &Granted::for_tests(&KEY.private), &w[..200]).err(),
            Some(Error::WrappedKeyLenRange)
        );
    }
    let m = mech(
        CKM_RSA_AES_KEY_WRAP,
        Param::RsaAesKeyWrap {
            aes_key_bits: 100,
            hash: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            label: Vec::new(),
        },
    );
    assert_eq!(
        aes_wrap(&m, &Granted::for_tests(&KEY.public), &secret).err(),
        Some(Error::MechanismParamInvalid)
    );
}

#[test]
fn pkcs8_round_trip_and_prime_recovery() {
    let der = private_key_to_pkcs8(&KEY.private).unwrap();
    let t = private_key_from_pkcs8(&der).unwrap();
    assert_eq!(&map(&t), KEY.private.attrs());
    // Without the primes and CRT values the key is rebuilt from n, e, d.
    let partial: Vec<Attribute> = t
        .iter()
        .filter(|a| {
            [
                CKA_CLASS,
                CKA_KEY_TYPE,
                CKA_MODULUS,
                CKA_PUBLIC_EXPONENT,
                CKA_PRIVATE_EXPONENT,
            ]
            .contains(&a.ty)
        })
        .cloned()
        .collect();
    let o = obj(&partial);
    let m = mech(CKM_SHA256_RSA_PKCS, Param::None);
    let mut buf = vec![0u8; 256];
    sign_init(&m, &Granted::for_tests(&o))
        .unwrap()
        .one_shot(b"abc", &mut OutBuf::new(Some(&mut buf)))
        .unwrap();
    assert_eq!(buf, sign(&m, b"abc").unwrap());
    // a wrong CRT value is refused on creation
    let mut wrong = t.clone();
    for a in wrong.iter_mut().filter(|a| a.ty == CKA_COEFFICIENT) {
        a.value[5] ^= 1;
    }
    assert!(matches!(
        check_key_attributes(&map(&wrong)),
        Err(Error::TemplateInconsistent(_))
    ));
}

#[test]
fn key_generation_checks_its_template() {
    let m = mech(CKM_RSA_PKCS_KEY_PAIR_GEN, Param::None);
    assert_eq!(
        generate_key_pair(&m, &vec![], &vec![]).err(),
        Some(Error::TemplateIncomplete {
            missing: CKA_MODULUS_BITS
        })
    );
    // Below the floor of every configuration, and above the largest modulus.
    for bits in [512, 1023, 8193] {
        let t = vec![Attribute::ulong(CKA_MODULUS_BITS, bits)];
        assert_eq!(
            generate_key_pair(&m, &t, &vec![]).err(),
            Some(Error::KeySizeRange)
        );
    }
    for e in [
        vec![1, 0, 0],
        vec![1],
        vec![2],
        vec![1, 0, 0, 0, 0, 0, 0, 0, 1],
    ] {
        let t = vec![
            Attribute::ulong(CKA_MODULUS_BITS, 2048),
            Attribute::new(CKA_PUBLIC_EXPONENT, e),
        ];
        assert_eq!(
            generate_key_pair(&m, &t, &vec![]).err(),
            Some(Error::AttributeValueInvalid(CKA_PUBLIC_EXPONENT))
        );
    }
}

#[test]
fn registry_flags() {
    let f = |m| MECHANISMS.iter().find(|d| d.mech == m).unwrap().flags();
    assert_eq!(
        f(CKM_RSA_PKCS),
        CKF_ENCRYPT | CKF_DECRYPT | CKF_SIGN | CKF_VERIFY | CKF_WRAP | CKF_UNWRAP
    );
    assert_eq!(
        f(CKM_RSA_PKCS_OAEP),
        CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP
    );
    assert_eq!(f(CKM_SHA256_RSA_PKCS_PSS), CKF_SIGN | CKF_VERIFY);
    assert_eq!(f(CKM_RSA_AES_KEY_WRAP), CKF_WRAP | CKF_UNWRAP);
    assert_eq!(f(CKM_RSA_PKCS_KEY_PAIR_GEN), CKF_GENERATE_KEY_PAIR);
}

#[test]
fn key_generation_minimum_follows_the_configuration() {
    use crate::mechanism::{registry, MechanismSettings};
    let gen = |min_rsa_bits| {
        registry::lookup(
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            &MechanismSettings {
                min_rsa_bits,
                legacy: false,
            },
        )
        .unwrap()
    };
    let bits = |b| vec![Attribute::ulong(CKA_MODULUS_BITS, b)];
    let d = gen(2048);
    assert_eq!((d.min_key, d.max_key), (2048, 8192));
    assert_eq!(
        d.check_requested_size(&bits(1024), &vec![]),
        Err(Error::KeySizeRange)
    );
    assert_eq!(d.check_requested_size(&bits(2048), &vec![]), Ok(()));
    let d = gen(1024);
    assert_eq!(d.min_key, 1024);
    assert_eq!(d.check_requested_size(&bits(1024), &vec![]), Ok(()));
    assert_eq!(
        d.check_requested_size(&bits(1000), &vec![]),
        Err(Error::KeySizeRange)
    );
    assert_eq!(
        d.check_requested_size(&bits(9000), &vec![]),
        Err(Error::KeySizeRange)
    );
    // No CKA_MODULUS_BITS: the generator's own TemplateIncomplete answers.
    assert_eq!(d.check_requested_size(&vec![], &vec![]), Ok(()));
    assert_eq!(gen(3072).min_key, 3072);
    // The static row keeps the default.
    assert_eq!(
        registry::get(CKM_RSA_PKCS_KEY_PAIR_GEN).unwrap().min_key,
        2048
    );
}
