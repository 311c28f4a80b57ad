//! The workloads: what one operation is, the mechanisms it needs, and the keys it uses.
//!
//! One operation is the whole call sequence a client makes, as `cryptoki` makes it
//! (for example `C_EncryptInit`, `C_Encrypt` for the length, `C_Encrypt`). Objects an
//! operation creates are destroyed after it, outside the measured time.

use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::dsa::{HedgeType, SignAdditionalContext};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, KeyType, MlDsaParameterSetType, MlKemParameterSetType, ObjectClass,
    ObjectHandle,
};
use cryptoki::session::Session;

/// DER of the P-256 curve OID (`CKA_EC_PARAMS`).
const P256: &[u8] = &p11_testkit::P256_OID;
/// DER of the P-384 curve OID (`CKA_EC_PARAMS`).
const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// `CKA_EC_PARAMS` of Ed25519: the PrintableString "edwards25519", the form
/// PKCS#11 3.0 names and SoftHSMv2 accepts.
const ED25519: &[u8] = b"\x13\x0cedwards25519";
/// The label every `find` workload looks for, among `bench-find-0..N`.
const FIND_LABEL: &str = "bench-find-7";

/// One kind of operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// AES-256-GCM encryption of this many bytes (fresh IV each time).
    GcmEncrypt(usize),
    /// AES-256-CBC-PAD encryption of this many bytes.
    CbcPadEncrypt(usize),
    /// SHA-256 of this many bytes.
    Sha256(usize),
    /// HMAC-SHA256 of this many bytes.
    HmacSha256(usize),
    /// RSA-2048 CKM_SHA256_RSA_PKCS signature of 32 bytes.
    RsaPkcsSign,
    /// RSA-2048 CKM_SHA256_RSA_PKCS_PSS signature of 32 bytes.
    RsaPssSign,
    /// RSA-2048 CKM_SHA256_RSA_PKCS verification.
    RsaPkcsVerify,
    /// RSA-2048 CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA1) decryption of 32 bytes.
    RsaOaepDecrypt,
    /// CKM_ECDSA P-256 signature of a 32-byte hash.
    EcdsaSign,
    /// CKM_ECDSA P-256 verification.
    EcdsaVerify,
    /// CKM_ECDH1_DERIVE P-256 (null KDF) into a 32-byte session secret.
    Ecdh,
    /// CKM_ECDSA P-384 signature of a 32-byte hash.
    P384Sign,
    /// CKM_ECDSA P-384 verification.
    P384Verify,
    /// CKM_EDDSA (pure Ed25519) signature of a 32-byte message.
    Ed25519Sign,
    /// CKM_EDDSA (pure Ed25519) verification.
    Ed25519Verify,
    /// CKM_ML_DSA ML-DSA-65 signature of `MSG` (hedged, no context).
    MlDsaSign,
    /// CKM_ML_DSA ML-DSA-65 verification.
    MlDsaVerify,
    /// C_EncapsulateKey with CKM_ML_KEM, ML-KEM-768, into a 32-byte session secret.
    MlKemEncapsulate,
    /// C_DecapsulateKey with CKM_ML_KEM, ML-KEM-768, into a 32-byte session secret.
    MlKemDecapsulate,
    /// AES-256 token key generation.
    GenAes,
    /// P-256 token key pair generation.
    GenP256,
    /// RSA-2048 token key pair generation.
    GenRsa,
    /// C_CreateObject of an AES-256 token key.
    CreateTokenKey,
    /// C_FindObjects{Init,,Final} of one label among this many token keys.
    Find(usize),
    /// One C_GetSessionInfo: the cost of one call, which through a forwarding
    /// module is the round trip alone.
    SessionInfo,
    /// One C_GenerateRandom of this many bytes.
    Random(usize),
    /// In a new process (the bench re-executes itself): load the module, C_Initialize,
    /// C_OpenSession, C_Login and the first C_FindObjects of one label, on a token
    /// holding this many objects. The bench's tokens use `kdf = "fast"`, so the PIN
    /// KDF is not in it; [`Op::Kdf`] measures the default one alone.
    Open(usize),
    /// Argon2id with SoftKMS's default PIN KDF cost (19 MiB, 2 passes, 1 lane): raw
    /// only, what a login costs on top of [`Op::Open`] with the default `kdf`.
    Kdf,
    /// SoftKMS envelope encryption (CKM_SOFTKMS_ENVELOPE) of this many bytes under
    /// a managed key.
    Envelope(usize),
    /// SoftKMS GenerateDataKey (C_DeriveKey with CKM_SOFTKMS_GENERATE_DATA_KEY):
    /// a 32-byte session data key and its wrapped form.
    GenerateDataKey,
    /// SoftKMS rotation: C_SetAttributeValue of CKA_SOFTKMS_ROTATE on a managed
    /// token key, which adds a version. Each thread starts a new key (outside the
    /// clock) every [`ROTATIONS_PER_KEY`] rotations, so the key's version list
    /// stays short.
    Rotate,
}

/// How many versions a key of [`Op::Rotate`] gets before the next key takes over.
const ROTATIONS_PER_KEY: u32 = 32;

