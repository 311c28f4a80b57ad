//! The messages of the remote protocol (`docs/remote-protocol.md`): one
//! request per function of the module's safe PKCS#11 surface
//! ([`crate::module::Module`]), and the replies. Both ends encode them with
//! postcard (serde); nothing here is a C structure.
//!
//! Attribute values and mechanism parameters travel as the module sees
//! them: attribute values are bytes in the client's platform layout
//! (`CK_ULONG` width and byte order), which is why the handshake compares
//! the two ends' layouts and refuses a mismatch.

use crate::info::{MechInfo, SessionInfo, SlotInfo, TokenInfo};
use crate::mechanism::{Mechanism, Param};
use crate::object::attr::Template;
use crate::object::rules::AttrRead;
use cryptoki_sys::*;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The protocol version this build speaks. A server answers a client of
/// another version with [`Welcome::Refused`] and closes the connection.
pub const VERSION: u32 = 1;

/// The first bytes a client sends, before its [`Hello`]: tells a SoftKMS
/// server from anything else listening on the port.
pub const MAGIC: [u8; 8] = *b"SOFTKMS\x01";

/// The most bytes of one message (after the 4-byte length). A longer frame
/// closes the connection; a longer request is refused by the client with
/// `CKR_DEVICE_MEMORY` before it is sent.
pub const MAX_FRAME: usize = 16 << 20;

/// The most output bytes one reply carries: a caller's buffer larger than
/// this is treated as this large (no output of any mechanism comes near).
pub const MAX_OUTPUT: usize = MAX_FRAME - 4096;

/// A PIN or other secret on the wire: wiped when dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret(#[serde(with = "crate::object::attr::zeroizing_bytes")] pub Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A copy of `b`.
    pub fn new(b: &[u8]) -> Self {
        Secret(Zeroizing::new(b.to_vec()))
    }
}

/// The client's first message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`VERSION`].
    pub version: u32,
    /// `size_of::<CK_ULONG>()` at the client.
    pub ulong_size: u8,
    /// The client is little-endian.
    pub little_endian: bool,
}

impl Hello {
    /// This build's hello.
    pub fn ours() -> Self {
        Hello {
            version: VERSION,
            ulong_size: u8::try_from(std::mem::size_of::<CK_ULONG>()).unwrap_or(u8::MAX),
            little_endian: cfg!(target_endian = "little"),
        }
    }
}

/// The server's answer to [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Welcome {
    /// Accepted: the version spoken from now on.
    Accepted {
        /// [`VERSION`].
        version: u32,
    },
    /// Refused (`CK_RV` to report, and why); the server closes the connection.
    Refused {
        /// `CKR_DEVICE_MEMORY` when the server has too many connections,
        /// `CKR_GENERAL_ERROR` for a version or layout mismatch.
        rv: CK_RV,
        /// For the client's log.
        why: String,
    },
}

/// The size of the caller's output buffer: `None` asks for the length.
pub type Capacity = Option<u64>;

