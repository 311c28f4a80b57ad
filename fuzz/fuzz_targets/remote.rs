//! The remote protocol's server side, end to end: one connection of
//! `softkms serve` (`serve_stream`) over an in-memory stream whose bytes an
//! input chooses. The handshake is ours, a hello of the input's fields, or raw
//! bytes; then come steps: raw bytes (framing fuzzed), frames of raw bodies,
//! and requests built here with input-chosen fields (sessions and objects
//! picked among the handles the server's replies gave, so an input gets deep
//! quickly). Every frame the server writes must decode (a `Welcome`, then one
//! `Reply` per request it was given, in order), and no reply may be an
//! internal error.
//!
//! The token (fast KDF, data-event audit off) is made once per process through
//! the protocol itself: a user PIN and a few token keys (AES, generic secret,
//! EC P-256, RSA-2048). Its files are restored before every input, so what an
//! input changes (objects, PINs, even `C_InitToken`) never carries over.
#![no_main]

use arbitrary::Arbitrary;
use cryptoki_sys::*;
use libfuzzer_sys::fuzz_target;
use softkms::internals::mechanism::{registry, Mechanism, Param};
use softkms::internals::object::attr::{encode_template, Attribute};
use softkms::internals::remote::proto::{
    self, Body, Hello, InKind, InOutKind, InitKind, OpKind, OutKind, Reply, Request, Secret,
    Welcome,
};
use softkms::internals::remote::{decode, encode, serve_stream};
use softkms::internals::{Config, MechanismSettings, SlotConfig};
use softkms_fuzz::TypeSel;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::OnceLock;

const SO_PIN: &[u8] = b"so-pin-1234";
const USER_PIN: &[u8] = b"user-pin-5678";
/// The most handles remembered of each kind.
const MAX_SEEN: usize = 32;

// ------------------------------------------------------------------ the token

/// The token of the process and its pristine files.
struct Token {
    slot: SlotConfig,
    /// `token.db`, `-wal`, `-shm`: the live path and the pristine copy (if any).
    files: Vec<(PathBuf, Option<PathBuf>)>,
    _dir: tempfile::TempDir,
}

fn token() -> &'static Token {
    static T: OnceLock<Token> = OnceLock::new();
    T.get_or_init(setup)
}

impl Token {
    /// Puts the token's files back as they were after the setup.
    fn restore(&self) {
        for (live, pristine) in &self.files {
            match pristine {
                Some(p) => {
                    std::fs::copy(p, live).expect("restore the token file");
                }
                None => {
                    let _ = std::fs::remove_file(live);
                }
            }
        }
    }
}

fn frame(req: &Request) -> Vec<u8> {
    encode(req)
        .expect("encode")
        .expect("within the frame limit")
        .to_vec()
}

fn handshake(hello: &Hello) -> Vec<u8> {
    let mut b = proto::MAGIC.to_vec();
    b.extend_from_slice(&encode(hello).expect("encode").expect("small"));
    b
}

fn ulong(ty: CK_ATTRIBUTE_TYPE, v: u64) -> Attribute {
    Attribute::ulong(ty, v as CK_ULONG)
}

