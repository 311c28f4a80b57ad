//! What an input of the `remote` target is: the handshake, then steps
//! (raw bytes, frames, requests with input-chosen fields).

use arbitrary::Arbitrary;
use softkms_fuzz::TypeSel;

#[derive(Arbitrary, Debug)]
pub(crate) enum Start {
    /// This build's hello.
    Ours,
    /// A hello of these fields.
    Hello {
        version: u32,
        ulong_size: u8,
        little_endian: bool,
    },
    /// Raw bytes instead of the magic and the hello.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
pub(crate) enum Step {
    /// Bytes as they are.
    Raw(Vec<u8>),
    /// A frame of this body.
    Frame(Vec<u8>),
    /// A request built from the input's fields.
    Call(Call),
    /// A session, the user's login, and the handles of every object found.
    Prelude,
}

#[derive(Arbitrary, Debug)]
pub(crate) struct Input {
    pub(crate) start: Start,
    /// Steps begin with [`Step::Prelude`].
    pub(crate) prelude: bool,
    /// `legacy_mechanisms`.
    pub(crate) legacy: bool,
    pub(crate) steps: Vec<Step>,
}

/// A session of the handles seen (0: the latest), or this value.
pub(crate) type S = u8;
/// An object of the handles seen, or this value.
pub(crate) type O = u8;

#[derive(Arbitrary, Debug)]
pub(crate) enum PinSel {
    User,
    So,
    Other(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
pub(crate) enum MechSel {
    /// One of the registry's mechanisms.
    Known(u8),
    Raw(u64),
}

#[derive(Arbitrary, Debug)]
pub(crate) struct MechIn {
    pub(crate) sel: MechSel,
    pub(crate) param: ParamIn,
}

#[derive(Arbitrary, Debug)]
pub(crate) enum ParamIn {
    None,
    Bytes(Vec<u8>),
    Ulong(u64),
    Gcm {
        iv: Vec<u8>,
        aad: Vec<u8>,
        tag_bits: u8,
    },
    Ctr {
        bits: u8,
        cb: [u8; 16],
    },
    Pss {
        hash: u8,
        mgf: u8,
        salt: u16,
    },
    Oaep {
        hash: u8,
        mgf: u8,
        label: Vec<u8>,
    },
    RsaAesKw {
        bits: u16,
        hash: u8,
        mgf: u8,
        label: Vec<u8>,
    },
    Ecdh {
        kdf: u8,
        shared: Vec<u8>,
        public: Vec<u8>,
    },
    Eddsa {
        ph: bool,
        context: Vec<u8>,
    },
    Envelope(Vec<u8>),
    DataKey {
        context: Vec<u8>,
        capacity: Option<u16>,
    },
    Key(O),
    CbcData {
        iv: [u8; 16],
        data: Vec<u8>,
    },
    Hkdf {
        extract: bool,
        expand: bool,
        prf: u8,
        salt_type: u8,
        salt: Vec<u8>,
        salt_key: O,
        info: Vec<u8>,
    },
    SignContext {
        hedge: u8,
        context: Vec<u8>,
    },
    HashSignContext {
        hedge: u8,
        context: Vec<u8>,
        hash: u8,
    },
    /// A parameter decoded from these bytes (`Param::None` if they are not one).
    Postcard(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
pub(crate) enum Val {
    Bool(bool),
    Small(u8),
    Ulong(u64),
    Bytes(Vec<u8>),
    Ulongs(Vec<u16>),
    Mech(MechSel),
    P256,
    /// A nested template of booleans (`CKA_WRAP_TEMPLATE` and the like).
    Nested(Vec<(TypeSel, bool)>),
}

#[derive(Arbitrary, Debug)]
pub(crate) struct AttrIn {
    pub(crate) ty: TypeSel,
    pub(crate) value: Val,
}

/// An output buffer: `None` asks for the length; `u16::MAX` is the largest.
pub(crate) type Cap = Option<u16>;

#[derive(Arbitrary, Debug)]
pub(crate) enum Call {
    SlotInfo,
    TokenInfo,
    MechanismList,
    MechanismInfo(MechSel),
    InitToken {
        so: PinSel,
        label: Vec<u8>,
    },
    InitPin {
        s: S,
        pin: PinSel,
    },
    SetPin {
        s: S,
        old: PinSel,
        new: PinSel,
    },
    OpenSession {
        rw: bool,
        serial: bool,
        extra: u8,
    },
    CloseSession(S),
    CloseAllSessions,
    SessionInfo(S),
    SessionCancel {
        s: S,
        flags: u64,
    },
    Login {
        s: S,
        user: u8,
        pin: PinSel,
        username: Option<Vec<u8>>,
    },
    Logout(S),
    Create {
        s: S,
        t: Vec<AttrIn>,
    },
    Copy {
        s: S,
        obj: O,
        t: Vec<AttrIn>,
    },
    Destroy {
        s: S,
        obj: O,
    },
    Size {
        s: S,
        obj: O,
    },
    GetAttributes {
        s: S,
        obj: O,
        types: Vec<TypeSel>,
    },
    SetAttributes {
        s: S,
        obj: O,
        t: Vec<AttrIn>,
    },
    FindInit {
        s: S,
        t: Vec<AttrIn>,
    },
    Find {
        s: S,
        max: u8,
    },
    FindFinal(S),
    Init {
        s: S,
        which: u8,
        mech: MechIn,
        key: O,
    },
    DigestInit {
        s: S,
        mech: MechIn,
    },
    DigestKey {
        s: S,
        key: O,
    },
    VerifySignatureInit {
        s: S,
        mech: MechIn,
        key: O,
        sig: Vec<u8>,
    },
    InOut {
        s: S,
        which: u8,
        data: Vec<u8>,
        out: Cap,
    },
    In {
        s: S,
        which: u8,
        data: Vec<u8>,
    },
    Out {
        s: S,
        which: u8,
        out: Cap,
    },
    Verify {
        s: S,
        data: Vec<u8>,
        sig: Vec<u8>,
    },
    VerifyFinal {
        s: S,
        sig: Vec<u8>,
    },
    VerifySignatureFinal(S),
    Message {
        s: S,
        encrypt: bool,
        param: ParamIn,
        aad: Vec<u8>,
        data: Vec<u8>,
        out: Cap,
    },
    MessageBegin {
        s: S,
        encrypt: bool,
        param: ParamIn,
        aad: Vec<u8>,
    },
    MessageNext {
        s: S,
        encrypt: bool,
        param: ParamIn,
        data: Vec<u8>,
        last: bool,
        out: Cap,
    },
    MessageFinal {
        s: S,
        encrypt: bool,
    },
    GenerateKey {
        s: S,
        mech: MechIn,
        t: Vec<AttrIn>,
    },
    GenerateKeyPair {
        s: S,
        mech: MechIn,
        public: Vec<AttrIn>,
        private: Vec<AttrIn>,
    },
    Wrap {
        s: S,
        mech: MechIn,
        wrapping: O,
        key: O,
        out: Cap,
    },
    Unwrap {
        s: S,
        mech: MechIn,
        unwrapping: O,
        wrapped: Vec<u8>,
        t: Vec<AttrIn>,
    },
    Derive {
        s: S,
        mech: MechIn,
        base: O,
        t: Vec<AttrIn>,
    },
    Encapsulate {
        s: S,
        mech: MechIn,
        public: O,
        t: Vec<AttrIn>,
        out: Cap,
    },
    Decapsulate {
        s: S,
        mech: MechIn,
        private: O,
        t: Vec<AttrIn>,
        ct: Vec<u8>,
    },
    SeedRandom {
        s: S,
        seed: Vec<u8>,
    },
    GenerateRandom {
        s: S,
        len: u16,
    },
    EndOperation {
        s: S,
        op: u8,
    },
}