// SoftKMS's vendor values (`include/softkms.h`), from the test kit.
use p11_testkit::vendor::{
    GdkParams, CKA_SOFTKMS_ROTATE, CKM_SOFTKMS_ENVELOPE, CKM_SOFTKMS_GENERATE_DATA_KEY,
};

/// The vendor mechanisms some workloads need.
pub const VENDOR_MECHANISMS: &[cryptoki_sys::CK_ULONG] =
    &[CKM_SOFTKMS_ENVELOPE, CKM_SOFTKMS_GENERATE_DATA_KEY];

fn vendor(m: cryptoki_sys::CK_ULONG) -> MechanismType {
    MechanismType::new_vendor_defined(m).unwrap_or(MechanismType::AES_GCM)
}

/// A named workload: an operation run on this many threads at once.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Its name in the table.
    pub name: String,
    /// The operation.
    pub op: Op,
    /// Threads, each with its own session.
    pub threads: usize,
}

/// How many objects the search and open workloads put on the token: 1,000, 10,000 and
/// 100,000, those up to `max_objects`.
pub const OBJECT_COUNTS: [usize; 3] = [1000, 10_000, 100_000];

/// The object count of the open-a-token workload (or the largest allowed below it).
const OPEN_OBJECTS: usize = 10_000;

/// Thousands separators: 100000 → "100,000".
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// All workloads, in table order; the search and open workloads go up to `max_objects`
/// token objects.
pub fn all(max_objects: usize) -> Vec<Workload> {
    let one = |name: &str, op| Workload {
        name: name.into(),
        op,
        threads: 1,
    };
    let mut v = vec![
        one("AES-256-GCM encrypt 64 B", Op::GcmEncrypt(64)),
        one("AES-256-GCM encrypt 4 KiB", Op::GcmEncrypt(4096)),
        one("AES-256-GCM encrypt 1 MiB", Op::GcmEncrypt(1 << 20)),
        one("AES-256-CBC-PAD encrypt 4 KiB", Op::CbcPadEncrypt(4096)),
        one("SHA-256 1 MiB", Op::Sha256(1 << 20)),
        one("HMAC-SHA256 64 B", Op::HmacSha256(64)),
        one("RSA-2048 PKCS#1 v1.5 sign", Op::RsaPkcsSign),
        one("RSA-2048 PSS sign", Op::RsaPssSign),
        one("RSA-2048 PKCS#1 v1.5 verify", Op::RsaPkcsVerify),
        one("RSA-2048 OAEP (SHA-1) decrypt", Op::RsaOaepDecrypt),
        one("ECDSA P-256 sign", Op::EcdsaSign),
        one("ECDSA P-256 verify", Op::EcdsaVerify),
        one("ECDH P-256 derive", Op::Ecdh),
        one("ECDSA P-384 sign", Op::P384Sign),
        one("ECDSA P-384 verify", Op::P384Verify),
        one("Ed25519 sign", Op::Ed25519Sign),
        one("Ed25519 verify", Op::Ed25519Verify),
        one("ML-DSA-65 sign", Op::MlDsaSign),
        one("ML-DSA-65 verify", Op::MlDsaVerify),
        one("ML-KEM-768 encapsulate", Op::MlKemEncapsulate),
        one("ML-KEM-768 decapsulate", Op::MlKemDecapsulate),
        one("AES-256 key generation", Op::GenAes),
        one("P-256 key pair generation", Op::GenP256),
        one("RSA-2048 key pair generation", Op::GenRsa),
        one("Create AES token key", Op::CreateTokenKey),
        one("C_GetSessionInfo (one call)", Op::SessionInfo),
        one("C_GenerateRandom 1 B (one call)", Op::Random(1)),
        one("Envelope encrypt 1 KiB (SoftKMS)", Op::Envelope(1024)),
        one("Envelope encrypt 1 MiB (SoftKMS)", Op::Envelope(1 << 20)),
        one("GenerateDataKey (SoftKMS)", Op::GenerateDataKey),
        one("Rotate a managed key (SoftKMS)", Op::Rotate),
        Workload {
            name: "ECDSA P-256 sign, 2 threads".into(),
            op: Op::EcdsaSign,
            threads: 2,
        },
        Workload {
            name: "AES-256-GCM encrypt 4 KiB, 2 threads".into(),
            op: Op::GcmEncrypt(4096),
            threads: 2,
        },
    ];
    for n in OBJECT_COUNTS.into_iter().filter(|&n| n <= max_objects) {
        let name = format!("Find 1 label among {} objects", thousands(n));
        v.push(one(&name, Op::Find(n)));
    }
    let open = OBJECT_COUNTS
        .into_iter()
        .filter(|&n| n <= max_objects.min(OPEN_OBJECTS))
        .max()
        .unwrap_or(0);
    let name = format!("Open token with {} objects, new process", thousands(open));
    v.push(one(&name, Op::Open(open)));
    v.push(one("Argon2id PIN KDF, default cost (19 MiB, t=2)", Op::Kdf));
    v
}

