//! Many processes on one token file (issue 8), through the built `.so`.
//!
//! The children are this test binary run again (`--exact child`) with
//! `SOFTKMS_MULTIPROC_ROLE` naming what to do; each writes a line to its own
//! log file after every call that returned success, and the other processes
//! and the parent read those logs. The rules checked:
//! - each process sees the others' changes at its next call: a key the writer
//!   reports created is found (and usable) by a reader's next `C_FindObjects`;
//!   after the writer reports version V, a reader's next envelope encryption
//!   uses version V or later;
//! - no `SQLITE_BUSY` reaches a caller: any error in any child fails the test;
//! - no lost write: every object the writer reports is there at the end, every
//!   rotation produced a version (also with two processes rotating one key at
//!   the same moment), and two processes updating different attributes of one
//!   object both keep their changes.
//!
//! `SOFTKMS_MULTIPROC_SECS` (default 3) sets how long each child works.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::CK_ULONG;
use p11_testkit::keys::{envelope, ManagedKey};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const ROLE: &str = "SOFTKMS_MULTIPROC_ROLE";
const ID: &str = "SOFTKMS_MULTIPROC_ID";
const DIR: &str = "SOFTKMS_MULTIPROC_DIR";
const SECS: &str = "SOFTKMS_MULTIPROC_SECS";

use p11_testkit::vendor::{
    CKA_SOFTKMS_CURRENT_VERSION as CURRENT_VERSION, CKA_SOFTKMS_ROTATE as ROTATE,
    CKA_SOFTKMS_ROTATION_PERIOD as ROTATION_PERIOD,
};
/// How many rotations each of the two rotating processes makes.
const ROTATIONS_EACH: usize = 25;
/// How many updates each of the two updating processes makes.
const UPDATES_EACH: usize = 40;

const CONTEXT: &[u8] = b"app=multiproc";

fn envelope_params() -> EnvelopeParams {
    EnvelopeParams::new(CONTEXT)
}

/// The master key version named in an envelope header (docs/envelope-format.md).
fn envelope_version(msg: &[u8]) -> u32 {
    assert_eq!(&msg[..4], b"SKMS");
    let l = usize::from(msg[10]);
    u32::from_be_bytes(msg[11 + l..15 + l].try_into().unwrap())
}

fn seal(s: &Session, k: ObjectHandle, data: &[u8]) -> Vec<u8> {
    s.encrypt(&envelope(&envelope_params()), k, data).unwrap()
}

fn open(s: &Session, k: ObjectHandle, msg: &[u8]) -> Vec<u8> {
    s.decrypt(&envelope(&envelope_params()), k, msg).unwrap()
}

fn rotate(s: &Session, k: ObjectHandle) {
    s.update_attributes(
        k,
        &[Attribute::VendorDefined((
            AttributeType::VendorDefined(ROTATE),
            vec![1],
        ))],
    )
    .unwrap();
}

fn one(s: &Session, label: &str) -> ObjectHandle {
    let found = s
        .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
        .unwrap();
    assert_eq!(found.len(), 1, "label {label}: {found:?}");
    found[0]
}

/// A child's log: one line per successful call, written before the next call.
struct Log(std::fs::File);

impl Log {
    fn create(path: &Path) -> Log {
        Log(std::fs::File::create(path).unwrap())
    }
    fn line(&mut self, l: &str) {
        // One write(2) per line: readers never see half a line as a whole one.
        self.0.write_all(format!("{l}\n").as_bytes()).unwrap();
    }
}

fn work_time() -> Duration {
    let secs = std::env::var(SECS)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    Duration::from_secs(secs)
}

fn dir() -> PathBuf {
    PathBuf::from(std::env::var_os(DIR).unwrap())
}

