//! Post-quantum mechanisms of PKCS#11 3.2 through the built module: ML-DSA
//! (§6.67) and ML-KEM (§6.68), and the "PKCS 11" 3.2 interface they need.
//!
//! Known answers: the NIST ACVP keyGen vectors of both (`CKA_SEED` in, the
//! expanded private key and the public key out) and the ML-KEM decapsulation
//! vectors (`tests/vectors/pq-acvp-*.json`). The ACVP ML-DSA sigGen/sigVer
//! vectors are of the internal interface (the message is `M′`), which no
//! PKCS#11 mechanism takes: they run in the crypto layer's unit tests
//! (`src/crypto/ml_dsa/tests.rs`).

#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;
mod mech_common;

use common::{rv, Ctx};
use cryptoki::context::Function;
use cryptoki::error::RvError;
use cryptoki::mechanism::dsa::{HashSignAdditionalContext, HedgeType, SignAdditionalContext};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, KeyType, MlDsaParameterSetType, MlKemParameterSetType, ObjectClass,
    ObjectHandle,
};
use cryptoki::session::Session;
use cryptoki_sys::*;
use mech_common::*;

fn dsa_set(name: &str) -> MlDsaParameterSetType {
    match name {
        "ML-DSA-44" => MlDsaParameterSetType::ML_DSA_44,
        "ML-DSA-65" => MlDsaParameterSetType::ML_DSA_65,
        "ML-DSA-87" => MlDsaParameterSetType::ML_DSA_87,
        other => panic!("parameter set {other}"),
    }
}

fn kem_set(name: &str) -> MlKemParameterSetType {
    match name {
        "ML-KEM-512" => MlKemParameterSetType::ML_KEM_512,
        "ML-KEM-768" => MlKemParameterSetType::ML_KEM_768,
        "ML-KEM-1024" => MlKemParameterSetType::ML_KEM_1024,
        other => panic!("parameter set {other}"),
    }
}

fn bytes_attr(s: &Session, k: ObjectHandle, ty: AttributeType) -> Vec<u8> {
    match s.get_attributes(k, &[ty]).expect("get attribute").pop() {
        Some(Attribute::Value(v) | Attribute::PublicKeyInfo(v) | Attribute::Seed(v)) => v,
        other => panic!("{ty:?}: {other:?}"),
    }
}

/// A session private key readable in the clear (for the known answers).
fn private_key(s: &Session, kt: KeyType, set: Attribute, material: Attribute) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(kt),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        set,
        material,
    ])
    .expect("create private key")
}

fn public_key(s: &Session, kt: KeyType, set: Attribute, value: &[u8]) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(kt),
        Attribute::Token(false),
        set,
        Attribute::Value(value.to_vec()),
    ])
    .expect("create public key")
}

/// A session key pair of the parameter set `set` (`CKP_*`).
fn session_pair(
    s: &Session,
    gen: &Mechanism,
    set: cryptoki::object::ParameterSetType,
) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        gen,
        &[Attribute::Token(false), Attribute::ParameterSet(set)],
        &[Attribute::Token(false)],
    )
    .expect("generate")
}

fn deterministic(ctx: Option<&[u8]>) -> Mechanism<'_> {
    Mechanism::MlDsa(SignAdditionalContext::new(
        HedgeType::DeterministicRequired,
        ctx,
    ))
}

#[test]
fn the_3_2_functions_are_offered() {
    let ctx = Ctx::new(1);
    // cryptoki takes the default interface: it must be the 3.2 table.
    for f in [
        Function::EncapsulateKey,
        Function::DecapsulateKey,
        Function::VerifySignature,
        Function::VerifySignatureInit,
    ] {
        assert!(ctx.p11.is_fn_supported(f), "{f:?}");
    }
    let info = ctx.p11.get_library_info().expect("C_GetInfo");
    assert_eq!(
        (
            info.cryptoki_version().major(),
            info.cryptoki_version().minor()
        ),
        (3, 0)
    );
    let list = raw().mechanism_list(ctx.slot(0).id());
    for m in [
        CKM_ML_DSA,
        CKM_ML_DSA_KEY_PAIR_GEN,
        CKM_ML_KEM,
        CKM_HASH_ML_DSA,
    ] {
        assert!(list.contains(&m), "{m:#x} not listed");
    }
    let info = raw()
        .mechanism_info(ctx.slot(0).id(), CKM_ML_KEM)
        .expect("info");
    assert_eq!(
        info.flags & (CKF_ENCAPSULATE | CKF_DECAPSULATE),
        CKF_ENCAPSULATE | CKF_DECAPSULATE
    );
}

