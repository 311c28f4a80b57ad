//! Unit tests of the EC mechanisms: generation, ECDSA (RFC 6979, Wycheproof),
//! ECDH.

use super::*;
use crate::crypto::ec::P256_OID_DER;
use crate::mechanism::keys::test_util::*;
use crate::object::Object;

struct NoLookup;
impl KeyLookup for NoLookup {
    fn key(&self, _handle: CK_OBJECT_HANDLE) -> Result<Granted> {
        Err(Error::KeyHandleInvalid)
    }
}

fn mech(mech: CK_MECHANISM_TYPE) -> Mechanism {
    Mechanism {
        mech,
        param: Param::None,
    }
}

fn private(scalar: &[u8]) -> Arc<Object> {
    obj(&[
        Attribute::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_EC),
        Attribute::new(CKA_EC_PARAMS, P256_OID_DER.to_vec()),
        Attribute::new(CKA_VALUE, scalar.to_vec()),
    ])
}

fn public(point: &[u8]) -> Arc<Object> {
    obj(&[
        Attribute::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_EC),
        Attribute::new(CKA_EC_PARAMS, P256_OID_DER.to_vec()),
        Attribute::new(CKA_EC_POINT, point.to_vec()),
    ])
}

fn sign(m: &Mechanism, key: &Arc<Object>, data: &[u8]) -> Result<Vec<u8>> {
    let key = &Granted::for_tests(key);
    let mut buf = vec![0u8; 64];
    sign_init(m, key)?.one_shot(data, &mut OutBuf::new(Some(&mut buf)))?;
    Ok(buf)
}

/// RFC 6979 A.2.5 (P-256, SHA-256): the signing path is deterministic.
#[test]
fn rfc6979_p256_sha256() {
    let key = private(&hex(
        "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
    ));
    let cases = [
        (
            &b"sample"[..],
            "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
        ),
        (
            &b"test"[..],
            "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083",
        ),
    ];
    let pub_point = hex("0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299");
    let pubkey = public(&pub_point);
    for (msg, want) in cases {
        let sig = sign(&mech(CKM_ECDSA_SHA256), &key, msg).unwrap();
        let raw = sign(&mech(CKM_ECDSA), &key, &HashAlg::Sha256.digest(&[msg])).unwrap();
        if cfg!(feature = "aws-lc") {
            // aws-lc's nonces are random: two signatures differ, and each
            // verifies under the RFC's public key (as does the RFC's own).
            assert_ne!(raw, sig);
        } else {
            assert_eq!(sig, hex(want));
            // CKM_ECDSA over the hash gives the same signature
            assert_eq!(raw, sig);
        }
        // the raw point is accepted as well as the DER form
        for s in [&sig, &raw, &hex(want)] {
            verify_init(&mech(CKM_ECDSA_SHA256), &Granted::for_tests(&pubkey))
                .unwrap()
                .one_shot(msg, s)
                .unwrap();
        }
    }
}

#[test]
fn wycheproof_ecdsa_p256_sha256_verify() {
    let v = vectors("asym-wycheproof-ecdsa-p256-sha256.json");
    let key = public(&der_octet_string(&hex(v["publicKey"].as_str().unwrap())));
    let m = mech(CKM_ECDSA_SHA256);
    for t in v["tests"].as_array().unwrap() {
        let msg = hex(t["msg"].as_str().unwrap());
        let sig = hex(t["sig"].as_str().unwrap());
        let got = verify_init(&m, &Granted::for_tests(&key))
            .unwrap()
            .one_shot(&msg, &sig);
        match t["result"].as_str().unwrap() {
            "valid" => assert_eq!(got, Ok(()), "tcId {}", t["tcId"]),
            _ if sig.len() != 64 => {
                assert_eq!(got, Err(Error::SignatureLenRange), "tcId {}", t["tcId"])
            }
            _ => assert_eq!(got, Err(Error::SignatureInvalid), "tcId {}", t["tcId"]),
        }
    }
}

