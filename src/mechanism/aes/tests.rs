//! Unit tests of the AES modes: known answers, multi-part, length rules,
//! tampering, key generation, message-based GCM.

use super::*;
use crate::mechanism::digest::tests::h;
use crate::mechanism::mac::tests::key_obj;
use crate::mechanism::Param;
use crate::object::Object;
use crate::outbuf::OutBuf;

const VECTORS: &str = include_str!("../../../tests/vectors/sym-aes.txt");

fn mech_of(name: &str, param: &str) -> Mechanism {
    let (mech, param) = match name {
        "ECB" => (CKM_AES_ECB, Param::None),
        "CBC" => (CKM_AES_CBC, Param::Bytes(h(param))),
        "CBC_PAD" => (CKM_AES_CBC_PAD, Param::Bytes(h(param))),
        "CTR" => (
            CKM_AES_CTR,
            Param::Ctr {
                counter_bits: 128,
                cb: h(param).try_into().unwrap(),
            },
        ),
        "GCM" => {
            let f: Vec<&str> = param.split(';').collect();
            (
                CKM_AES_GCM,
                Param::Gcm {
                    iv: h(f[0]),
                    aad: h(f[1]),
                    tag_bits: f[2].parse().unwrap(),
                },
            )
        }
        "KW" | "KWP" => {
            let m = if name == "KW" {
                CKM_AES_KEY_WRAP
            } else {
                CKM_AES_KEY_WRAP_KWP
            };
            (
                m,
                if param == "-" {
                    Param::None
                } else {
                    Param::Bytes(h(param))
                },
            )
        }
        _ => panic!("unknown {name}"),
    };
    Mechanism { mech, param }
}

fn op(m: &Mechanism, key: &Arc<Object>, encrypt: bool) -> Box<dyn CipherOp> {
    let key = &Granted::for_tests(key);
    if encrypt {
        encrypt_init(m, key).unwrap()
    } else {
        decrypt_init(m, key).unwrap()
    }
}

/// Single-part with a size query and a short buffer first.
fn single(op: &mut dyn CipherOp, input: &[u8]) -> Result<Vec<u8>> {
    let mut q = OutBuf::query();
    op.one_shot(input, &mut q)?;
    let n = q.len();
    if n > 0 {
        let mut small = vec![0u8; n - 1];
        let mut o = OutBuf::new(Some(&mut small));
        // Too small, unless the query gave an upper bound.
        let _ = op.one_shot(input, &mut o);
    }
    let mut buf = vec![0u8; n];
    let mut o = OutBuf::new(Some(&mut buf));
    op.one_shot(input, &mut o)?;
    let n = o.len();
    buf.truncate(n);
    Ok(buf)
}

/// Multi-part in `chunk`-sized pieces, each with a size query and a short buffer first.
fn multi(op: &mut dyn CipherOp, input: &[u8], chunk: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for c in input.chunks(chunk) {
        let mut q = OutBuf::query();
        op.update(c, &mut q)?;
        let n = q.len();
        if n > 0 {
            let mut small = vec![0u8; n - 1];
            assert_eq!(
                op.update(c, &mut OutBuf::new(Some(&mut small))),
                Err(Error::BufferTooSmall)
            );
        }
        let mut buf = vec![0u8; n];
        let mut o = OutBuf::new(Some(&mut buf));
        op.update(c, &mut o)?;
        let n = o.len();
        out.extend_from_slice(&buf[..n]);
    }
    let mut q = OutBuf::query();
    op.finish(&mut q)?;
    let n = q.len();
    let mut buf = vec![0u8; n];
    let mut o = OutBuf::new(Some(&mut buf));
    op.finish(&mut o)?;
    let n = o.len();
    out.extend_from_slice(&buf[..n]);
    Ok(out)
}

