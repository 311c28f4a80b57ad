//! Mechanisms: one registry, one module per family (`aes` by mode, `rsa` by
//! operation, `mac` for HMAC and CMAC, `digest`, `ec`, `kdf`, `envelope`).
//!
//! Every mechanism is registered once as a [`MechanismDef`] row, built with
//! [`MechanismDef::new`]: its id, the key types it takes, its key sizes, the
//! form of its parameter, the functions it serves and its properties
//! (authenticated, caller-chosen IV). `C_GetMechanismList`/`C_GetMechanismInfo`
//! are generated from the registry, so what is advertised is exactly what is
//! implemented. No code outside this module matches on `CKM_*` values.
//!
//! An operation is a state machine object (`Box<dyn EncryptOp>` …) that the
//! session owns while it runs; `Final`, a single-part call or an error takes it
//! out. Operations follow the length rules of [`crate::outbuf`].

pub(crate) mod aes;
pub(crate) mod block;
pub(crate) mod des3;
pub(crate) mod digest;
pub(crate) mod ec;
pub(crate) mod envelope;
pub(crate) mod kdf;
pub(crate) mod keys;
pub(crate) mod limits;
pub(crate) mod mac;
pub(crate) mod pq;
pub mod registry;
pub(crate) mod rng;
pub(crate) mod rsa;
pub(crate) mod versioned;

pub(crate) use crate::config::MechanismSettings;
use crate::error::Result;
pub(crate) use crate::gate::Granted;
use crate::object::attr::Template;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// The form of a mechanism's parameter, so that `ffi/marshal.rs` knows which C
/// struct to read. One per parameter struct of the standard (and of SoftKMS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// No parameter (null pointer, length 0).
    None,
    /// A byte string: an IV (`CKM_AES_CBC`), HKDF data …
    Bytes,
    /// A single `CK_ULONG` (`CK_MAC_GENERAL_PARAMS`).
    Ulong,
    /// `CK_GCM_PARAMS`.
    Gcm,
    /// `CK_GCM_MESSAGE_PARAMS` (message-based AES-GCM).
    GcmMessage,
    /// `CK_AES_CTR_PARAMS`.
    Ctr,
    /// `CK_RSA_PKCS_PSS_PARAMS`.
    Pss,
    /// `CK_RSA_PKCS_OAEP_PARAMS`.
    Oaep,
    /// `CK_RSA_AES_KEY_WRAP_PARAMS`.
    RsaAesKeyWrap,
    /// `CK_ECDH1_DERIVE_PARAMS`.
    Ecdh1,
    /// `CK_HKDF_PARAMS`.
    Hkdf,
    /// `CK_EDDSA_PARAMS`, or no parameter (pure EdDSA).
    Eddsa,
    /// Either no parameter or a byte string (an optional IV, as `CKM_AES_KEY_WRAP` takes).
    OptionalBytes,
    /// `CK_SOFTKMS_ENVELOPE_PARAMS`, or no parameter (an empty context).
    Envelope,
    /// `CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS` (has output fields).
    GenerateDataKey,
    /// `CK_KEY_DERIVATION_STRING_DATA` (the concatenate and XOR mechanisms,
    /// `CKM_AES_ECB_ENCRYPT_DATA`): read as [`Param::Bytes`].
    StringData,
    /// A `CK_OBJECT_HANDLE` (`CKM_CONCATENATE_BASE_AND_KEY`): [`Param::Key`].
    ObjectHandle,
    /// `CK_AES_CBC_ENCRYPT_DATA_PARAMS`.
    AesCbcEncryptData,
    /// `CK_SP800_108_KDF_PARAMS` (counter and double-pipeline KBKDF).
    Sp800108,
    /// `CK_SP800_108_FEEDBACK_KDF_PARAMS`.
    Sp800108Feedback,
    /// `CK_SIGN_ADDITIONAL_CONTEXT` (PKCS#11 3.2), or no parameter (hedging
    /// preferred, an empty context).
    SignContext,
    /// `CK_HASH_SIGN_ADDITIONAL_CONTEXT` (PKCS#11 3.2).
    HashSignContext,
}