impl Op {
    /// The mechanisms the token must list for this operation and its keys.
    pub fn mechanisms(self) -> Vec<MechanismType> {
        use MechanismType as M;
        match self {
            Op::GcmEncrypt(_) => vec![M::AES_KEY_GEN, M::AES_GCM],
            Op::CbcPadEncrypt(_) => vec![M::AES_KEY_GEN, M::AES_CBC_PAD],
            Op::Sha256(_) => vec![M::SHA256],
            Op::HmacSha256(_) => vec![M::SHA256_HMAC],
            Op::RsaPkcsSign | Op::RsaPkcsVerify => {
                vec![M::RSA_PKCS_KEY_PAIR_GEN, M::SHA256_RSA_PKCS]
            }
            Op::RsaPssSign => vec![M::RSA_PKCS_KEY_PAIR_GEN, M::SHA256_RSA_PKCS_PSS],
            Op::RsaOaepDecrypt => vec![M::RSA_PKCS_KEY_PAIR_GEN, M::RSA_PKCS_OAEP],
            Op::EcdsaSign | Op::EcdsaVerify => vec![M::ECC_KEY_PAIR_GEN, M::ECDSA],
            Op::Ecdh => vec![M::ECC_KEY_PAIR_GEN, M::ECDH1_DERIVE],
            Op::P384Sign | Op::P384Verify => vec![M::ECC_KEY_PAIR_GEN, M::ECDSA],
            Op::Ed25519Sign | Op::Ed25519Verify => vec![M::ECC_EDWARDS_KEY_PAIR_GEN, M::EDDSA],
            Op::MlDsaSign | Op::MlDsaVerify => vec![M::ML_DSA_KEY_PAIR_GEN, M::ML_DSA],
            Op::MlKemEncapsulate | Op::MlKemDecapsulate => {
                vec![M::ML_KEM_KEY_PAIR_GEN, M::ML_KEM]
            }
            Op::GenAes => vec![M::AES_KEY_GEN],
            Op::GenP256 => vec![M::ECC_KEY_PAIR_GEN],
            Op::GenRsa => vec![M::RSA_PKCS_KEY_PAIR_GEN],
            Op::CreateTokenKey
            | Op::Find(_)
            | Op::Open(_)
            | Op::Kdf
            | Op::SessionInfo
            | Op::Random(_) => vec![],
            Op::Envelope(_) => vec![M::AES_KEY_GEN, vendor(CKM_SOFTKMS_ENVELOPE)],
            Op::GenerateDataKey => vec![M::AES_KEY_GEN, vendor(CKM_SOFTKMS_GENERATE_DATA_KEY)],
            // The envelope mechanism stands for "a module with SoftKMS's vendor ABI".
            Op::Rotate => vec![M::AES_KEY_GEN, vendor(CKM_SOFTKMS_ENVELOPE)],
        }
    }

    /// Whether a PKCS#11 module runs it ([`Op::Kdf`] is measured raw only).
    pub fn module_op(self) -> bool {
        self != Op::Kdf
    }

    /// How many `bench-find-*` objects the token must hold first.
    pub fn objects_needed(self) -> usize {
        match self {
            Op::Find(n) | Op::Open(n) => n,
            _ => 0,
        }
    }

    /// Whether the table shows the time of one operation rather than a rate.
    pub fn latency(self) -> bool {
        matches!(self, Op::Find(_) | Op::Open(_) | Op::Kdf)
    }

    /// Bytes processed per operation, for the bulk workloads reported in GB/s.
    pub fn bulk_bytes(self) -> Option<usize> {
        match self {
            Op::GcmEncrypt(n) | Op::CbcPadEncrypt(n) | Op::Sha256(n) | Op::Envelope(n)
                if n >= 1 << 20 =>
            {
                Some(n)
            }
            _ => None,
        }
    }
}

/// The keys and precomputed inputs of one module's token.
#[derive(Default)]
pub struct Keys {
    /// How to open this token from a new process, for [`Op::Open`].
    pub child: Option<crate::module::ChildSpec>,
    aes: Option<ObjectHandle>,
    hmac: Option<ObjectHandle>,
    rsa: Option<RsaKeys>,
    ec: Option<EcKeys>,
    p384: Option<EcKeys>,
    ed25519: Option<EcKeys>,
    ml_dsa: Option<PqKeys>,
    ml_kem: Option<PqKeys>,
}

/// An ML-DSA-65 or ML-KEM-768 key pair and the input of the verify and
/// decapsulate workloads.
struct PqKeys {
    private: ObjectHandle,
    public: ObjectHandle,
    /// A signature of `MSG`, or a ciphertext.
    input: Option<Vec<u8>>,
}

struct RsaKeys {
    private: ObjectHandle,
    public: ObjectHandle,
    /// A CKM_SHA256_RSA_PKCS signature of `MSG`, for the verify workload.
    signature: Option<Vec<u8>>,
    /// `MSG` encrypted with OAEP, for the decrypt workload.
    ciphertext: Option<Vec<u8>>,
}