#[test]
fn acvp_ml_dsa_keygen_from_the_seed() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let v = json("pq-acvp-ml-dsa-keygen.json");
    for t in v["tests"].as_array().expect("tests") {
        let set = dsa_set(js(t, "parameterSet"));
        let k = private_key(
            &s,
            KeyType::ML_DSA,
            Attribute::ParameterSet(set.into()),
            Attribute::Seed(h(js(t, "seed"))),
        );
        assert_eq!(
            hx(&bytes_attr(&s, k, AttributeType::Value)),
            js(t, "sk").to_lowercase(),
            "tcId {}",
            t["tcId"]
        );
        let spki = bytes_attr(&s, k, AttributeType::PublicKeyInfo);
        let pk = h(js(t, "pk"));
        assert!(spki.ends_with(&pk), "tcId {}", t["tcId"]);
        // The key signs, and the public key made from pk verifies.
        let p = public_key(
            &s,
            KeyType::ML_DSA,
            Attribute::ParameterSet(set.into()),
            &pk,
        );
        let sig = s.sign(&deterministic(Some(b"ctx")), k, b"m").expect("sign");
        s.verify(&deterministic(Some(b"ctx")), p, b"m", &sig)
            .expect("verify");
        // The same key from its expanded encoding signs the same (deterministic).
        let k2 = private_key(
            &s,
            KeyType::ML_DSA,
            Attribute::ParameterSet(set.into()),
            Attribute::Value(h(js(t, "sk"))),
        );
        let sig2 = s
            .sign(&deterministic(Some(b"ctx")), k2, b"m")
            .expect("sign");
        assert_eq!(sig, sig2);
    }
}

#[test]
fn acvp_ml_kem_keygen_from_the_seed() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let v = json("pq-acvp-ml-kem-keygen.json");
    for t in v["tests"].as_array().expect("tests") {
        let set = kem_set(js(t, "parameterSet"));
        let mut seed = h(js(t, "d"));
        seed.extend(h(js(t, "z")));
        let k = private_key(
            &s,
            KeyType::ML_KEM,
            Attribute::ParameterSet(set.into()),
            Attribute::Seed(seed),
        );
        assert_eq!(
            hx(&bytes_attr(&s, k, AttributeType::Value)),
            js(t, "dk").to_lowercase(),
            "tcId {}",
            t["tcId"]
        );
        let spki = bytes_attr(&s, k, AttributeType::PublicKeyInfo);
        assert!(spki.ends_with(&h(js(t, "ek"))), "tcId {}", t["tcId"]);
    }
}

fn secret_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ]
}

#[test]
fn acvp_ml_kem_decapsulation() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let v = json("pq-acvp-ml-kem-encapdecap.json");
    let mut modified = 0;
    for t in v["tests"].as_array().expect("tests") {
        let set = kem_set(js(t, "parameterSet"));
        let k = private_key(
            &s,
            KeyType::ML_KEM,
            Attribute::ParameterSet(set.into()),
            Attribute::Value(h(js(t, "dk"))),
        );
        let secret = s
            .decapsulate_key(&Mechanism::MlKem, k, &secret_template(), &h(js(t, "c")))
            .unwrap_or_else(|e| panic!("tcId {}: {e}", t["tcId"]));
        assert_eq!(
            hx(&value_of(&s, secret)),
            js(t, "k").to_lowercase(),
            "tcId {}",
            t["tcId"]
        );
        if t["reason"] == "modify ciphertext" {
            modified += 1;
        }
    }
    // Implicit rejection: a modified ciphertext gives the vector's other key.
    assert!(modified > 0);
}