/// A decoded mechanism parameter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Param {
    /// No parameter.
    None,
    /// A byte string.
    Bytes(Vec<u8>),
    /// A `CK_ULONG`.
    Ulong(CK_ULONG),
    /// `CK_GCM_PARAMS`.
    Gcm {
        /// The IV.
        iv: Vec<u8>,
        /// Additional authenticated data.
        aad: Vec<u8>,
        /// Tag length in bits.
        tag_bits: CK_ULONG,
    },
    /// `CK_GCM_MESSAGE_PARAMS` (per message, for `C_EncryptMessage` and friends).
    GcmMessage {
        /// The IV (input, or output when the token generates it).
        iv: Vec<u8>,
        /// Fixed IV bits (`ulIvFixedBits`).
        iv_fixed_bits: CK_ULONG,
        /// `CKG_NO_GENERATE`, `CKG_GENERATE`, `CKG_GENERATE_COUNTER`, `CKG_GENERATE_RANDOM`.
        iv_generator: CK_ULONG,
        /// Tag length in bits.
        tag_bits: CK_ULONG,
        /// The tag (`pTag`): output of encryption (`tag_bits / 8` bytes, copied
        /// back by the marshal layer), input of decryption.
        tag: Vec<u8>,
    },
    /// `CK_AES_CTR_PARAMS`.
    Ctr {
        /// Bits of the counter block that are the counter.
        counter_bits: CK_ULONG,
        /// The initial counter block.
        cb: [u8; 16],
    },
    /// `CK_RSA_PKCS_PSS_PARAMS`.
    Pss {
        /// `CKM_SHA*` of the message hash.
        hash: CK_MECHANISM_TYPE,
        /// `CKG_MGF1_*`.
        mgf: CK_ULONG,
        /// Salt length in bytes.
        salt_len: CK_ULONG,
    },
    /// `CK_RSA_PKCS_OAEP_PARAMS`.
    Oaep {
        /// `CKM_SHA*` of the label hash.
        hash: CK_MECHANISM_TYPE,
        /// `CKG_MGF1_*`.
        mgf: CK_ULONG,
        /// The label (`pSourceData` when `source` is `CKZ_DATA_SPECIFIED`).
        label: Vec<u8>,
    },
    /// `CK_RSA_AES_KEY_WRAP_PARAMS`.
    RsaAesKeyWrap {
        /// Size of the temporary AES key in bits.
        aes_key_bits: CK_ULONG,
        /// The OAEP parameters' `CKM_SHA*` of the label hash. (Flat, not a
        /// nested `Param`: a parameter type that contains itself would let a
        /// remote client nest it without bound.)
        hash: CK_MECHANISM_TYPE,
        /// Their `CKG_MGF1_*`.
        mgf: CK_ULONG,
        /// Their label.
        label: Vec<u8>,
    },
    /// `CK_ECDH1_DERIVE_PARAMS`.
    Ecdh1 {
        /// `CKD_*`.
        kdf: CK_ULONG,
        /// Shared data for the KDF.
        shared_data: Vec<u8>,
        /// The other party's public point (raw or DER OCTET STRING).
        public_data: Vec<u8>,
    },
    /// `CK_EDDSA_PARAMS`.
    Eddsa {
        /// `phFlag`: Ed25519ph (the message is hashed first).
        ph: bool,
        /// The context (`pContextData`), at most 255 bytes.
        context: Vec<u8>,
    },
    /// `CK_SOFTKMS_ENVELOPE_PARAMS`.
    Envelope {
        /// The encryption context.
        context: Vec<u8>,
    },
    /// `CK_SOFTKMS_GENERATE_DATA_KEY_PARAMS`.
    GenerateDataKey {
        /// The encryption context.
        context: Vec<u8>,
        /// The size of the caller's `pWrappedKey` buffer (`None`: a null pointer).
        capacity: Option<usize>,
        /// Out: the wrapped data key.
        wrapped: Vec<u8>,
        /// Out: its length (also on `CKR_BUFFER_TOO_SMALL`).
        needed: usize,
    },
    /// A key handle (`CKM_CONCATENATE_BASE_AND_KEY`'s other key).
    Key(CK_OBJECT_HANDLE),
    /// `CK_AES_CBC_ENCRYPT_DATA_PARAMS`.
    AesCbcEncryptData {
        /// The IV.
        iv: [u8; 16],
        /// The data to encrypt.
        data: Vec<u8>,
    },
    /// `CK_SP800_108_KDF_PARAMS` or `CK_SP800_108_FEEDBACK_KDF_PARAMS`, with
    /// output fields (the additional keys' handles).
    Kbkdf(Box<kdf::sp800_108::KbkdfParams>),
    /// `CK_HKDF_PARAMS`.
    Hkdf {
        /// Run the extract step.
        extract: bool,
        /// Run the expand step.
        expand: bool,
        /// `CKM_SHA*` of the PRF.
        prf_hash: CK_MECHANISM_TYPE,
        /// `CKF_HKDF_SALT_NULL`, `_DATA` or `_KEY`.
        salt_type: CK_ULONG,
        /// The salt bytes (`CKF_HKDF_SALT_DATA`).
        salt: Vec<u8>,
        /// The salt key handle (`CKF_HKDF_SALT_KEY`).
        salt_key: CK_OBJECT_HANDLE,
        /// The info for expand.
        info: Vec<u8>,
    },
    /// `CK_SIGN_ADDITIONAL_CONTEXT` (PKCS#11 3.2 ML-DSA).
    SignContext {
        /// `CKH_HEDGE_PREFERRED`, `CKH_HEDGE_REQUIRED` or `CKH_DETERMINISTIC_REQUIRED`.
        hedge: CK_ULONG,
        /// The context string (at most 255 bytes, checked by the marshal layer).
        context: Vec<u8>,
    },
    /// `CK_HASH_SIGN_ADDITIONAL_CONTEXT` (PKCS#11 3.2 `CKM_HASH_ML_DSA`).
    HashSignContext {
        /// The hedging variant, as in [`Param::SignContext`].
        hedge: CK_ULONG,
        /// The context string.
        context: Vec<u8>,
        /// `CKM_SHA*` of the pre-hash the input already is.
        hash: CK_MECHANISM_TYPE,
    },
}

