//! Logins under concurrency and handles after a logout (issue 12, item 7 and
//! the §5.6 default), through the built `.so`:
//! - many threads of one process logging in at once: exactly one runs the PIN
//!   KDF and succeeds, the others get `CKR_USER_ALREADY_LOGGED_IN` (or
//!   `CKR_USER_ANOTHER_ALREADY_LOGGED_IN`), and no try is counted as a failure;
//! - many processes logging in with the right PIN at once never see
//!   `CKR_PIN_LOCKED`, even with more processes than `max_pin_failures`;
//! - a process killed during the KDF still counts as one failed try;
//! - after `C_Logout`, a handle to a private object stays invalid when the user
//!   logs in again (PKCS#11 3.0 §5.6).
//!
//! The children are this test binary run again (`--exact child`) with
//! `SOFTKMS_LOGINS_ROLE` naming what to do, as in `tests/multiproc.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // helpers shared between the files of a test are `pub`

mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

const ROLE: &str = "SOFTKMS_LOGINS_ROLE";
const DIR: &str = "SOFTKMS_LOGINS_DIR";
const ID: &str = "SOFTKMS_LOGINS_ID";

/// A KDF cost that makes a login take a while (tens of ms), so that logins
/// started together overlap.
const OVERLAP_KDF: &str = "kdf = { m_cost_kib = 16384, t_cost = 2, p_cost = 1 }";
/// A KDF cost that makes a login take a second or more, to kill a process
/// inside it.
const SLOW_KDF: &str = "kdf = { m_cost_kib = 65536, t_cost = 16, p_cost = 1 }";

/// Rewrites the test's config (one slot) with `lines`, then finalizes and
/// initializes the module again. Children read the same file.
fn reconfigure(ctx: &mut Ctx, lines: &str) {
    let conf = format!(
        "[[slot]]\nid = 0\npath = \"{}\"\n{lines}\n",
        ctx.token_path(0).display()
    );
    std::fs::write(ctx.dir.path().join("softkms.toml"), conf).expect("write config");
    ctx.restart();
}

/// Raises the user PIN's stored KDF cost to the configured one: a login under
/// the new config re-wraps the master key at that cost.
fn raise_user_kdf(ctx: &Ctx) {
    let s = ctx.user_session(0);
    s.logout().unwrap();
}

/// No failed try is visible in the user PIN's token flags.
fn assert_no_failures(ctx: &Ctx, when: &str) {
    let ti = ctx.p11.get_token_info(ctx.slot(0)).unwrap();
    assert!(!ti.user_pin_count_low(), "{when}: COUNT_LOW set");
    assert!(!ti.user_pin_final_try(), "{when}: FINAL_TRY set");
    assert!(!ti.user_pin_locked(), "{when}: LOCKED set");
}

