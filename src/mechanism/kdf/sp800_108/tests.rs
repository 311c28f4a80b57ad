use super::*;
use crate::crypto::hash::{hkdf_expand, hkdf_extract};
use crate::mechanism::digest::tests::h;
use crate::mechanism::mac::tests::key_obj;

struct NoKeys;
impl KeyLookup for NoKeys {
    fn key(&self, _: CK_OBJECT_HANDLE) -> Result<Granted> {
        Err(Error::KeyHandleInvalid)
    }
}

const BE16: CounterFormat = CounterFormat {
    little_endian: false,
    bits: 16,
};

fn dkm(method: CK_ULONG) -> PrfData {
    PrfData::DkmLength(DkmFormat {
        method,
        little_endian: false,
        bits: 32,
    })
}

fn params(prf: CK_MECHANISM_TYPE, data: Vec<PrfData>, extra: &[usize]) -> KbkdfParams {
    KbkdfParams {
        prf,
        data,
        iv: Vec::new(),
        additional: extra
            .iter()
            .map(|n| AdditionalKey {
                template: Vec::new(),
                len: Some(*n),
                value: None,
                handle: CK_INVALID_HANDLE,
            })
            .collect(),
    }
}

fn run(
    mech: CK_MECHANISM_TYPE,
    p: KbkdfParams,
    key: &[u8],
    key_type: CK_KEY_TYPE,
    len: Option<usize>,
) -> Result<(Vec<u8>, KbkdfParams)> {
    let k = key_obj(key_type, key);
    let mut m = Mechanism {
        mech,
        param: Param::Kbkdf(Box::new(p)),
    };
    let out = derive(&mut m, &Granted::for_tests(&k), len, &NoKeys)?;
    let Param::Kbkdf(p) = m.param else {
        unreachable!()
    };
    Ok((out.to_vec(), *p))
}

#[test]
fn counter_mode_cavp() {
    // CAVS 14.4 KBKDF counter mode, [PRF=CMAC_AES128] [CTRLOCATION=BEFORE_FIXED]
    // [RLEN=8_BITS] COUNT=0 (also in tests/vectors/kdf-kbkdf-ctr-cavp.txt).
    let p = params(
        CKM_AES_CMAC,
        vec![
            PrfData::Iteration(Some(CounterFormat {
                little_endian: false,
                bits: 8,
            })),
            PrfData::Bytes(h("c16e6e02c5a3dcc8d78b9ac1306877761310455b4e41469951d9e6c2245a064b33fd8c3b01203a7824485bf0a64060c4648b707d2607935699316ea5")),
        ],
        &[],
    );
    let (out, _) = run(
        CKM_SP800_108_COUNTER_KDF,
        p,
        &h("dff1e50ac0b69dc40f1051d46c2b069c"),
        CKK_AES,
        Some(16),
    )
    .unwrap();
    assert_eq!(out, h("8be8f0869b3c0ba97b71863d1b9f7813"));
}

#[test]
fn feedback_mode_is_hkdf_expand() {
    // HKDF-Expand (RFC 5869) is the feedback mode with an empty IV, the info,
    // then an 8-bit counter: T(i) = HMAC(PRK, T(i-1) | info | i).
    let prk = hkdf_extract(HashAlg::Sha256, b"salt", &h(&"0b".repeat(22)));
    let info = h("f0f1f2f3f4f5f6f7f8f9");
    let want = hkdf_expand(HashAlg::Sha256, &prk, &info, 42).unwrap();
    let p = params(
        CKM_SHA256_HMAC,
        vec![
            PrfData::Iteration(None),
            PrfData::Bytes(info),
            PrfData::Counter(CounterFormat {
                little_endian: false,
                bits: 8,
            }),
        ],
        &[],
    );
    let (out, _) = run(
        CKM_SP800_108_FEEDBACK_KDF,
        p,
        &prk,
        CKK_GENERIC_SECRET,
        Some(42),
    )
    .unwrap();
    assert_eq!(out, *want);
}