fn both_ways(m: &Mechanism, key: &Arc<Object>, pt: &[u8], ct: &[u8]) {
    let name = format!("{:#x}", m.mech);
    assert_eq!(
        single(op(m, key, true).as_mut(), pt).unwrap(),
        ct,
        "{name} encrypt"
    );
    assert_eq!(
        single(op(m, key, false).as_mut(), ct).unwrap(),
        pt,
        "{name} decrypt"
    );
    for chunk in [1, 15, 17, 4097] {
        assert_eq!(
            multi(op(m, key, true).as_mut(), pt, chunk).unwrap(),
            ct,
            "{name} encrypt /{chunk}"
        );
        assert_eq!(
            multi(op(m, key, false).as_mut(), ct, chunk).unwrap(),
            pt,
            "{name} decrypt /{chunk}"
        );
    }
}

#[test]
fn known_answers() {
    let mut count = 0;
    for line in VECTORS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split('|').collect();
        let m = mech_of(f[0], f[2]);
        let key = key_obj(CKK_AES, &h(f[1]));
        let (pt, ct) = (h(f[3]), h(f[4]));
        both_ways(&m, &key, &pt, &ct);
        if (matches!(f[0], "ECB" | "KW" | "KWP") || f[0] == "GCM") && !pt.is_empty() {
            // Wrapping gives the same bytes (there is no empty key to wrap).
            assert_eq!(
                wrap(&m, &Granted::for_tests(&key), &pt).unwrap(),
                ct,
                "{line}"
            );
            assert_eq!(
                *unwrap(&m, &Granted::for_tests(&key), &ct).unwrap(),
                pt,
                "{line}"
            );
        }
        count += 1;
    }
    assert_eq!(count, 23);
}

fn long_data(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| u8::try_from((i * 31 + i / 7) % 256).unwrap())
        .collect()
}

#[test]
fn multipart_equals_single_part_everywhere() {
    let key = key_obj(
        CKK_AES,
        &h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
    );
    let iv = h("0f0e0d0c0b0a09080706050403020100");
    let mechs = [
        Mechanism {
            mech: CKM_AES_ECB,
            param: Param::None,
        },
        Mechanism {
            mech: CKM_AES_CBC,
            param: Param::Bytes(iv.clone()),
        },
        Mechanism {
            mech: CKM_AES_CBC_PAD,
            param: Param::Bytes(iv.clone()),
        },
        Mechanism {
            mech: CKM_AES_CTR,
            param: Param::Ctr {
                counter_bits: 32,
                cb: [7; 16],
            },
        },
        Mechanism {
            mech: CKM_AES_GCM,
            param: Param::Gcm {
                iv: vec![1; 12],
                aad: vec![2; 20],
                tag_bits: 128,
            },
        },
        Mechanism {
            mech: CKM_AES_GCM,
            param: Param::Gcm {
                iv: vec![1; 1],
                aad: vec![],
                tag_bits: 32,
            },
        },
        Mechanism {
            mech: CKM_AES_KEY_WRAP,
            param: Param::None,
        },
        Mechanism {
            mech: CKM_AES_KEY_WRAP_KWP,
            param: Param::None,
        },
    ];
    for m in &mechs {
        for len in [16, 10_000] {
            let pt = long_data(len);
            let ct = single(op(m, &key, true).as_mut(), &pt).unwrap();
            both_ways(m, &key, &pt, &ct);
        }
    }
    // Lengths that are not block multiples, for the modes that take them.
    for m in &mechs[2..] {
        if m.mech == CKM_AES_KEY_WRAP {
            continue;
        }
        for len in [1, 15, 17, 33, 4097] {
            let pt = long_data(len);
            let ct = single(op(m, &key, true).as_mut(), &pt).unwrap();
            both_ways(m, &key, &pt, &ct);
        }
    }
    // CBC_PAD of an empty message is one block of padding.
    let m = &mechs[2];
    assert_eq!(single(op(m, &key, true).as_mut(), &[]).unwrap().len(), 16);
}

