//! Crashes (issue 8): a child process driving the built `.so` is killed with
//! SIGKILL at random points while it creates objects, changes a PIN (C_SetPIN
//! and C_InitPIN), rotates a managed key and re-initializes the token. After
//! each kill the parent opens the file again and checks:
//! - the file opens (token info, login);
//! - every call the child reported as successful is there (the child writes
//!   `ok …` to its log after each call returns, `begin …` before it starts);
//! - nothing half-written is visible (objects carry all their attributes; a
//!   rotation's version is fully usable or absent);
//! - exactly one of the old and the new PIN works.
//!
//! The children are this test binary run again (`--exact child`) with
//! `SOFTKMS_CRASH_ROLE` set. `SOFTKMS_CRASH_ITERATIONS` (default 40) sets the
//! kills per scenario, `SOFTKMS_CRASH_SEED` the random kill points.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::CK_ULONG;
use p11_testkit::keys::envelope;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const ROLE: &str = "SOFTKMS_CRASH_ROLE";
const LOG: &str = "SOFTKMS_CRASH_LOG";
const START: &str = "SOFTKMS_CRASH_START";

use p11_testkit::vendor::{
    CKA_SOFTKMS_CURRENT_VERSION as CURRENT_VERSION, CKA_SOFTKMS_ROTATE as ROTATE,
};
const CONTEXT: &[u8] = b"app=crash";

fn envelope_op(s: &Session, k: ObjectHandle, data: &[u8], encrypt: bool) -> Vec<u8> {
    let params = EnvelopeParams::new(CONTEXT);
    let mech = envelope(&params);
    if encrypt {
        s.encrypt(&mech, k, data).unwrap()
    } else {
        s.decrypt(&mech, k, data).unwrap()
    }
}

/// The master key version named in an envelope header (docs/envelope-format.md).
fn envelope_version(msg: &[u8]) -> CK_ULONG {
    let l = usize::from(msg[10]);
    CK_ULONG::from(u32::from_be_bytes(msg[11 + l..15 + l].try_into().unwrap()))
}

/// The user PIN number `i` of the PIN scenarios.
fn pin_no(i: u64) -> String {
    format!("pin-{i:06}")
}

/// The value a data object labelled `label` carries: long enough to span pages.
fn value_of(label: &str) -> Vec<u8> {
    label
        .as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(3000)
        .collect()
}

/// The last `ok` line's words after `ok`, if any.
fn last_ok(log: &[String], what: &str) -> Option<Vec<String>> {
    log.iter()
        .rev()
        .filter_map(|l| l.strip_prefix("ok "))
        .map(|l| l.split(' ').map(str::to_string).collect::<Vec<_>>())
        .find(|w| w[0] == what)
}

// ---------------------------------------------------------------- the child

struct Log(std::fs::File);

impl Log {
    fn line(&mut self, l: &str) {
        // One write(2) per line; it is in the kernel when write returns, so a
        // SIGKILL right after it cannot lose it.
        self.0.write_all(format!("{l}\n").as_bytes()).unwrap();
    }
}