#[test]
fn wycheproof_ecdh_p256() {
    let v = vectors("asym-wycheproof-ecdh-p256.json");
    for t in v["tests"].as_array().unwrap() {
        let key = private(&hex(t["private"].as_str().unwrap()));
        let point = hex(t["public"].as_str().unwrap());
        for public_data in [point.clone(), der_octet_string(&point)] {
            let m = Mechanism {
                mech: CKM_ECDH1_DERIVE,
                param: Param::Ecdh1 {
                    kdf: CKD_NULL,
                    shared_data: vec![],
                    public_data,
                },
            };
            let got = derive(&mut m.clone(), &Granted::for_tests(&key), None, &NoLookup);
            match t["result"].as_str().unwrap() {
                "invalid" => assert_eq!(
                    got.err(),
                    Some(Error::MechanismParamInvalid),
                    "tcId {}",
                    t["tcId"]
                ),
                _ => assert_eq!(
                    got.unwrap().to_vec(),
                    hex(t["shared"].as_str().unwrap()),
                    "tcId {}",
                    t["tcId"]
                ),
            }
        }
    }
}

#[test]
fn ecdh_kdf_and_lengths() {
    let a = private(&hex(
        "0612465c89a023ab17855b0a6bcebfd3febb53aef84138647b5352e02c10c346",
    ));
    let z = hex("53020d908b0219328b658b525f26780e3ae12bcd952bb25a93bc0895e1714285");
    let point = hex("0462d5bd3372af75fe85a040715d0f502428e07046868b0bfdfa61d731afe44f26ac333a93a9e70a81cd5a95b5bf8d13990eb741c8c38872b4a07d275a014e30cf");
    let m = |kdf, shared_data: &[u8]| Mechanism {
        mech: CKM_ECDH1_DERIVE,
        param: Param::Ecdh1 {
            kdf,
            shared_data: shared_data.to_vec(),
            public_data: point.clone(),
        },
    };
    assert_eq!(
        derive(
            &mut m(CKD_NULL, b""),
            &Granted::for_tests(&a),
            Some(16),
            &NoLookup
        )
        .unwrap()
        .to_vec(),
        z[..16].to_vec()
    );
    assert_eq!(
        derive(
            &mut m(CKD_NULL, b""),
            &Granted::for_tests(&a),
            Some(33),
            &NoLookup
        )
        .err(),
        Some(Error::KeySizeRange)
    );
    assert_eq!(
        derive(
            &mut m(CKD_NULL, b"x"),
            &Granted::for_tests(&a),
            None,
            &NoLookup
        )
        .err(),
        Some(Error::MechanismParamInvalid)
    );
    assert_eq!(
        derive(&mut m(0x77, b""), &Granted::for_tests(&a), None, &NoLookup).err(),
        Some(Error::MechanismParamInvalid)
    );
    // X9.63 with SHA-256: H(Z || 00000001 || info) || H(Z || 00000002 || info), cut.
    let info = b"shared info";
    let mut want = Vec::new();
    for counter in [1u32, 2] {
        let mut h = sha2::Sha256::default();
        sha2::Digest::update(&mut h, &z);
        sha2::Digest::update(&mut h, counter.to_be_bytes());
        sha2::Digest::update(&mut h, info);
        want.extend_from_slice(&sha2::Digest::finalize(h));
    }
    let got = derive(
        &mut m(CKD_SHA256_KDF, info),
        &Granted::for_tests(&a),
        Some(40),
        &NoLookup,
    )
    .unwrap();
    assert_eq!(got.to_vec(), want[..40].to_vec());
    assert_eq!(
        derive(
            &mut m(CKD_SHA256_KDF, info),
            &Granted::for_tests(&a),
            None,
            &NoLookup
        )
        .err(),
        Some(Error::TemplateIncomplete {
            missing: CKA_VALUE_LEN
        })
    );
}