#[test]
fn a_hundred_threads_log_in_at_once_and_one_runs_the_kdf() {
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    reconfigure(&mut ctx, &format!("{OVERLAP_KDF}\nmax_pin_failures = 3"));
    raise_user_kdf(&ctx);
    const THREADS: usize = 100;
    for round in 0..3 {
        let slot = ctx.slot(0);
        let sessions: Vec<_> = (0..THREADS)
            .map(|_| ctx.p11.open_rw_session(slot).unwrap())
            .collect();
        let go = Barrier::new(THREADS);
        // Round 1 mixes SO logins in: one login of either kind wins.
        let results: Vec<(bool, Result<(), RvError>, _)> = std::thread::scope(|sc| {
            let handles: Vec<_> = sessions
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    let go = &go;
                    sc.spawn(move || {
                        let so = round == 1 && i % 2 == 1;
                        let (who, p) = if so {
                            (UserType::So, SO_PIN)
                        } else {
                            (UserType::User, USER_PIN)
                        };
                        go.wait();
                        let r = s.login(who, Some(&pin(p))).map_err(|e| rv::<()>(Err(e)));
                        (so, r, s)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<bool> = results
            .iter()
            .filter(|(_, r, _)| r.is_ok())
            .map(|(so, _, _)| *so)
            .collect();
        let outcomes: Vec<_> = results.iter().map(|(so, r, _)| (*so, *r)).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        let winner = winners[0];
        for (so, r) in &outcomes {
            match r {
                Ok(()) => {}
                Err(e) if *so == winner => assert_eq!(*e, RvError::UserAlreadyLoggedIn),
                Err(e) => assert_eq!(*e, RvError::UserAnotherAlreadyLoggedIn),
            }
        }
        assert_no_failures(&ctx, &format!("round {round}"));
        results[0].2.logout().unwrap();
        drop(results);
    }
}

/// The children's entry point: does nothing in an ordinary test run.
#[test]
fn child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let dir = PathBuf::from(std::env::var_os(DIR).unwrap());
    let id = std::env::var(ID).unwrap();
    let ctx = Ctx::with_existing_config();
    let s = ctx.p11.open_ro_session(ctx.slot(0)).unwrap();
    match role.as_str() {
        "login" => {
            // Ready, then all together at the parent's go.
            std::fs::write(dir.join(format!("ready-{id}")), b"").unwrap();
            let go = dir.join("go");
            let deadline = Instant::now() + Duration::from_secs(120);
            while !go.exists() {
                assert!(Instant::now() < deadline, "no go from the parent");
                std::thread::sleep(Duration::from_millis(1));
            }
            let r = match s.login(UserType::User, Some(&pin(USER_PIN))) {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("{:?}", rv::<()>(Err(e))),
            };
            std::fs::write(dir.join(format!("result-{id}")), r).unwrap();
        }
        "victim" => {
            std::fs::write(dir.join("logging-in"), b"").unwrap();
            // Killed by the parent while the KDF runs.
            let _ = s.login(UserType::User, Some(&pin(USER_PIN)));
            std::fs::write(dir.join("finished"), b"").unwrap();
        }
        other => panic!("unknown role {other}"),
    }
}

fn spawn_child(dir: &Path, role: &str, id: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(ID, id.to_string())
        .env(DIR, dir)
        .env("TEST_PKCS11_MODULE", module_path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until `path` exists (or the child died, or two minutes passed).
fn wait_for(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited ({status}) before {}", path.display());
        }
        assert!(
            Instant::now() < deadline,
            "timeout waiting for {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn eight_processes_log_in_at_once_and_none_is_locked_out() {
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    // Fewer tries than processes: the tries in flight must not lock the PIN.
    reconfigure(&mut ctx, &format!("{OVERLAP_KDF}\nmax_pin_failures = 3"));
    raise_user_kdf(&ctx);
    const CHILDREN: usize = 8;
    for round in 0..3 {
        let dir = ctx.dir.path().join(format!("round-{round}"));
        std::fs::create_dir(&dir).unwrap();
        let mut children: Vec<Child> = (0..CHILDREN)
            .map(|i| spawn_child(&dir, "login", i))
            .collect();
        for (i, c) in children.iter_mut().enumerate() {
            wait_for(&dir.join(format!("ready-{i}")), c);
        }
        std::fs::write(dir.join("go"), b"").unwrap();
        for (i, c) in children.iter_mut().enumerate() {
            let status = c.wait().unwrap();
            assert!(
                status.success(),
                "round {round}: child {i} failed: {status}"
            );
        }
        let results: Vec<String> = (0..CHILDREN)
            .map(|i| std::fs::read_to_string(dir.join(format!("result-{i}"))).unwrap())
            .collect();
        assert!(
            results.iter().all(|r| r == "ok"),
            "round {round}: {results:?}"
        );
        assert_no_failures(&ctx, &format!("round {round}"));
    }
}

#[test]
fn a_process_killed_during_the_kdf_counts_as_a_failed_try() {
    let mut ctx = Ctx::new(1);
    ctx.init_token(0);
    reconfigure(&mut ctx, SLOW_KDF);
    raise_user_kdf(&ctx);
    // How long one login takes at this cost.
    let s = ctx.p11.open_ro_session(ctx.slot(0)).unwrap();
    let t = Instant::now();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let kdf = t.elapsed();
    s.logout().unwrap();
    assert!(
        kdf > Duration::from_millis(300),
        "KDF too fast to hit: {kdf:?}"
    );
    assert_no_failures(&ctx, "before");

    let dir = ctx.dir.path().join("victim");
    std::fs::create_dir(&dir).unwrap();
    let mut child = spawn_child(&dir, "victim", 0);
    wait_for(&dir.join("logging-in"), &mut child);
    // Well inside the KDF: the try is recorded before it starts (one write).
    std::thread::sleep(kdf / 2);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !dir.join("finished").exists(),
        "the child finished its login"
    );

    // One failed try: COUNT_LOW, not yet the final one.
    let ti = ctx.p11.get_token_info(ctx.slot(0)).unwrap();
    assert!(ti.user_pin_count_low(), "the killed try was not counted");
    assert!(!ti.user_pin_final_try());
    assert!(!ti.user_pin_locked());
    // The right PIN still works and clears the count.
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_no_failures(&ctx, "after a right PIN");
}

#[test]
fn handles_to_private_objects_die_with_the_logout() {
    let ctx = Ctx::new(1);
    ctx.init_token(0);
    let s = ctx.user_session(0);
    let other = ctx.p11.open_ro_session(ctx.slot(0)).unwrap();
    let key = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Label(b"private key".to_vec()),
                Attribute::ValueLen(32.into()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ],
        )
        .unwrap();
    let data = |label: &str, private: bool| {
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(private),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Value(b"v".to_vec()),
        ])
        .unwrap()
    };
    let private = data("private data", true);
    let public = data("public data", false);
    let session_private = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Private(true),
            Attribute::Label(b"session data".to_vec()),
        ])
        .unwrap();

    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();

    // §5.6: the old handles stay invalid, in every session of the application.
    for sess in [&s, &other] {
        assert_eq!(
            rv(sess.get_attributes(private, &[AttributeType::Label])),
            RvError::ObjectHandleInvalid
        );
        assert_eq!(
            rv(sess.get_attributes(key, &[AttributeType::Label])),
            RvError::ObjectHandleInvalid
        );
        assert_eq!(
            rv(sess.get_attributes(session_private, &[AttributeType::Label])),
            RvError::ObjectHandleInvalid
        );
        assert_eq!(
            rv(sess.encrypt(&Mechanism::AesEcb, key, &[0u8; 16])),
            RvError::KeyHandleInvalid
        );
        assert_eq!(
            rv(sess.destroy_object(private)),
            RvError::ObjectHandleInvalid
        );
    }
    // The objects themselves are there, under new handles.
    let found = |label: &str| {
        s.find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
            .unwrap()
    };
    let new_key = found("private key");
    assert_eq!(new_key.len(), 1);
    assert_ne!(new_key[0], key);
    let new_private = found("private data");
    assert_eq!(new_private.len(), 1);
    assert_ne!(new_private[0], private);
    s.encrypt(&Mechanism::AesEcb, new_key[0], &[0u8; 16])
        .unwrap();
    // The private session object was destroyed by the logout.
    assert!(found("session data").is_empty());
    // A public object keeps its handle.
    assert_eq!(found("public data"), vec![public]);
    assert_eq!(
        s.get_attributes(public, &[AttributeType::Label]).unwrap(),
        vec![Attribute::Label(b"public data".to_vec())]
    );
}