/// The children's entry point: does nothing in an ordinary test run. A child
/// works until it is killed (or for a minute, should the parent be gone).
#[test]
fn child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let start: u64 = std::env::var(START).unwrap().parse().unwrap();
    let mut log = Log(std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(std::env::var_os(LOG).unwrap())
        .unwrap());
    let ctx = Ctx::with_existing_config();
    let until = Instant::now() + Duration::from_secs(60);
    let slot = ctx.slot(0);
    match role.as_str() {
        "create" => {
            let s = ctx.user_session(0);
            log.line("ready");
            let pid = std::process::id();
            for i in 0.. {
                let label = format!("c-{pid}-{i}");
                log.line(&format!("begin {label}"));
                if i % 2 == 0 {
                    s.create_object(&[
                        Attribute::Class(ObjectClass::DATA),
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Label(label.clone().into_bytes()),
                        Attribute::Application(label.clone().into_bytes()),
                        Attribute::ObjectId(label.clone().into_bytes()),
                        Attribute::Value(value_of(&label)),
                    ])
                    .unwrap();
                } else {
                    s.generate_key(
                        &Mechanism::AesKeyGen,
                        &[
                            Attribute::Token(true),
                            Attribute::ValueLen(32.into()),
                            Attribute::Encrypt(true),
                            Attribute::Decrypt(true),
                            Attribute::Label(label.clone().into_bytes()),
                            Attribute::Id(label.clone().into_bytes()),
                        ],
                    )
                    .unwrap();
                }
                log.line(&format!("ok create {label}"));
                if Instant::now() > until {
                    break;
                }
            }
        }
        "setpin" => {
            let s = ctx.p11.open_rw_session(slot).unwrap();
            s.login(UserType::User, Some(&pin(&pin_no(start)))).unwrap();
            log.line("ready");
            for i in start.. {
                log.line(&format!("begin pin {}", i + 1));
                s.set_pin(&pin(&pin_no(i)), &pin(&pin_no(i + 1))).unwrap();
                log.line(&format!("ok pin {}", i + 1));
                if Instant::now() > until {
                    break;
                }
            }
        }
        "initpin" => {
            let s = ctx.p11.open_rw_session(slot).unwrap();
            s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
            log.line("ready");
            for i in start.. {
                log.line(&format!("begin pin {}", i + 1));
                s.init_pin(&pin(&pin_no(i + 1))).unwrap();
                log.line(&format!("ok pin {}", i + 1));
                if Instant::now() > until {
                    break;
                }
            }
        }
        "rotate" => {
            let s = ctx.user_session(0);
            let mk = s.find_objects(&[Attribute::Label(b"mk".to_vec())]).unwrap()[0];
            log.line("ready");
            for i in 0.. {
                log.line("begin rotate");
                s.update_attributes(
                    mk,
                    &[Attribute::VendorDefined((
                        AttributeType::VendorDefined(ROTATE),
                        vec![1],
                    ))],
                )
                .unwrap();
                let v = read_ulong(&s, mk, CURRENT_VERSION);
                let msg = envelope_op(&s, mk, format!("message {i}").as_bytes(), true);
                log.line(&format!("ok rotate {v} {} {}", hex(&msg), i));
                if Instant::now() > until {
                    break;
                }
            }
        }
        "init" => {
            log.line("ready");
            for i in start.. {
                log.line(&format!("begin init {i}"));
                ctx.p11
                    .init_token(slot, &pin(SO_PIN), &format!("init-{i}"))
                    .unwrap();
                log.line(&format!("ok init {i}"));
                {
                    let s = ctx.p11.open_rw_session(slot).unwrap();
                    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
                    s.init_pin(&pin(USER_PIN)).unwrap();
                    log.line(&format!("ok userpin {i}"));
                    s.logout().unwrap();
                    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
                    s.create_object(&[
                        Attribute::Class(ObjectClass::DATA),
                        Attribute::Token(true),
                        Attribute::Label(format!("obj-{i}").into_bytes()),
                        Attribute::Value(value_of(&format!("obj-{i}"))),
                    ])
                    .unwrap();
                    log.line(&format!("ok obj {i}"));
                }
                if Instant::now() > until {
                    break;
                }
            }
        }
        other => panic!("unknown role {other}"),
    }
}

// --------------------------------------------------------------- the parent

/// A child that is killed when dropped (a failing parent leaves none behind).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// xorshift64*: reproducible kill points from one seed.
struct Rng(u64);