#[test]
fn additional_keys_take_their_own_segments() {
    // §2.42.7's example: a 48-byte key and a 16-byte key under HMAC-SHA256
    // take three segments; the second key is the start of the third.
    let data = |method| {
        vec![
            PrfData::Iteration(Some(BE16)),
            PrfData::Bytes(b"label".to_vec()),
            dkm(method),
        ]
    };
    let key = [7u8; 32];
    for method in [
        CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
        CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS,
    ] {
        let (main, p) = run(
            CKM_SP800_108_COUNTER_KDF,
            params(CKM_SHA256_HMAC, data(method), &[16]),
            &key,
            CKK_GENERIC_SECRET,
            Some(48),
        )
        .unwrap();
        let extra = p.additional[0].value.clone().unwrap().0.to_vec();
        // The same stream by hand: L is 512 or 768 bits.
        let l: u32 = if method == CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS {
            512
        } else {
            768
        };
        let seg = |i: u16| {
            let mut m = Hmac::new(HashAlg::Sha256, &key);
            m.update(&i.to_be_bytes());
            m.update(b"label");
            m.update(&l.to_be_bytes());
            m.finalize().to_vec()
        };
        assert_eq!(main, [seg(1), seg(2)[..16].to_vec()].concat());
        assert_eq!(extra, seg(3)[..16]);
    }
}

#[test]
fn data_parameter_rules() {
    let key = [1u8; 16];
    let bad = |mech, data: Vec<PrfData>| {
        run(
            mech,
            params(CKM_AES_CMAC, data, &[]),
            &key,
            CKK_AES,
            Some(16),
        )
        .unwrap_err()
    };
    let it = PrfData::Iteration(Some(BE16));
    let fb = PrfData::Iteration(None);
    let ctr = PrfData::Counter(BE16);
    let d = dkm(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS);
    let cases = [
        // Counter mode: one iteration variable with a format, no counter, one DKM.
        (CKM_SP800_108_COUNTER_KDF, vec![PrfData::Bytes(vec![1])]),
        (CKM_SP800_108_COUNTER_KDF, vec![fb.clone()]),
        (CKM_SP800_108_COUNTER_KDF, vec![it.clone(), it.clone()]),
        (CKM_SP800_108_COUNTER_KDF, vec![it.clone(), ctr.clone()]),
        (
            CKM_SP800_108_COUNTER_KDF,
            vec![it.clone(), d.clone(), d.clone()],
        ),
        (
            CKM_SP800_108_COUNTER_KDF,
            vec![it.clone(), PrfData::Bytes(vec![])],
        ),
        (
            CKM_SP800_108_COUNTER_KDF,
            vec![PrfData::Iteration(Some(CounterFormat {
                little_endian: false,
                bits: 12,
            }))],
        ),
        (
            CKM_SP800_108_COUNTER_KDF,
            vec![
                it.clone(),
                PrfData::DkmLength(DkmFormat {
                    method: 3,
                    little_endian: false,
                    bits: 32,
                }),
            ],
        ),
        (
            CKM_SP800_108_COUNTER_KDF,
            vec![
                it.clone(),
                PrfData::DkmLength(DkmFormat {
                    method: 1,
                    little_endian: false,
                    bits: 72,
                }),
            ],
        ),
        // Feedback and double pipeline: an iteration variable without a format.
        (CKM_SP800_108_FEEDBACK_KDF, vec![it.clone()]),
        (CKM_SP800_108_FEEDBACK_KDF, vec![ctr.clone()]),
        (
            CKM_SP800_108_FEEDBACK_KDF,
            vec![fb.clone(), ctr.clone(), ctr.clone()],
        ),
        (CKM_SP800_108_DOUBLE_PIPELINE_KDF, vec![it.clone()]),
        (
            CKM_SP800_108_DOUBLE_PIPELINE_KDF,
            vec![fb.clone(), d.clone(), d.clone()],
        ),
    ];
    for (mech, data) in cases {
        assert_eq!(
            bad(mech, data.clone()),
            Error::MechanismParamInvalid,
            "{data:?}"
        );
    }
    // An 8-bit counter counts 255 blocks at most.
    let small = PrfData::Iteration(Some(CounterFormat {
        little_endian: true,
        bits: 8,
    }));
    let p = params(CKM_AES_CMAC, vec![small], &[]);
    assert!(run(
        CKM_SP800_108_COUNTER_KDF,
        p.clone(),
        &key,
        CKK_AES,
        Some(255 * 16)
    )
    .is_ok());
    assert_eq!(
        run(
            CKM_SP800_108_COUNTER_KDF,
            p,
            &key,
            CKK_AES,
            Some(255 * 16 + 1)
        )
        .unwrap_err(),
        Error::MechanismParamInvalid
    );
    // A DKM length that does not fit its width.
    let p = params(
        CKM_SHA256_HMAC,
        vec![
            it.clone(),
            PrfData::DkmLength(DkmFormat {
                method: 1,
                little_endian: false,
                bits: 8,
            }),
        ],
        &[],
    );
    assert!(run(
        CKM_SP800_108_COUNTER_KDF,
        p.clone(),
        &key,
        CKK_GENERIC_SECRET,
        Some(31)
    )
    .is_ok());
    assert_eq!(
        run(
            CKM_SP800_108_COUNTER_KDF,
            p,
            &key,
            CKK_GENERIC_SECRET,
            Some(32)
        )
        .unwrap_err(),
        Error::MechanismParamInvalid
    );
}