#[test]
fn ml_kem_round_trip_lengths_and_errors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    for (set, ct_len) in [
        (MlKemParameterSetType::ML_KEM_512, 768),
        (MlKemParameterSetType::ML_KEM_768, 1088),
        (MlKemParameterSetType::ML_KEM_1024, 1568),
    ] {
        let (public, private) = session_pair(&s, &Mechanism::MlKemKeyPairGen, set.into());
        let mut t = secret_template();
        t.push(Attribute::ValueLen(16.into()));
        let (ct, a) = s
            .encapsulate_key(&Mechanism::MlKem, public, &t)
            .expect("encapsulate");
        assert_eq!(ct.len(), ct_len);
        let b = s
            .decapsulate_key(&Mechanism::MlKem, private, &t, &ct)
            .expect("decapsulate");
        assert_eq!(value_of(&s, a), value_of(&s, b));
        assert_eq!(value_of(&s, a).len(), 16);
        // Another length of ciphertext.
        assert_eq!(
            rv(s.decapsulate_key(&Mechanism::MlKem, private, &t, &ct[1..])),
            RvError::EncryptedDataLenRange
        );
        // A ciphertext of the right length not made for this key: implicit
        // rejection, a key that does not match.
        let mut bad = ct.clone();
        bad[0] ^= 1;
        let c = s
            .decapsulate_key(&Mechanism::MlKem, private, &t, &bad)
            .expect("implicit rejection");
        assert_ne!(value_of(&s, a), value_of(&s, c));
        // Wrong key roles and types.
        assert_eq!(
            rv(s.encapsulate_key(&Mechanism::MlKem, private, &t)),
            RvError::KeyTypeInconsistent
        );
        assert_eq!(
            rv(s.decapsulate_key(&Mechanism::MlKem, public, &t, &ct)),
            RvError::KeyTypeInconsistent
        );
        // The parameter set reads back.
        match s
            .get_attributes(public, &[AttributeType::ParameterSet])
            .expect("get")
            .pop()
        {
            Some(Attribute::ParameterSet(p)) => {
                assert_eq!(MlKemParameterSetType::from(p), set);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_key_gate_checks_encapsulation_usage() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::MlKemKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::ParameterSet(MlKemParameterSetType::ML_KEM_768.into()),
                Attribute::Encapsulate(false),
            ],
            &[Attribute::Token(false), Attribute::Decapsulate(false)],
        )
        .expect("generate");
    assert_eq!(
        rv(s.encapsulate_key(&Mechanism::MlKem, public, &secret_template())),
        RvError::KeyFunctionNotPermitted
    );
    assert_eq!(
        rv(s.decapsulate_key(&Mechanism::MlKem, private, &secret_template(), &[0; 1088])),
        RvError::KeyFunctionNotPermitted
    );
    // An ML-DSA public key is no encapsulation key.
    let (dsa_public, _) = session_pair(
        &s,
        &Mechanism::MlDsaKeyPairGen,
        MlDsaParameterSetType::ML_DSA_44.into(),
    );
    assert_eq!(
        rv(s.encapsulate_key(&Mechanism::MlKem, dsa_public, &secret_template())),
        RvError::KeyTypeInconsistent
    );
}

/// `C_EncapsulateKey` and `C_DecapsulateKey` through the default interface's
/// table: a short buffer is `CKR_BUFFER_TOO_SMALL` with the length reported,
/// a parameter is refused, and no key is made.
#[test]
fn encapsulation_buffer_and_parameter_errors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let (public, private) = session_pair(
        &s,
        &Mechanism::MlKemKeyPairGen,
        MlKemParameterSetType::ML_KEM_512.into(),
    );
    let table = p11_testkit::function_table_3_2(common::module_path());
    let class = CKO_SECRET_KEY;
    let kt = CKK_GENERIC_SECRET;
    let tmpl = [attr(CKA_CLASS, &class), attr(CKA_KEY_TYPE, &kt)];
    let before = s.find_objects(&[]).expect("find").len();
    let (r, len, key) =
        p11_testkit::session::encapsulate_into(table, &s, &plain(CKM_ML_KEM), public, &tmpl, 100);
    assert_eq!(r, CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 768);
    assert_eq!(key, 0);
    // CKM_ML_KEM takes no parameter (PKCS#11 3.2 §6.68.5): a byte of one, or
    // a null pointer with a length, is CKR_MECHANISM_PARAM_INVALID in both
    // functions, and no key is made.
    let one = 0u8;
    let null_with_len = CK_MECHANISM {
        mechanism: CKM_ML_KEM,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 1,
    };
    for m in [mech(CKM_ML_KEM, Some(&one)), null_with_len] {
        let (r, _, key) = p11_testkit::session::encapsulate_into(table, &s, &m, public, &tmpl, 768);
        assert_eq!((r, key), (CKR_MECHANISM_PARAM_INVALID, 0));
        let (r, key) =
            p11_testkit::session::decapsulate_with(table, &s, &m, private, &tmpl, &[0; 768]);
        assert_eq!((r, key), (CKR_MECHANISM_PARAM_INVALID, 0));
    }
    assert_eq!(s.find_objects(&[]).expect("find").len(), before);
}