/// One call. Session handles are the server's; a request naming a session
/// of another connection is `CKR_SESSION_HANDLE_INVALID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Request {
    SlotInfo,
    TokenInfo,
    MechanismList,
    MechanismInfo {
        mech: CK_MECHANISM_TYPE,
    },
    InitToken {
        so_pin: Secret,
        label: Vec<u8>,
    },
    InitPin {
        h: u64,
        pin: Secret,
    },
    SetPin {
        h: u64,
        old: Secret,
        new: Secret,
    },
    OpenSession {
        flags: CK_FLAGS,
    },
    CloseSession {
        h: u64,
    },
    CloseAllSessions,
    SessionInfo {
        h: u64,
    },
    SessionCancel {
        h: u64,
        flags: CK_FLAGS,
    },
    Login {
        h: u64,
        user: CK_USER_TYPE,
        pin: Secret,
        username: Option<Vec<u8>>,
    },
    Logout {
        h: u64,
    },
    CreateObject {
        h: u64,
        template: Template,
    },
    CopyObject {
        h: u64,
        obj: u64,
        template: Template,
    },
    DestroyObject {
        h: u64,
        obj: u64,
    },
    ObjectSize {
        h: u64,
        obj: u64,
    },
    GetAttributes {
        h: u64,
        obj: u64,
        types: Vec<CK_ATTRIBUTE_TYPE>,
    },
    SetAttributes {
        h: u64,
        obj: u64,
        template: Template,
    },
    FindInit {
        h: u64,
        template: Template,
    },
    Find {
        h: u64,
        max: u64,
    },
    FindFinal {
        h: u64,
    },
    /// `C_EncryptInit`, `C_DecryptInit`, `C_SignInit`, `C_VerifyInit`,
    /// `C_MessageEncryptInit`, `C_MessageDecryptInit` (by `which`).
    Init {
        h: u64,
        which: InitKind,
        mech: Mechanism,
        key: u64,
    },
    DigestInit {
        h: u64,
        mech: Mechanism,
    },
    DigestKey {
        h: u64,
        key: u64,
    },
    VerifySignatureInit {
        h: u64,
        mech: Mechanism,
        key: u64,
        #[serde(with = "serde_bytes")]
        signature: Vec<u8>,
    },
    /// A call with input and output bytes (`C_Encrypt`, `C_DecryptUpdate` …).
    InOut {
        h: u64,
        which: InOutKind,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        out: Capacity,
    },
    /// A call with input bytes only (`C_SignUpdate`, `C_VerifySignature` …).
    In {
        h: u64,
        which: InKind,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// A call with output bytes only (`C_EncryptFinal`, `C_SignFinal` …).
    Out {
        h: u64,
        which: OutKind,
        out: Capacity,
    },
    /// `C_Verify`.
    Verify {
        h: u64,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        #[serde(with = "serde_bytes")]
        signature: Vec<u8>,
    },
    /// `C_VerifyFinal`.
    VerifyFinal {
        h: u64,
        #[serde(with = "serde_bytes")]
        signature: Vec<u8>,
    },
    /// `C_VerifySignatureFinal`.
    VerifySignatureFinal {
        h: u64,
    },
    /// `C_EncryptMessage` / `C_DecryptMessage`.
    Message {
        h: u64,
        encrypt: bool,
        param: Param,
        #[serde(with = "serde_bytes")]
        aad: Vec<u8>,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        out: Capacity,
    },
    /// `C_EncryptMessageBegin` / `C_DecryptMessageBegin`.
    MessageBegin {
        h: u64,
        encrypt: bool,
        param: Param,
        #[serde(with = "serde_bytes")]
        aad: Vec<u8>,
    },
    /// `C_EncryptMessageNext` / `C_DecryptMessageNext`.
    MessageNext {
        h: u64,
        encrypt: bool,
        param: Param,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        last: bool,
        out: Capacity,
    },
    /// `C_MessageEncryptFinal` / `C_MessageDecryptFinal`.
    MessageFinal {
        h: u64,
        encrypt: bool,
    },
    GenerateKey {
        h: u64,
        mech: Mechanism,
        template: Template,
    },
    GenerateKeyPair {
        h: u64,
        mech: Mechanism,
        public: Template,
        private: Template,
    },
    WrapKey {
        h: u64,
        mech: Mechanism,
        wrapping: u64,
        key: u64,
        out: Capacity,
    },
    UnwrapKey {
        h: u64,
        mech: Mechanism,
        unwrapping: u64,
        #[serde(with = "serde_bytes")]
        wrapped: Vec<u8>,
        template: Template,
    },
    DeriveKey {
        h: u64,
        mech: Mechanism,
        base: u64,
        template: Template,
    },
    EncapsulateKey {
        h: u64,
        mech: Mechanism,
        public: u64,
        template: Template,
        out: Capacity,
    },
    DecapsulateKey {
        h: u64,
        mech: Mechanism,
        private: u64,
        template: Template,
        #[serde(with = "serde_bytes")]
        ciphertext: Vec<u8>,
    },
    SeedRandom {
        h: u64,
        #[serde(with = "serde_bytes")]
        seed: Vec<u8>,
    },
    GenerateRandom {
        h: u64,
        len: u64,
    },
    /// Ends the operation `op` of session `h` (the client refused the
    /// caller's arguments before sending the call, which ends it, §5.2).
    EndOperation {
        h: u64,
        op: OpKind,
    },
}

/// Which `C_*Init` of [`Request::Init`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum InitKind {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    MessageEncrypt,
    MessageDecrypt,
}