#[test]
fn size_query_and_short_buffer_keep_state() {
    let key = key_obj(CKK_AES, &[3; 16]);
    let m = Mechanism {
        mech: CKM_AES_CBC,
        param: Param::Bytes(vec![0; 16]),
    };
    let pt = long_data(64);
    let want = single(op(&m, &key, true).as_mut(), &pt).unwrap();
    let mut e = op(&m, &key, true);
    let mut small = [0u8; 31];
    assert_eq!(
        e.update(&pt[..40], &mut OutBuf::new(Some(&mut small))),
        Err(Error::BufferTooSmall)
    );
    let mut q = OutBuf::query();
    e.update(&pt[..40], &mut q).unwrap();
    assert_eq!(q.len(), 32);
    let mut buf = [0u8; 64];
    let mut o = OutBuf::new(Some(&mut buf));
    e.update(&pt[..40], &mut o).unwrap();
    assert_eq!(o.len(), 32);
    let mut o2 = [0u8; 32];
    let mut o = OutBuf::new(Some(&mut o2));
    e.update(&pt[40..], &mut o).unwrap();
    assert_eq!(&buf[..32], &want[..32]);
    assert_eq!(&o2[..], &want[32..]);
}

#[test]
fn length_rules() {
    let key = key_obj(CKK_AES, &[3; 16]);
    for mech in [CKM_AES_ECB, CKM_AES_CBC] {
        let param = if mech == CKM_AES_ECB {
            Param::None
        } else {
            Param::Bytes(vec![0; 16])
        };
        let m = Mechanism { mech, param };
        assert_eq!(
            single(op(&m, &key, true).as_mut(), &[0; 15]).unwrap_err(),
            Error::DataLenRange
        );
        assert_eq!(
            single(op(&m, &key, false).as_mut(), &[0; 17]).unwrap_err(),
            Error::EncryptedDataLenRange
        );
        assert_eq!(
            multi(op(&m, &key, true).as_mut(), &[0; 20], 7).unwrap_err(),
            Error::DataLenRange
        );
        assert_eq!(
            multi(op(&m, &key, false).as_mut(), &[0; 20], 7).unwrap_err(),
            Error::EncryptedDataLenRange
        );
    }
    let m = Mechanism {
        mech: CKM_AES_CBC_PAD,
        param: Param::Bytes(vec![0; 16]),
    };
    assert_eq!(
        single(op(&m, &key, false).as_mut(), &[]).unwrap_err(),
        Error::EncryptedDataLenRange
    );
    assert_eq!(
        single(op(&m, &key, false).as_mut(), &[0; 20]).unwrap_err(),
        Error::EncryptedDataLenRange
    );
    // Bad parameters.
    for param in [Param::None, Param::Bytes(vec![0; 15])] {
        let m = Mechanism {
            mech: CKM_AES_CBC,
            param,
        };
        assert!(matches!(
            encrypt_init(&m, &Granted::for_tests(&key)),
            Err(Error::MechanismParamInvalid)
        ));
    }
    for (iv, bits) in [
        (vec![], 128),
        (vec![0; 12], 24),
        (vec![0; 12], 100),
        (vec![0; 12], 136),
    ] {
        let m = Mechanism {
            mech: CKM_AES_GCM,
            param: Param::Gcm {
                iv,
                aad: vec![],
                tag_bits: bits,
            },
        };
        assert!(matches!(
            encrypt_init(&m, &Granted::for_tests(&key)),
            Err(Error::MechanismParamInvalid)
        ));
    }
    for bits in [0, 129] {
        let m = Mechanism {
            mech: CKM_AES_CTR,
            param: Param::Ctr {
                counter_bits: bits,
                cb: [0; 16],
            },
        };
        assert!(matches!(
            encrypt_init(&m, &Granted::for_tests(&key)),
            Err(Error::MechanismParamInvalid)
        ));
    }
    let m = Mechanism {
        mech: CKM_AES_KEY_WRAP,
        param: Param::Bytes(vec![0; 4]),
    };
    assert!(matches!(
        encrypt_init(&m, &Granted::for_tests(&key)),
        Err(Error::MechanismParamInvalid)
    ));
    let m = Mechanism {
        mech: CKM_AES_KEY_WRAP_KWP,
        param: Param::Bytes(vec![0; 8]),
    };
    assert!(matches!(
        encrypt_init(&m, &Granted::for_tests(&key)),
        Err(Error::MechanismParamInvalid)
    ));
    // A key of the wrong size.
    let bad = key_obj(CKK_AES, &[0; 20]);
    let m = Mechanism {
        mech: CKM_AES_ECB,
        param: Param::None,
    };
    assert!(matches!(
        encrypt_init(&m, &Granted::for_tests(&bad)),
        Err(Error::KeySizeRange)
    ));
    assert_eq!(
        wrap(&m, &Granted::for_tests(&bad), &[0; 16]).unwrap_err(),
        Error::WrappingKeySizeRange
    );
    assert_eq!(
        unwrap(&m, &Granted::for_tests(&bad), &[0; 16]).unwrap_err(),
        Error::UnwrappingKeySizeRange
    );
}

