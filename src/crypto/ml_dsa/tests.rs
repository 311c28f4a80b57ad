//! NIST ACVP ML-DSA vectors (keyGen, sigGen and sigVer of the internal
//! interface, `tests/vectors/pq-acvp-ml-dsa-*.json`) against the wrapper.

use super::*;
use crate::crypto::test_vectors::{acvp_tests as vectors, field, hex};

fn set(name: &str) -> MlDsaSet {
    match name {
        "ML-DSA-44" => MlDsaSet::P44,
        "ML-DSA-65" => MlDsaSet::P65,
        "ML-DSA-87" => MlDsaSet::P87,
        other => panic!("unknown parameter set {other}"),
    }
}

#[test]
fn acvp_keygen() {
    let tests = vectors("pq-acvp-ml-dsa-keygen.json");
    assert_eq!(tests.len(), 6);
    for t in tests {
        let s = set(t["parameterSet"].as_str().unwrap());
        let k = MlDsaPrivateKey::from_seed(s, &field(&t, "seed")).unwrap();
        assert_eq!(k.public(), field(&t, "pk").as_slice(), "tc {}", t["tcId"]);
        assert_eq!(k.expanded(), field(&t, "sk").as_slice(), "tc {}", t["tcId"]);
        let again = MlDsaPrivateKey::from_expanded(s, &field(&t, "sk")).unwrap();
        assert_eq!(again.public(), field(&t, "pk").as_slice());
        assert!(again.seed().is_none());
    }
}

#[test]
fn acvp_siggen_deterministic_and_hedged() {
    let tests = vectors("pq-acvp-ml-dsa-siggen.json");
    assert_eq!(tests.len(), 12);
    let mut deterministic = 0;
    for t in tests {
        let s = set(t["parameterSet"].as_str().unwrap());
        let k = MlDsaPrivateKey::from_expanded(s, &field(&t, "sk")).unwrap();
        let mut h = k.mu_hasher();
        h.update(&field(&t, "message"));
        let mu = h.finish();
        let want = field(&t, "signature");
        if t["deterministic"].as_bool().unwrap() {
            deterministic += 1;
            assert_eq!(k.sign_mu(&mu, true).unwrap(), want, "tc {}", t["tcId"]);
        } else {
            // A hedged signature cannot be reproduced (rnd is fresh): it verifies.
            let sig = k.sign_mu(&mu, false).unwrap();
            let p = MlDsaPublicKey::from_bytes(s, k.public()).unwrap();
            assert!(p.verify_mu(&mu, &sig));
            assert!(p.verify_mu(&mu, &want));
        }
    }
    assert_eq!(deterministic, 6);
}

#[test]
fn acvp_sigver() {
    let tests = vectors("pq-acvp-ml-dsa-sigver.json");
    assert_eq!(tests.len(), 12);
    for t in tests {
        let s = set(t["parameterSet"].as_str().unwrap());
        let p = MlDsaPublicKey::from_bytes(s, &field(&t, "pk")).unwrap();
        let mut h = p.mu_hasher();
        h.update(&field(&t, "message"));
        let ok = p.verify_mu(&h.finish(), &field(&t, "signature"));
        assert_eq!(ok, t["testPassed"].as_bool().unwrap(), "tc {}", t["tcId"]);
    }
}

#[test]
fn bad_keys_are_refused() {
    let t = &vectors("pq-acvp-ml-dsa-keygen.json")[0];
    let sk = field(t, "sk");
    assert!(MlDsaPrivateKey::from_expanded(MlDsaSet::P65, &sk).is_err());
    assert!(MlDsaPrivateKey::from_seed(MlDsaSet::P44, &[0; 31]).is_err());
    let mut bad = sk.clone();
    bad[200] = 0xff; // an s1 coefficient above 2η
    assert!(MlDsaPrivateKey::from_expanded(MlDsaSet::P44, &bad).is_err());
    let mut bad = sk;
    bad[70] ^= 1; // tr no longer the hash of the public key
    assert!(MlDsaPrivateKey::from_expanded(MlDsaSet::P44, &bad).is_err());
    assert!(MlDsaPublicKey::from_bytes(MlDsaSet::P44, &[0; 10]).is_err());
}

#[test]
fn prehash_lengths_and_oids() {
    assert_eq!(PreHash::Sha256.hasher().finish().len(), 32);
    assert_eq!(PreHash::Shake128.hasher().finish().len(), 32);
    assert_eq!(PreHash::Shake256.hasher().finish().len(), 64);
    assert_eq!(PreHash::Sha3_224.hasher().finish().len(), 28);
    // SHA-256 of "abc" (FIPS 180-2 B.1).
    let mut h = PreHash::Sha256.hasher();
    h.update(b"abc");
    assert_eq!(
        h.finish(),
        hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(PreHash::Sha512.oid_der()[10], 3);
}
