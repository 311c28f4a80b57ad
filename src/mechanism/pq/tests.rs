//! The PQ mechanisms on key objects made in memory (the black-box tests
//! through the `.so` are in `tests/mech_pq.rs`).

use super::keys::*;
use crate::gate::Granted;
use crate::mechanism::keys::test_util::obj;
use crate::mechanism::{registry, Mechanism, Param};
use crate::object::attr::Attribute;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;

fn pair(mech: CK_MECHANISM_TYPE, ckp: CK_ULONG) -> (Granted, Granted) {
    let gen = registry::get(mech)
        .unwrap()
        .functions
        .generate_key_pair
        .unwrap();
    let m = Mechanism {
        mech,
        param: Param::None,
    };
    let public = vec![Attribute::ulong(CKA_PARAMETER_SET, ckp)];
    let (p, s) = gen(&m, &public, &vec![]).unwrap();
    (Granted::for_tests(&obj(&p)), Granted::for_tests(&obj(&s)))
}

fn sign_verify(mech: Mechanism, pair: &(Granted, Granted), data: &[u8]) -> Vec<u8> {
    let def = registry::get(mech.mech).unwrap();
    let mut s = (def.functions.sign.unwrap())(&mech, &pair.1).unwrap();
    let mut sig = vec![0u8; 4627];
    let mut out = OutBuf::new(Some(&mut sig));
    s.one_shot(data, &mut out).unwrap();
    let n = out.len();
    sig.truncate(n);
    let mut v = (def.functions.verify.unwrap())(&mech, &pair.0).unwrap();
    v.one_shot(data, &sig).unwrap();
    sig
}

#[test]
fn ml_dsa_contexts_hedging_and_prehash() {
    let keys = pair(CKM_ML_DSA_KEY_PAIR_GEN, CKP_ML_DSA_44);
    let det = |ctx: &[u8]| Mechanism {
        mech: CKM_ML_DSA,
        param: Param::SignContext {
            hedge: CKH_DETERMINISTIC_REQUIRED,
            context: ctx.to_vec(),
        },
    };
    let a = sign_verify(det(b"ctx"), &keys, b"msg");
    assert_eq!(a, sign_verify(det(b"ctx"), &keys, b"msg"));
    assert_eq!(a.len(), 2420);
    // Another context does not verify.
    let def = registry::get(CKM_ML_DSA).unwrap();
    let mut v = (def.functions.verify.unwrap())(&det(b"other"), &keys.0).unwrap();
    assert_eq!(
        v.one_shot(b"msg", &a),
        Err(crate::error::Error::SignatureInvalid)
    );
    let mut v = (def.functions.verify.unwrap())(&det(b"ctx"), &keys.0).unwrap();
    assert_eq!(
        v.one_shot(b"msg", &a[1..]),
        Err(crate::error::Error::SignatureLenRange)
    );
    // Hedged signatures differ.
    let hedged = Mechanism {
        mech: CKM_ML_DSA,
        param: Param::None,
    };
    assert_ne!(
        sign_verify(hedged.clone(), &keys, b"m"),
        sign_verify(hedged, &keys, b"m")
    );
    // A bad hedge value.
    let bad = Mechanism {
        mech: CKM_ML_DSA,
        param: Param::SignContext {
            hedge: 7,
            context: vec![],
        },
    };
    assert!((def.functions.sign.unwrap())(&bad, &keys.1).is_err());
    // HashML-DSA with SHA-256 by the token equals CKM_HASH_ML_DSA over the digest.
    let by_token = Mechanism {
        mech: CKM_HASH_ML_DSA_SHA256,
        param: Param::SignContext {
            hedge: CKH_DETERMINISTIC_REQUIRED,
            context: vec![],
        },
    };
    let digest = {
        let mut h = crate::crypto::ml_dsa::PreHash::Sha256.hasher();
        h.update(b"abc");
        h.finish()
    };
    let by_caller = Mechanism {
        mech: CKM_HASH_ML_DSA,
        param: Param::HashSignContext {
            hedge: CKH_DETERMINISTIC_REQUIRED,
            context: vec![],
            hash: CKM_SHA256,
        },
    };
    assert_eq!(
        sign_verify(by_token, &keys, b"abc"),
        sign_verify(by_caller, &keys, &digest)
    );
}

#[test]
fn ml_kem_round_trip_and_spki() {
    let keys = pair(CKM_ML_KEM_KEY_PAIR_GEN, CKP_ML_KEM_768);
    let def = registry::get(CKM_ML_KEM).unwrap();
    let m = Mechanism {
        mech: CKM_ML_KEM,
        param: Param::None,
    };
    let mut q = OutBuf::query();
    assert!((def.functions.encapsulate.unwrap())(&m, &keys.0, &mut q)
        .unwrap()
        .is_none());
    assert_eq!(q.len(), 1088);
    let mut ct = vec![0u8; 1088];
    let mut out = OutBuf::new(Some(&mut ct));
    let ss = (def.functions.encapsulate.unwrap())(&m, &keys.0, &mut out)
        .unwrap()
        .unwrap();
    let back = (def.functions.decapsulate.unwrap())(&m, &keys.1, &ct).unwrap();
    assert_eq!(ss, back);
    let spki = public_key_info(keys.0.key().attrs()).unwrap();
    assert_eq!(&spki[..4], &[0x30, 0x82, 0x04, 0xb2]);
    assert_eq!(public_key_info(keys.1.key().attrs()).unwrap(), spki);
}