#[test]
fn key_generation_and_all_mechanisms_round_trip() {
    let gen = mech(CKM_EC_KEY_PAIR_GEN);
    let printable = [&[0x13u8, 10][..], b"prime256v1"].concat();
    for params in [P256_OID_DER.to_vec(), printable] {
        let t = vec![Attribute::new(CKA_EC_PARAMS, params.clone())];
        let (pub_t, priv_t) = generate_key_pair(&gen, &t, &vec![]).unwrap();
        let (pub_o, priv_o) = (obj(&pub_t), obj(&priv_t));
        assert_eq!(pub_o.get(CKA_EC_PARAMS).unwrap(), params.as_slice());
        assert_eq!(pub_o.get(CKA_EC_POINT).unwrap().len(), 67);
        assert_eq!(priv_o.get(CKA_VALUE).unwrap().len(), 32);
        crate::mechanism::keys::check_key_attributes(pub_o.attrs()).unwrap();
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        for m in [
            CKM_ECDSA_SHA1,
            CKM_ECDSA_SHA224,
            CKM_ECDSA_SHA256,
            CKM_ECDSA_SHA384,
            CKM_ECDSA_SHA512,
        ] {
            let m = mech(m);
            let single = sign(&m, &priv_o, &data).unwrap();
            verify_init(&m, &Granted::for_tests(&pub_o))
                .unwrap()
                .one_shot(&data, &single)
                .unwrap();
            for chunk in [1usize, 15, 17, 4097] {
                let mut op = sign_init(&m, &Granted::for_tests(&priv_o)).unwrap();
                for c in data.chunks(chunk) {
                    op.update(c).unwrap();
                }
                let mut buf = [0u8; 64];
                op.finish(&mut OutBuf::new(Some(&mut buf))).unwrap();
                if !cfg!(feature = "aws-lc") {
                    assert_eq!(buf.to_vec(), single, "deterministic, chunk {chunk}");
                }
                let mut v = verify_init(&m, &Granted::for_tests(&pub_o)).unwrap();
                for c in data.chunks(chunk) {
                    v.update(c).unwrap();
                }
                v.finish(&buf).unwrap();
            }
            let mut bad = single.clone();
            bad[3] ^= 1;
            assert_eq!(
                verify_init(&m, &Granted::for_tests(&pub_o))
                    .unwrap()
                    .one_shot(&data, &bad),
                Err(Error::SignatureInvalid)
            );
            assert_eq!(
                verify_init(&m, &Granted::for_tests(&pub_o))
                    .unwrap()
                    .one_shot(&data, &single[..63]),
                Err(Error::SignatureLenRange)
            );
        }
        // CKM_ECDSA takes hashes of any length.
        for len in [20, 32, 48, 64, 5] {
            let hash = vec![0x5a; len];
            let sig = sign(&mech(CKM_ECDSA), &priv_o, &hash).unwrap();
            verify_init(&mech(CKM_ECDSA), &Granted::for_tests(&pub_o))
                .unwrap()
                .one_shot(&hash, &sig)
                .unwrap();
        }
        assert_eq!(
            sign_init(&mech(CKM_ECDSA), &Granted::for_tests(&priv_o))
                .unwrap()
                .update(b"x"),
            Err(Error::FunctionNotSupported)
        );
        // ECDH between two generated keys agrees.
        let (pub2, priv2) = generate_key_pair(&gen, &t, &vec![]).unwrap();
        let (pub2, priv2) = (obj(&pub2), obj(&priv2));
        let d = |k: &Arc<Object>, p: &Arc<Object>| {
            let m = Mechanism {
                mech: CKM_ECDH1_DERIVE,
                param: Param::Ecdh1 {
                    kdf: CKD_NULL,
                    shared_data: vec![],
                    public_data: p.get(CKA_EC_POINT).unwrap().to_vec(),
                },
            };
            derive(&mut m.clone(), &Granted::for_tests(k), None, &NoLookup).unwrap()
        };
        assert_eq!(d(&priv_o, &pub2), d(&priv2, &pub_o));
    }
}