#[test]
fn prf_and_key_checks() {
    let data = vec![PrfData::Iteration(Some(BE16))];
    let mech = CKM_SP800_108_COUNTER_KDF;
    // Unknown PRF; AES-CMAC needs an AES key; HMAC needs a generic or matching key.
    let p = params(CKM_SHA256, data.clone(), &[]);
    assert_eq!(
        run(mech, p, &[1; 16], CKK_GENERIC_SECRET, Some(16)).unwrap_err(),
        Error::MechanismParamInvalid
    );
    let p = params(CKM_AES_CMAC, data.clone(), &[]);
    assert_eq!(
        run(mech, p, &[1; 16], CKK_GENERIC_SECRET, Some(16)).unwrap_err(),
        Error::KeyTypeInconsistent
    );
    let p = params(CKM_SHA256_HMAC, data.clone(), &[]);
    assert_eq!(
        run(mech, p.clone(), &[1; 16], CKK_SHA384_HMAC, Some(16)).unwrap_err(),
        Error::KeyTypeInconsistent
    );
    assert!(run(mech, p.clone(), &[1; 16], CKK_SHA256_HMAC, Some(16)).is_ok());
    // Every key needs a length.
    assert_eq!(
        run(mech, p, &[1; 16], CKK_GENERIC_SECRET, None).unwrap_err(),
        Error::TemplateIncomplete {
            missing: CKA_VALUE_LEN
        }
    );
    let mut p = params(CKM_SHA256_HMAC, data, &[16]);
    p.additional[0].len = None;
    assert!(matches!(
        run(mech, p, &[1; 16], CKK_GENERIC_SECRET, Some(16)),
        Err(Error::TemplateIncomplete { .. })
    ));
}

#[test]
fn double_pipeline_by_hand() {
    // A(0) = fixed data, A(i) = PRF(A(i-1)), K(i) = PRF(A(i) | [i] | fixed).
    let key = [9u8; 16];
    let data = vec![
        PrfData::Iteration(None),
        PrfData::Counter(BE16),
        PrfData::Bytes(b"ctx".to_vec()),
    ];
    let (out, _) = run(
        CKM_SP800_108_DOUBLE_PIPELINE_KDF,
        params(CKM_SHA_1_HMAC, data, &[]),
        &key,
        CKK_GENERIC_SECRET,
        Some(30),
    )
    .unwrap();
    let prf = |d: &[u8]| {
        let mut m = Hmac::new(HashAlg::Sha1, &key);
        m.update(d);
        m.finalize().to_vec()
    };
    let a1 = prf(b"ctx");
    let a2 = prf(&a1);
    let k1 = prf(&[a1.as_slice(), &[0, 1], b"ctx"].concat());
    let k2 = prf(&[a2.as_slice(), &[0, 2], b"ctx"].concat());
    assert_eq!(out, [k1, k2[..10].to_vec()].concat());
}
