//! `softkms serve` from outside: the built binary on a throw-away token, spoken
//! to over HTTP/1.1 (a small client on `std::net::TcpStream`, rustls for TLS)
//! with requests signed by `softkms::serve::sigv4::sign`. Shutdown on SIGTERM
//! and its audit records, the refusals to start, TLS, the SigV4 refusals, the
//! key policy boundary between principals and between the API and the CLI,
//! concurrency, and hostile input.

#![cfg(feature = "serve")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub)] // the harness's items are `pub` for this file

mod serve_harness;

use serde_json::{json, Value};
use serve_harness::*;
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// SIGTERM
// ---------------------------------------------------------------------------

#[test]
fn sigterm_lets_requests_in_flight_finish_and_audits_each() {
    let t = Token::ready();
    let alice = t.access_key("alice");
    let mut server = t.serve_local(&[]);
    let mut c = server.client(&alice);
    let key_id = c.create_key();

    // Requests whose body is half sent when the signal comes.
    const N: usize = 6;
    let host = server.addr().to_string();
    let mut pending = Vec::new();
    for i in 0..N {
        let body = json!({"KeyId": key_id, "Plaintext": b64(format!("in flight {i}").as_bytes())})
            .to_string();
        let raw = kms_request(
            &host,
            &alice,
            "Encrypt",
            body.as_bytes(),
            Signing::Good,
            &[],
        );
        let cut = raw.len() - body.len() / 2;
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.write_all(&raw[..cut]).unwrap();
        pending.push((s, raw[cut..].to_vec()));
    }
    // Let the server read the heads of all of them: a request on a later
    // connection is answered after the earlier ones were accepted.
    std::thread::sleep(Duration::from_millis(500));
    server.client(&alice).call(RANDOM, &random_body()).ok();
    server.terminate();
    // The listener closes; the process stays for the requests in flight.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(server.addr()).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the server still accepts connections 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.running(),
        "the server exited with requests in flight: {}",
        server.stderr_text()
    );
    let mut sources = Vec::new();
    for (mut s, rest) in pending {
        sources.push(s.local_addr().unwrap());
        s.write_all(&rest).unwrap();
        let mut r = BufReader::new(s);
        let resp = read_response(&mut r)
            .unwrap()
            .expect("no response to a request in flight");
        let v = resp.ok();
        assert!(v["CiphertextBlob"].as_str().is_some(), "{v}");
    }
    let status = server.wait_exit();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {}",
        server.stderr_text()
    );

    let records = t.audit();
    for src in &sources {
        let from = format!("from {src};");
        let found: Vec<&Value> = records
            .iter()
            .filter(|r| record_text(r).contains(&from))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one record of the request from {src}: {found:?}"
        );
        let r = found[0];
        assert_eq!(r["eventName"], "kms:Encrypt", "{r}");
        assert_eq!(r["userIdentity"]["principalId"], "alice", "{r}");
        assert_eq!(r["returnValue"], "CKR_OK", "{r}");
        assert_eq!(
            r["requestParameters"]["keyId"].as_str(),
            Some(hex_id(&key_id).as_str()),
            "{r}"
        );
        let reason = record_text(r);
        assert!(
            reason.contains(&format!("access key {}", alice.id)),
            "{reason}"
        );
    }
    // The key uses, as data events of alice (counted, flushed by the exit).
    let uses: u64 = records
        .iter()
        .filter(|r| {
            r["eventCategory"] == "Data"
                && r["userIdentity"]["principalId"] == "alice"
                && r["eventName"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("C_Encrypt"))
        })
        .map(|r| r["eventCount"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(uses, N as u64, "data events of the encryptions");
    assert!(
        records.iter().any(|r| r["eventName"] == "kms:CreateKey"
            && r["userIdentity"]["principalId"] == "alice"
            && r["reason"].as_str().is_some_and(|x| x.contains(&alice.id))),
        "no record of CreateKey"
    );
}

#[test]
fn sigterm_under_load_answers_every_request_it_took_and_records_it() {
    const CLIENTS: usize = 8;
    let t = Token::ready();
    let alice = t.access_key("alice");
    let mut server = t.serve_local(&[]);
    let key_id = server.client(&alice).create_key();
    let stop_at = Instant::now() + Duration::from_secs(20);
    let (answered, errors) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let mut c = server.client(&alice);
                let host = server.addr().to_string();
                let (key_id, alice) = (key_id.as_str(), &alice);
                scope.spawn(move || {
                    let (mut ok, mut bad) = (0usize, Vec::new());
                    while Instant::now() < stop_at {
                        let body =
                            json!({"KeyId": key_id, "Plaintext": b64(format!("{i}").as_bytes())});
                        let raw = kms_request(
                            &host,
                            alice,
                            "Encrypt",
                            body.to_string().as_bytes(),
                            Signing::Good,
                            &[],
                        );
                        match c.send_raw(&raw) {
                            Ok(r) if r.status == 200 => ok += 1,
                            Ok(r) => bad.push(format!("HTTP {}: {:?}", r.status, r.body)),
                            // The server closed or stopped listening: done.
                            Err(_) => break,
                        }
                    }
                    (ok, bad)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        server.terminate();
        handles.into_iter().map(|h| h.join().unwrap()).fold(
            (0, Vec::new()),
            |(n, mut e), (ok, bad)| {
                e.extend(bad);
                (n + ok, e)
            },
        )
    });
    assert!(errors.is_empty(), "{errors:?}");
    assert!(answered > 0, "no request answered before SIGTERM");
    assert_eq!(
        server.wait_exit().code(),
        Some(0),
        "{}",
        server.stderr_text()
    );
    let recorded = t
        .audit()
        .iter()
        .filter(|r| r["eventName"] == "kms:Encrypt" && r["returnValue"] == "CKR_OK")
        .count();
    assert_eq!(recorded, answered, "records of the answered requests");
}

#[test]
fn sigterm_with_idle_connections_exits_at_once() {
    let t = Token::ready();
    let alice = t.access_key("alice");
    let mut server = t.serve_local(&[]);
    // Keep-alive connections, idle after one request each.
    let mut clients: Vec<Client> = (0..4).map(|_| server.client(&alice)).collect();
    for c in &mut clients {
        c.call(RANDOM, &random_body()).ok();
        assert!(c.conn.is_some(), "the connection was not kept");
    }
    let start = Instant::now();
    server.terminate();
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", server.stderr_text());
    // The drain waits for requests, not for idle connections (it allows 30 s).
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "exit took {:?} with idle connections",
        start.elapsed()
    );
}