#[test]
fn ctr_counter_does_not_wrap() {
    let key = key_obj(CKK_AES, &[3; 16]);
    let mut cb = [0u8; 16];
    cb[15] = 0xfe;
    let m = Mechanism {
        mech: CKM_AES_CTR,
        param: Param::Ctr {
            counter_bits: 8,
            cb,
        },
    };
    assert_eq!(
        single(op(&m, &key, true).as_mut(), &[0; 32]).unwrap().len(),
        32
    );
    assert_eq!(
        single(op(&m, &key, true).as_mut(), &[0; 33]).unwrap_err(),
        Error::DataLenRange
    );
    let mut e = op(&m, &key, true);
    let mut buf = [0u8; 32];
    e.update(&[0; 20], &mut OutBuf::new(Some(&mut buf)))
        .unwrap();
    assert_eq!(
        e.update(&[0; 13], &mut OutBuf::new(Some(&mut buf))),
        Err(Error::DataLenRange)
    );
    e.update(&[0; 12], &mut OutBuf::new(Some(&mut buf)))
        .unwrap();
}

#[test]
fn tampering_is_detected() {
    let key = key_obj(CKK_AES, &[9; 32]);
    let pt = long_data(100);
    let gcm = Mechanism {
        mech: CKM_AES_GCM,
        param: Param::Gcm {
            iv: vec![4; 12],
            aad: b"aad".to_vec(),
            tag_bits: 128,
        },
    };
    let ct = single(op(&gcm, &key, true).as_mut(), &pt).unwrap();
    for i in [0, 50, ct.len() - 1] {
        let mut bad = ct.clone();
        bad[i] ^= 0x40;
        assert_eq!(
            single(op(&gcm, &key, false).as_mut(), &bad).unwrap_err(),
            Error::EncryptedDataInvalid
        );
        // Multi-part: nothing is released before the end, and the end fails.
        let mut d = op(&gcm, &key, false);
        let mut buf = vec![0u8; 200];
        let mut o = OutBuf::new(Some(&mut buf));
        d.update(&bad, &mut o).unwrap();
        assert_eq!(o.len(), 0);
        assert_eq!(
            d.finish(&mut OutBuf::new(Some(&mut buf))),
            Err(Error::EncryptedDataInvalid)
        );
        assert_eq!(
            unwrap(&gcm, &Granted::for_tests(&key), &bad).unwrap_err(),
            Error::WrappedKeyInvalid
        );
    }
    assert_eq!(
        single(op(&gcm, &key, false).as_mut(), &ct[..15]).unwrap_err(),
        Error::EncryptedDataLenRange
    );
    // Other AAD fails.
    let other = Mechanism {
        mech: CKM_AES_GCM,
        param: Param::Gcm {
            iv: vec![4; 12],
            aad: b"aaD".to_vec(),
            tag_bits: 128,
        },
    };
    assert_eq!(
        single(op(&other, &key, false).as_mut(), &ct).unwrap_err(),
        Error::EncryptedDataInvalid
    );

    for mech in [CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP] {
        let m = Mechanism {
            mech,
            param: Param::None,
        };
        let w = wrap(&m, &Granted::for_tests(&key), &[5; 32]).unwrap();
        for i in [0, 8, w.len() - 1] {
            let mut bad = w.clone();
            bad[i] ^= 1;
            assert_eq!(
                unwrap(&m, &Granted::for_tests(&key), &bad).unwrap_err(),
                Error::WrappedKeyInvalid
            );
            assert_eq!(
                single(op(&m, &key, false).as_mut(), &bad).unwrap_err(),
                Error::EncryptedDataInvalid
            );
        }
        assert_eq!(
            unwrap(&m, &Granted::for_tests(&key), &w[..w.len() - 1]).unwrap_err(),
            Error::WrappedKeyLenRange
        );
        assert_eq!(
            unwrap(&m, &Granted::for_tests(&key), &w[..8]).unwrap_err(),
            Error::WrappedKeyLenRange
        );
        // A caller IV other than the one used fails.
        let iv = if mech == CKM_AES_KEY_WRAP {
            vec![1; 8]
        } else {
            vec![1; 4]
        };
        let m2 = Mechanism {
            mech,
            param: Param::Bytes(iv),
        };
        assert_eq!(
            unwrap(&m2, &Granted::for_tests(&key), &w).unwrap_err(),
            Error::WrappedKeyInvalid
        );
        let w2 = wrap(&m2, &Granted::for_tests(&key), &[5; 32]).unwrap();
        assert_eq!(
            *unwrap(&m2, &Granted::for_tests(&key), &w2).unwrap(),
            vec![5; 32]
        );
    }
    // KW takes only multiples of 8 of at least 16 bytes.
    let kw = Mechanism {
        mech: CKM_AES_KEY_WRAP,
        param: Param::None,
    };
    assert_eq!(
        wrap(&kw, &Granted::for_tests(&key), &[1; 12]).unwrap_err(),
        Error::KeySizeRange
    );
    assert_eq!(
        wrap(&kw, &Granted::for_tests(&key), &[1; 8]).unwrap_err(),
        Error::KeySizeRange
    );
    assert_eq!(
        single(op(&kw, &key, true).as_mut(), &[1; 20]).unwrap_err(),
        Error::DataLenRange
    );

    let pad = Mechanism {
        mech: CKM_AES_CBC_PAD,
        param: Param::Bytes(vec![0; 16]),
    };
    let ecb = Mechanism {
        mech: CKM_AES_ECB,
        param: Param::None,
    };
    // Blocks whose decryption ends in bad padding: encrypt raw blocks with CBC.
    let raw = Mechanism {
        mech: CKM_AES_CBC,
        param: Param::Bytes(vec![0; 16]),
    };
    for last in [[0u8; 16], [17u8; 16], {
        let mut b = [3u8; 16];
        b[14] = 2;
        b
    }] {
        let ct = single(op(&raw, &key, true).as_mut(), &last).unwrap();
        assert_eq!(
            single(op(&pad, &key, false).as_mut(), &ct).unwrap_err(),
            Error::EncryptedDataInvalid
        );
        assert_eq!(
            multi(op(&pad, &key, false).as_mut(), &ct, 5).unwrap_err(),
            Error::EncryptedDataInvalid
        );
        assert_eq!(
            unwrap(&pad, &Granted::for_tests(&key), &ct).unwrap_err(),
            Error::WrappedKeyInvalid
        );
    }
    // CBC_PAD wraps any length; ECB pads with zeros.
    let w = wrap(&pad, &Granted::for_tests(&key), &[7; 21]).unwrap();
    assert_eq!(
        *unwrap(&pad, &Granted::for_tests(&key), &w).unwrap(),
        vec![7; 21]
    );
    let w = wrap(&ecb, &Granted::for_tests(&key), &[7; 21]).unwrap();
    assert_eq!(w.len(), 32);
    let mut want = vec![7; 21];
    want.resize(32, 0);
    assert_eq!(*unwrap(&ecb, &Granted::for_tests(&key), &w).unwrap(), want);
    assert_eq!(
        unwrap(&ecb, &Granted::for_tests(&key), &w[..20]).unwrap_err(),
        Error::WrappedKeyLenRange
    );
}