impl Param {
    /// The keys the parameter names beside the call's own key (HKDF's salt
    /// key): the module passes each through the key gate before the mechanism
    /// runs, and [`KeyLookup`] hands out only those.
    pub fn named_keys(&self) -> Vec<CK_OBJECT_HANDLE> {
        match self {
            Param::Hkdf {
                extract: true,
                salt_type: CKF_HKDF_SALT_KEY,
                salt_key,
                ..
            } => vec![*salt_key],
            Param::Key(k) => vec![*k],
            _ => Vec::new(),
        }
    }

    /// The encryption context of the SoftKMS mechanisms (empty for others).
    pub fn context(&self) -> &[u8] {
        match self {
            Param::Envelope { context } | Param::GenerateDataKey { context, .. } => context,
            _ => &[],
        }
    }
}

/// A mechanism as a caller asked for it, after marshalling.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mechanism {
    /// The `CKM_*` value.
    pub mech: CK_MECHANISM_TYPE,
    /// Its decoded parameter.
    pub param: Param,
}

/// Single and multi-part encryption or decryption (`C_Encrypt*`, `C_Decrypt*`).
pub trait CipherOp: Send {
    /// Single-part: the whole input at once.
    fn one_shot(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()>;
    /// Multi-part: one more piece of input.
    fn update(&mut self, input: &[u8], out: &mut OutBuf) -> Result<()>;
    /// Multi-part: the end.
    fn finish(&mut self, out: &mut OutBuf) -> Result<()>;
}

/// A digest (`C_Digest*`).
pub trait DigestOp: Send {
    /// Adds data.
    fn update(&mut self, data: &[u8]) -> Result<()>;
    /// Writes the digest (a size query leaves the state as it was).
    fn finish(&mut self, out: &mut OutBuf) -> Result<()>;
}

/// Signing or MACing (`C_Sign*`).
pub trait SignOp: Send {
    /// Single-part.
    fn one_shot(&mut self, data: &[u8], out: &mut OutBuf) -> Result<()>;
    /// Multi-part: more data (not every mechanism allows it).
    fn update(&mut self, data: &[u8]) -> Result<()>;
    /// Multi-part: the signature.
    fn finish(&mut self, out: &mut OutBuf) -> Result<()>;
}

/// Verification (`C_Verify*`). A bad signature is `CKR_SIGNATURE_INVALID`, a
/// signature of the wrong length `CKR_SIGNATURE_LEN_RANGE`.
pub trait VerifyOp: Send {
    /// Single-part.
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()>;
    /// Multi-part: more data.
    fn update(&mut self, data: &[u8]) -> Result<()>;
    /// Multi-part: check the signature.
    fn finish(&mut self, signature: &[u8]) -> Result<()>;
}

/// A verification of PKCS#11 3.2's `C_VerifySignature*`: the signature comes
/// with `C_VerifySignatureInit`, the data with the following calls.
pub(crate) struct SignatureVerify {
    op: Box<dyn VerifyOp>,
    signature: Vec<u8>,
}

impl SignatureVerify {
    /// A verification of `signature` with `op`.
    pub(crate) fn new(op: Box<dyn VerifyOp>, signature: Vec<u8>) -> Self {
        SignatureVerify { op, signature }
    }
    /// `C_VerifySignature`: the whole data at once.
    pub(crate) fn one_shot(&mut self, data: &[u8]) -> Result<()> {
        self.op.one_shot(data, &self.signature)
    }
    /// `C_VerifySignatureUpdate`.
    pub(crate) fn update(&mut self, data: &[u8]) -> Result<()> {
        self.op.update(data)
    }
    /// `C_VerifySignatureFinal`.
    pub(crate) fn finish(&mut self) -> Result<()> {
        self.op.finish(&self.signature)
    }
}

/// Message-based AEAD (`C_MessageEncryptInit` … PKCS#11 3.0 §5.9 and §5.11).
pub trait MessageOp: Send {
    /// One whole message. `param` is the per-message parameter (its IV may be an
    /// output, written back by the caller's marshal layer).
    fn one_shot(
        &mut self,
        param: &mut Param,
        aad: &[u8],
        input: &[u8],
        out: &mut OutBuf,
    ) -> Result<()>;
    /// Starts a message in parts.
    fn begin(&mut self, param: &mut Param, aad: &[u8]) -> Result<()>;
    /// A part of the message; `last` is the caller's `CKF_END_OF_MESSAGE`.
    fn next(&mut self, param: &mut Param, input: &[u8], last: bool, out: &mut OutBuf)
        -> Result<()>;
}

/// What a key-generating mechanism returns: the attributes it sets itself
/// (`CKA_VALUE`, `CKA_MODULUS`, …); the object rules add the template and defaults.
pub(crate) type Generated = Template;

/// The longest key any derive mechanism makes (bytes): HKDF's limit with
/// SHA-512 (255 × 64). A longer `CKA_VALUE_LEN` is refused before anything is
/// allocated.
pub(crate) const MAX_DERIVED_LEN: usize = 255 * 64;

/// Makes a key operation of one kind (`C_EncryptInit`, `C_SignInit`, …).
pub(crate) type KeyOpCtor<T> = fn(&Mechanism, &Granted) -> Result<Box<T>>;
/// Makes a digest operation.
pub(crate) type DigestCtor = fn(&Mechanism) -> Result<Box<dyn DigestOp>>;
/// Generates a key's attributes from the caller's template.
pub(crate) type GenerateFn = fn(&Mechanism, &Template) -> Result<Generated>;
/// Generates a key pair's (public, private) attributes from the two templates.
pub(crate) type GeneratePairFn =
    fn(&Mechanism, &Template, &Template) -> Result<(Generated, Generated)>;
/// Wraps key bytes under a wrapping key.
pub(crate) type WrapFn = fn(&Mechanism, &Granted, &[u8]) -> Result<Vec<u8>>;
/// Unwraps key bytes with an unwrapping key.
pub(crate) type UnwrapFn = fn(&Mechanism, &Granted, &[u8]) -> Result<Zeroizing<Vec<u8>>>;
/// `C_EncapsulateKey`: reserves the ciphertext in `out` (a size query or a
/// short buffer ends there, `Ok(None)` or `BufferTooSmall`), writes it and
/// returns the shared secret.
pub(crate) type EncapsulateFn =
    fn(&Mechanism, &Granted, &mut OutBuf) -> Result<Option<Zeroizing<Vec<u8>>>>;
/// `C_DecapsulateKey`: the shared secret of a ciphertext.
pub(crate) type DecapsulateFn = fn(&Mechanism, &Granted, &[u8]) -> Result<Zeroizing<Vec<u8>>>;
/// Derives secret bytes from a base key.
/// The mechanism is `&mut` because some parameters have output fields.
pub(crate) type DeriveFn =
    fn(&mut Mechanism, &Granted, Option<usize>, &dyn KeyLookup) -> Result<Zeroizing<Vec<u8>>>;

/// Constructors that a mechanism family registers. Each `fn` gets the checked
/// mechanism and the key as the key gate ([`crate::gate`]) granted it: checked
/// for the usage attribute, the allowed mechanisms, the key type the registry
/// names, the policy and the lifecycle; a mechanism never sees a key object
/// that did not pass the gate.
///
/// Two properties of these functions ride along (`authenticated`,
/// `caller_iv`); rows set them with [`MechanismDef::authenticated`] and
/// [`MechanismDef::caller_iv`] and the module reads them through the registry.
#[derive(Clone, Copy, Default)]
pub struct Functions {
    /// `C_EncryptInit`.
    pub encrypt: Option<KeyOpCtor<dyn CipherOp>>,
    /// `C_DecryptInit`.
    pub decrypt: Option<KeyOpCtor<dyn CipherOp>>,
    /// `C_DigestInit`.
    pub digest: Option<DigestCtor>,
    /// `C_SignInit`.
    pub sign: Option<KeyOpCtor<dyn SignOp>>,
    /// `C_VerifyInit`.
    pub verify: Option<KeyOpCtor<dyn VerifyOp>>,
    /// `C_MessageEncryptInit`.
    pub message_encrypt: Option<KeyOpCtor<dyn MessageOp>>,
    /// `C_MessageDecryptInit`.
    pub message_decrypt: Option<KeyOpCtor<dyn MessageOp>>,
    /// `C_GenerateKey`: from the mechanism and the caller's template.
    pub generate_key: Option<GenerateFn>,
    /// `C_GenerateKeyPair`: (public, private) attributes.
    pub generate_key_pair: Option<GeneratePairFn>,
    /// `C_WrapKey`: wraps `key_bytes` (a secret key's value, or a private key's
    /// PKCS#8 `PrivateKeyInfo`) under `wrapping_key`.
    pub wrap: Option<WrapFn>,
    /// `C_UnwrapKey`: the unwrapped bytes (secret value or PKCS#8).
    pub unwrap: Option<UnwrapFn>,
    /// `C_DeriveKey`: the derived secret bytes, `value_len` long when the
    /// template fixes it (`CKA_VALUE_LEN` or the key type's size).
    pub derive: Option<DeriveFn>,
    /// `C_EncapsulateKey` (PKCS#11 3.2) with a public key.
    pub encapsulate: Option<EncapsulateFn>,
    /// `C_DecapsulateKey` (PKCS#11 3.2) with a private key.
    pub decapsulate: Option<DecapsulateFn>,
}

/// Lets a derive mechanism use another key named in its parameter (HKDF's
/// salt key): the key passes the key gate as a derivation key.
pub trait KeyLookup {
    /// The key for a handle, as the gate grants it to the calling session for
    /// a derivation with this mechanism.
    fn key(&self, handle: CK_OBJECT_HANDLE) -> Result<Granted>;
}

/// The standard's rules about the sensitivity and extractability of a derived
/// key, one per family of derive mechanisms. "Inputs" are the base key and
/// every key the parameter names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivedAttrs {
    /// The template sets `CKA_SENSITIVE` and `CKA_EXTRACTABLE` (else the
    /// token's defaults); `CKA_ALWAYS_SENSITIVE` is TRUE when every input
    /// always was and the new key is sensitive, `CKA_NEVER_EXTRACTABLE` when
    /// every input never was and the new key is not extractable (ECDH, HKDF:
    /// "can both be specified to be either CK_TRUE or CK_FALSE. If omitted,
    /// these attributes each take on some default value").
    Template,
    /// As [`DerivedAttrs::Template`], but an attribute the template omits
    /// takes the base key's value (the SP 800-108 KDFs, PKCS#11 3.0 §2.42.8).
    FromBase,
    /// The new key is sensitive if any input is, unextractable if any input
    /// is, always sensitive / never extractable only if every input is
    /// (concatenation, XOR, extraction, the ENCRYPT_DATA mechanisms: their
    /// output reveals the inputs' bits, §2.43.x and §2.16.x).
    Contained,
}