#[test]
fn sigint_stops_the_server_too() {
    let t = Token::ready();
    let alice = t.access_key("alice");
    let mut server = t.serve_local(&[]);
    server.client(&alice).call(RANDOM, &random_body()).ok();
    let st = Command::new("kill")
        .args(["-INT", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        server.wait_exit().code(),
        Some(0),
        "{}",
        server.stderr_text()
    );
}

// ---------------------------------------------------------------------------
// Refusals to start
// ---------------------------------------------------------------------------

/// Starts the server on a free port, expects it to exit non-zero without
/// listening, and returns its standard error.
fn refuses_to_start(t: &Token, ip: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let port = free_port();
    let listen = format!("{ip}:{port}");
    let mut a = vec!["--listen", listen.as_str()];
    a.extend_from_slice(args);
    let (status, stderr) = match t.try_serve(&a, env) {
        Ok(s) => panic!("softkms serve {a:?} started: listening on {}", s.addr()),
        Err(e) => e,
    };
    assert!(!status.success(), "{status}: {stderr}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something listens on {port}"
    );
    stderr
}

#[test]
fn a_token_file_open_to_others_is_not_served() {
    use std::os::unix::fs::PermissionsExt;
    let t = Token::ready();
    std::fs::set_permissions(t.path("token.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = refuses_to_start(&t, "127.0.0.1", &[], &[]);
    assert!(err.contains("chmod 600"), "{err}");
    assert!(err.contains("token.db"), "{err}");
}

#[test]
fn plain_http_beyond_loopback_is_refused() {
    let t = Token::ready();
    let err = refuses_to_start(&t, "0.0.0.0", &[], &[]);
    assert!(err.contains("needs TLS"), "{err}");
    assert!(err.contains("--tls-cert"), "{err}");
}

#[test]
fn an_uninitialized_token_is_not_served() {
    let t = Token::blank();
    let err = refuses_to_start(&t, "127.0.0.1", &[], &[]);
    assert!(err.contains("not initialized"), "{err}");
    assert!(err.contains("token init"), "{err}");
}

#[test]
fn a_wrong_owner_pin_is_refused() {
    let t = Token::ready();
    let err = refuses_to_start(&t, "127.0.0.1", &[], &[("SOFTKMS_PIN", "not-the-pin")]);
    assert!(err.contains("log in as the token owner"), "{err}");
    assert!(err.to_lowercase().contains("pin"), "{err}");
}

#[test]
fn a_port_in_use_is_refused_in_words() {
    let t = Token::ready();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let (status, err) = match t.try_serve(&["--listen", &listen], &[]) {
        Ok(s) => panic!("softkms serve started on a port in use: {}", s.addr()),
        Err(e) => e,
    };
    assert!(!status.success());
    assert!(err.contains("cannot listen on"), "{err}");
}

#[test]
fn a_certificate_and_key_that_do_not_match_are_refused() {
    let t = Token::ready();
    let one = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (t.path("cert.pem"), t.path("key.pem"));
    std::fs::write(&cert, one.cert.pem()).unwrap();
    std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();
    let err = refuses_to_start(
        &t,
        "127.0.0.1",
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(err.contains("TLS"), "{err}");
    let missing = t.path("missing.pem");
    let err = refuses_to_start(
        &t,
        "127.0.0.1",
        &[
            "--tls-cert",
            missing.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(err.contains("missing.pem"), "{err}");
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

#[test]
fn tls_serves_https_with_the_given_certificate() {
    let t = Token::ready();
    let owner = t.access_key("user");
    let (server, config) = t.serve_tls();
    assert_eq!(server.scheme, "https");

    let mut c = Client::new(
        server.addr(),
        owner.clone(),
        Some((config, "localhost".to_string())),
    );
    let key_id = c.create_key();
    let blob = c.encrypt(&key_id, b"over TLS").ok()["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string();
    let v = c.decrypt(&blob).ok();
    assert_eq!(unb64(v["Plaintext"].as_str().unwrap()), b"over TLS");

    // A client that does not trust the certificate gets no answer.
    let mut stranger = Client::new(
        server.addr(),
        owner.clone(),
        Some((
            tls_config(rustls::RootCertStore::empty()),
            "localhost".to_string(),
        )),
    );
    let host = server.addr().to_string();
    let raw = kms_request(
        &host,
        &owner,
        "GenerateRandom",
        b"{\"NumberOfBytes\":8}",
        Signing::Good,
        &[],
    );
    assert!(stranger.send_raw(&raw).is_err());

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(&raw).unwrap();
    let mut r = BufReader::new(s);
    assert!(!matches!(read_response(&mut r), Ok(Some(_))));
}

// ---------------------------------------------------------------------------
// SigV4
// ---------------------------------------------------------------------------

/// A ready token, a server, and a client of alice.
fn served() -> (Token, Server, AccessKey) {
    let t = Token::ready();
    let alice = t.access_key("alice");
    let s = t.serve_local(&[]);
    (t, s, alice)
}

const RANDOM: &str = "GenerateRandom";

fn random_body() -> Value {
    json!({"NumberOfBytes": 16})
}

#[test]
fn a_wrong_secret_is_an_invalid_signature() {
    let (t, s, alice) = served();
    let mut c = s.client(&alice);
    c.call(RANDOM, &random_body()).ok();
    let wrong = "A".repeat(alice.secret.len());
    let r = c.call_as(RANDOM, &random_body(), Signing::Secret(&wrong));
    let m = r.refused(400, "InvalidSignatureException");
    assert!(m.contains("signature we calculated does not match"), "{m}");
    // Recorded, with nobody as the principal and the key id it claimed.
    let refused: Vec<Value> = t
        .audit()
        .into_iter()
        .filter(|r| {
            r["eventName"] == "kms:GenerateRandom"
                && record_text(r).contains("InvalidSignatureException")
        })
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let reason = record_text(&refused[0]);
    assert!(reason.contains(&alice.id), "{reason}");
    assert_ne!(refused[0]["returnValue"], "CKR_OK");
    assert_ne!(refused[0]["userIdentity"]["principalId"], "alice");
}

#[test]
fn an_unknown_access_key_is_unrecognized() {
    let (_t, s, alice) = served();
    let stranger = AccessKey {
        id: "SKMSAAAAAAAAAAAAAAAA".to_string(),
        secret: alice.secret.clone(),
    };
    let mut c = s.client(&stranger);
    c.call(RANDOM, &random_body())
        .refused(400, "UnrecognizedClientException");
}

#[test]
fn a_request_dated_six_minutes_ago_has_expired() {
    let (_t, s, alice) = served();
    let mut c = s.client(&alice);
    let m = c
        .call_as(RANDOM, &random_body(), Signing::Aged(360))
        .refused(400, "InvalidSignatureException");
    assert!(m.contains("Signature expired"), "{m}");
    // Four minutes is within the allowed skew.
    c.call_as(RANDOM, &random_body(), Signing::Aged(240)).ok();
}

#[test]
fn a_request_dated_six_minutes_ahead_is_not_yet_current() {
    let (_t, s, alice) = served();
    let mut c = s.client(&alice);
    let m = c
        .call_as(RANDOM, &random_body(), Signing::Aged(-360))
        .refused(400, "InvalidSignatureException");
    assert!(m.contains("Signature not yet current"), "{m}");
    c.call_as(RANDOM, &random_body(), Signing::Aged(-240)).ok();
}

#[test]
fn a_request_without_authorization_is_refused() {
    let (_t, s, alice) = served();
    let mut c = s.client(&alice);
    c.call_as(RANDOM, &random_body(), Signing::None)
        .refused(400, "MissingAuthenticationTokenException");
}

#[test]
fn a_session_token_is_refused() {
    let (_t, s, alice) = served();
    let mut c = s.client(&alice);
    let host = s.addr().to_string();
    let raw = kms_request(
        &host,
        &alice,
        RANDOM,
        random_body().to_string().as_bytes(),
        Signing::Good,
        &[("x-amz-security-token", "FwoGZXIvYXdzEXAMPLE")],
    );
    c.send_raw(&raw)
        .unwrap()
        .refused(400, "UnrecognizedClientException");
}

#[test]
fn a_deleted_access_key_is_refused() {
    let (t, s, alice) = served();
    let mut c = s.client(&alice);
    c.call(RANDOM, &random_body()).ok();
    t.ok(&["access-key", "delete", &alice.id]);
    c.call(RANDOM, &random_body())
        .refused(400, "UnrecognizedClientException");
    // A new connection too.
    let mut fresh = s.client(&alice);
    fresh
        .call(RANDOM, &random_body())
        .refused(400, "UnrecognizedClientException");
}

#[test]
fn the_key_of_a_removed_principal_is_refused() {
    let (t, s, alice) = served();
    let mut c = s.client(&alice);
    c.call(RANDOM, &random_body()).ok();
    t.ok(&["user", "remove", "alice"]);
    c.call(RANDOM, &random_body())
        .refused(400, "UnrecognizedClientException");
}

#[test]
fn a_principal_added_again_does_not_get_the_old_access_keys_back() {
    let (t, s, alice) = served();
    let mut c = s.client(&alice);
    c.call(RANDOM, &random_body()).ok();
    t.ok(&["user", "remove", "alice"]);
    t.ok_with(
        &[("SOFTKMS_NEW_PIN", "other-pin")],
        &["user", "add", "alice"],
    );
    // A new principal of the same name: the removed one's key is not its.
    c.call(RANDOM, &random_body())
        .refused(400, "UnrecognizedClientException");
}

#[test]
fn an_access_key_for_an_unknown_principal_is_refused() {
    let t = Token::ready();
    let o = t.run_with(&[], &["access-key", "create", "bob"]);
    assert!(
        !o.status.success(),
        "an access key for no principal: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("bob"));
}

// ---------------------------------------------------------------------------
// The boundary: key policies, API and CLI
// ---------------------------------------------------------------------------

#[test]
fn a_key_policy_put_by_the_owner_binds_alice() {
    let t = Token::ready();
    let alice = t.access_key("alice");
    let owner = t.access_key("user");
    let s = t.serve_local(&[]);
    let mut a = s.client(&alice);
    let mut o = s.client(&owner);
    let key_id = a.create_key();
    let blob = a.encrypt(&key_id, b"before").ok()["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string();
    a.decrypt(&blob).ok();

    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "owner",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "alice encrypts",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/alice")},
                "Action": "kms:Encrypt",
                "Resource": "*"
            }
        ]
    });
    o.call(
        "PutKeyPolicy",
        &json!({"KeyId": key_id, "PolicyName": "default", "Policy": policy.to_string()}),
    )
    .ok();

    let blob = a.encrypt(&key_id, b"after").ok()["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string();
    a.decrypt(&blob).refused(400, "AccessDeniedException");
    assert!(
        t.audit().iter().any(|r| r["eventName"] == "kms:Decrypt"
            && r["userIdentity"]["principalId"] == "alice"
            && r["returnValue"] == "CKR_KEY_FUNCTION_NOT_PERMITTED"
            && record_text(r).contains("AccessDeniedException")),
        "no record of alice's refused Decrypt"
    );
    // The owner may: the blob is good.
    let v = o.decrypt(&blob).ok();
    assert_eq!(unb64(v["Plaintext"].as_str().unwrap()), b"after");
    // Nor may alice change the policy back.
    a.call(
        "PutKeyPolicy",
        &json!({"KeyId": key_id, "PolicyName": "default", "Policy": policy.to_string()}),
    )
    .refused(400, "AccessDeniedException");
}

/// The 32 hex digits of a key id given as a UUID.
fn hex_id(uuid: &str) -> String {
    let h: String = uuid.chars().filter(|c| *c != '-').collect();
    assert_eq!(h.len(), 32, "{uuid}");
    assert!(h.bytes().all(|b| b.is_ascii_hexdigit()), "{uuid}");
    h
}

#[test]
fn keys_cross_between_the_api_and_the_cli() {
    let t = Token::ready();
    let owner = t.access_key("user");
    let s = t.serve_local(&[]);
    let mut o = s.client(&owner);

    // Made through the API, used by the CLI (library mode) while served.
    let api_key = o.create_key();
    let plain = t.path("plain");
    std::fs::write(&plain, b"made by the API").unwrap();
    let (ct, back) = (t.path("ct"), t.path("back"));
    let hex = hex_id(&api_key);
    t.ok(&[
        "encrypt",
        "--key",
        &hex,
        "--in",
        plain.to_str().unwrap(),
        "--out",
        ct.to_str().unwrap(),
    ]);
    t.ok(&[
        "decrypt",
        "--in",
        ct.to_str().unwrap(),
        "--out",
        back.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&back).unwrap(), b"made by the API");
    let shown = t.json(&["key", "show", &hex]);
    assert_eq!(shown["id"], hex.as_str(), "{shown}");

    // Made by the CLI, used through the API, by either form of its id.
    let made = t.json(&["key", "create", "--label", "from-cli"]);
    let cli_id = made["id"].as_str().unwrap().to_string();
    let blob = o.encrypt(&cli_id, b"made by the CLI").ok();
    let uuid = blob["KeyId"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(hex_id(&uuid), cli_id);
    let v = o.decrypt(blob["CiphertextBlob"].as_str().unwrap()).ok();
    assert_eq!(unb64(v["Plaintext"].as_str().unwrap()), b"made by the CLI");
    o.encrypt(&uuid, b"by uuid").ok();

    // Ciphertext blobs cross too: the API's to `datakey decrypt`, the CLI's
    // data key to the API's Decrypt.
    let blob = o.encrypt(&uuid, b"blob of the API").ok()["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string();
    let file = t.path("api.blob");
    std::fs::write(&file, unb64(&blob)).unwrap();
    let d = t.json(&["datakey", "decrypt", "--blob", file.to_str().unwrap()]);
    assert_eq!(unb64(d["plaintext"].as_str().unwrap()), b"blob of the API");
    let dk = t.json(&["datakey", "generate", "--key", &hex, "--bytes", "24"]);
    let v = o.decrypt(dk["ciphertext_blob"].as_str().unwrap()).ok();
    assert_eq!(
        unb64(v["Plaintext"].as_str().unwrap()),
        unb64(dk["plaintext"].as_str().unwrap())
    );
    assert_eq!(
        hex_id(v["KeyId"].as_str().unwrap().rsplit('/').next().unwrap()),
        hex
    );
    o.encrypt("alias/nope", b"x")
        .refused(400, "NotFoundException");
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

#[test]
fn sixty_four_clients_encrypt_and_decrypt_without_an_error() {
    const CLIENTS: usize = 64;
    const ROUNDS: usize = 20;
    let t = Token::ready();
    let alice = t.access_key("alice");
    let s = t.serve_local(&[]);
    let key_id = s.client(&alice).create_key();
    let errors: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let mut c = s.client(&alice);
                let key_id = key_id.as_str();
                scope.spawn(move || {
                    let mut errors = Vec::new();
                    let mut connections = 0;
                    for round in 0..ROUNDS {
                        let plain = format!("client {i} round {round}");
                        if c.conn.is_none() {
                            connections += 1;
                        }
                        let r = c.encrypt(key_id, plain.as_bytes());
                        if r.status != 200 {
                            errors.push(format!("{i}/{round} Encrypt: {r:?}"));
                            continue;
                        }
                        let blob = r.json()["CiphertextBlob"].as_str().unwrap().to_string();
                        let r = c.decrypt(&blob);
                        if r.status != 200 {
                            errors.push(format!("{i}/{round} Decrypt: {r:?}"));
                            continue;
                        }
                        let back = unb64(r.json()["Plaintext"].as_str().unwrap());
                        if back != plain.as_bytes() {
                            errors.push(format!("{i}/{round}: another plaintext"));
                        }
                    }
                    if connections != 1 {
                        errors.push(format!("{i}: {connections} connections, not one"));
                    }
                    errors
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        errors.is_empty(),
        "{} errors: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    // One record per request, in a chain that still verifies.
    let records = t.audit();
    for op in ["kms:Encrypt", "kms:Decrypt"] {
        let n = records
            .iter()
            .filter(|r| {
                r["eventName"] == op
                    && r["returnValue"] == "CKR_OK"
                    && r["userIdentity"]["principalId"] == "alice"
            })
            .count();
        assert_eq!(n, CLIENTS * ROUNDS, "records of {op}");
    }
    let v = t.json(&["audit", "verify"]);
    assert_eq!(v["ok"], true, "{v}");
}

// ---------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------

#[test]
fn a_body_over_256_kib_is_413() {
    let (_t, s, alice) = served();
    let host = s.addr().to_string();
    let body = vec![b'x'; 300 * 1024];
    let raw = kms_request(&host, &alice, "Encrypt", &body, Signing::Good, &[]);
    let mut stream = TcpStream::connect(s.addr()).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    // The server may answer before reading it all.
    let _ = stream.write_all(&raw);
    let r = read_response(&mut BufReader::new(stream)).unwrap().unwrap();
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    // And it goes on answering.
    s.client(&alice).call(RANDOM, &random_body()).ok();
}

#[test]
fn a_body_of_256_kib_is_read_and_one_byte_more_is_413() {
    let (_t, s, alice) = served();
    let mut c = s.client(&alice);
    let host = s.addr().to_string();
    let json = br#"{"NumberOfBytes": 16}"#;
    let mut body = json.to_vec();
    body.resize(256 * 1024, b' ');
    let raw = kms_request(&host, &alice, RANDOM, &body, Signing::Good, &[]);
    c.send_raw(&raw).unwrap().ok();
    body.push(b' ');
    let raw = kms_request(&host, &alice, RANDOM, &body, Signing::Good, &[]);
    let r = c.send_raw(&raw).unwrap();
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn a_chunked_body_over_256_kib_is_413() {
    let (_t, s, alice) = served();
    let host = s.addr().to_string();
    let chunk = vec![b'x'; 64 * 1024];
    let mut raw = format!(
        "POST / HTTP/1.1\r\nhost: {host}\r\nx-amz-target: TrentService.Encrypt\r\n\
         transfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..5 {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let mut stream = TcpStream::connect(s.addr()).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = stream.write_all(&raw);
    let r = read_response(&mut BufReader::new(stream)).unwrap().unwrap();
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    s.client(&alice).call(RANDOM, &random_body()).ok();
}

#[test]
fn a_body_that_is_not_json_is_a_serialization_error() {
    let (_t, s, alice) = served();
    let mut c = s.client(&alice);
    let host = s.addr().to_string();
    for body in [
        &b"not json"[..],
        b"{\"NumberOfBytes\": 16",
        b"[1,2]",
        b"\xff\xfe",
    ] {
        let raw = kms_request(&host, &alice, RANDOM, body, Signing::Good, &[]);
        c.send_raw(&raw)
            .unwrap()
            .refused(400, "SerializationException");
    }
}

#[test]
fn an_unknown_target_is_an_unknown_operation() {
    let (_t, s, alice) = served();
    let mut c = s.client(&alice);
    c.call("Frobnicate", &json!({}))
        .refused(400, "UnknownOperationException");
    let host = s.addr().to_string();
    let raw = format!(
        "POST / HTTP/1.1\r\nhost: {host}\r\nx-amz-target: Other.Encrypt\r\ncontent-length: 2\r\n\r\n{{}}"
    );
    c.send_raw(raw.as_bytes())
        .unwrap()
        .refused(400, "UnknownOperationException");
}

#[test]
fn get_is_not_found() {
    let (_t, s, alice) = served();
    let mut c = s.client(&alice);
    let host = s.addr().to_string();
    let r = c
        .send_raw(format!("GET / HTTP/1.1\r\nhost: {host}\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
    let r = c
        .send_raw(
            format!("POST /other HTTP/1.1\r\nhost: {host}\r\ncontent-length: 0\r\n\r\n").as_bytes(),
        )
        .unwrap();
    assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn a_header_of_100_kib_does_not_bring_the_server_down() {
    let (_t, mut s, alice) = served();
    let host = s.addr().to_string();
    let big = "a".repeat(100 * 1024);
    for signing in [Signing::Good, Signing::None] {
        let raw = kms_request(&host, &alice, RANDOM, b"{}", signing, &[("x-big", &big)]);
        let mut stream = TcpStream::connect(s.addr()).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let _ = stream.write_all(&raw);
        // Either refused with a 4xx or the connection closed.
        if let Ok(Some(r)) = read_response(&mut BufReader::new(stream)) {
            assert!(
                (400..500).contains(&r.status),
                "HTTP {} to a 100 KiB header",
                r.status
            );
        }
    }
    assert!(s.running(), "the server died: {}", s.stderr_text());
    s.client(&alice).call(RANDOM, &random_body()).ok();
}

#[test]
fn a_stalled_body_is_cut_off() {
    let (_t, s, _alice) = served();
    let mut stream = TcpStream::connect(s.addr()).unwrap();
    // The server allows 10 s for the head and the body; wait well past that.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(
            b"POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: TrentService.Encrypt\r\n\
              content-length: 10\r\n\r\n{",
        )
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 256];
    match stream.read(&mut buf) {
        Ok(_) => {} // closed, or an error response (408/400)
        Err(e) => panic!(
            "the connection is still open after {:?}: {e}",
            start.elapsed()
        ),
    }
}

#[test]
fn one_address_gets_at_most_128_connections() {
    let (_t, s, alice) = served();
    let mut open: Vec<Client> = (0..128).map(|_| s.client(&alice)).collect();
    for c in &mut open {
        c.call(RANDOM, &random_body()).ok();
    }
    // The 129th is closed without an answer.
    let mut extra = s.client(&alice);
    let host = s.addr().to_string();
    let raw = kms_request(
        &host,
        &alice,
        RANDOM,
        random_body().to_string().as_bytes(),
        Signing::Good,
        &[],
    );
    assert!(
        extra.send_raw(&raw).is_err(),
        "a 129th connection was served"
    );
    // The kept ones still are; one closed makes room for another.
    open[0].call(RANDOM, &random_body()).ok();
    open.pop();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match s.client(&alice).send_raw(&raw) {
            Ok(r) => {
                r.ok();
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "no room after a close: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_date_helper_matches_known_dates() {
    assert_eq!(amz_date(0), "19700101T000000Z");
    assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
    assert_eq!(amz_date(951_782_400), "20000229T000000Z");
}