struct EcKeys {
    private: ObjectHandle,
    public: ObjectHandle,
    /// A CKM_ECDSA signature of `MSG`, for the verify workload.
    signature: Option<Vec<u8>>,
    /// Another key pair's public point, uncompressed, for ECDH.
    peer: Option<Vec<u8>>,
}

/// Per-thread state of a running operation.
pub struct OpCtx {
    iv: u128,
    /// [`Op::Rotate`]'s key and how often it has been rotated.
    rotating: Option<(ObjectHandle, u32)>,
}

impl OpCtx {
    /// IVs of thread `thread` never meet another thread's.
    pub fn new(thread: usize) -> OpCtx {
        OpCtx {
            iv: (thread as u128) << 64,
            rotating: None,
        }
    }

    /// What this thread leaves on the token when its loop ends.
    pub fn leftovers(&mut self) -> Vec<ObjectHandle> {
        self.rotating.take().map(|(k, _)| k).into_iter().collect()
    }

    fn next_iv(&mut self) -> [u8; 12] {
        self.iv += 1;
        let b = self.iv.to_be_bytes();
        let mut iv = [0u8; 12];
        iv.copy_from_slice(&b[4..]);
        iv
    }
}

type R<T> = Result<T, String>;

fn ck(what: &'static str) -> impl Fn(cryptoki::error::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// The input bytes of a bulk operation (fixed, not secret).
fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| u8::try_from(i % 251).unwrap_or(0)).collect()
}

/// The message every signature and RSA encryption workload uses.
pub const MSG: &[u8; 32] = b"pkcs11-bench message to sign....";

/// OAEP with SHA-1 and MGF1-SHA1: the only parameters SoftHSMv2 2.6 accepts
/// ("hashAlg must be CKM_SHA_1"); the hash costs nothing next to the RSA operation.
fn oaep() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ))
}

fn pss() -> Mechanism<'static> {
    Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    })
}

fn secret_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

/// An AES-256 key as a KMS keeps it (for SoftKMS: a managed key, so the
/// envelope and data key workloads can use it too).
fn aes_template(label: &str) -> Vec<Attribute> {
    let mut t = secret_template(label);
    t.extend([
        Attribute::ValueLen(32.into()),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Extractable(false),
        Attribute::Derive(true),
    ]);
    t
}

fn rsa_templates(label: &str) -> (Vec<Attribute>, Vec<Attribute>) {
    let public = vec![
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::ModulusBits(2048.into()),
        Attribute::PublicExponent(vec![1, 0, 1]),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
    ];
    let mut private = secret_template(label);
    private.extend([Attribute::Sign(true), Attribute::Decrypt(true)]);
    (public, private)
}

fn ec_templates(label: &str) -> (Vec<Attribute>, Vec<Attribute>) {
    let public = vec![
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::EcParams(P256.to_vec()),
        Attribute::Verify(true),
    ];
    let mut private = secret_template(label);
    private.extend([Attribute::Sign(true), Attribute::Derive(true)]);
    (public, private)
}

/// CKM_EDDSA (pure) for Ed25519, CKM_ECDSA for P-384.
fn other_curve_mech(ed: bool) -> Mechanism<'static> {
    if ed {
        Mechanism::Eddsa(cryptoki::mechanism::eddsa::EddsaParams::new(
            cryptoki::mechanism::eddsa::EddsaSignatureScheme::Pure,
        ))
    } else {
        Mechanism::Ecdsa
    }
}

/// The raw uncompressed point of an EC public key (`CKA_EC_POINT` is a DER OCTET STRING).
fn ec_point(s: &Session, public: ObjectHandle) -> R<Vec<u8>> {
    let attrs = s
        .get_attributes(public, &[AttributeType::EcPoint])
        .map_err(ck("C_GetAttributeValue(CKA_EC_POINT)"))?;
    match attrs.first() {
        Some(Attribute::EcPoint(p)) if p.len() == 67 && p[..2] == [0x04, 0x41] => {
            Ok(p[2..].to_vec())
        }
        Some(Attribute::EcPoint(p)) if p.len() == 65 => Ok(p.clone()),
        _ => Err("CKA_EC_POINT is not a P-256 point".into()),
    }
}