#[test]
fn size_query_and_short_buffer_keep_the_state() {
    let key = private(&hex(
        "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
    ));
    let m = mech(CKM_ECDSA_SHA256);
    let mut op = sign_init(&m, &Granted::for_tests(&key)).unwrap();
    op.update(b"sam").unwrap();
    let mut q = OutBuf::query();
    op.finish(&mut q).unwrap();
    assert_eq!(q.len(), 64);
    let mut small = [0u8; 63];
    assert_eq!(
        op.finish(&mut OutBuf::new(Some(&mut small))),
        Err(Error::BufferTooSmall)
    );
    op.update(b"ple").unwrap();
    let mut buf = [0u8; 64];
    op.finish(&mut OutBuf::new(Some(&mut buf))).unwrap();
    // The signature is over "sample" (the RFC 6979 A.2.5 key and message).
    let rfc_pub = public(&hex("0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299"));
    verify_init(&m, &Granted::for_tests(&rfc_pub))
        .unwrap()
        .one_shot(b"sample", &buf)
        .unwrap();
    if !cfg!(feature = "aws-lc") {
        assert_eq!(buf.to_vec(), sign(&m, &key, b"sample").unwrap());
    }
}

#[test]
fn bad_templates_and_keys() {
    let gen = mech(CKM_EC_KEY_PAIR_GEN);
    assert_eq!(
        generate_key_pair(&gen, &vec![], &vec![]).err(),
        Some(Error::TemplateIncomplete {
            missing: CKA_EC_PARAMS
        })
    );
    // secp224r1 is not offered, by OID or by name.
    let p224 = vec![Attribute::new(
        CKA_EC_PARAMS,
        vec![0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21],
    )];
    assert_eq!(
        generate_key_pair(&gen, &p224, &vec![]).err(),
        Some(Error::CurveNotSupported)
    );
    let name = vec![Attribute::new(
        CKA_EC_PARAMS,
        [&[0x13u8, 5][..], b"P-224"].concat(),
    )];
    assert_eq!(
        generate_key_pair(&gen, &name, &vec![]).err(),
        Some(Error::CurveNotSupported)
    );
    let junk = vec![Attribute::new(CKA_EC_PARAMS, vec![0x06, 0x09, 1])];
    assert_eq!(
        generate_key_pair(&gen, &junk, &vec![]).err(),
        Some(Error::DomainParamsInvalid)
    );
    let key = private(&[1]);
    assert_eq!(
        verify_init(&mech(CKM_ECDSA), &Granted::for_tests(&key)).err(),
        Some(Error::KeyTypeInconsistent)
    );
}

#[test]
fn registry_flags() {
    let f = |m| MECHANISMS.iter().find(|d| d.mech == m).unwrap().flags();
    assert_eq!(f(CKM_ECDSA), CKF_SIGN | CKF_VERIFY | EC_FLAGS);
    assert_eq!(
        f(CKM_ECDH1_DERIVE),
        CKF_DERIVE | EC_FLAGS | CKF_EC_CURVENAME
    );
    assert_eq!(f(CKM_EDDSA), CKF_SIGN | CKF_VERIFY | ECX_FLAGS);
    assert_eq!(f(CKM_EC_KEY_PAIR_GEN), CKF_GENERATE_KEY_PAIR | EC_FLAGS);
}

/// The objects of a generated pair.
fn pair(gen: CK_MECHANISM_TYPE, params: &[u8]) -> (Arc<Object>, Arc<Object>) {
    let t = vec![Attribute::new(CKA_EC_PARAMS, params.to_vec())];
    let f = registry_fn(gen);
    let (p, s) = f(&mech(gen), &t, &vec![]).unwrap();
    (obj(&p), obj(&s))
}

fn registry_fn(gen: CK_MECHANISM_TYPE) -> crate::mechanism::GeneratePairFn {
    MECHANISMS
        .iter()
        .find(|d| d.mech == gen)
        .unwrap()
        .functions
        .generate_key_pair
        .unwrap()
}

fn printable(name: &str) -> Vec<u8> {
    [
        &[0x13u8, u8::try_from(name.len()).unwrap()][..],
        name.as_bytes(),
    ]
    .concat()
}