/// One registered mechanism.
#[derive(Clone, Copy)]
pub struct MechanismDef {
    /// The `CKM_*` value.
    pub mech: CK_MECHANISM_TYPE,
    /// Its name in the standard, for logs.
    pub name: &'static str,
    /// The key types it takes (empty for digests and key generation).
    pub key_types: &'static [CK_KEY_TYPE],
    /// Minimum key size, in the unit the standard uses for this mechanism (bytes for
    /// AES and generic secrets, bits for RSA and EC).
    pub min_key: CK_ULONG,
    /// Maximum key size, same unit.
    pub max_key: CK_ULONG,
    /// `CKF_*` flags for `C_GetMechanismInfo` beyond those implied by `functions`
    /// (`CKF_EC_F_P`, `CKF_EC_NAMEDCURVE`, `CKF_EC_UNCOMPRESS` …).
    pub extra_flags: CK_FLAGS,
    /// The parameter's form.
    pub param: ParamKind,
    /// What it does.
    pub functions: Functions,
    /// Decryption and unwrapping authenticate their input (a tag, an integrity
    /// check), so a wrong key fails instead of giving garbage: a managed key's
    /// older versions can be tried after a rotation (`mechanism::versioned`).
    pub authenticated: bool,
    /// How a key this mechanism derives gets `CKA_SENSITIVE`,
    /// `CKA_EXTRACTABLE` and the two history attributes (§5.18.5 and each
    /// mechanism's "rules about key sensitivity and extractability").
    pub derived_attrs: DerivedAttrs,
    /// The caller chooses the IV, counter or nonce, or it is the bare block
    /// cipher: under a key whose policy lets a principal encrypt (or wrap) but
    /// not decrypt (or unwrap), the key gate refuses it, since its output under
    /// chosen inputs is the key stream of other people's ciphertexts
    /// (`crate::gate`, the IV rule). Message-based GCM decides per message.
    pub caller_iv: bool,
    /// A legacy mechanism (Triple-DES): offered only with `legacy_mechanisms =
    /// true` ([`registry::lookup`] answers `CKR_MECHANISM_INVALID` otherwise).
    pub legacy: bool,
    /// The smallest key size comes from the configuration rather than `min_key`
    /// (`min_rsa_bits` for RSA key generation): [`registry::lookup`] puts it in
    /// the row it returns.
    pub configured_min: Option<fn(&MechanismSettings) -> CK_ULONG>,
    /// The size of the key a generation request asks for (public and private
    /// templates), in the unit of `min_key`, when the row can tell it before
    /// generating: the module refuses a size outside the row in force with
    /// `CKR_KEY_SIZE_RANGE` ([`MechanismDef::check_requested_size`]).
    pub requested_size: Option<RequestedSizeFn>,
}