impl Rng {
    fn new(scenario: &str) -> Rng {
        let seed = std::env::var("SOFTKMS_CRASH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                u64::try_from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_nanos()
                        % 1_000_000_007,
                )
                .unwrap()
            });
        println!("{scenario}: SOFTKMS_CRASH_SEED={seed}");
        Rng(seed | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn iterations() -> usize {
    std::env::var("SOFTKMS_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

/// Runs `role` from `start`, kills it at a random point, and returns its log.
/// Most kills come a random 0–40 ms after the child is ready (mid-work); one in
/// six comes during its start-up and login instead.
fn run_and_kill(ctx: &Ctx, rng: &mut Rng, role: &str, start: u64, log: &Path) -> Vec<String> {
    let _ = std::fs::remove_file(log);
    let mut child = Running(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env(START, start.to_string())
            .env(LOG, log)
            .env("SOFTKMS_CONF", ctx.dir.path().join("softkms.toml"))
            .env("TEST_PKCS11_MODULE", module_path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    if rng.below(6) == 0 {
        std::thread::sleep(Duration::from_millis(rng.below(150)));
    } else {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !lines(log).iter().any(|l| l == "ready") {
            if let Some(status) = child.0.try_wait().unwrap() {
                panic!("{role} child ended before it was killed: {status}");
            }
            assert!(Instant::now() < deadline, "{role} child never got ready");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(rng.below(40)));
    }
    if let Some(status) = child.0.try_wait().unwrap() {
        panic!("{role} child ended before it was killed: {status}");
    }
    drop(child);
    lines(log)
}

/// A fresh module (the file opened again, as after a crash) and proof that the
/// file opens.
fn reopen(ctx: &mut Ctx) {
    ctx.restart();
    let info = ctx.p11.get_token_info(ctx.slot(0)).unwrap();
    assert!(info.token_initialized());
}

/// Counts kills that landed inside a call (the last line is a `begin`).
fn mid_call(log: &[String]) -> bool {
    log.last().is_some_and(|l| l.starts_with("begin"))
}

fn report(scenario: &str, kills: usize, inside: usize, started: Instant) {
    println!(
        "{scenario}: {kills} kills, {inside} inside a call, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn killed_while_creating_objects() {
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    let mut rng = Rng::new("create");
    let log = ctx.dir.path().join("child.log");
    let (started, mut inside) = (Instant::now(), 0);
    let mut reported: Vec<String> = Vec::new();
    for _ in 0..iterations() {
        let l = run_and_kill(&ctx, &mut rng, "create", 0, &log);
        inside += usize::from(mid_call(&l));
        reported.extend(
            l.iter()
                .filter_map(|l| l.strip_prefix("ok create "))
                .map(str::to_string),
        );
        reopen(&mut ctx);
        let s = ctx.user_session(0);
        // Every reported creation is there, once.
        for label in &reported {
            let found = s
                .find_objects(&[Attribute::Label(label.clone().into_bytes())])
                .unwrap();
            assert_eq!(found.len(), 1, "reported object {label} is missing");
        }
        // Every object that is there is complete.
        for h in s.find_objects(&[]).unwrap() {
            let attrs = s
                .get_attributes(h, &[AttributeType::Class, AttributeType::Label])
                .unwrap();
            let label = match &attrs[1] {
                Attribute::Label(l) => String::from_utf8(l.clone()).unwrap(),
                other => panic!("{other:?}"),
            };
            if attrs[0] == Attribute::Class(ObjectClass::DATA) {
                assert_eq!(
                    s.get_attributes(
                        h,
                        &[
                            AttributeType::Application,
                            AttributeType::ObjectId,
                            AttributeType::Value
                        ]
                    )
                    .unwrap(),
                    vec![
                        Attribute::Application(label.clone().into_bytes()),
                        Attribute::ObjectId(label.clone().into_bytes()),
                        Attribute::Value(value_of(&label)),
                    ],
                    "object {label} is incomplete"
                );
            } else {
                assert_eq!(
                    s.get_attributes(h, &[AttributeType::Id]).unwrap(),
                    vec![Attribute::Id(label.clone().into_bytes())]
                );
                let mut iv = [7u8; 12];
                let mut iv2 = iv;
                let ct = s
                    .encrypt(
                        &Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into()).unwrap()),
                        h,
                        b"x",
                    )
                    .unwrap();
                let pt = s
                    .decrypt(
                        &Mechanism::AesGcm(GcmParams::new(&mut iv2, &[], 128.into()).unwrap()),
                        h,
                        &ct,
                    )
                    .unwrap();
                assert_eq!(pt, b"x", "key {label} is not usable");
            }
        }
    }
    report("create", iterations(), inside, started);
    assert!(!reported.is_empty(), "the children never created anything");
}

/// Kills a child that changes the user PIN with `role` (C_SetPIN or
/// C_InitPIN), and checks that exactly one of the old and the new PIN works.
fn pin_scenario(role: &str) {
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    {
        let s = ctx.user_session(0);
        s.set_pin(&pin(USER_PIN), &pin(&pin_no(0))).unwrap();
    }
    let mut rng = Rng::new(role);
    let log = ctx.dir.path().join("child.log");
    let (started, mut inside, mut current) = (Instant::now(), 0, 0u64);
    for _ in 0..iterations() {
        let l = run_and_kill(&ctx, &mut rng, role, current, &log);
        inside += usize::from(mid_call(&l));
        let known = last_ok(&l, "pin").map_or(current, |w| w[1].parse().unwrap());
        reopen(&mut ctx);
        let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
        let try_pin = |i: u64| match s.login(UserType::User, Some(&pin(&pin_no(i)))) {
            Ok(()) => {
                s.logout().unwrap();
                true
            }
            Err(e) => {
                assert_eq!(rv::<()>(Err(e)), RvError::PinIncorrect);
                false
            }
        };
        let (old_works, new_works) = (try_pin(known), try_pin(known + 1));
        assert!(
            new_works != old_works,
            "{role}: after PIN {known} was reported, old works: {old_works}, new works: {new_works}"
        );
        current = if new_works { known + 1 } else { known };
        // A last success resets the failed-login count the wrong PIN raised.
        assert!(try_pin(current));
    }
    report(role, iterations(), inside, started);
    assert!(current > 0, "{role}: no PIN change ever completed");
}

#[test]
fn killed_while_changing_the_pin_with_c_setpin() {
    pin_scenario("setpin");
}

#[test]
fn killed_while_setting_the_pin_with_c_initpin() {
    pin_scenario("initpin");
}

#[test]
fn killed_while_rotating_a_key() {
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    {
        let s = ctx.user_session(0);
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Label(b"mk".to_vec()),
                Attribute::ValueLen(32.into()),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ],
        )
        .unwrap();
    }
    let mut rng = Rng::new("rotate");
    let log = ctx.dir.path().join("child.log");
    let (started, mut inside) = (Instant::now(), 0);
    let mut version: CK_ULONG = 1;
    let mut messages: Vec<(CK_ULONG, Vec<u8>, String)> = Vec::new();
    for _ in 0..iterations() {
        let l = run_and_kill(&ctx, &mut rng, "rotate", 0, &log);
        inside += usize::from(mid_call(&l));
        let in_flight = CK_ULONG::from(
            l.iter()
                .rev()
                .find(|l| !l.is_empty())
                .is_some_and(|l| l == "begin rotate"),
        );
        let mut reported = 0;
        for w in l.iter().filter_map(|l| l.strip_prefix("ok rotate ")) {
            let w: Vec<&str> = w.split(' ').collect();
            let v: CK_ULONG = w[0].parse().unwrap();
            assert!(v > version, "rotations went backwards: {v} after {version}");
            version = v;
            reported += 1;
            messages.push((v, unhex(w[1]), format!("message {}", w[2])));
        }
        reopen(&mut ctx);
        let s = ctx.user_session(0);
        let mk = s.find_objects(&[Attribute::Label(b"mk".to_vec())]).unwrap()[0];
        let current = read_ulong(&s, mk, CURRENT_VERSION);
        // Each reported rotation is there; at most the one in flight beyond.
        assert!(
            current >= version && current <= version + in_flight,
            "current version {current}, last reported {version} ({reported} this run)"
        );
        version = current;
        // Every message made after a reported rotation opens.
        for (v, m, text) in &messages {
            assert_eq!(envelope_version(m), *v);
            assert_eq!(envelope_op(&s, mk, m, false), text.as_bytes());
        }
        // The current version, reported or not, is fully usable.
        let m = envelope_op(&s, mk, b"after the crash", true);
        assert_eq!(envelope_version(&m), current);
        assert_eq!(envelope_op(&s, mk, &m, false), b"after the crash");
    }
    report("rotate", iterations(), inside, started);
    assert!(version > 1, "no rotation ever completed");
}

#[test]
fn killed_while_initializing_the_token() {
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    let mut rng = Rng::new("init");
    let log = ctx.dir.path().join("child.log");
    let (started, mut inside) = (Instant::now(), 0);
    // The label of the token as it is, and its number (None: the parent's own).
    let mut current: Option<u64> = None;
    let mut completed = 0;
    for _ in 0..iterations() {
        let start = current.map_or(0, |c| c + 1);
        let l = run_and_kill(&ctx, &mut rng, "init", start, &log);
        inside += usize::from(mid_call(&l));
        let ok = |what: &str, i: u64| l.iter().any(|x| x == &format!("ok {what} {i}"));
        let last_init = last_ok(&l, "init").map(|w| w[1].parse::<u64>().unwrap());
        reopen(&mut ctx);
        let info = ctx.p11.get_token_info(ctx.slot(0)).unwrap();
        let label = info.label().trim().to_string();
        let now: Option<u64> = label.strip_prefix("init-").map(|n| n.parse().unwrap());
        // The token is the last one reported initialized, or the one after.
        let expected_base = last_init.or(current);
        let next = expected_base.map_or(start, |b| b + 1);
        assert!(
            now == expected_base || now == Some(next),
            "token label {label:?}; last reported {expected_base:?}"
        );
        // The SO PIN always works.
        let s = ctx.p11.open_rw_session(ctx.slot(0)).unwrap();
        s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
        s.logout().unwrap();
        let i = now.unwrap_or(u64::MAX);
        if now.is_some_and(|n| ok("userpin", n)) {
            assert!(info.user_pin_initialized());
        }
        if info.user_pin_initialized() {
            s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
            // Only this initialization's object, and complete.
            let all = s.find_objects(&[]).unwrap();
            if now.is_some_and(|n| ok("obj", n)) {
                assert_eq!(all.len(), 1, "reported object obj-{i} is missing");
            }
            assert!(all.len() <= 1);
            for h in all {
                assert_eq!(
                    s.get_attributes(h, &[AttributeType::Label, AttributeType::Value])
                        .unwrap(),
                    vec![
                        Attribute::Label(format!("obj-{i}").into_bytes()),
                        Attribute::Value(value_of(&format!("obj-{i}"))),
                    ]
                );
            }
            s.logout().unwrap();
        } else {
            // A fresh token: nothing from before is visible.
            assert!(s.find_objects(&[]).unwrap().is_empty());
        }
        drop(s);
        if now != current {
            completed += 1;
        }
        current = now;
    }
    report("init", iterations(), inside, started);
    assert!(completed > 0, "no re-initialization ever completed");
}