/// A setup step: the request, made from what the replies so far gave.
type SetupStep = (&'static str, Box<dyn Fn(&Seen) -> Request>);

/// The setup's requests, one after the other; each must succeed.
struct Script {
    steps: VecDeque<SetupStep>,
    last: Option<&'static str>,
    started: bool,
}

impl Source for Script {
    fn next(&mut self, seen: &Seen) -> Option<Vec<u8>> {
        if !self.started {
            self.started = true;
            return Some(handshake(&Hello::ours()));
        }
        if let Some(what) = self.last {
            assert_eq!(seen.last_rv, Some(CKR_OK), "setup: {what} failed");
        }
        let (what, make) = self.steps.pop_front()?;
        self.last = Some(what);
        Some(frame(&make(seen)))
    }
}

fn setup() -> Token {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("token.db");
    let text = format!(
        "[[slot]]\nid = 0\npath = \"{}\"\nkdf = \"fast\"\naudit = \"off\"\n",
        db.display()
    );
    let slot = Config::parse(&text, None)
        .expect("config")
        .slots
        .into_iter()
        .next()
        .expect("a slot");
    let s = |seen: &Seen| *seen.sessions.last().expect("a session");
    let usage = [
        CKA_ENCRYPT,
        CKA_DECRYPT,
        CKA_SIGN,
        CKA_VERIFY,
        CKA_WRAP,
        CKA_UNWRAP,
        CKA_DERIVE,
    ];
    let secret = move |len: u64, extractable: bool| -> Vec<Attribute> {
        let mut t: Vec<Attribute> = usage.iter().map(|a| Attribute::bool(*a, true)).collect();
        t.push(Attribute::bool(CKA_TOKEN, true));
        t.push(ulong(CKA_VALUE_LEN, len));
        t.push(Attribute::bool(CKA_EXTRACTABLE, extractable));
        t.push(Attribute::bool(CKA_SENSITIVE, !extractable));
        t
    };
    let public = |extra: Vec<Attribute>| -> Vec<Attribute> {
        let mut t: Vec<Attribute> = [CKA_ENCRYPT, CKA_VERIFY, CKA_WRAP, CKA_TOKEN]
            .iter()
            .map(|a| Attribute::bool(*a, true))
            .collect();
        t.extend(extra);
        t
    };
    let private = || -> Vec<Attribute> {
        let mut t: Vec<Attribute> = [
            CKA_DECRYPT,
            CKA_SIGN,
            CKA_UNWRAP,
            CKA_DERIVE,
            CKA_TOKEN,
            CKA_PRIVATE,
            CKA_SENSITIVE,
        ]
        .iter()
        .map(|a| Attribute::bool(*a, true))
        .collect();
        t.push(Attribute::bool(CKA_EXTRACTABLE, false));
        t
    };
    let gen = move |mech: CK_MECHANISM_TYPE, t: Vec<Attribute>| -> Box<dyn Fn(&Seen) -> Request> {
        Box::new(move |seen: &Seen| Request::GenerateKey {
            h: s(seen),
            mech: Mechanism {
                mech,
                param: Param::None,
            },
            template: t.clone(),
        })
    };
    let pair =
        move |mech: CK_MECHANISM_TYPE, extra: Vec<Attribute>| -> Box<dyn Fn(&Seen) -> Request> {
            let (pubt, privt) = (public(extra), private());
            Box::new(move |seen: &Seen| Request::GenerateKeyPair {
                h: s(seen),
                mech: Mechanism {
                    mech,
                    param: Param::None,
                },
                public: pubt.clone(),
                private: privt.clone(),
            })
        };
    let mut label = vec![b' '; 32];
    label[..11].copy_from_slice(b"fuzz-remote");
    let steps: Vec<SetupStep> = vec![
        (
            "C_InitToken",
            Box::new(move |_: &Seen| Request::InitToken {
                so_pin: Secret::new(SO_PIN),
                label: label.clone(),
            }),
        ),
        (
            "C_OpenSession",
            Box::new(|_: &Seen| Request::OpenSession {
                flags: CKF_SERIAL_SESSION | CKF_RW_SESSION,
            }),
        ),
        (
            "SO login",
            Box::new(move |seen: &Seen| Request::Login {
                h: s(seen),
                user: CKU_SO,
                pin: Secret::new(SO_PIN),
                username: None,
            }),
        ),
        (
            "C_InitPIN",
            Box::new(move |seen: &Seen| Request::InitPin {
                h: s(seen),
                pin: Secret::new(USER_PIN),
            }),
        ),
        (
            "C_Logout",
            Box::new(move |seen: &Seen| Request::Logout { h: s(seen) }),
        ),
        (
            "user login",
            Box::new(move |seen: &Seen| Request::Login {
                h: s(seen),
                user: CKU_USER,
                pin: Secret::new(USER_PIN),
                username: None,
            }),
        ),
        ("AES-256", gen(CKM_AES_KEY_GEN, secret(32, false))),
        ("AES-128", gen(CKM_AES_KEY_GEN, secret(16, true))),
        (
            "generic secret",
            gen(CKM_GENERIC_SECRET_KEY_GEN, secret(32, false)),
        ),
        (
            "EC P-256",
            pair(
                CKM_EC_KEY_PAIR_GEN,
                vec![Attribute::new(CKA_EC_PARAMS, p11_oid())],
            ),
        ),
        (
            "RSA-2048",
            pair(
                CKM_RSA_PKCS_KEY_PAIR_GEN,
                vec![
                    ulong(CKA_MODULUS_BITS, 2048),
                    Attribute::new(CKA_PUBLIC_EXPONENT, vec![1, 0, 1]),
                ],
            ),
        ),
    ];
    let n = steps.len();
    let mut conn = Conn::new(Script {
        steps: steps.into(),
        last: None,
        started: false,
    });
    serve_stream(&mut conn, slot.clone(), MechanismSettings::default());
    conn.finish();
    assert_eq!(conn.seen.replies, n, "setup: every request answered");
    assert_eq!(conn.seen.last_rv, Some(CKR_OK), "setup: the last key");
    let keep = dir.path().join("pristine");
    std::fs::create_dir(&keep).expect("mkdir");
    let files = ["token.db", "token.db-wal", "token.db-shm"]
        .iter()
        .map(|f| {
            let live = dir.path().join(f);
            let copy = keep.join(f);
            let saved = std::fs::copy(&live, &copy).is_ok().then_some(copy);
            (live, saved)
        })
        .collect();
    Token {
        slot,
        files,
        _dir: dir,
    }
}

fn p11_oid() -> Vec<u8> {
    softkms_fuzz::p11_testkit::P256_OID.to_vec()
}

// ----------------------------------------------------------------- the stream

/// `REMOTE_FUZZ_TRACE=1`: print each request (PINs and attribute values
/// hidden by their `Debug`) with its reply's code and handles, to read what a
/// reproduction does (`cargo fuzz run remote ARTIFACT`).
fn trace() -> bool {
    static T: OnceLock<bool> = OnceLock::new();
    *T.get_or_init(|| std::env::var_os("REMOTE_FUZZ_TRACE").is_some())
}

/// What the client side learned from the replies.
#[derive(Default)]
struct Seen {
    sessions: Vec<u64>,
    objects: Vec<u64>,
    replies: usize,
    last_rv: Option<CK_RV>,
}

fn remember(list: &mut Vec<u64>, h: u64) {
    if h != 0 && list.len() < MAX_SEEN && !list.contains(&h) {
        list.push(h);
    }
}

impl Seen {
    fn learn(&mut self, req: &Request, rep: &Reply) {
        self.replies += 1;
        self.last_rv = Some(rep.rv);
        if rep.rv != CKR_OK {
            return;
        }
        match (req, &rep.body) {
            (Request::OpenSession { .. }, Body::Handle(h)) => remember(&mut self.sessions, *h),
            (
                Request::CreateObject { .. }
                | Request::CopyObject { .. }
                | Request::GenerateKey { .. }
                | Request::UnwrapKey { .. }
                | Request::DecapsulateKey { .. },
                Body::Handle(h),
            ) => remember(&mut self.objects, *h),
            (Request::GenerateKeyPair { .. } | Request::Find { .. }, Body::Handles(v)) => {
                for h in v {
                    remember(&mut self.objects, *h);
                }
            }
            (
                Request::DeriveKey { .. },
                Body::Derived {
                    key, additional, ..
                },
            ) => {
                for h in std::iter::once(key).chain(additional) {
                    remember(&mut self.objects, *h);
                }
            }
            (Request::EncapsulateKey { .. }, Body::Encapsulated { key: Some(k), .. }) => {
                remember(&mut self.objects, *k)
            }
            _ => {}
        }
    }
}

/// Where the bytes for the server come from, a piece at a time (asked for
/// when the server has read everything before, so after the replies to all
/// complete requests so far).
trait Source {
    fn next(&mut self, seen: &Seen) -> Option<Vec<u8>>;
}

/// Follows the bytes given to the server as the server reads them: the
/// magic, the hello, then request frames. Once the server would stop reading
/// (bad magic, refused hello, a frame beyond the limit, a body that is not a
/// request) the rest is of no interest.
#[derive(Default)]
enum Phase {
    #[default]
    Magic,
    Hello,
    Requests,
    Dead,
}

#[derive(Default)]
struct Shadow {
    phase: Phase,
    buf: Vec<u8>,
    /// Requests given to the server, not yet answered.
    inflight: VecDeque<Request>,
}

impl Shadow {
    fn feed(&mut self, b: &[u8]) {
        if matches!(self.phase, Phase::Dead) {
            return;
        }
        self.buf.extend_from_slice(b);
        loop {
            match self.phase {
                Phase::Dead => {
                    self.buf = Vec::new();
                    return;
                }
                Phase::Magic => {
                    if self.buf.len() < proto::MAGIC.len() {
                        return;
                    }
                    self.phase = if self.buf[..proto::MAGIC.len()] == proto::MAGIC {
                        Phase::Hello
                    } else {
                        Phase::Dead
                    };
                    self.buf.drain(..proto::MAGIC.len());
                }
                Phase::Hello | Phase::Requests => {
                    let Some(len) = self.buf.get(..4) else { return };
                    let n = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
                    if n > proto::MAX_FRAME {
                        self.phase = Phase::Dead;
                        continue;
                    }
                    let Some(body) = self.buf.get(4..4 + n) else {
                        return;
                    };
                    self.phase = match self.phase {
                        Phase::Hello => match decode::<Hello>(body) {
                            Ok(h) if h.version == proto::VERSION && proto::layout_matches(&h) => {
                                Phase::Requests
                            }
                            _ => Phase::Dead,
                        },
                        _ => match decode::<Request>(body) {
                            Ok(r) => {
                                self.inflight.push_back(r);
                                Phase::Requests
                            }
                            Err(_) => Phase::Dead,
                        },
                    };
                    self.buf.drain(..4 + n);
                }
            }
        }
    }
}

/// The client's end of the connection, as the server sees it.
struct Conn<S: Source> {
    src: S,
    ended: bool,
    input: Vec<u8>,
    at: usize,
    shadow: Shadow,
    out: Vec<u8>,
    welcome: Option<Welcome>,
    seen: Seen,
}

impl<S: Source> Conn<S> {
    fn new(src: S) -> Self {
        Conn {
            src,
            ended: false,
            input: Vec::new(),
            at: 0,
            shadow: Shadow::default(),
            out: Vec::new(),
            welcome: None,
            seen: Seen::default(),
        }
    }

    /// Decodes the complete frames the server wrote.
    fn replies(&mut self) {
        while let Some(len) = self.out.get(..4) {
            let n = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
            assert!(
                n <= proto::MAX_FRAME,
                "the server wrote a frame of {n} bytes"
            );
            let Some(body) = self.out.get(4..4 + n) else {
                return;
            };
            if self.welcome.is_none() {
                let w: Welcome = decode(body).expect("the server's first frame is a Welcome");
                self.welcome = Some(w);
            } else {
                let rep: Reply = decode(body).expect("a frame of the server is a Reply");
                let req = self
                    .shadow
                    .inflight
                    .pop_front()
                    .expect("a reply answers a request");
                assert!(
                    rep.rv != CKR_GENERAL_ERROR && rep.rv != CKR_DEVICE_ERROR,
                    "{req:?}: internal error 0x{:x}",
                    rep.rv
                );
                if trace() {
                    let handles = match &rep.body {
                        Body::Handle(h) => vec![*h],
                        Body::Handles(v) => v.clone(),
                        _ => Vec::new(),
                    };
                    eprintln!("{req:?} -> 0x{:x} {handles:?}", rep.rv);
                }
                self.seen.learn(&req, &rep);
            }
            self.out.drain(..4 + n);
        }
    }

    /// The connection is over: every frame complete, every request answered.
    fn finish(&mut self) {
        self.replies();
        assert!(self.out.is_empty(), "the server left a partial frame");
        assert!(
            self.shadow.inflight.is_empty(),
            "requests left unanswered: {:?}",
            self.shadow.inflight
        );
    }
}

impl<S: Source> Read for Conn<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.input.len() {
            if self.ended {
                return Ok(0);
            }
            match self.src.next(&self.seen) {
                Some(b) => {
                    self.shadow.feed(&b);
                    self.input = b;
                    self.at = 0;
                }
                None => self.ended = true,
            }
        }
        let n = buf.len().min(self.input.len() - self.at);
        buf[..n].copy_from_slice(&self.input[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl<S: Source> Write for Conn<S> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(b);
        self.replies();
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ------------------------------------------------------------------ the input

#[derive(Arbitrary, Debug)]
enum Start {
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
enum Step {
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
struct Input {
    start: Start,
    /// Steps begin with [`Step::Prelude`].
    prelude: bool,
    /// `legacy_mechanisms`.
    legacy: bool,
    steps: Vec<Step>,
}

/// A session of the handles seen (0: the latest), or this value.
type S = u8;
/// An object of the handles seen, or this value.
type O = u8;

#[derive(Arbitrary, Debug)]
enum PinSel {
    User,
    So,
    Other(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum MechSel {
    /// One of the registry's mechanisms.
    Known(u8),
    Raw(u64),
}

#[derive(Arbitrary, Debug)]
struct MechIn {
    sel: MechSel,
    param: ParamIn,
}

#[derive(Arbitrary, Debug)]
enum ParamIn {
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
enum Val {
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
struct AttrIn {
    ty: TypeSel,
    value: Val,
}

/// An output buffer: `None` asks for the length; `u16::MAX` is the largest.
type Cap = Option<u16>;

#[derive(Arbitrary, Debug)]
enum Call {
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

// ------------------------------------------------------- requests from inputs

fn mechanisms() -> &'static [CK_MECHANISM_TYPE] {
    static M: OnceLock<Vec<CK_MECHANISM_TYPE>> = OnceLock::new();
    M.get_or_init(|| registry::all().map(|d| d.mech).collect())
}

const HASHES: &[CK_MECHANISM_TYPE] = &[
    CKM_SHA_1,
    CKM_SHA224,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_SHA3_256,
    CKM_SHA3_512,
];

fn hash(i: u8) -> CK_MECHANISM_TYPE {
    HASHES
        .get(usize::from(i))
        .copied()
        .unwrap_or(CK_MECHANISM_TYPE::from(i))
}

fn pick<T: Copy>(list: &[T], i: u8) -> T {
    list[usize::from(i) % list.len()]
}

impl MechSel {
    fn ty(&self) -> CK_MECHANISM_TYPE {
        match self {
            MechSel::Known(i) => pick(mechanisms(), *i),
            MechSel::Raw(v) => *v as CK_MECHANISM_TYPE,
        }
    }
}

fn cap(c: Cap) -> proto::Capacity {
    c.map(|n| {
        if n == u16::MAX {
            u64::MAX
        } else {
            u64::from(n)
        }
    })
}

fn pin(p: &PinSel) -> Secret {
    Secret::new(match p {
        PinSel::User => USER_PIN,
        PinSel::So => SO_PIN,
        PinSel::Other(b) => &b[..],
    })
}

/// Builds requests; `seen` gives the handles.
struct Build<'a> {
    seen: &'a Seen,
}

impl Build<'_> {
    fn s(&self, i: S) -> u64 {
        let n = self.seen.sessions.len();
        match usize::from(i) {
            k if k < n => self.seen.sessions[n - 1 - k],
            _ => u64::from(i),
        }
    }

    fn o(&self, i: O) -> u64 {
        self.seen
            .objects
            .get(usize::from(i))
            .copied()
            .unwrap_or(u64::from(i))
    }

    fn param(&self, p: &ParamIn) -> Param {
        match p {
            ParamIn::None => Param::None,
            ParamIn::Bytes(b) => Param::Bytes(b.clone()),
            ParamIn::Ulong(v) => Param::Ulong(*v as CK_ULONG),
            ParamIn::Gcm { iv, aad, tag_bits } => Param::Gcm {
                iv: iv.clone(),
                aad: aad.clone(),
                tag_bits: CK_ULONG::from(*tag_bits),
            },
            ParamIn::Ctr { bits, cb } => Param::Ctr {
                counter_bits: CK_ULONG::from(*bits),
                cb: *cb,
            },
            ParamIn::Pss { hash: h, mgf, salt } => Param::Pss {
                hash: hash(*h),
                mgf: CK_ULONG::from(*mgf),
                salt_len: CK_ULONG::from(*salt),
            },
            ParamIn::Oaep {
                hash: h,
                mgf,
                label,
            } => Param::Oaep {
                hash: hash(*h),
                mgf: CK_ULONG::from(*mgf),
                label: label.clone(),
            },
            ParamIn::RsaAesKw {
                bits,
                hash: h,
                mgf,
                label,
            } => Param::RsaAesKeyWrap {
                aes_key_bits: CK_ULONG::from(*bits),
                oaep: Box::new(Param::Oaep {
                    hash: hash(*h),
                    mgf: CK_ULONG::from(*mgf),
                    label: label.clone(),
                }),
            },
            ParamIn::Ecdh {
                kdf,
                shared,
                public,
            } => Param::Ecdh1 {
                kdf: CK_ULONG::from(*kdf),
                shared_data: shared.clone(),
                public_data: public.clone(),
            },
            ParamIn::Eddsa { ph, context } => Param::Eddsa {
                ph: *ph,
                context: context.clone(),
            },
            ParamIn::Envelope(c) => Param::Envelope { context: c.clone() },
            ParamIn::DataKey { context, capacity } => Param::GenerateDataKey {
                context: context.clone(),
                capacity: capacity.map(usize::from),
                wrapped: Vec::new(),
                needed: 0,
            },
            ParamIn::Key(k) => Param::Key(self.o(*k)),
            ParamIn::CbcData { iv, data } => Param::AesCbcEncryptData {
                iv: *iv,
                data: data.clone(),
            },
            ParamIn::Hkdf {
                extract,
                expand,
                prf,
                salt_type,
                salt,
                salt_key,
                info,
            } => Param::Hkdf {
                extract: *extract,
                expand: *expand,
                prf_hash: hash(*prf),
                salt_type: CK_ULONG::from(*salt_type),
                salt: salt.clone(),
                salt_key: self.o(*salt_key),
                info: info.clone(),
            },
            ParamIn::SignContext { hedge, context } => Param::SignContext {
                hedge: CK_ULONG::from(*hedge),
                context: context.clone(),
            },
            ParamIn::HashSignContext {
                hedge,
                context,
                hash: h,
            } => Param::HashSignContext {
                hedge: CK_ULONG::from(*hedge),
                context: context.clone(),
                hash: hash(*h),
            },
            ParamIn::Postcard(b) => decode::<Param>(b).unwrap_or(Param::None),
        }
    }

    fn mech(&self, m: &MechIn) -> Mechanism {
        Mechanism {
            mech: m.sel.ty(),
            param: self.param(&m.param),
        }
    }

    fn template(&self, t: &[AttrIn]) -> Vec<Attribute> {
        t.iter()
            .map(|a| {
                let ty = a.ty.ty();
                match &a.value {
                    Val::Bool(b) => Attribute::bool(ty, *b),
                    Val::Small(v) => ulong(ty, u64::from(*v)),
                    Val::Ulong(v) => ulong(ty, *v),
                    Val::Bytes(b) => Attribute::new(ty, b.clone()),
                    Val::Ulongs(v) => Attribute::new(
                        ty,
                        v.iter()
                            .flat_map(|x| CK_ULONG::from(*x).to_ne_bytes())
                            .collect(),
                    ),
                    Val::Mech(m) => ulong(ty, m.ty()),
                    Val::P256 => Attribute::new(ty, p11_oid()),
                    Val::Nested(inner) => {
                        let inner: Vec<Attribute> = inner
                            .iter()
                            .map(|(t, b)| Attribute::bool(t.ty(), *b))
                            .collect();
                        Attribute::new(ty, encode_template(&inner).to_vec())
                    }
                }
            })
            .collect()
    }

    fn request(&self, c: &Call) -> Request {
        use Call as C;
        use Request as R;
        match c {
            C::SlotInfo => R::SlotInfo,
            C::TokenInfo => R::TokenInfo,
            C::MechanismList => R::MechanismList,
            C::MechanismInfo(m) => R::MechanismInfo { mech: m.ty() },
            C::InitToken { so, label } => R::InitToken {
                so_pin: pin(so),
                label: label.clone(),
            },
            C::InitPin { s, pin: p } => R::InitPin {
                h: self.s(*s),
                pin: pin(p),
            },
            C::SetPin { s, old, new } => R::SetPin {
                h: self.s(*s),
                old: pin(old),
                new: pin(new),
            },
            C::OpenSession { rw, serial, extra } => R::OpenSession {
                flags: (if *rw { CKF_RW_SESSION } else { 0 })
                    | (if *serial { CKF_SERIAL_SESSION } else { 0 })
                    | (CK_FLAGS::from(*extra) << 8),
            },
            C::CloseSession(s) => R::CloseSession { h: self.s(*s) },
            C::CloseAllSessions => R::CloseAllSessions,
            C::SessionInfo(s) => R::SessionInfo { h: self.s(*s) },
            C::SessionCancel { s, flags } => R::SessionCancel {
                h: self.s(*s),
                flags: *flags as CK_FLAGS,
            },
            C::Login {
                s,
                user,
                pin: p,
                username,
            } => R::Login {
                h: self.s(*s),
                user: match user % 4 {
                    0 => CKU_USER,
                    1 => CKU_SO,
                    2 => CKU_CONTEXT_SPECIFIC,
                    _ => CK_USER_TYPE::from(*user),
                },
                pin: pin(p),
                username: username.clone(),
            },
            C::Logout(s) => R::Logout { h: self.s(*s) },
            C::Create { s, t } => R::CreateObject {
                h: self.s(*s),
                template: self.template(t),
            },
            C::Copy { s, obj, t } => R::CopyObject {
                h: self.s(*s),
                obj: self.o(*obj),
                template: self.template(t),
            },
            C::Destroy { s, obj } => R::DestroyObject {
                h: self.s(*s),
                obj: self.o(*obj),
            },
            C::Size { s, obj } => R::ObjectSize {
                h: self.s(*s),
                obj: self.o(*obj),
            },
            C::GetAttributes { s, obj, types } => R::GetAttributes {
                h: self.s(*s),
                obj: self.o(*obj),
                types: types.iter().map(|t| t.ty()).collect(),
            },
            C::SetAttributes { s, obj, t } => R::SetAttributes {
                h: self.s(*s),
                obj: self.o(*obj),
                template: self.template(t),
            },
            C::FindInit { s, t } => R::FindInit {
                h: self.s(*s),
                template: self.template(t),
            },
            C::Find { s, max } => R::Find {
                h: self.s(*s),
                max: u64::from(*max),
            },
            C::FindFinal(s) => R::FindFinal { h: self.s(*s) },
            C::Init {
                s,
                which,
                mech,
                key,
            } => R::Init {
                h: self.s(*s),
                which: pick(
                    &[
                        InitKind::Encrypt,
                        InitKind::Decrypt,
                        InitKind::Sign,
                        InitKind::Verify,
                        InitKind::MessageEncrypt,
                        InitKind::MessageDecrypt,
                    ],
                    *which,
                ),
                mech: self.mech(mech),
                key: self.o(*key),
            },
            C::DigestInit { s, mech } => R::DigestInit {
                h: self.s(*s),
                mech: self.mech(mech),
            },
            C::DigestKey { s, key } => R::DigestKey {
                h: self.s(*s),
                key: self.o(*key),
            },
            C::VerifySignatureInit { s, mech, key, sig } => R::VerifySignatureInit {
                h: self.s(*s),
                mech: self.mech(mech),
                key: self.o(*key),
                signature: sig.clone(),
            },
            C::InOut {
                s,
                which,
                data,
                out,
            } => R::InOut {
                h: self.s(*s),
                which: pick(
                    &[
                        InOutKind::Encrypt,
                        InOutKind::EncryptUpdate,
                        InOutKind::Decrypt,
                        InOutKind::DecryptUpdate,
                        InOutKind::Digest,
                        InOutKind::Sign,
                    ],
                    *which,
                ),
                data: data.clone(),
                out: cap(*out),
            },
            C::In { s, which, data } => R::In {
                h: self.s(*s),
                which: pick(
                    &[
                        InKind::DigestUpdate,
                        InKind::SignUpdate,
                        InKind::VerifyUpdate,
                        InKind::VerifySignature,
                        InKind::VerifySignatureUpdate,
                    ],
                    *which,
                ),
                data: data.clone(),
            },
            C::Out { s, which, out } => R::Out {
                h: self.s(*s),
                which: pick(
                    &[
                        OutKind::EncryptFinal,
                        OutKind::DecryptFinal,
                        OutKind::DigestFinal,
                        OutKind::SignFinal,
                    ],
                    *which,
                ),
                out: cap(*out),
            },
            C::Verify { s, data, sig } => R::Verify {
                h: self.s(*s),
                data: data.clone(),
                signature: sig.clone(),
            },
            C::VerifyFinal { s, sig } => R::VerifyFinal {
                h: self.s(*s),
                signature: sig.clone(),
            },
            C::VerifySignatureFinal(s) => R::VerifySignatureFinal { h: self.s(*s) },
            C::Message {
                s,
                encrypt,
                param,
                aad,
                data,
                out,
            } => R::Message {
                h: self.s(*s),
                encrypt: *encrypt,
                param: self.message_param(param),
                aad: aad.clone(),
                data: data.clone(),
                out: cap(*out),
            },
            C::MessageBegin {
                s,
                encrypt,
                param,
                aad,
            } => R::MessageBegin {
                h: self.s(*s),
                encrypt: *encrypt,
                param: self.message_param(param),
                aad: aad.clone(),
            },
            C::MessageNext {
                s,
                encrypt,
                param,
                data,
                last,
                out,
            } => R::MessageNext {
                h: self.s(*s),
                encrypt: *encrypt,
                param: self.message_param(param),
                data: data.clone(),
                last: *last,
                out: cap(*out),
            },
            C::MessageFinal { s, encrypt } => R::MessageFinal {
                h: self.s(*s),
                encrypt: *encrypt,
            },
            C::GenerateKey { s, mech, t } => R::GenerateKey {
                h: self.s(*s),
                mech: self.mech(mech),
                template: self.template(t),
            },
            C::GenerateKeyPair {
                s,
                mech,
                public,
                private,
            } => R::GenerateKeyPair {
                h: self.s(*s),
                mech: self.mech(mech),
                public: self.template(public),
                private: self.template(private),
            },
            C::Wrap {
                s,
                mech,
                wrapping,
                key,
                out,
            } => R::WrapKey {
                h: self.s(*s),
                mech: self.mech(mech),
                wrapping: self.o(*wrapping),
                key: self.o(*key),
                out: cap(*out),
            },
            C::Unwrap {
                s,
                mech,
                unwrapping,
                wrapped,
                t,
            } => R::UnwrapKey {
                h: self.s(*s),
                mech: self.mech(mech),
                unwrapping: self.o(*unwrapping),
                wrapped: wrapped.clone(),
                template: self.template(t),
            },
            C::Derive { s, mech, base, t } => R::DeriveKey {
                h: self.s(*s),
                mech: self.mech(mech),
                base: self.o(*base),
                template: self.template(t),
            },
            C::Encapsulate {
                s,
                mech,
                public,
                t,
                out,
            } => R::EncapsulateKey {
                h: self.s(*s),
                mech: self.mech(mech),
                public: self.o(*public),
                template: self.template(t),
                out: cap(*out),
            },
            C::Decapsulate {
                s,
                mech,
                private,
                t,
                ct,
            } => R::DecapsulateKey {
                h: self.s(*s),
                mech: self.mech(mech),
                private: self.o(*private),
                template: self.template(t),
                ciphertext: ct.clone(),
            },
            C::SeedRandom { s, seed } => R::SeedRandom {
                h: self.s(*s),
                seed: seed.clone(),
            },
            C::GenerateRandom { s, len } => R::GenerateRandom {
                h: self.s(*s),
                len: u64::from(*len),
            },
            C::EndOperation { s, op } => R::EndOperation {
                h: self.s(*s),
                op: pick(
                    &[
                        OpKind::Encrypt,
                        OpKind::Decrypt,
                        OpKind::Digest,
                        OpKind::Sign,
                        OpKind::Verify,
                        OpKind::VerifySignature,
                    ],
                    *op,
                ),
            },
        }
    }

    /// The message functions' parameter: mostly a GCM message parameter
    /// (its IV and tag from a GCM input), else as built.
    fn message_param(&self, p: &ParamIn) -> Param {
        match p {
            ParamIn::Gcm { iv, aad, tag_bits } => Param::GcmMessage {
                iv: iv.clone(),
                iv_fixed_bits: 0,
                iv_generator: CK_ULONG::from(aad.first().copied().unwrap_or(0) % 5),
                tag_bits: CK_ULONG::from(*tag_bits),
                tag: aad.get(1..).map(<[u8]>::to_vec).unwrap_or_default(),
            },
            p => self.param(p),
        }
    }
}

/// The bytes of an input, step by step.
struct Steps<'a> {
    start: Option<&'a Start>,
    calls: VecDeque<Call>,
    steps: std::slice::Iter<'a, Step>,
}

fn prelude() -> [Call; 5] {
    [
        Call::OpenSession {
            rw: true,
            serial: true,
            extra: 0,
        },
        Call::Login {
            s: 0,
            user: 0,
            pin: PinSel::User,
            username: None,
        },
        Call::FindInit {
            s: 0,
            t: Vec::new(),
        },
        Call::Find { s: 0, max: 64 },
        Call::FindFinal(0),
    ]
}

impl Source for Steps<'_> {
    fn next(&mut self, seen: &Seen) -> Option<Vec<u8>> {
        if let Some(start) = self.start.take() {
            return Some(match start {
                Start::Ours => handshake(&Hello::ours()),
                Start::Hello {
                    version,
                    ulong_size,
                    little_endian,
                } => handshake(&Hello {
                    version: *version,
                    ulong_size: *ulong_size,
                    little_endian: *little_endian,
                }),
                Start::Raw(b) => b.clone(),
            });
        }
        loop {
            if let Some(c) = self.calls.pop_front() {
                // (A request beyond the frame limit would end the input: the
                // client refuses to send it. Inputs stay far below.)
                return Some(encode(&Build { seen }.request(&c)).ok()??.to_vec());
            }
            match self.steps.next()? {
                Step::Raw(b) => return Some(b.clone()),
                Step::Frame(b) => {
                    let n = u32::try_from(b.len()).ok()?;
                    let mut f = n.to_be_bytes().to_vec();
                    f.extend_from_slice(b);
                    return Some(f);
                }
                Step::Call(c) => return Some(encode(&Build { seen }.request(c)).ok()??.to_vec()),
                Step::Prelude => self.calls.extend(prelude()),
            }
        }
    }
}

fuzz_target!(|inp: Input| {
    let t = token();
    t.restore();
    let mut calls = VecDeque::new();
    if inp.prelude {
        calls.extend(prelude());
    }
    let mut conn = Conn::new(Steps {
        start: Some(&inp.start),
        calls,
        steps: inp.steps.iter(),
    });
    let settings = MechanismSettings {
        legacy: inp.legacy,
        ..MechanismSettings::default()
    };
    serve_stream(&mut conn, t.slot.clone(), settings);
    conn.finish();
});