/// Which function of [`Request::InOut`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum InOutKind {
    Encrypt,
    EncryptUpdate,
    Decrypt,
    DecryptUpdate,
    Digest,
    Sign,
}

/// Which function of [`Request::In`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum InKind {
    DigestUpdate,
    SignUpdate,
    VerifyUpdate,
    VerifySignature,
    VerifySignatureUpdate,
}

/// Which function of [`Request::Out`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum OutKind {
    EncryptFinal,
    DecryptFinal,
    DigestFinal,
    SignFinal,
}

/// The operation kinds of [`Request::EndOperation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum OpKind {
    Encrypt,
    Decrypt,
    Digest,
    Sign,
    Verify,
    VerifySignature,
}

/// The answer to one [`Request`]: the call's `CK_RV` and what it returns.
/// Output lengths come back with `CKR_BUFFER_TOO_SMALL` too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// `CKR_OK` or the error.
    pub rv: CK_RV,
    /// What the call returns.
    pub body: Body,
}

/// What a call returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Body {
    None,
    Handle(u64),
    Handles(Vec<u64>),
    Ulong(u64),
    /// Output bytes: `len` is the length written or needed; `data` the bytes
    /// (empty for a length query or a buffer too small).
    Out {
        len: u64,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    Attrs(Vec<AttrRead>),
    SlotInfo(SlotInfo),
    TokenInfo(TokenInfo),
    SessionInfo(SessionInfo),
    Mechanisms(Vec<CK_MECHANISM_TYPE>),
    MechInfo(MechInfo),
    /// `C_DeriveKey`: the new key, the SP 800-108 additional keys' handles,
    /// and the SoftKMS data key's wrapped form and length.
    Derived {
        key: u64,
        additional: Vec<u64>,
        #[serde(with = "serde_bytes")]
        wrapped: Vec<u8>,
        needed: u64,
    },
    /// The message functions: the output and the parameter's output fields
    /// (the generated IV, the tag).
    Message {
        len: u64,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        iv: Vec<u8>,
        tag: Vec<u8>,
    },
    /// `C_EncapsulateKey`: the ciphertext (or its length) and the new key.
    Encapsulated {
        len: u64,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        key: Option<u64>,
    },
}

/// The layout of [`Hello`] fits this build.
pub fn layout_matches(h: &Hello) -> bool {
    let ours = Hello::ours();
    h.ulong_size == ours.ulong_size && h.little_endian == ours.little_endian
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::attr::Attribute;

    fn round_trip<T: Serialize + for<'a> Deserialize<'a> + PartialEq + std::fmt::Debug>(v: T) {
        let b = postcard::to_allocvec(&v).unwrap();
        let back: T = postcard::from_bytes(&b).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn messages_round_trip() {
        round_trip(Hello::ours());
        round_trip(Request::Login {
            h: 7,
            user: CKU_USER,
            pin: Secret::new(b"1234"),
            username: Some(b"alice".to_vec()),
        });
        round_trip(Request::CreateObject {
            h: 1,
            template: vec![
                Attribute::ulong(CKA_CLASS, CKO_DATA),
                Attribute::bool(CKA_TOKEN, false),
            ],
        });
        round_trip(Request::Init {
            h: 3,
            which: InitKind::Encrypt,
            mech: Mechanism {
                mech: CKM_AES_GCM,
                param: Param::Gcm {
                    iv: vec![1; 12],
                    aad: vec![2; 5],
                    tag_bits: 128,
                },
            },
            key: 9,
        });
        round_trip(Reply {
            rv: CKR_BUFFER_TOO_SMALL,
            body: Body::Out {
                len: 32,
                data: Vec::new(),
            },
        });
        round_trip(Reply {
            rv: CKR_OK,
            body: Body::Attrs(vec![
                AttrRead::Value(Zeroizing::new(vec![1, 2])),
                AttrRead::Sensitive,
                AttrRead::Invalid,
            ]),
        });
    }

    #[test]
    fn truncated_and_garbage_input_is_an_error() {
        let b = postcard::to_allocvec(&Request::GenerateRandom { h: 1, len: 16 }).unwrap();
        for n in 0..b.len() {
            assert!(postcard::from_bytes::<Request>(&b[..n]).is_err());
        }
        assert!(postcard::from_bytes::<Request>(&[0xff; 16]).is_err());
    }
}
