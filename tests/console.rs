//! The console of `softkms serve` (`docs/console.md`) from outside, without a
//! browser: the built binary on a throw-away token, spoken to over HTTP/1.1.
//! Sign-in and its cookie, the headers of every page, CSRF, the rights of a
//! principal without any on a key, the lock-out check of the policy editor,
//! the SO's pages and escaping of hostile text. The browser tests (Chromium,
//! selenium) are in tests/aws/test_console.py.

#![cfg(feature = "serve")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(unreachable_pub, dead_code)] // the harness serves tests/serve.rs too

mod serve_harness;

use serve_harness::*;
use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};

/// A browser without a browser: the console's cookies of one user.
struct Browser {
    addr: SocketAddr,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new(s: &Server) -> Browser {
        Browser {
            addr: s.addr(),
            cookies: HashMap::new(),
        }
    }

    /// Sends a request; `form` makes it a POST. Keeps the cookies it sets.
    fn send(&mut self, path: &str, form: Option<&[(&str, &str)]>, extra: &str) -> Response {
        let mut s = TcpStream::connect(self.addr).unwrap();
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let cookie = if cookie.is_empty() {
            String::new()
        } else {
            format!("cookie: {}\r\n", cookie.join("; "))
        };
        let host = if extra.starts_with("host:") {
            String::new()
        } else {
            format!("host: {}\r\n", self.addr)
        };
        let req = match form {
            None => {
                format!("GET {path} HTTP/1.1\r\n{host}{cookie}{extra}connection: close\r\n\r\n")
            }
            Some(fields) => {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                    .collect();
                let body = body.join("&");
                format!(
                    "POST {path} HTTP/1.1\r\n{host}{cookie}{extra}content-type: \
                     application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: \
                     close\r\n\r\n{body}",
                    body.len()
                )
            }
        };
        s.write_all(req.as_bytes()).unwrap();
        let r = read_response(&mut BufReader::new(s)).unwrap().unwrap();
        for (k, v) in &r.headers {
            if k == "set-cookie" {
                let pair = v.split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                if v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
        r
    }

    fn get(&mut self, path: &str) -> Response {
        self.send(path, None, "")
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        self.send(path, Some(form), "")
    }

    /// Signs in (principal `name`, or the SO when `name` is "SO").
    fn sign_in(&mut self, name: &str, pin: &str) -> Response {
        let page = self.get("/console/signin");
        let csrf = field(&text(&page), "csrf");
        let role = if name == "SO" { "so" } else { "principal" };
        self.post(
            "/console/signin",
            &[
                ("csrf", &csrf),
                ("role", role),
                ("name", name),
                ("pin", pin),
            ],
        )
    }

    /// The CSRF token of the signed-in session (from the sign-out form).
    fn csrf(&mut self) -> String {
        let page = self.get("/console/keys");
        let page = if page.status == 200 {
            page
        } else {
            self.get("/console/principals")
        };
        field(&text(&page), "csrf")
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The value of the first hidden input named `name`.
fn field(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no field {name} in {page}"));
    let rest = &page[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// A key made by `owner` through the console; its id.
fn create_key(b: &mut Browser, alias: &str) -> String {
    let csrf = b.csrf();
    let r = b.post(
        "/console/keys",
        &[
            ("csrf", &csrf),
            ("alias", alias),
            ("spec", "SYMMETRIC_DEFAULT"),
            ("usage", ""),
        ],
    );
    assert_eq!(r.status, 303, "{}", text(&r));
    let to = r.header("location").unwrap();
    let id = to
        .trim_start_matches("/console/keys/")
        .split('?')
        .next()
        .unwrap();
    id.to_string()
}

fn served() -> (Token, Server) {
    let t = Token::ready();
    t.ok_with(&[("SOFTKMS_NEW_PIN", "bob-pin-1")], &["user", "add", "bob"]);
    let s = t.serve_local(&[]);
    (t, s)
}

#[test]
fn sign_in_sets_a_strict_session_cookie_and_pages_carry_the_security_headers() {
    let (t, s) = served();
    let mut b = Browser::new(&s);
    // Not signed in: pages redirect to the sign-in, forms are refused.
    let r = b.get("/console/keys");
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/console/signin"))
    );
    assert_eq!(b.post("/console/keys", &[("csrf", "x")]).status, 403);
    let r = b.sign_in("alice", "alice-pin");
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(r.header("location"), Some("/console/keys"));
    let cookie = r
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("softkms_console="))
        .map(|(_, v)| v.clone())
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let page = b.get("/console/keys");
    assert_eq!(page.status, 200);
    for (h, want) in [
        ("content-security-policy", "default-src 'none'"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
        ("referrer-policy", "same-origin"),
    ] {
        assert!(
            page.header(h).is_some_and(|v| v.contains(want)),
            "{h}: {:?}",
            page.header(h)
        );
    }
    let html = text(&page);
    assert!(
        !html.contains("<script") && !html.contains("style="),
        "{html}"
    );
    // The PIN is in no page, no header, no log line.
    assert!(!html.contains("alice-pin"));
    assert!(!s.stderr_text().contains("alice-pin"));
    // Signing out ends the session on the server: the old cookie is dead.
    let old = b.cookies.clone();
    let csrf = b.csrf();
    assert_eq!(b.post("/console/signout", &[("csrf", &csrf)]).status, 303);
    b.cookies = old;
    assert_eq!(b.get("/console/keys").status, 303);
    // Both sign-ins are in the audit log, without the PIN.
    let records: Vec<_> = t
        .audit()
        .into_iter()
        .filter(|r| r["eventName"] == "console:SignIn" || r["eventName"] == "console:SignOut")
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(!format!("{records:?}").contains("alice-pin"));
}

#[test]
fn a_wrong_pin_is_refused_and_counts_towards_the_lock_out() {
    let (t, s) = served();
    let mut b = Browser::new(&s);
    let r = b.sign_in("alice", "wrong-pin");
    assert_eq!(r.status, 401);
    assert!(text(&r).contains("id=\"error\""));
    assert!(!text(&r).contains("wrong-pin"));
    assert!(!b.cookies.contains_key("softkms_console"));
    // An unknown principal looks the same.
    let r = b.sign_in("nobody", "wrong-pin");
    assert_eq!(r.status, 401);
    // "so" is no principal's name: the SO PIN given as a principal's is
    // not the SO's sign-in (which is from loopback only, unless allowed).
    let r = b.sign_in("so", SO_PIN);
    assert_eq!(r.status, 401, "{}", text(&r));
    // A form that is not a URL-encoded form is refused.
    let csrf = field(&text(&b.get("/console/signin")), "csrf");
    let r = b.send(
        "/console/signin",
        Some(&[("csrf", &csrf)]),
        "content-type: text/plain\r\n",
    );
    assert_eq!(r.status, 415);
    // The failure is counted: the SO sees it.
    let mut so = Browser::new(&s);
    assert_eq!(so.sign_in("SO", SO_PIN).status, 303);
    let page = text(&so.get("/console/principals"));
    let row = &page[page.find("data-name=\"alice\"").unwrap()..];
    assert!(row.contains("<td>1</td>"), "{row}");
    let _ = t;
}

#[test]
fn forms_without_this_sessions_csrf_token_or_from_another_origin_are_refused() {
    let (_t, s) = served();
    let mut b = Browser::new(&s);
    b.sign_in("alice", "alice-pin");
    let id = create_key(&mut b, "csrf-test");
    let path = format!("/console/keys/{id}/disable");
    assert_eq!(b.post(&path, &[]).status, 403);
    assert_eq!(
        b.post(&path, &[("csrf", "0".repeat(64).as_str())]).status,
        403
    );
    // Another session's token does not do either.
    let mut other = Browser::new(&s);
    other.sign_in("alice", "alice-pin");
    let theirs = other.csrf();
    assert_eq!(b.post(&path, &[("csrf", &theirs)]).status, 403);
    let csrf = b.csrf();
    let r = b.send(
        &path,
        Some(&[("csrf", &csrf)]),
        "origin: http://evil.example\r\n",
    );
    assert_eq!(r.status, 403);
    // The sign-in form needs its own token too.
    let mut fresh = Browser::new(&s);
    let r = fresh.post(
        "/console/signin",
        &[
            ("role", "principal"),
            ("name", "alice"),
            ("pin", "alice-pin"),
        ],
    );
    assert_eq!(r.status, 403);
    // Nothing changed.
    let page = text(&b.get(&format!("/console/keys/{id}")));
    assert!(page.contains("id=\"key-state\">Enabled<"), "{page}");
    // With its token, the same form works.
    assert_eq!(b.post(&path, &[("csrf", &csrf)]).status, 303);
    let page = text(&b.get(&format!("/console/keys/{id}")));
    assert!(page.contains("id=\"key-state\">Disabled<"), "{page}");
}

#[test]
fn a_principal_without_rights_sees_no_actions_and_its_forged_forms_are_403() {
    let (t, s) = served();
    let mut alice = Browser::new(&s);
    alice.sign_in("alice", "alice-pin");
    let id = create_key(&mut alice, "alices");
    let mut bob = Browser::new(&s);
    assert_eq!(bob.sign_in("bob", "bob-pin-1").status, 303);
    let page = text(&bob.get(&format!("/console/keys/{id}")));
    assert!(page.contains("id=\"key-id\""), "{page}");
    assert!(!page.contains("class=\"action"), "{page}");
    assert!(!page.contains("id=\"edit-policy\""), "{page}");
    assert!(!page.contains("id=\"key-audit\""), "{page}");
    let csrf = bob.csrf();
    for action in ["rotate", "disable"] {
        let r = bob.post(&format!("/console/keys/{id}/{action}"), &[("csrf", &csrf)]);
        assert_eq!(r.status, 403, "{action}: {}", text(&r));
    }
    let r = bob.post(
        &format!("/console/keys/{id}/delete"),
        &[("csrf", &csrf), ("days", "7"), ("confirm", "delete")],
    );
    assert_eq!(r.status, 403);
    let r = bob.post(
        &format!("/console/keys/{id}/policy"),
        &[("csrf", &csrf), ("policy", "{}")],
    );
    assert_eq!(r.status, 403, "{}", text(&r));
    assert_eq!(bob.get(&format!("/console/keys/{id}/policy")).status, 403);
    // The SO's pages are not a principal's.
    assert_eq!(bob.get("/console/principals").status, 403);
    assert_eq!(bob.get("/console/access-keys").status, 403);
    // The key is as alice left it: one version, enabled.
    let page = text(&alice.get(&format!("/console/keys/{id}")));
    assert!(page.contains("id=\"current-version\">1<"), "{page}");
    assert!(page.contains("id=\"key-state\">Enabled<"), "{page}");
    // The refusals are recorded as bob's.
    let refused: Vec<_> = t
        .audit()
        .into_iter()
        .filter(|r| r["eventName"] == "kms:RotateKeyOnDemand" && r["returnValue"] != "CKR_OK")
        .collect();
    assert!(!refused.is_empty());
    assert_eq!(
        refused[0]["userIdentity"]["principalId"], "bob",
        "{:?}",
        refused[0]
    );
}

#[test]
fn the_policy_editor_stops_a_policy_that_would_lock_its_author_out() {
    let (_t, s) = served();
    let mut b = Browser::new(&s);
    b.sign_in("alice", "alice-pin");
    let id = create_key(&mut b, "lockout");
    let before = text(&b.get(&format!("/console/keys/{id}")));
    let csrf = b.csrf();
    let only_encrypt = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Encrypt","Resource":"*"}]}"#;
    let r = b.post(
        &format!("/console/keys/{id}/policy"),
        &[("csrf", &csrf), ("policy", only_encrypt)],
    );
    assert_eq!(r.status, 400);
    let page = text(&r);
    assert!(
        page.contains("id=\"error\"") && page.contains("lock"),
        "{page}"
    );
    let after = text(&b.get(&format!("/console/keys/{id}")));
    let policy = |p: &str| p[p.find("id=\"policy-text\"").unwrap()..].to_string();
    assert_eq!(policy(&before), policy(&after));
    // A policy that keeps alice's rights and adds bob's Encrypt is saved.
    let shared = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:Encrypt","Resource":"*"}]}"#;
    let r = b.post(
        &format!("/console/keys/{id}/policy"),
        &[("csrf", &csrf), ("policy", shared)],
    );
    assert_eq!(r.status, 303, "{}", text(&r));
    let after = text(&b.get(&format!("/console/keys/{id}")));
    assert!(policy(&after).contains("user/bob"), "{after}");
}

#[test]
fn hostile_text_is_escaped_everywhere() {
    let (_t, s) = served();
    let mut b = Browser::new(&s);
    b.sign_in("alice", "alice-pin");
    let id = create_key(&mut b, "xss");
    let csrf = b.csrf();
    let evil = "<script>alert(1)</script>\"'";
    let r = b.post(
        &format!("/console/keys/{id}/tags"),
        &[("csrf", &csrf), ("tag_key", "k"), ("tag_value", evil)],
    );
    assert_eq!(r.status, 303, "{}", text(&r));
    for path in [
        format!("/console/keys/{id}"),
        "/console/keys".to_string(),
        format!("/console/keys?q={}", enc(evil)),
        format!("/console/keys/{id}/audit?principal={}", enc(evil)),
    ] {
        let page = text(&b.get(&path));
        assert!(!page.contains("<script>"), "{path}: {page}");
    }
    let page = text(&b.get(&format!("/console/keys/{id}")));
    assert!(page.contains("&lt;script&gt;"), "{page}");
}

#[test]
fn the_so_resets_a_pin_only_with_its_own_pin_again() {
    let (_t, s) = served();
    let mut so = Browser::new(&s);
    assert_eq!(so.sign_in("SO", SO_PIN).status, 303);
    assert_eq!(so.get("/console/keys").status, 403);
    let csrf = so.csrf();
    let r = so.post(
        "/console/principals/bob/pin",
        &[
            ("csrf", &csrf),
            ("new_pin", "bob-new-pin"),
            ("new_pin2", "bob-new-pin"),
            ("so_pin", "not-the-so-pin"),
        ],
    );
    assert_eq!(r.status, 403);
    let mut bob = Browser::new(&s);
    assert_eq!(bob.sign_in("bob", "bob-pin-1").status, 303);
    let bobs_cookies = bob.cookies.clone();
    assert_eq!(bob.sign_in("bob", "bob-new-pin").status, 401);
    let r = so.post(
        "/console/principals/bob/pin",
        &[
            ("csrf", &csrf),
            ("new_pin", "bob-new-pin"),
            ("new_pin2", "bob-new-pin"),
            ("so_pin", SO_PIN),
        ],
    );
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(bob.sign_in("bob", "bob-new-pin").status, 303);
    assert!(!s.stderr_text().contains("bob-new-pin"));
    // The session signed in with the old PIN ended with the reset.
    let mut old = Browser::new(&s);
    old.cookies = bobs_cookies;
    assert_eq!(old.get("/console/keys").status, 303);
}

#[test]
fn the_console_never_makes_the_try_that_would_lock_a_pin() {
    let (t, s) = served();
    // max_pin_failures is 10: nine wrong SO PINs are tried and refused ...
    let mut b = Browser::new(&s);
    for _ in 0..9 {
        assert_eq!(b.sign_in("SO", "not-the-so-pin").status, 401);
    }
    // ... the tenth is not tried, nor is the right PIN: it might be a guess.
    for pin in ["not-the-so-pin", SO_PIN] {
        let r = b.sign_in("SO", pin);
        assert_eq!(r.status, 429, "{}", text(&r));
        assert!(text(&r).contains("would lock"), "{}", text(&r));
    }
    // The SO is not locked out of the token: its PIN works elsewhere, which
    // resets the count, and the console lets it in again.
    t.ok(&["user", "list"]);
    t.ok_with(
        &[("SOFTKMS_NEW_PIN", "carol-pin-1")],
        &["user", "add", "carol"],
    );
    assert_eq!(b.sign_in("SO", SO_PIN).status, 303);
    // A name the token does not know is refused the same way.
    let mut b = Browser::new(&s);
    for _ in 0..9 {
        assert_eq!(b.sign_in("nobody", "x-pin-1").status, 401);
    }
    assert_eq!(b.sign_in("nobody", "x-pin-1").status, 429);
    // A name no principal can have is refused at once, and never counted.
    for _ in 0..12 {
        assert_eq!(b.sign_in("not a name!", "x-pin-1").status, 401);
    }
}

#[test]
fn the_console_answers_only_to_its_own_host_names() {
    let (_t, s) = served();
    let mut b = Browser::new(&s);
    let port = s.addr().port();
    // A web site's name pointed at this server (DNS rebinding) gets nothing.
    let r = b.send(
        "/console/signin",
        None,
        &format!("host: attacker.example:{port}\r\n"),
    );
    assert_eq!(r.status, 421, "{}", text(&r));
    assert!(r.header("set-cookie").is_none());
    let r = b.send(
        "/console/signin",
        None,
        &format!("host: localhost:{port}\r\n"),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn under_tls_the_cookies_are_secure_and_host_only() {
    let t = Token::ready();
    let owner = t.access_key("user");
    let (s, config) = t.serve_tls();
    let mut c = Client::new(s.addr(), owner, Some((config, "localhost".to_string())));
    let host = s.addr();
    let get = format!("GET /console/signin HTTP/1.1\r\nhost: {host}\r\n\r\n");
    let r = c.send_raw(get.as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    let set = r.header("set-cookie").unwrap().to_string();
    assert!(set.starts_with("__Host-softkms_console_signin="), "{set}");
    assert!(set.contains("; Secure") && set.contains("Path=/;"), "{set}");
    let token = set.split(';').next().unwrap().split_once('=').unwrap().1;
    let body = format!("csrf={token}&role=principal&name=alice&pin=alice-pin");
    let post = format!(
        "POST /console/signin HTTP/1.1\r\nhost: {host}\r\ncookie: \
         __Host-softkms_console_signin={token}\r\ncontent-type: \
         application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let r = c.send_raw(post.as_bytes()).unwrap();
    assert_eq!(r.status, 303, "{}", text(&r));
    let session = r
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("__Host-softkms_console="))
        .map(|(_, v)| v.clone())
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/;"] {
        assert!(session.contains(attr), "{session}");
    }
}

#[test]
fn a_session_ends_with_its_principal() {
    let (t, s) = served();
    let mut b = Browser::new(&s);
    assert_eq!(b.sign_in("alice", "alice-pin").status, 303);
    assert_eq!(b.get("/console/keys").status, 200);
    // Removed and added again under the same name: somebody else, whom the
    // old session does not become.
    t.ok(&["user", "remove", "alice"]);
    t.ok_with(
        &[("SOFTKMS_NEW_PIN", "new-alice-pin")],
        &["user", "add", "alice"],
    );
    let r = b.get("/console/keys");
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(b.sign_in("alice", "new-alice-pin").status, 303);
    assert_eq!(b.get("/console/keys").status, 200);
}