fn sign_any(m: &Mechanism, key: &Arc<Object>, data: &[u8]) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; 200];
    let mut out = OutBuf::new(Some(&mut buf));
    match m.mech {
        CKM_EDDSA => edwards::sign_init(m, &Granted::for_tests(key))?.one_shot(data, &mut out)?,
        _ => sign_init(m, &Granted::for_tests(key))?.one_shot(data, &mut out)?,
    }
    let n = out.len();
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn every_curve_by_oid_and_by_name_signs_with_every_hash() {
    let curves: [(&[u8], usize); 6] = [
        (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22], 48),
        (&printable("secp384r1"), 48),
        (&printable("P-521"), 66),
        (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23], 66),
        (&printable("secp256k1"), 32),
        (&printable("prime256v1"), 32),
    ];
    for (params, n) in curves {
        let (public, private) = pair(CKM_EC_KEY_PAIR_GEN, params);
        for m in [
            CKM_ECDSA_SHA1,
            CKM_ECDSA_SHA224,
            CKM_ECDSA_SHA256,
            CKM_ECDSA_SHA384,
            CKM_ECDSA_SHA512,
        ] {
            let sig = sign_any(&mech(m), &private, b"message").unwrap();
            assert_eq!(sig.len(), 2 * n);
            let v = || verify_init(&mech(m), &Granted::for_tests(&public)).unwrap();
            v().one_shot(b"message", &sig).unwrap();
            assert_eq!(v().one_shot(b"messagf", &sig), Err(Error::SignatureInvalid));
            assert_eq!(
                v().one_shot(b"message", &sig[1..]),
                Err(Error::SignatureLenRange)
            );
        }
        // Raw ECDSA over a digest longer than the order.
        let sig = sign_any(&mech(CKM_ECDSA), &private, &[0xa5; 80]).unwrap();
        verify_init(&mech(CKM_ECDSA), &Granted::for_tests(&public))
            .unwrap()
            .one_shot(&[0xa5; 80], &sig)
            .unwrap();
    }
}

#[test]
fn secp256k1_keys_do_not_derive() {
    let (public, private) = pair(CKM_EC_KEY_PAIR_GEN, &printable("secp256k1"));
    let point = public.attrs().get(&CKA_EC_POINT).unwrap().to_vec();
    let mut m = Mechanism {
        mech: CKM_ECDH1_DERIVE,
        param: Param::Ecdh1 {
            kdf: CKD_NULL,
            shared_data: vec![],
            public_data: point,
        },
    };
    assert_eq!(
        derive(&mut m, &Granted::for_tests(&private), Some(32), &NoLookup),
        Err(Error::KeyTypeInconsistent)
    );
}

#[test]
fn eddsa_parameters_key_types_and_curves() {
    let (public, private) = pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, &printable("edwards25519"));
    assert_eq!(public.attrs().get(&CKA_EC_POINT).unwrap().len(), 32);
    let forms = [
        Param::None,
        Param::Eddsa {
            ph: false,
            context: vec![],
        },
        Param::Eddsa {
            ph: false,
            context: b"ctx".to_vec(),
        },
        Param::Eddsa {
            ph: true,
            context: vec![],
        },
        Param::Eddsa {
            ph: true,
            context: b"ctx".to_vec(),
        },
    ];
    for p in forms {
        let m = Mechanism {
            mech: CKM_EDDSA,
            param: p,
        };
        let sig = sign_any(&m, &private, b"data").unwrap();
        assert_eq!(sig.len(), 64);
        let v = || edwards::verify_init(&m, &Granted::for_tests(&public)).unwrap();
        v().one_shot(b"data", &sig).unwrap();
        // Multi-part gives a signature over the same message.
        let mut op = v();
        op.update(b"da").unwrap();
        op.update(b"ta").unwrap();
        op.finish(&sig).unwrap();
        assert_eq!(v().one_shot(b"dat", &sig), Err(Error::SignatureInvalid));
        assert_eq!(
            v().one_shot(b"data", &sig[..63]),
            Err(Error::SignatureLenRange)
        );
    }
    let long = Mechanism {
        mech: CKM_EDDSA,
        param: Param::Eddsa {
            ph: true,
            context: vec![1; 256],
        },
    };
    assert_eq!(
        sign_any(&long, &private, b"d"),
        Err(Error::MechanismParamInvalid)
    );
    let other = Mechanism {
        mech: CKM_EDDSA,
        param: Param::Ulong(1),
    };
    assert_eq!(
        sign_any(&other, &private, b"d"),
        Err(Error::MechanismParamInvalid)
    );
    // Wrong key types, both ways.
    let ec = private_p256();
    assert_eq!(
        sign_any(&mech(CKM_EDDSA), &ec, b"d"),
        Err(Error::KeyTypeInconsistent)
    );
    assert_eq!(
        sign_any(&mech(CKM_ECDSA_SHA256), &private, b"d"),
        Err(Error::KeyTypeInconsistent)
    );
    // Curves the Edwards and Montgomery generators do not make.
    let gen = registry_fn(CKM_EC_EDWARDS_KEY_PAIR_GEN);
    for p in [
        printable("edwards448"),
        vec![0x06, 0x03, 0x2b, 0x65, 0x71],
        P256_OID_DER.to_vec(),
    ] {
        let t = vec![Attribute::new(CKA_EC_PARAMS, p)];
        assert_eq!(
            gen(&mech(CKM_EC_EDWARDS_KEY_PAIR_GEN), &t, &vec![]).err(),
            Some(Error::CurveNotSupported)
        );
    }
    let gen = registry_fn(CKM_EC_MONTGOMERY_KEY_PAIR_GEN);
    for p in [printable("curve448"), printable("edwards25519")] {
        let t = vec![Attribute::new(CKA_EC_PARAMS, p)];
        assert_eq!(
            gen(&mech(CKM_EC_MONTGOMERY_KEY_PAIR_GEN), &t, &vec![]).err(),
            Some(Error::CurveNotSupported)
        );
    }
}

