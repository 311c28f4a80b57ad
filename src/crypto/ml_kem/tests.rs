//! NIST ACVP ML-KEM vectors (keyGen, encapsulation, decapsulation,
//! `tests/vectors/pq-acvp-ml-kem-*.json`) against the wrapper, in the build's
//! backend.

use super::*;
use crate::crypto::test_vectors::{acvp_tests as vectors, field};

fn set(name: &str) -> MlKemSet {
    match name {
        "ML-KEM-512" => MlKemSet::P512,
        "ML-KEM-768" => MlKemSet::P768,
        "ML-KEM-1024" => MlKemSet::P1024,
        other => panic!("unknown parameter set {other}"),
    }
}

#[test]
fn acvp_keygen() {
    let tests = vectors("pq-acvp-ml-kem-keygen.json");
    assert_eq!(tests.len(), 6);
    for t in tests {
        let s = set(t["parameterSet"].as_str().unwrap());
        let mut seed = field(&t, "d");
        seed.extend(field(&t, "z"));
        let k = MlKemPrivateKey::from_seed(s, &seed).unwrap();
        assert_eq!(k.public(), field(&t, "ek").as_slice(), "tc {}", t["tcId"]);
        assert_eq!(k.expanded(), field(&t, "dk").as_slice(), "tc {}", t["tcId"]);
        let again = MlKemPrivateKey::from_expanded(s, &field(&t, "dk")).unwrap();
        assert_eq!(again.public(), field(&t, "ek").as_slice());
    }
}

#[test]
fn acvp_encapsulation_and_decapsulation() {
    let tests = vectors("pq-acvp-ml-kem-encapdecap.json");
    assert_eq!(tests.len(), 15);
    for t in tests {
        let s = set(t["parameterSet"].as_str().unwrap());
        let dk = MlKemPrivateKey::from_expanded(s, &field(&t, "dk")).unwrap();
        let c = field(&t, "c");
        if t["function"] == "encapsulation" {
            let m: [u8; 32] = field(&t, "m").try_into().unwrap();
            let (ct, k) = encapsulate_with(s, &field(&t, "ek"), &m).unwrap();
            assert_eq!(ct, c, "tc {}", t["tcId"]);
            assert_eq!(k.as_slice(), field(&t, "k").as_slice());
        }
        // Both groups decapsulate (a modified ciphertext gives the implicit
        // rejection key the vector names).
        let k = dk.decapsulate(&c).unwrap();
        assert_eq!(k.as_slice(), field(&t, "k").as_slice(), "tc {}", t["tcId"]);
    }
}

#[test]
fn round_trip_and_bad_input() {
    for s in [MlKemSet::P512, MlKemSet::P768, MlKemSet::P1024] {
        let k = MlKemPrivateKey::generate(s).unwrap();
        assert_eq!(k.seed().unwrap().len(), SEED_LEN);
        let p = MlKemPublicKey::from_bytes(s, k.public()).unwrap();
        let (ct, ss) = p.encapsulate().unwrap();
        assert_eq!(ct.len(), s.ciphertext_len());
        assert_eq!(ss.len(), SHARED_LEN);
        assert_eq!(k.decapsulate(&ct).unwrap(), ss);
        assert_eq!(
            k.decapsulate(&ct[1..]).unwrap_err(),
            Error::EncryptedDataLenRange
        );
    }
    // The modulus check of FIPS 203 §7.2: a coefficient of 0xfff >= q.
    let mut bad = MlKemPrivateKey::generate(MlKemSet::P512)
        .unwrap()
        .public()
        .to_vec();
    bad[0] = 0xff;
    bad[1] |= 0x0f;
    assert!(MlKemPublicKey::from_bytes(MlKemSet::P512, &bad).is_err());
    assert!(MlKemPrivateKey::from_seed(MlKemSet::P512, &[0; 32]).is_err());
}