#[test]
fn key_generation() {
    let m = Mechanism {
        mech: CKM_AES_KEY_GEN,
        param: Param::None,
    };
    for len in [16, 24, 32] {
        let g = aes_key_gen(&m, &vec![Attribute::ulong(CKA_VALUE_LEN, len)]).unwrap();
        let get = |ty| g.iter().find(|a| a.ty == ty).unwrap();
        assert_eq!(get(CKA_VALUE).value.len(), usize::try_from(len).unwrap());
        assert_eq!(get(CKA_KEY_TYPE).as_ulong().unwrap(), CKK_AES);
        assert_eq!(get(CKA_CLASS).as_ulong().unwrap(), CKO_SECRET_KEY);
    }
    assert_eq!(
        aes_key_gen(&m, &vec![]).unwrap_err(),
        Error::TemplateIncomplete {
            missing: CKA_VALUE_LEN
        }
    );
    for bad in [0, 8, 20, 64] {
        let t = vec![Attribute::ulong(CKA_VALUE_LEN, bad)];
        assert_eq!(
            aes_key_gen(&m, &t).unwrap_err(),
            Error::AttributeValueInvalid(CKA_VALUE_LEN)
        );
    }
}

fn msg_param(
    iv: Vec<u8>,
    fixed: CK_ULONG,
    generator: CK_ULONG,
    tag_bits: CK_ULONG,
    tag: Vec<u8>,
) -> Param {
    Param::GcmMessage {
        iv,
        iv_fixed_bits: fixed,
        iv_generator: generator,
        tag_bits,
        tag,
    }
}