/// Waits until the parent says go, so that the children start together.
fn wait_for_go() {
    let go = dir().join("go");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !go.exists() {
        assert!(Instant::now() < deadline, "no go from the parent");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The children's entry point: does nothing in an ordinary test run.
#[test]
fn child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let id: usize = std::env::var(ID).unwrap().parse().unwrap();
    let ctx = Ctx::with_existing_config();
    let s = ctx.user_session(0);
    let mut log = Log::create(&dir().join(format!("{role}-{id}.log")));
    wait_for_go();
    match role.as_str() {
        "writer" => writer(&s, &mut log),
        "reader" => reader(&s, &mut log, id),
        "rotator" => rotator(&s, &mut log),
        "updater" => updater(&s, &mut log, id),
        "user" => {
            // Uses a key whose automatic rotation is due, at once with the others.
            let mk = one(&s, "auto");
            let msg = seal(&s, mk, b"due");
            log.line(&format!("sealed {}", hex(&msg)));
            log.line("done");
        }
        other => panic!("unknown role {other}"),
    }
    drop(s);
}

/// Creates keys and data objects and rotates the managed key "mk".
fn writer(s: &Session, log: &mut Log) {
    let mk = one(s, "mk");
    let deadline = Instant::now() + work_time();
    let mut i = 0;
    while Instant::now() < deadline {
        let label = format!("w-{i}");
        if i % 2 == 0 {
            s.generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(true),
                    Attribute::ValueLen(32.into()),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                    Attribute::Label(label.clone().into_bytes()),
                ],
            )
            .unwrap();
        } else {
            s.create_object(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Token(true),
                Attribute::Label(label.clone().into_bytes()),
                Attribute::Value(label.clone().into_bytes()),
            ])
            .unwrap();
        }
        log.line(&format!("created {label}"));
        if i % 3 == 0 {
            rotate(s, mk);
            let v = read_ulong(s, mk, CURRENT_VERSION);
            log.line(&format!("rotated {v}"));
        }
        i += 1;
    }
    log.line("done");
}

/// What the writer has reported so far: its last created label and the
/// highest version it has rotated to.
fn writer_progress() -> (Option<String>, u64) {
    let mut last = None;
    let mut version = 1;
    for l in lines(&dir().join("writer-0.log")) {
        if let Some(label) = l.strip_prefix("created ") {
            last = Some(label.to_string());
        } else if let Some(v) = l.strip_prefix("rotated ") {
            version = version.max(v.parse().unwrap());
        }
    }
    (last, version)
}

/// Encrypts, signs and finds; checks that each call sees what the writer had
/// reported before it started.
fn reader(s: &Session, log: &mut Log, id: usize) {
    let mk = one(s, "mk");
    let ec_priv = one(s, "ec-priv");
    let ec_pub = one(s, "ec-pub");
    let deadline = Instant::now() + work_time();
    let mut old: Vec<(u32, Vec<u8>)> = Vec::new();
    let (mut calls, mut seen_new_objects, mut seen_new_versions) = (0usize, 0usize, 0usize);
    let (mut last_label, mut last_version) = (None, 1);
    let mut i = 0usize;
    while Instant::now() < deadline {
        let (label, version) = writer_progress();
        // A key or object the writer reported is found at the next call.
        if let Some(label) = &label {
            let h = one(s, label);
            if last_label.as_ref() != Some(label) {
                seen_new_objects += 1;
                last_label = Some(label.clone());
            }
            let n: usize = label[2..].parse().unwrap();
            if n.is_multiple_of(2) {
                let mut iv = [0u8; 12];
                iv[..8].copy_from_slice(&u64::try_from(i).unwrap().to_be_bytes());
                iv[8] = u8::try_from(id).unwrap();
                let mut iv2 = iv;
                let ct = s
                    .encrypt(
                        &Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into()).unwrap()),
                        h,
                        label.as_bytes(),
                    )
                    .unwrap();
                let pt = s
                    .decrypt(
                        &Mechanism::AesGcm(GcmParams::new(&mut iv2, &[], 128.into()).unwrap()),
                        h,
                        &ct,
                    )
                    .unwrap();
                assert_eq!(pt, label.as_bytes());
            }
            calls += 1;
        }
        // After a rotation is reported, new encryptions use the new version.
        let data = format!("reader {id} message {i}").into_bytes();
        let msg = seal(s, mk, &data);
        let used = envelope_version(&msg);
        assert!(
            u64::from(used) >= version,
            "reader {id}: encrypted with version {used} after the writer reported {version}"
        );
        if version > last_version {
            seen_new_versions += 1;
            last_version = version;
        }
        assert!(read_ulong(s, mk, CURRENT_VERSION) >= version);
        assert_eq!(open(s, mk, &msg), data);
        if i.is_multiple_of(10) {
            old.push((used, msg));
        }
        // Older messages still open after later rotations.
        let (v, m) = &old[i % old.len()];
        assert_eq!(envelope_version(m), *v);
        open(s, mk, m);
        let sig = s.sign(&Mechanism::EcdsaSha256, ec_priv, &data).unwrap();
        s.verify(&Mechanism::EcdsaSha256, ec_pub, &data, &sig)
            .unwrap();
        calls += 4;
        i += 1;
    }
    log.line(&format!(
        "done {calls} {seen_new_objects} {seen_new_versions}"
    ));
}