fn private_p256() -> Arc<Object> {
    private(&[1])
}

/// RFC 7748 §6.1 through `CKM_ECDH1_DERIVE`, with `CKD_NULL` and the KDFs.
#[test]
fn x25519_derive() {
    let key = obj(&[
        Attribute::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        Attribute::ulong(CKA_KEY_TYPE, CKK_EC_MONTGOMERY),
        Attribute::new(CKA_EC_PARAMS, printable("curve25519")),
        Attribute::new(
            CKA_VALUE,
            hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
        ),
    ]);
    let bob = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let k = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    let run = |kdf, shared: &[u8], public: &[u8], len| {
        let mut m = Mechanism {
            mech: CKM_ECDH1_DERIVE,
            param: Param::Ecdh1 {
                kdf,
                shared_data: shared.to_vec(),
                public_data: public.to_vec(),
            },
        };
        derive(&mut m, &Granted::for_tests(&key), len, &NoLookup)
    };
    assert_eq!(run(CKD_NULL, b"", &bob, None).unwrap().to_vec(), k);
    assert_eq!(
        run(CKD_NULL, b"", &der_octet_string(&bob), Some(16))
            .unwrap()
            .to_vec(),
        k[..16].to_vec()
    );
    let sp = run(CKD_SHA256_KDF_SP800, b"info", &bob, Some(40)).unwrap();
    let want = [
        HashAlg::Sha256.digest(&[&[0, 0, 0, 1], &k, b"info"]),
        HashAlg::Sha256.digest(&[&[0, 0, 0, 2], &k, b"info"]),
    ]
    .concat();
    assert_eq!(sp.to_vec(), want[..40].to_vec());
    let x963 = run(CKD_SHA512_KDF, b"info", &bob, Some(16)).unwrap();
    assert_eq!(
        x963.to_vec(),
        HashAlg::Sha512.digest(&[&k, &[0, 0, 0, 1], b"info"])[..16].to_vec()
    );
    assert_eq!(
        run(CKD_SHA256_KDF_SP800, b"", &bob, None),
        Err(Error::TemplateIncomplete {
            missing: CKA_VALUE_LEN
        })
    );
    assert_eq!(
        run(CKD_NULL, b"", &bob[..31], None),
        Err(Error::MechanismParamInvalid)
    );
    assert_eq!(
        run(CKD_NULL, b"", &[0; 32], None),
        Err(Error::MechanismParamInvalid)
    );
    assert_eq!(
        run(0x7777, b"", &bob, None),
        Err(Error::MechanismParamInvalid)
    );
}