#[test]
fn ml_dsa_contexts_hedging_and_errors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let (public, private) = session_pair(
        &s,
        &Mechanism::MlDsaKeyPairGen,
        MlDsaParameterSetType::ML_DSA_65.into(),
    );
    let data = b"message";
    // Deterministic with a context: the same signature twice; 255 bytes of
    // context is the most.
    let c255 = [7u8; 255];
    let a = s
        .sign(&deterministic(Some(&c255)), private, data)
        .expect("sign");
    assert_eq!(a.len(), 3309);
    assert_eq!(
        a,
        s.sign(&deterministic(Some(&c255)), private, data)
            .expect("sign")
    );
    s.verify(&deterministic(Some(&c255)), public, data, &a)
        .expect("verify");
    // Hedged: two signatures differ, both verify.
    let hedged = Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::Required, None));
    let b = s.sign(&hedged, private, data).expect("sign");
    assert_ne!(b, s.sign(&hedged, private, data).expect("sign"));
    s.verify(&hedged, public, data, &b).expect("verify");
    // Without a parameter: hedged, empty context.
    let raw = raw();
    let sig = raw
        .sign(&s, &plain(CKM_ML_DSA), private, data)
        .expect("raw sign");
    s.verify(&deterministic(None), public, data, &sig)
        .expect("empty context");
    // Another context, another message, a cut signature.
    assert_eq!(
        rv(s.verify(&deterministic(Some(b"x")), public, data, &a)),
        RvError::SignatureInvalid
    );
    assert_eq!(
        rv(s.verify(&deterministic(Some(&c255)), public, b"other", &a)),
        RvError::SignatureInvalid
    );
    assert_eq!(
        rv(s.verify(&deterministic(Some(&c255)), public, data, &a[1..])),
        RvError::SignatureLenRange
    );
    // 256 bytes of context.
    let c256 = [7u8; 256];
    assert_eq!(
        rv(s.sign(&deterministic(Some(&c256)), private, data)),
        RvError::MechanismParamInvalid
    );
    // A signature buffer one byte short keeps the operation.
    raw.sign_init(&s, &plain(CKM_ML_DSA), private)
        .expect("init");
    let (r, n, _) = raw.sign_into(&s, data, 3308);
    assert_eq!((r, n), (CKR_BUFFER_TOO_SMALL, 3309));
    let (r, n, sig) = raw.sign_into(&s, data, 3309);
    assert_eq!((r, n), (CKR_OK, 3309));
    s.verify(&deterministic(None), public, data, &sig)
        .expect("verify");
    // Wrong key types: an AES key, a public key to sign with.
    let aes = aes_key(&s, &[1; 32]);
    assert_eq!(
        rv(s.sign(&deterministic(None), aes, data)),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.sign(&deterministic(None), public, data)),
        RvError::KeyTypeInconsistent
    );
}

#[test]
fn ml_dsa_key_generation_errors() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let gen =
        |p: &[Attribute], q: &[Attribute]| s.generate_key_pair(&Mechanism::MlDsaKeyPairGen, p, q);
    assert_eq!(
        rv(gen(&[Attribute::Token(false)], &[])),
        RvError::TemplateIncomplete
    );
    let nine = cryptoki::types::Ulong::from(9);
    let bad_set = Attribute::ParameterSet(
        cryptoki::object::ParameterSetType::try_from(nine).expect("parameter set"),
    );
    assert_eq!(rv(gen(&[bad_set], &[])), RvError::AttributeValueInvalid);
    assert_eq!(
        rv(gen(
            &[Attribute::ParameterSet(
                MlDsaParameterSetType::ML_DSA_44.into()
            )],
            &[Attribute::ParameterSet(
                MlDsaParameterSetType::ML_DSA_87.into()
            )]
        )),
        RvError::TemplateInconsistent
    );
    // A public key value of another set's length.
    assert_eq!(
        rv(s.create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::ML_DSA),
            Attribute::ParameterSet(MlDsaParameterSetType::ML_DSA_44.into()),
            Attribute::Value(vec![0; 1952]),
        ])),
        RvError::AttributeValueInvalid
    );
    // A private key with neither seed nor value.
    assert_eq!(
        rv(s.create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::ML_DSA),
            Attribute::ParameterSet(MlDsaParameterSetType::ML_DSA_44.into()),
        ])),
        RvError::TemplateIncomplete
    );
}