/// Rotates "mk2" `ROTATIONS_EACH` times, logging an envelope message made
/// right after each rotation.
fn rotator(s: &Session, log: &mut Log) {
    let mk = one(s, "mk2");
    for i in 0..ROTATIONS_EACH {
        rotate(s, mk);
        let data = format!("after rotation {i}").into_bytes();
        log.line(&format!("rotated {}", hex(&seal(s, mk, &data))));
    }
    log.line("done");
}

/// Sets its own attribute of the shared data object (CKA_LABEL for id 0,
/// CKA_APPLICATION for id 1) `UPDATES_EACH` times and reads it back each time.
fn updater(s: &Session, log: &mut Log, id: usize) {
    let found = s
        .find_objects(&[Attribute::ObjectId(b"shared".to_vec())])
        .unwrap();
    assert_eq!(found.len(), 1);
    let o = found[0];
    for n in 1..=UPDATES_EACH {
        let (set, ty) = if id == 0 {
            (
                Attribute::Label(format!("a-{n}").into_bytes()),
                AttributeType::Label,
            )
        } else {
            (
                Attribute::Application(format!("b-{n}").into_bytes()),
                AttributeType::Application,
            )
        };
        s.update_attributes(o, std::slice::from_ref(&set)).unwrap();
        let back = s.get_attributes(o, &[ty]).unwrap();
        assert_eq!(back, vec![set], "updater {id}: my write was lost");
        log.line(&format!("set {n}"));
    }
    log.line("done");
}

/// Runs the children and fails when one fails or hangs.
fn run_children(dir: &Path, roles: &[(&str, usize)]) {
    let module = module_path();
    let mut children: Vec<(String, Child)> = roles
        .iter()
        .map(|(role, id)| {
            let c = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "child", "--nocapture", "--test-threads=1"])
                .env(ROLE, role)
                .env(ID, id.to_string())
                .env(DIR, dir)
                .env("TEST_PKCS11_MODULE", &module)
                .spawn()
                .unwrap();
            (format!("{role}-{id}"), c)
        })
        .collect();
    // Go once every child has logged in and opened its log.
    let start = Instant::now();
    while !roles
        .iter()
        .all(|(role, id)| dir.join(format!("{role}-{id}.log")).exists())
    {
        if start.elapsed() > Duration::from_secs(120) {
            for (_, c) in &mut children {
                let _ = c.kill();
            }
            panic!("children did not start");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::write(dir.join("go"), b"").unwrap();
    let deadline = Instant::now() + work_time() + Duration::from_secs(180);
    for (name, c) in &mut children {
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                assert!(status.success(), "child {name} failed: {status}");
                break;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                panic!("child {name} hangs: deadlock?");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for (role, id) in roles {
        let l = lines(&dir.join(format!("{role}-{id}.log")));
        assert!(
            l.last().is_some_and(|l| l.starts_with("done")),
            "{role}-{id} did not finish"
        );
    }
}

#[test]
fn one_writer_and_three_readers_see_each_others_changes() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let mk = ManagedKey::new("mk").generate(&s);
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::Label(b"ec-pub".to_vec()),
            Attribute::EcParams(p11_testkit::P256_OID.to_vec()),
            Attribute::Verify(true),
        ],
        &[
            Attribute::Token(true),
            Attribute::Label(b"ec-priv".to_vec()),
            Attribute::Sign(true),
        ],
    )
    .unwrap();
    let dir = ctx.dir.path().join("multiproc");
    std::fs::create_dir(&dir).unwrap();
    std::env::set_var(DIR, &dir);
    run_children(
        &dir,
        &[("writer", 0), ("reader", 1), ("reader", 2), ("reader", 3)],
    );
    // No lost write: every object the writer reported is there, and every
    // rotation it reported made a version.
    let wlog = lines(&dir.join("writer-0.log"));
    let created: Vec<&str> = wlog
        .iter()
        .filter_map(|l| l.strip_prefix("created "))
        .collect();
    let rotated: Vec<u64> = wlog
        .iter()
        .filter_map(|l| l.strip_prefix("rotated ").map(|v| v.parse().unwrap()))
        .collect();
    assert!(created.len() >= 4, "the writer made too little: {wlog:?}");
    for label in &created {
        one(&s, label);
    }
    let expect: Vec<u64> = (2..2 + u64::try_from(rotated.len()).unwrap()).collect();
    assert_eq!(rotated, expect, "every rotation makes the next version");
    assert_eq!(
        read_ulong(&s, mk, CURRENT_VERSION),
        1 + CK_ULONG::try_from(rotated.len()).unwrap()
    );
    let mut total = (0, 0, 0);
    for id in 1..=3 {
        let l = lines(&dir.join(format!("reader-{id}.log")));
        let f: Vec<usize> = l[0]
            .split(' ')
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        total = (total.0 + f[0], total.1 + f[1], total.2 + f[2]);
    }
    println!(
        "writer: {} objects, {} rotations; readers: {} calls, saw {} new objects and {} new versions",
        created.len(),
        rotated.len(),
        total.0,
        total.1,
        total.2
    );
    // The readers ran alongside the writer, not after it.
    assert!(total.1 >= 2 && total.2 >= 1, "{total:?}");
}