#[test]
fn message_gcm() {
    // McGrew-Viega test case 4 through the message functions.
    let key = key_obj(CKK_AES, &h("feffe9928665731c6d6a8f9467308308"));
    let iv = h("cafebabefacedbaddecaf888");
    let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let pt = h("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
    let ct = h("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091");
    let tag = h("5bc94fbc3221a5db94fae95ae7121a47");
    let m = Mechanism {
        mech: CKM_AES_GCM,
        param: Param::None,
    };
    let mut enc = message::encrypt_init(&m, &Granted::for_tests(&key)).unwrap();
    let mut dec = message::decrypt_init(&m, &Granted::for_tests(&key)).unwrap();

    let mut p = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, vec![]);
    let mut q = OutBuf::query();
    enc.one_shot(&mut p, &aad, &pt, &mut q).unwrap();
    assert_eq!(q.len(), pt.len());
    let mut buf = vec![0u8; pt.len()];
    enc.one_shot(&mut p, &aad, &pt, &mut OutBuf::new(Some(&mut buf)))
        .unwrap();
    assert_eq!(buf, ct);
    assert!(matches!(&p, Param::GcmMessage { tag: t, .. } if *t == tag));

    let mut p = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, tag.clone());
    let mut out = vec![0u8; ct.len()];
    dec.one_shot(&mut p, &aad, &ct, &mut OutBuf::new(Some(&mut out)))
        .unwrap();
    assert_eq!(out, pt);
    let mut bad = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, {
        let mut t = tag.clone();
        t[3] ^= 1;
        t
    });
    assert_eq!(
        dec.one_shot(&mut bad, &aad, &ct, &mut OutBuf::new(Some(&mut out))),
        Err(Error::AeadDecryptFailed)
    );
    // A truncated tag of the wrong length for tag_bits is refused.
    let mut short = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, tag[..12].to_vec());
    assert_eq!(
        dec.one_shot(&mut short, &aad, &ct, &mut OutBuf::new(Some(&mut out))),
        Err(Error::MechanismParamInvalid)
    );

    // Begin / next in pieces.
    for chunk in [1, 15, 17, 4097] {
        let mut p = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 96, vec![]);
        enc.begin(&mut p, &aad).unwrap();
        assert_eq!(enc.begin(&mut p, &aad), Err(Error::OperationActive));
        let mut got = Vec::new();
        let pieces: Vec<&[u8]> = pt.chunks(chunk).collect();
        for (i, c) in pieces.iter().enumerate() {
            let last = i + 1 == pieces.len();
            let mut q = OutBuf::query();
            enc.next(&mut p, c, last, &mut q).unwrap();
            let mut b = vec![0u8; q.len()];
            let mut o = OutBuf::new(Some(&mut b));
            enc.next(&mut p, c, last, &mut o).unwrap();
            let n = o.len();
            got.extend_from_slice(&b[..n]);
        }
        assert_eq!(got, ct);
        assert!(matches!(&p, Param::GcmMessage { tag: t, .. } if *t == tag[..12]));

        let mut p = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 96, tag[..12].to_vec());
        dec.begin(&mut p, &aad).unwrap();
        let mut got = Vec::new();
        let pieces: Vec<&[u8]> = ct.chunks(chunk).collect();
        for (i, c) in pieces.iter().enumerate() {
            let last = i + 1 == pieces.len();
            let mut q = OutBuf::query();
            dec.next(&mut p, c, last, &mut q).unwrap();
            let mut b = vec![0u8; q.len()];
            let mut o = OutBuf::new(Some(&mut b));
            dec.next(&mut p, c, last, &mut o).unwrap();
            if !last {
                assert_eq!(o.len(), 0);
            }
            let n = o.len();
            got.extend_from_slice(&b[..n]);
        }
        assert_eq!(got, pt);
    }
    let mut p = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, vec![]);
    assert_eq!(
        enc.next(&mut p, &pt, true, &mut OutBuf::query()),
        Err(Error::OperationNotInitialized)
    );
}