/// Reads the key size a generation request asks for ([`MechanismDef::requested_size`]).
pub(crate) type RequestedSizeFn = fn(&Template, &Template) -> Result<Option<CK_ULONG>>;

impl MechanismDef {
    /// A registry row: `mech`, called `name`, with a parameter of form `param`,
    /// serving `functions`; no key types, key sizes 0, no extra flags. The
    /// builder methods below add the rest, so that every row reads
    /// `MechanismDef::new(…).keys(…)…`.
    pub const fn new(
        mech: CK_MECHANISM_TYPE,
        name: &'static str,
        param: ParamKind,
        functions: Functions,
    ) -> Self {
        Self {
            mech,
            name,
            key_types: &[],
            min_key: 0,
            max_key: 0,
            extra_flags: 0,
            param,
            functions,
            authenticated: false,
            derived_attrs: DerivedAttrs::Template,
            caller_iv: false,
            legacy: false,
            configured_min: None,
            requested_size: None,
        }
    }

    /// How the keys it derives get their sensitivity and extractability
    /// ([`MechanismDef::derived_attrs`]).
    pub const fn derived_attrs(mut self, rule: DerivedAttrs) -> Self {
        self.derived_attrs = rule;
        self
    }

    /// Marks the row as a legacy mechanism ([`MechanismDef::legacy`]).
    pub const fn legacy(mut self) -> Self {
        self.legacy = true;
        self
    }