impl Keys {
    /// Creates what `op` needs on this token, once.
    pub fn prepare(&mut self, s: &Session, op: Op) -> R<()> {
        match op {
            Op::GcmEncrypt(_) | Op::CbcPadEncrypt(_) | Op::Envelope(_) | Op::GenerateDataKey
                if self.aes.is_none() =>
            {
                let k = s
                    .generate_key(&Mechanism::AesKeyGen, &aes_template("bench-aes"))
                    .map_err(ck("C_GenerateKey(AES)"))?;
                self.aes = Some(k);
            }
            Op::HmacSha256(_) if self.hmac.is_none() => {
                let mut t = secret_template("bench-hmac");
                t.extend([
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::GENERIC_SECRET),
                    Attribute::Value(data(32)),
                    Attribute::Sign(true),
                    Attribute::Verify(true),
                ]);
                let k = s
                    .create_object(&t)
                    .map_err(ck("C_CreateObject(HMAC key)"))?;
                self.hmac = Some(k);
            }
            Op::RsaPkcsSign | Op::RsaPssSign | Op::RsaPkcsVerify | Op::RsaOaepDecrypt => {
                self.prepare_rsa(s, op)?;
            }
            Op::EcdsaSign | Op::EcdsaVerify | Op::Ecdh => self.prepare_ec(s, op)?,
            Op::P384Sign | Op::P384Verify | Op::Ed25519Sign | Op::Ed25519Verify => {
                self.prepare_other_curve(s, op)?;
            }
            Op::MlDsaSign | Op::MlDsaVerify | Op::MlKemEncapsulate | Op::MlKemDecapsulate => {
                self.prepare_pq(s, op)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn prepare_rsa(&mut self, s: &Session, op: Op) -> R<()> {
        if self.rsa.is_none() {
            let (public, private) = rsa_templates("bench-rsa");
            let (public, private) = s
                .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
                .map_err(ck("C_GenerateKeyPair(RSA)"))?;
            self.rsa = Some(RsaKeys {
                private,
                public,
                signature: None,
                ciphertext: None,
            });
        }
        let Some(k) = self.rsa.as_mut() else {
            return Ok(());
        };
        if op == Op::RsaPkcsVerify && k.signature.is_none() {
            let sig = s
                .sign(&Mechanism::Sha256RsaPkcs, k.private, MSG)
                .map_err(ck("C_Sign(SHA256_RSA_PKCS)"))?;
            k.signature = Some(sig);
        }
        if op == Op::RsaOaepDecrypt && k.ciphertext.is_none() {
            let ct = s
                .encrypt(&oaep(), k.public, MSG)
                .map_err(ck("C_Encrypt(RSA_PKCS_OAEP)"))?;
            k.ciphertext = Some(ct);
        }
        Ok(())
    }

    fn prepare_pq(&mut self, s: &Session, op: Op) -> R<()> {
        let dsa = matches!(op, Op::MlDsaSign | Op::MlDsaVerify);
        let slot = if dsa {
            &mut self.ml_dsa
        } else {
            &mut self.ml_kem
        };
        if slot.is_none() {
            let (mech, set, usage) = if dsa {
                (
                    Mechanism::MlDsaKeyPairGen,
                    MlDsaParameterSetType::ML_DSA_65.into(),
                    [Attribute::Verify(true), Attribute::Sign(true)],
                )
            } else {
                (
                    Mechanism::MlKemKeyPairGen,
                    MlKemParameterSetType::ML_KEM_768.into(),
                    [Attribute::Encapsulate(true), Attribute::Decapsulate(true)],
                )
            };
            let public = [
                Attribute::Token(true),
                Attribute::Label(b"bench-pq".to_vec()),
                Attribute::ParameterSet(set),
                usage[0].clone(),
            ];
            let private = [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Label(b"bench-pq".to_vec()),
                usage[1].clone(),
            ];
            let (public, private) = s
                .generate_key_pair(&mech, &public, &private)
                .map_err(ck("C_GenerateKeyPair(ML-DSA/ML-KEM)"))?;
            *slot = Some(PqKeys {
                private,
                public,
                input: None,
            });
        }
        let Some(k) = slot.as_mut() else {
            return Ok(());
        };
        if op == Op::MlDsaVerify && k.input.is_none() {
            let sig = s
                .sign(&ml_dsa(), k.private, MSG)
                .map_err(ck("C_Sign(ML_DSA)"))?;
            k.input = Some(sig);
        }
        if op == Op::MlKemDecapsulate && k.input.is_none() {
            let (ct, key) = s
                .encapsulate_key(&Mechanism::MlKem, k.public, &shared_secret_template())
                .map_err(ck("C_EncapsulateKey(ML_KEM)"))?;
            s.destroy_object(key).map_err(ck("C_DestroyObject"))?;
            k.input = Some(ct);
        }
        Ok(())
    }

    fn prepare_ec(&mut self, s: &Session, op: Op) -> R<()> {
        if self.ec.is_none() {
            let (public, private) = ec_templates("bench-ec");
            let (public, private) = s
                .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
                .map_err(ck("C_GenerateKeyPair(EC)"))?;
            self.ec = Some(EcKeys {
                private,
                public,
                signature: None,
                peer: None,
            });
        }
        let Some(k) = self.ec.as_mut() else {
            return Ok(());
        };
        if op == Op::EcdsaVerify && k.signature.is_none() {
            let sig = s
                .sign(&Mechanism::Ecdsa, k.private, MSG)
                .map_err(ck("C_Sign(ECDSA)"))?;
            k.signature = Some(sig);
        }
        if op == Op::Ecdh && k.peer.is_none() {
            let (peer_pub, peer_priv) = ec_templates("bench-ec-peer");
            let (peer_pub, _) = s
                .generate_key_pair(&Mechanism::EccKeyPairGen, &peer_pub, &peer_priv)
                .map_err(ck("C_GenerateKeyPair(EC peer)"))?;
            k.peer = Some(ec_point(s, peer_pub)?);
        }
        Ok(())
    }

    /// The P-384 and Ed25519 pairs, and a signature for their verify workloads.
    fn prepare_other_curve(&mut self, s: &Session, op: Op) -> R<()> {
        let ed = matches!(op, Op::Ed25519Sign | Op::Ed25519Verify);
        let slot = if ed {
            &mut self.ed25519
        } else {
            &mut self.p384
        };
        if slot.is_none() {
            let (mut public, private) =
                ec_templates(if ed { "bench-ed25519" } else { "bench-p384" });
            for a in &mut public {
                if let Attribute::EcParams(p) = a {
                    *p = if ed { ED25519.to_vec() } else { P384.to_vec() };
                }
            }
            let gen = if ed {
                Mechanism::EccEdwardsKeyPairGen
            } else {
                Mechanism::EccKeyPairGen
            };
            let (public, private) = s
                .generate_key_pair(&gen, &public, &private)
                .map_err(ck("C_GenerateKeyPair(P-384/Ed25519)"))?;
            let sig = s
                .sign(&other_curve_mech(ed), private, MSG)
                .map_err(ck("C_Sign(ECDSA/EDDSA)"))?;
            *slot = Some(EcKeys {
                private,
                public,
                signature: Some(sig),
                peer: None,
            });
        }
        Ok(())
    }

    /// Runs one operation; returns the objects it created, to destroy untimed.
    /// Work an operation needs before its next run, outside the clock; returns the
    /// objects to destroy (also outside the clock).
    pub fn before(&self, s: &Session, op: Op, ctx: &mut OpCtx) -> R<Vec<ObjectHandle>> {
        if op != Op::Rotate {
            return Ok(Vec::new());
        }
        match ctx.rotating {
            Some((_, n)) if n < ROTATIONS_PER_KEY => Ok(Vec::new()),
            _ => {
                let key = s
                    .generate_key(&Mechanism::AesKeyGen, &aes_template("bench-rotate"))
                    .map_err(ck("C_GenerateKey(AES)"))?;
                Ok(ctx
                    .rotating
                    .replace((key, 0))
                    .map(|(k, _)| k)
                    .into_iter()
                    .collect())
            }
        }
    }

    /// Runs one operation; returns the objects it created, to destroy outside the clock.
    pub fn run(&self, s: &Session, op: Op, ctx: &mut OpCtx) -> R<Vec<ObjectHandle>> {
        let missing = || "key not prepared".to_string();
        match op {
            Op::Rotate => {
                let (key, n) = ctx.rotating.as_mut().ok_or_else(missing)?;
                let rotate = Attribute::VendorDefined((
                    cryptoki::object::AttributeType::VendorDefined(CKA_SOFTKMS_ROTATE),
                    vec![1],
                ));
                s.update_attributes(*key, &[rotate])
                    .map_err(ck("C_SetAttributeValue(CKA_SOFTKMS_ROTATE)"))?;
                *n += 1;
                Ok(Vec::new())
            }
            Op::Envelope(n) => {
                let key = self.aes.ok_or_else(missing)?;
                let mech = cryptoki::mechanism::vendor_defined::VendorDefinedMechanism::new::<u8>(
                    vendor(CKM_SOFTKMS_ENVELOPE),
                    None,
                );
                let out = s
                    .encrypt(&Mechanism::VendorDefined(mech), key, bulk(n))
                    .map_err(ck("C_Encrypt(SOFTKMS_ENVELOPE)"))?;
                if out.len() <= n {
                    return Err("envelope message shorter than its plaintext".into());
                }
                Ok(Vec::new())
            }
            Op::GenerateDataKey => {
                let key = self.aes.ok_or_else(missing)?;
                let mut wrapped = [0u8; 512];
                let params = std::cell::UnsafeCell::new(GdkParams {
                    p_context: std::ptr::null(),
                    ul_context_len: 0,
                    p_wrapped: wrapped.as_mut_ptr(),
                    ul_wrapped_len: 512,
                });
                let mech = cryptoki::mechanism::vendor_defined::VendorDefinedMechanism::new(
                    vendor(CKM_SOFTKMS_GENERATE_DATA_KEY),
                    Some(&params),
                );
                let t = [
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::Token(false),
                    Attribute::ValueLen(32.into()),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                ];
                let dk = s
                    .derive_key(&Mechanism::VendorDefined(mech), key, &t)
                    .map_err(ck("C_DeriveKey(SOFTKMS_GENERATE_DATA_KEY)"))?;
                Ok(vec![dk])
            }
            Op::GcmEncrypt(n) => {
                let key = self.aes.ok_or_else(missing)?;
                let input = bulk(n);
                let mut iv = ctx.next_iv();
                let params = GcmParams::new(&mut iv, &[], 128.into()).map_err(ck("GcmParams"))?;
                let out = s
                    .encrypt(&Mechanism::AesGcm(params), key, input)
                    .map_err(ck("C_Encrypt(AES_GCM)"))?;
                expect_len(out.len(), n + 16)
            }
            Op::CbcPadEncrypt(n) => {
                let key = self.aes.ok_or_else(missing)?;
                let out = s
                    .encrypt(&Mechanism::AesCbcPad([7; 16]), key, bulk(n))
                    .map_err(ck("C_Encrypt(AES_CBC_PAD)"))?;
                expect_len(out.len(), n / 16 * 16 + 16)
            }
            Op::Sha256(n) => {
                let out = s
                    .digest(&Mechanism::Sha256, bulk(n))
                    .map_err(ck("C_Digest(SHA256)"))?;
                expect_len(out.len(), 32)
            }
            Op::HmacSha256(n) => {
                let key = self.hmac.ok_or_else(missing)?;
                let out = s
                    .sign(&Mechanism::Sha256Hmac, key, bulk(n))
                    .map_err(ck("C_Sign(SHA256_HMAC)"))?;
                expect_len(out.len(), 32)
            }
            Op::RsaPkcsSign => {
                let k = self.rsa.as_ref().ok_or_else(missing)?;
                let out = s
                    .sign(&Mechanism::Sha256RsaPkcs, k.private, MSG)
                    .map_err(ck("C_Sign(SHA256_RSA_PKCS)"))?;
                expect_len(out.len(), 256)
            }
            Op::RsaPssSign => {
                let k = self.rsa.as_ref().ok_or_else(missing)?;
                let out = s
                    .sign(&pss(), k.private, MSG)
                    .map_err(ck("C_Sign(SHA256_RSA_PKCS_PSS)"))?;
                expect_len(out.len(), 256)
            }
            Op::RsaPkcsVerify => {
                let k = self.rsa.as_ref().ok_or_else(missing)?;
                let sig = k.signature.as_deref().ok_or_else(missing)?;
                s.verify(&Mechanism::Sha256RsaPkcs, k.public, MSG, sig)
                    .map_err(ck("C_Verify(SHA256_RSA_PKCS)"))?;
                Ok(vec![])
            }
            Op::RsaOaepDecrypt => {
                let k = self.rsa.as_ref().ok_or_else(missing)?;
                let out = s
                    .decrypt(
                        &oaep(),
                        k.private,
                        k.ciphertext.as_deref().ok_or_else(missing)?,
                    )
                    .map_err(ck("C_Decrypt(RSA_PKCS_OAEP)"))?;
                expect_len(out.len(), MSG.len())
            }
            Op::EcdsaSign => {
                let k = self.ec.as_ref().ok_or_else(missing)?;
                let out = s
                    .sign(&Mechanism::Ecdsa, k.private, MSG)
                    .map_err(ck("C_Sign(ECDSA)"))?;
                expect_len(out.len(), 64)
            }
            Op::P384Sign | Op::Ed25519Sign => {
                let ed = op == Op::Ed25519Sign;
                let k = if ed { &self.ed25519 } else { &self.p384 };
                let k = k.as_ref().ok_or_else(missing)?;
                let out = s
                    .sign(&other_curve_mech(ed), k.private, MSG)
                    .map_err(ck("C_Sign(ECDSA/EDDSA)"))?;
                expect_len(out.len(), if ed { 64 } else { 96 })
            }
            Op::P384Verify | Op::Ed25519Verify => {
                let ed = op == Op::Ed25519Verify;
                let k = if ed { &self.ed25519 } else { &self.p384 };
                let k = k.as_ref().ok_or_else(missing)?;
                let sig = k.signature.as_deref().ok_or_else(missing)?;
                s.verify(&other_curve_mech(ed), k.public, MSG, sig)
                    .map_err(ck("C_Verify(ECDSA/EDDSA)"))?;
                Ok(vec![])
            }
            Op::EcdsaVerify => {
                let k = self.ec.as_ref().ok_or_else(missing)?;
                let sig = k.signature.as_deref().ok_or_else(missing)?;
                s.verify(&Mechanism::Ecdsa, k.public, MSG, sig)
                    .map_err(ck("C_Verify(ECDSA)"))?;
                Ok(vec![])
            }
            Op::Ecdh => {
                let k = self.ec.as_ref().ok_or_else(missing)?;
                let peer = k.peer.as_deref().ok_or_else(missing)?;
                let params = Ecdh1DeriveParams::new(EcKdf::null(), peer);
                let template = [
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::GENERIC_SECRET),
                    Attribute::ValueLen(32.into()),
                    Attribute::Token(false),
                    Attribute::Sensitive(true),
                ];
                let key = s
                    .derive_key(&Mechanism::Ecdh1Derive(params), k.private, &template)
                    .map_err(ck("C_DeriveKey(ECDH1_DERIVE)"))?;
                Ok(vec![key])
            }
            Op::MlDsaSign => {
                let k = self.ml_dsa.as_ref().ok_or_else(missing)?;
                let out = s
                    .sign(&ml_dsa(), k.private, MSG)
                    .map_err(ck("C_Sign(ML_DSA)"))?;
                expect_len(out.len(), 3309)
            }
            Op::MlDsaVerify => {
                let k = self.ml_dsa.as_ref().ok_or_else(missing)?;
                let sig = k.input.as_deref().ok_or_else(missing)?;
                s.verify(&ml_dsa(), k.public, MSG, sig)
                    .map_err(ck("C_Verify(ML_DSA)"))?;
                Ok(vec![])
            }
            Op::MlKemEncapsulate => {
                let k = self.ml_kem.as_ref().ok_or_else(missing)?;
                let (ct, key) = s
                    .encapsulate_key(&Mechanism::MlKem, k.public, &shared_secret_template())
                    .map_err(ck("C_EncapsulateKey(ML_KEM)"))?;
                if ct.len() != 1088 {
                    return Err(format!("ciphertext length {}, expected 1088", ct.len()));
                }
                Ok(vec![key])
            }
            Op::MlKemDecapsulate => {
                let k = self.ml_kem.as_ref().ok_or_else(missing)?;
                let ct = k.input.as_deref().ok_or_else(missing)?;
                let key = s
                    .decapsulate_key(&Mechanism::MlKem, k.private, &shared_secret_template(), ct)
                    .map_err(ck("C_DecapsulateKey(ML_KEM)"))?;
                Ok(vec![key])
            }
            Op::GenAes => {
                let key = s
                    .generate_key(&Mechanism::AesKeyGen, &aes_template("bench-gen"))
                    .map_err(ck("C_GenerateKey(AES)"))?;
                Ok(vec![key])
            }
            Op::GenP256 => {
                let (public, private) = ec_templates("bench-gen");
                let (a, b) = s
                    .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
                    .map_err(ck("C_GenerateKeyPair(EC)"))?;
                Ok(vec![a, b])
            }
            Op::GenRsa => {
                let (public, private) = rsa_templates("bench-gen");
                let (a, b) = s
                    .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
                    .map_err(ck("C_GenerateKeyPair(RSA)"))?;
                Ok(vec![a, b])
            }
            Op::CreateTokenKey => {
                let key = s
                    .create_object(&aes_value_template("bench-create"))
                    .map_err(ck("C_CreateObject(AES)"))?;
                Ok(vec![key])
            }
            Op::Find(_) => {
                let found = s
                    .find_objects(&[Attribute::Label(FIND_LABEL.as_bytes().to_vec())])
                    .map_err(ck("C_FindObjects"))?;
                expect_len(found.len(), 1)
            }
            Op::SessionInfo => {
                s.get_session_info().map_err(ck("C_GetSessionInfo"))?;
                Ok(vec![])
            }
            Op::Random(n) => {
                let mut out = vec![0u8; n];
                s.generate_random_slice(&mut out)
                    .map_err(ck("C_GenerateRandom"))?;
                Ok(vec![])
            }
            // Timed by the caller through `open_in_child`, never run here.
            Op::Open(_) | Op::Kdf => Err("not a session operation".into()),
        }
    }
}

/// CKM_ML_DSA, hedged, without a context string.
fn ml_dsa() -> Mechanism<'static> {
    Mechanism::MlDsa(SignAdditionalContext::new(HedgeType::Preferred, None))
}