#[test]
fn two_processes_rotating_one_key_lose_no_version() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let mk = ManagedKey::new("mk2").generate(&s);
    let dir = ctx.dir.path().join("rotators");
    std::fs::create_dir(&dir).unwrap();
    std::env::set_var(DIR, &dir);
    run_children(&dir, &[("rotator", 0), ("rotator", 1)]);
    let mut messages = Vec::new();
    for id in 0..2 {
        for l in lines(&dir.join(format!("rotator-{id}.log"))) {
            if let Some(m) = l.strip_prefix("rotated ") {
                messages.push(unhex(m));
            }
        }
    }
    assert_eq!(messages.len(), 2 * ROTATIONS_EACH);
    // Every rotation made its own version, and every message made after a
    // rotation still opens: no version was overwritten by the other process.
    assert_eq!(
        read_ulong(&s, mk, CURRENT_VERSION),
        1 + CK_ULONG::try_from(2 * ROTATIONS_EACH).unwrap()
    );
    for m in &messages {
        open(&s, mk, m);
    }
}

#[test]
fn two_processes_updating_one_object_keep_both_changes() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let o = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::ObjectId(b"shared".to_vec()),
            Attribute::Label(b"a-0".to_vec()),
            Attribute::Application(b"b-0".to_vec()),
        ])
        .unwrap();
    let dir = ctx.dir.path().join("updaters");
    std::fs::create_dir(&dir).unwrap();
    std::env::set_var(DIR, &dir);
    run_children(&dir, &[("updater", 0), ("updater", 1)]);
    assert_eq!(
        s.get_attributes(o, &[AttributeType::Label, AttributeType::Application])
            .unwrap(),
        vec![
            Attribute::Label(format!("a-{UPDATES_EACH}").into_bytes()),
            Attribute::Application(format!("b-{UPDATES_EACH}").into_bytes()),
        ]
    );
}

#[test]
fn a_rotation_due_in_three_processes_at_once_happens_once() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let mk = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Label(b"auto".to_vec()),
                Attribute::ValueLen(32.into()),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::VendorDefined((
                    AttributeType::VendorDefined(ROTATION_PERIOD),
                    CK_ULONG::to_ne_bytes(90).to_vec(),
                )),
            ],
        )
        .unwrap();
    let dir = ctx.dir.path().join("auto");
    std::fs::create_dir(&dir).unwrap();
    std::env::set_var(DIR, &dir);
    // The children's clock is 91 days ahead: the rotation is due for each.
    std::env::set_var("SOFTKMS_TEST_CLOCK_OFFSET", (91 * 86_400).to_string());
    run_children(&dir, &[("user", 0), ("user", 1), ("user", 2)]);
    let mut versions = Vec::new();
    for id in 0..3 {
        for l in lines(&dir.join(format!("user-{id}.log"))) {
            if let Some(m) = l.strip_prefix("sealed ") {
                let m = unhex(m);
                versions.push(envelope_version(&m));
                assert_eq!(open(&s, mk, &m), b"due");
            }
        }
    }
    // One automatic rotation, not one per process, and everyone used it.
    assert_eq!(read_ulong(&s, mk, CURRENT_VERSION), 2);
    assert_eq!(versions, vec![2, 2, 2]);
}