    /// Takes the smallest key size from the configuration
    /// ([`MechanismDef::configured_min`]).
    pub const fn configured_min(mut self, f: fn(&MechanismSettings) -> CK_ULONG) -> Self {
        self.configured_min = Some(f);
        self
    }

    /// Says how to read the requested key size from a generation request
    /// ([`MechanismDef::requested_size`]).
    pub(crate) const fn requested_size(mut self, f: RequestedSizeFn) -> Self {
        self.requested_size = Some(f);
        self
    }

    /// `CKR_KEY_SIZE_RANGE` when a generation request asks for a key size
    /// outside `min_key..=max_key` of this row (the row in force, as
    /// [`registry::lookup`] returns it); nothing when the row cannot tell.
    pub(crate) fn check_requested_size(&self, public: &Template, private: &Template) -> Result<()> {
        if let Some(f) = self.requested_size {
            if let Some(size) = f(public, private)? {
                if size < self.min_key || size > self.max_key {
                    return Err(crate::error::Error::KeySizeRange);
                }
            }
        }
        Ok(())
    }

    /// The key types the mechanism takes and their sizes (`min_key`, `max_key`).
    pub const fn keys(
        mut self,
        key_types: &'static [CK_KEY_TYPE],
        min: CK_ULONG,
        max: CK_ULONG,
    ) -> Self {
        self.key_types = key_types;
        self.min_key = min;
        self.max_key = max;
        self
    }

