//! The remote protocol's server side, end to end: one connection of
//! `softkms serve` (`serve_stream`) over an in-memory stream whose bytes an
//! input chooses. The handshake is ours, a hello of the input's fields, or raw
//! bytes; then come steps: raw bytes (framing fuzzed), frames of raw bodies,
//! and requests with input-chosen fields (`remote/input.rs`, built by
//! `remote/request.rs`: sessions and objects picked among the handles the
//! server's replies gave, so an input gets deep quickly). Every frame the server writes must decode (a `Welcome`, then one
//! `Reply` per request it was given, in order), and no reply may be an
//! internal error.
//!
//! The token (fast KDF, data-event audit off) is made once per process through
//! the protocol itself: a user PIN and a few token keys (AES, generic secret,
//! EC P-256, RSA-2048). Its files are restored before every input, so what an
//! input changes (objects, PINs, even `C_InitToken`) never carries over.
#![no_main]

#[path = "remote/input.rs"]
mod input;
#[path = "remote/request.rs"]
mod request;

use cryptoki_sys::*;
use input::{Call, Input, PinSel, Start, Step};
use libfuzzer_sys::fuzz_target;
use request::Build;
use softkms::internals::mechanism::{Mechanism, Param};
use softkms::internals::object::attr::Attribute;
use softkms::internals::remote::proto::{self, Body, Hello, Reply, Request, Secret, Welcome};
use softkms::internals::remote::{decode, encode, serve_stream};
use softkms::internals::{Config, MechanismSettings, SlotConfig};
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