/// The session secret key an ML-KEM encapsulation makes.
fn shared_secret_template() -> [Attribute; 4] {
    [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(true),
    ]
}

/// A token AES-256 key with a given value, as an import would create it.
fn aes_value_template(label: &str) -> Vec<Attribute> {
    let mut t = secret_template(label);
    t.extend([
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(data(32)),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
    ]);
    t
}

/// Adds `bench-find-*` AES keys to the token, `count` of them from number `have` on.
pub fn fill_find_objects(s: &Session, have: &mut usize, count: usize) -> R<()> {
    for _ in 0..count {
        let label = format!("bench-find-{have}");
        s.create_object(&aes_value_template(&label))
            .map_err(ck("C_CreateObject(find object)"))?;
        *have += 1;
    }
    Ok(())
}

/// The label the search workloads look for, and the child's first search.
pub fn find_label() -> Vec<u8> {
    FIND_LABEL.as_bytes().to_vec()
}

/// Argon2id (version 0x13) with SoftKMS's default PIN KDF cost: 19,456 KiB, 2 passes,
/// 1 lane, a 32-byte output (`src/crypto/pinkdf.rs`).
pub fn argon2_default(pin: &[u8], salt: &[u8], out: &mut [u8]) -> R<()> {
    let params = argon2::Params::new(19_456, 2, 1, Some(out.len()))
        .map_err(|e| format!("argon2 params: {e}"))?;
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(pin, salt, out)
        .map_err(|e| format!("argon2: {e}"))
}

/// The shared input buffer: the first `n` bytes of a fixed 1 MiB pattern.
pub fn bulk(n: usize) -> &'static [u8] {
    static DATA: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let d = DATA.get_or_init(|| data(1 << 20));
    &d[..n.min(d.len())]
}

fn expect_len(got: usize, want: usize) -> R<Vec<ObjectHandle>> {
    if got == want {
        Ok(vec![])
    } else {
        Err(format!("output length {got}, expected {want}"))
    }
}

/// Destroys what an operation created.
pub fn cleanup(s: &Session, objects: Vec<ObjectHandle>) -> R<()> {
    for o in objects {
        s.destroy_object(o).map_err(ck("C_DestroyObject"))?;
    }
    Ok(())
}