    /// The key sizes of a mechanism that takes no key (key generation).
    pub const fn sizes(mut self, min: CK_ULONG, max: CK_ULONG) -> Self {
        self.min_key = min;
        self.max_key = max;
        self
    }

    /// `CKF_*` flags beyond those implied by the functions (`extra_flags`).
    pub const fn with_flags(mut self, flags: CK_FLAGS) -> Self {
        self.extra_flags = flags;
        self
    }

    /// Marks decryption and unwrapping as authenticated ([`MechanismDef::authenticated`]).
    pub const fn authenticated(mut self) -> Self {
        self.authenticated = true;
        self
    }

    /// Marks the caller as choosing the IV ([`MechanismDef::caller_iv`]).
    pub const fn caller_iv(mut self) -> Self {
        self.caller_iv = true;
        self
    }

    /// True when decryption and unwrapping with this mechanism can tell a wrong
    /// key version from the right one ([`MechanismDef::authenticated`]).
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// True when the caller of this mechanism chooses its IV, counter or nonce
    /// ([`MechanismDef::caller_iv`]).
    pub fn caller_chooses_iv(&self) -> bool {
        self.caller_iv
    }

    /// The `CKF_*` flags: one per function it serves, plus `extra_flags`.
    pub fn flags(&self) -> CK_FLAGS {
        let f = &self.functions;
        let mut flags = self.extra_flags;
        let set = [
            (f.encrypt.is_some(), CKF_ENCRYPT),
            (f.decrypt.is_some(), CKF_DECRYPT),
            (f.digest.is_some(), CKF_DIGEST),
            (f.sign.is_some(), CKF_SIGN),
            (f.verify.is_some(), CKF_VERIFY),
            (f.generate_key.is_some(), CKF_GENERATE),
            (f.generate_key_pair.is_some(), CKF_GENERATE_KEY_PAIR),
            (f.wrap.is_some(), CKF_WRAP),
            (f.unwrap.is_some(), CKF_UNWRAP),
            (f.derive.is_some(), CKF_DERIVE),
            (f.message_encrypt.is_some(), CKF_MESSAGE_ENCRYPT),
            (f.message_decrypt.is_some(), CKF_MESSAGE_DECRYPT),
            (f.encapsulate.is_some(), CKF_ENCAPSULATE),
            (f.decapsulate.is_some(), CKF_DECAPSULATE),
        ];
        for (on, flag) in set {
            if on {
                flags |= flag;
            }
        }
        flags
    }

    /// The flags `C_GetMechanismInfo` reports: [`Self::flags`] plus `CKF_HW` on
    /// every mechanism.
    ///
    /// `CKF_HW` means "performed by the device" (PKCS#11 3.0, the
    /// `CK_MECHANISM_INFO` flags table) as opposed to by the calling application:
    /// every SoftKMS mechanism runs inside the token, never in the caller, so the
    /// flag is set for all of them, as openCryptoki's software token does. Stock clients filter on it: OpenSC's
    /// `pkcs11-tool --test` (0.23) only runs its signature tests with a
    /// `CKF_SIGN | CKF_HW` mechanism and otherwise prints "Signatures: not
    /// implemented" (as it does with SoftHSMv2, which leaves the flag clear).
    pub fn info_flags(&self) -> CK_FLAGS {
        self.flags() | CKF_HW
    }
}