#[test]
fn message_gcm_iv_generation() {
    let key = key_obj(CKK_AES, &[1; 16]);
    let m = Mechanism {
        mech: CKM_AES_GCM,
        param: Param::None,
    };
    let mut enc = message::encrypt_init(&m, &Granted::for_tests(&key)).unwrap();
    let mut dec = message::decrypt_init(&m, &Granted::for_tests(&key)).unwrap();
    let fixed = vec![
        0xab, 0xcd, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    // Counter: the 32 fixed bits stay, the rest counts from 0.
    let mut ivs = Vec::new();
    for _ in 0..3 {
        let mut p = msg_param(fixed.clone(), 32, CKG_GENERATE_COUNTER, 128, vec![]);
        // A size query does not use up a counter value.
        enc.one_shot(&mut p, b"", b"hello", &mut OutBuf::query())
            .unwrap();
        let mut b = [0u8; 5];
        enc.one_shot(&mut p, b"", b"hello", &mut OutBuf::new(Some(&mut b)))
            .unwrap();
        let Param::GcmMessage { iv, tag, .. } = &p else {
            panic!()
        };
        ivs.push(iv.clone());
        // It decrypts with the IV handed back.
        let mut dp = msg_param(iv.clone(), 0, CKG_NO_GENERATE, 128, tag.clone());
        let mut out = [0u8; 5];
        dec.one_shot(&mut dp, b"", &b, &mut OutBuf::new(Some(&mut out)))
            .unwrap();
        assert_eq!(&out, b"hello");
    }
    assert_eq!(ivs[0], h("abcdefff0000000000000000"));
    assert_eq!(ivs[1], h("abcdefff0000000000000001"));
    assert_eq!(ivs[2], h("abcdefff0000000000000002"));
    // Random: the fixed bits stay (here 12 bits), two IVs differ.
    let mut got = Vec::new();
    for _ in 0..2 {
        let mut p = msg_param(fixed.clone(), 12, CKG_GENERATE_RANDOM, 128, vec![]);
        let mut b = [0u8; 5];
        enc.one_shot(&mut p, b"", b"hello", &mut OutBuf::new(Some(&mut b)))
            .unwrap();
        let Param::GcmMessage { iv, .. } = &p else {
            panic!()
        };
        assert_eq!(iv[0], 0xab);
        assert_eq!(iv[1] & 0xf0, 0xc0);
        got.push(iv.clone());
    }
    assert_ne!(got[0], got[1]);
    // The counter goes on across inits of the same key: never an IV twice.
    let mut again = message::encrypt_init(&m, &Granted::for_tests(&key)).unwrap();
    let mut p = msg_param(fixed.clone(), 32, CKG_GENERATE_COUNTER, 128, vec![]);
    again
        .one_shot(&mut p, b"", b"hello", &mut OutBuf::new(Some(&mut [0u8; 5])))
        .unwrap();
    let Param::GcmMessage { iv, .. } = &p else {
        panic!()
    };
    assert!(!ivs.contains(iv), "an IV came back after a new init");
    // A counter field that is used up is refused (a key of its own, whose
    // counter starts at 0).
    let mut other = (*key).attrs().clone();
    other.insert(CKA_UNIQUE_ID, Zeroizing::new(b"used-up".to_vec()));
    let other = Arc::new(Object::new(2, None, other));
    let mut p = msg_param(vec![0; 12], 95, CKG_GENERATE_COUNTER, 128, vec![]);
    let mut enc = message::encrypt_init(&m, &Granted::for_tests(&other)).unwrap();
    let mut b = [0u8; 1];
    enc.one_shot(&mut p, b"", b"x", &mut OutBuf::new(Some(&mut b)))
        .unwrap();
    enc.one_shot(&mut p, b"", b"x", &mut OutBuf::new(Some(&mut b)))
        .unwrap();
    assert_eq!(
        enc.one_shot(&mut p, b"", b"x", &mut OutBuf::new(Some(&mut b))),
        Err(Error::DataLenRange)
    );
    // Bad parameters.
    for p in [
        msg_param(vec![], 0, CKG_NO_GENERATE, 128, vec![]),
        msg_param(vec![0; 12], 97, CKG_GENERATE_RANDOM, 128, vec![]),
        msg_param(vec![0; 12], 0, CKG_GENERATE_COUNTER_XOR, 128, vec![]),
        msg_param(vec![0; 12], 0, CKG_NO_GENERATE, 20, vec![]),
    ] {
        let mut p = p;
        assert_eq!(
            enc.one_shot(&mut p, b"", b"x", &mut OutBuf::new(Some(&mut b))),
            Err(Error::MechanismParamInvalid)
        );
    }
}

#[test]
fn registry_flags() {
    let get = |m| MECHANISMS.iter().find(|d| d.mech == m).unwrap().flags();
    assert_eq!(
        get(CKM_AES_GCM),
        CKF_ENCRYPT
            | CKF_DECRYPT
            | CKF_WRAP
            | CKF_UNWRAP
            | CKF_MESSAGE_ENCRYPT
            | CKF_MESSAGE_DECRYPT
    );
    assert_eq!(get(CKM_AES_CTR), CKF_ENCRYPT | CKF_DECRYPT);
    assert_eq!(get(CKM_AES_KEY_GEN), CKF_GENERATE);
}