#[test]
fn hash_ml_dsa_and_verify_signature() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let (public, private) = session_pair(
        &s,
        &Mechanism::MlDsaKeyPairGen,
        MlDsaParameterSetType::ML_DSA_44.into(),
    );
    let data = pattern(1000);
    let by_token = Mechanism::HashMlDsaSha512(SignAdditionalContext::new(
        HedgeType::DeterministicRequired,
        Some(b"c"),
    ));
    // Multi-part equals single-part (deterministic).
    s.sign_init(&by_token, private).expect("init");
    for part in data.chunks(300) {
        s.sign_update(part).expect("update");
    }
    let multi = s.sign_final().expect("final");
    assert_eq!(multi, s.sign(&by_token, private, &data).expect("sign"));
    // CKM_HASH_ML_DSA over the SHA-512 digest makes the same signature.
    let digest = s.digest(&Mechanism::Sha512, &data).expect("digest");
    let by_caller = Mechanism::HashMlDsa(HashSignAdditionalContext::new(
        HedgeType::DeterministicRequired,
        Some(b"c"),
        MechanismType::SHA512,
    ));
    assert_eq!(
        multi,
        s.sign(&by_caller, private, &digest).expect("sign digest")
    );
    assert_eq!(
        rv(s.sign(&by_caller, private, &digest[1..])),
        RvError::DataLenRange
    );
    // C_VerifySignature*, single and multi-part; a wrong signature fails.
    s.verify_signature_init(&by_token, public, &multi)
        .expect("init");
    s.verify_signature(&data).expect("verify");
    s.verify_signature_init(&by_token, public, &multi)
        .expect("init");
    for part in data.chunks(300) {
        s.verify_signature_update(part).expect("update");
    }
    s.verify_signature_final().expect("final");
    s.verify_signature_init(&by_token, public, &multi)
        .expect("init");
    assert_eq!(
        rv(s.verify_signature(&data[1..])),
        RvError::SignatureInvalid
    );
    // A signature longer than any mechanism makes is refused before it is
    // kept (ML-DSA-87's are 4,627 bytes).
    assert_eq!(
        rv(s.verify_signature_init(&by_token, public, &vec![0; 8193])),
        RvError::SignatureLenRange
    );
    // Pure ML-DSA is not pre-hash ML-DSA.
    assert_eq!(
        rv(s.verify(&deterministic(Some(b"c")), public, &data, &multi)),
        RvError::SignatureInvalid
    );
    // Every HASH_ML_DSA_<hash> signs what CKM_HASH_ML_DSA signs over the
    // module's own digest (the SHAKE ones have no PKCS#11 digest: a round trip
    // and a refused altered message).
    let ctx_of = || SignAdditionalContext::new(HedgeType::DeterministicRequired, Some(b"c"));
    let variants = [
        (Mechanism::HashMlDsaSha224(ctx_of()), Some(CKM_SHA224)),
        (Mechanism::HashMlDsaSha256(ctx_of()), Some(CKM_SHA256)),
        (Mechanism::HashMlDsaSha384(ctx_of()), Some(CKM_SHA384)),
        (Mechanism::HashMlDsaSha3_224(ctx_of()), Some(CKM_SHA3_224)),
        (Mechanism::HashMlDsaSha3_256(ctx_of()), Some(CKM_SHA3_256)),
        (Mechanism::HashMlDsaSha3_384(ctx_of()), Some(CKM_SHA3_384)),
        (Mechanism::HashMlDsaSha3_512(ctx_of()), Some(CKM_SHA3_512)),
        (Mechanism::HashMlDsaShake128(ctx_of()), None),
        (Mechanism::HashMlDsaShake256(ctx_of()), None),
    ];
    for (m, hash) in &variants {
        let sig = s.sign(m, private, &data).expect("sign");
        s.verify(m, public, &data, &sig).expect("verify");
        assert_eq!(
            rv(s.verify(m, public, &data[1..], &sig)),
            RvError::SignatureInvalid
        );
        if let Some(hash) = hash {
            let digest = raw().digest(&s, &plain(*hash), &data).expect("digest");
            let c = b"c";
            let p = CK_HASH_SIGN_ADDITIONAL_CONTEXT {
                hedgeVariant: CKH_DETERMINISTIC_REQUIRED,
                pContext: c.as_ptr().cast_mut(),
                ulContextLen: 1,
                hash: *hash,
            };
            let by_caller = mech(CKM_HASH_ML_DSA, Some(&p));
            assert_eq!(
                sig,
                raw().sign(&s, &by_caller, private, &digest).expect("sign"),
                "{hash:#x}"
            );
        }
    }
}
