//! The console (`docs/console.md`): server-rendered HTML pages under
//! `/console` on the AWS API's listener, for the keys, their versions,
//! policies, grants and audit records, and (for the SO) the principals and
//! access keys.
//!
//! Sign-in checks a principal's PIN with the module (counted towards its
//! lock-out, recorded); the console then keeps a session of its own (a
//! random id in an `HttpOnly`, `SameSite=Strict` cookie, `Secure` under TLS)
//! and runs each page on a token session acting for the principal, as the
//! AWS API does for an access key: the key gate and policies apply to it,
//! and every change is an AWS operation recorded in the audit log. Every
//! form carries the session's CSRF token; no page has a script; the
//! Content-Security-Policy allows nothing but the console's stylesheet.
//!
//! Layout: this file (requests, responses, routing), `session` (sessions,
//! sign-in, the lock-out guard), `html` (the page frame), `keys` (the keys
//! table and key page, with their actions), `policy` (the policy editor),
//! `audit` (the audit view), `so` (the SO's pages), `chart` (SVG).

mod audit;
mod chart;
mod html;
mod keys;
mod policy;
mod session;
mod so;

pub(crate) use session::Console;
pub use session::DEFAULT_IDLE;
use session::{guard, same, sign_in, Checking, CHECK_WAIT};

use super::State;
use crate::api::Principal;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// Where the console lives.
pub(crate) const PREFIX: &str = "/console";
/// The largest form read (a 32 KiB policy, percent-encoded).
const MAX_FORM: usize = 128 * 1024;
/// How long a client may take to send a form.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The Content-Security-Policy of every response: nothing but our
/// stylesheet, forms to ourselves, no frames.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// The console's stylesheet.
const CSS: &str = include_str!("console.css");

/// A form's fields (`application/x-www-form-urlencoded`), wiped when
/// dropped: they may hold PINs.
pub(crate) struct Form(Vec<(String, Zeroizing<String>)>);

impl Form {
    /// Parses a form body or a query string; `None` when it is not valid
    /// percent-encoded UTF-8.
    fn parse(text: &[u8]) -> Option<Form> {
        let mut out = Vec::new();
        for pair in text.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = decode(it.next().unwrap_or_default())?;
            let v = decode(it.next().unwrap_or_default())?;
            out.push((k.to_string(), v));
        }
        Some(Form(out))
    }

    /// The first value of field `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, trimmed, or "".
    pub(crate) fn text(&self, name: &str) -> &str {
        self.get(name).map_or("", str::trim)
    }
}

/// Percent-decoding with `+` as space.
fn decode(raw: &[u8]) -> Option<Zeroizing<String>> {
    let mut out = Zeroizing::new(Vec::with_capacity(raw.len()));
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    let text = std::str::from_utf8(&out).ok()?;
    Some(Zeroizing::new(text.to_string()))
}

/// Percent-encoding of a URL path segment or query value.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One console request, as the pages see it.
pub(crate) struct Req {
    /// GET or POST.
    pub post: bool,
    /// The path below `/console` ("" for the console itself).
    pub path: String,
    /// The query's fields.
    pub query: Form,
    /// The form's fields (POST).
    pub form: Form,
    /// The client's address.
    pub peer: SocketAddr,
}

/// The signed-in principal of a request, with its CSRF token.
pub(crate) struct Who {
    /// Who.
    pub principal: Principal,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl Who {
    /// Whether this is the SO.
    pub(crate) fn is_so(&self) -> bool {
        matches!(self.principal, Principal::SecurityOfficer)
    }

    /// The principal's name as the pages show it.
    pub(crate) fn name(&self) -> &str {
        match self.principal {
            Principal::SecurityOfficer => "SO",
            ref p => p.name(),
        }
    }

    /// How a request of this session is named in the audit log.
    pub(crate) fn via(&self, req: &Req) -> String {
        format!(
            "console session of {} from {}",
            self.principal.name(),
            req.peer
        )
    }
}

/// A response: a page, a redirect or the stylesheet.
pub(crate) struct Page {
    status: u16,
    body: String,
    content_type: &'static str,
    location: Option<String>,
    cookies: Vec<String>,
}

impl Page {
    /// An HTML page.
    pub(crate) fn html(status: u16, body: maud::Markup) -> Page {
        Page {
            status,
            body: body.into_string(),
            content_type: "text/html; charset=utf-8",
            location: None,
            cookies: Vec::new(),
        }
    }

    /// 303 See Other to `path` (below `/console`).
    pub(crate) fn redirect(path: &str) -> Page {
        Page {
            status: 303,
            body: String::new(),
            content_type: "text/plain; charset=utf-8",
            location: Some(format!("{PREFIX}{path}")),
            cookies: Vec::new(),
        }
    }

    fn with_cookie(mut self, c: String) -> Page {
        self.cookies.push(c);
        self
    }
}

/// Answers a request under `/console`.
pub(crate) async fn handle(
    state: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let Some(console) = state.console.as_ref() else {
        return respond(html::not_found(None));
    };
    let (head, body) = req.into_parts();
    let post = match head.method {
        hyper::Method::GET | hyper::Method::HEAD => false,
        hyper::Method::POST => true,
        _ => {
            let mut r = respond(html::error_page(
                405,
                None,
                "Method not allowed",
                "The console answers GET and POST.",
            ));
            r.headers_mut().insert(
                hyper::header::ALLOW,
                hyper::header::HeaderValue::from_static("GET, POST"),
            );
            return r;
        }
    };
    let path = head.uri.path();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return respond(html::not_found(None));
    };
    if !host_allowed(&head.headers, &console.settings.hosts) {
        log::warn!("console: a request from {peer} for another host's name: refused");
        return respond(html::error_page(
            421,
            None,
            "Unknown host name",
            "The console answers to IP addresses, localhost and the names given with \
             --console-host.",
        ));
    }
    let rest = rest.trim_end_matches('/').to_string();
    if rest == "/static/console.css" {
        return respond(Page {
            status: 200,
            body: CSS.to_string(),
            content_type: "text/css; charset=utf-8",
            location: None,
            cookies: Vec::new(),
        });
    }
    let cookies = cookies(&head.headers);
    // A form is URL-encoded (a body without a type is read as one); a
    // `text/plain` "form" from another site's page is not.
    let form_type = head
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or(""))
        .is_none_or(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if post && !form_type {
        return respond(html::error_page(
            415,
            None,
            "Unsupported form",
            "The console's forms are application/x-www-form-urlencoded.",
        ));
    }
    let form = if post {
        let read = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_FORM).collect()).await;
        let bytes = match read {
            Ok(Ok(b)) => Zeroizing::new(b.to_bytes().to_vec()),
            Ok(Err(_)) => {
                return respond(html::error_page(
                    413,
                    None,
                    "Too large",
                    "The form is larger than the console accepts.",
                ))
            }
            Err(_) => {
                return respond(html::error_page(
                    408,
                    None,
                    "Too slow",
                    "The form took too long to arrive.",
                ))
            }
        };
        match Form::parse(&bytes) {
            Some(f) => f,
            None => return respond(html::bad_request(None, "The form is not valid.")),
        }
    } else {
        Form(Vec::new())
    };
    let Some(query) = Form::parse(head.uri.query().unwrap_or("").as_bytes()) else {
        return respond(html::bad_request(None, "The query is not valid."));
    };
    // A POST from another site's page (an Origin that is not ours) is
    // refused before anything else; SameSite=Strict and the CSRF token are
    // the other two locks.
    if post && !same_origin(&head.headers, console.tls) {
        return respond(html::forbidden(
            None,
            "The form was sent from another site.",
        ));
    }
    let req = Req {
        post,
        path: rest,
        query,
        form,
        peer,
    };
    // A form that checks a PIN (sign-in, the SO's PIN given again) waits
    // its turn for one of the few KDF runs allowed at once, in arrival
    // order: a flood delays others' sign-ins but cannot starve them.
    let checks_pin = post
        && (req.path == "/signin"
            || req.path == "/access-keys"
            || (req.path.starts_with("/principals/") && req.path.ends_with("/pin")));
    let permit = if checks_pin {
        let wait =
            tokio::time::timeout(CHECK_WAIT, Arc::clone(&console.checks).acquire_owned()).await;
        match wait {
            Ok(Ok(p)) => Some(p),
            _ => {
                return respond(html::error_page(
                    503,
                    None,
                    "Busy",
                    "The server is busy checking other PINs: try again in a moment.",
                ))
            }
        }
    } else {
        None
    };
    let state2 = Arc::clone(&state);
    let page = tokio::task::spawn_blocking(move || {
        let page = route(&state2, &req, &cookies);
        drop(permit);
        page
    })
    .await;
    match page {
        Ok(p) => respond_tls(p, console.tls),
        Err(e) => {
            log::error!("console: a page failed: {e}");
            respond(html::error_page(
                500,
                None,
                "Internal error",
                "The page failed; the server's log says why.",
            ))
        }
    }
}

/// The cookies of a request, by name.
fn cookies(headers: &hyper::HeaderMap) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for v in headers.get_all(hyper::header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for c in v.split(';') {
            if let Some((k, v)) = c.trim().split_once('=') {
                out.entry(k.to_string()).or_insert_with(|| v.to_string());
            }
        }
    }
    out
}

/// Whether a POST's `Origin` (when it has one) is this server: its host
/// and port are the request's `Host`, its scheme ours.
fn same_origin(headers: &hyper::HeaderMap, tls: bool) -> bool {
    let Some(origin) = headers.get(hyper::header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(hyper::header::HOST).map(|h| h.to_str()),
    ) else {
        return false;
    };
    let scheme = if tls { "https://" } else { "http://" };
    origin.strip_prefix(scheme) == Some(host)
}

/// Whether the request's `Host` is one the console answers to: an IP
/// address, `localhost`, or a name of `--console-host` (with or without a
/// port). A page reached under another name is a DNS rebinding: some web
/// site's name pointing at this server.
fn host_allowed(headers: &hyper::HeaderMap, hosts: &[String]) -> bool {
    let Some(Ok(host)) = headers.get(hyper::header::HOST).map(|h| h.to_str()) else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        return rest.split_once(']').is_some_and(|(a, tail)| {
            a.parse::<std::net::Ipv6Addr>().is_ok()
                && (tail.is_empty()
                    || tail
                        .strip_prefix(':')
                        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        });
    } else {
        host.rsplit_once(':').map_or(host, |(n, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                n
            } else {
                host
            }
        })
    };
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(name))
}

/// The HTTP response of a page, with the headers every console response has.
fn respond(p: Page) -> Response<Full<Bytes>> {
    respond_tls(p, false)
}

/// [`respond`], with `Strict-Transport-Security` when the console speaks
/// TLS.
fn respond_tls(p: Page, tls: bool) -> Response<Full<Bytes>> {
    use hyper::header::{self, HeaderValue};
    let mut r = Response::new(Full::new(Bytes::from(p.body)));
    *r.status_mut() = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(p.content_type),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: with it a browser sends `Origin: null` on the
    // console's own forms, which the origin check refuses.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if let Some(l) = p.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        h.insert(header::LOCATION, l);
    }
    for c in p.cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    r
}

/// Routes a request (on a blocking thread: pages call the module).
fn route(state: &State, req: &Req, cookies: &HashMap<String, String>) -> Page {
    let Some(console) = state.console.as_ref() else {
        return html::not_found(None);
    };
    let path = req.path.as_str();
    if path == "/signin" {
        return sign_in(state, console, req, cookies);
    }
    let sid = cookies.get(&console.cookie_name());
    let who = sid
        .and_then(|id| console.session(id))
        .filter(|(principal, _, uid)| {
            // Still the principal that signed in (not removed, nor removed
            // and added again).
            let same = state.anchor.principal_uid(principal).as_deref() == Some(uid.as_str());
            if !same {
                if let Some(id) = sid {
                    console.end(id);
                }
            }
            same
        })
        .map(|(principal, csrf, _)| Who { principal, csrf });
    let Some(who) = who else {
        return if req.post {
            html::forbidden(None, "You are not signed in (or your session ended).")
        } else {
            Page::redirect("/signin")
        };
    };
    if req.post {
        let sent = req.form.get("csrf").unwrap_or("");
        if !same(sent, &who.csrf) {
            log::warn!(
                "console: a form of {} from {} without its CSRF token: refused",
                who.principal.name(),
                req.peer
            );
            return html::forbidden(
                Some(&who),
                "The form did not carry this session's CSRF token.",
            );
        }
    }
    if path == "/signout" && req.post {
        if let Some(id) = sid {
            console.end(id);
        }
        let reason = format!("{}; ok", who.via(req));
        if let Err(e) =
            state
                .anchor
                .record_request_for(&who.principal, "console:SignOut", 0, &reason)
        {
            log::error!("console: cannot audit a sign-out: {e}");
        }
        return Page::redirect("/signin")
            .with_cookie(console.set_cookie(&console.cookie_name(), None));
    }
    if path.is_empty() {
        return Page::redirect(if who.is_so() { "/principals" } else { "/keys" });
    }
    if path == "/audit" && !req.post {
        return audit::page(state, &who, req, None);
    }
    if let Some(rest) = path.strip_prefix("/keys") {
        if who.is_so() {
            return html::forbidden(
                Some(&who),
                "The SO manages principals and access keys; keys are their principals' to manage.",
            );
        }
        return keys::route(state, &who, req, rest);
    }
    if path.starts_with("/principals") || path.starts_with("/access-keys") {
        if !who.is_so() {
            return html::forbidden(Some(&who), "These pages are the SO's.");
        }
        return so::route(state, &who, req, path);
    }
    html::not_found(Some(&who))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_host_names_are_served() {
        let hosts = vec!["kms.example".to_string()];
        let h = |v: &str| {
            let mut m = hyper::HeaderMap::new();
            m.insert(
                hyper::header::HOST,
                v.parse().unwrap_or_else(|_| unreachable!()),
            );
            host_allowed(&m, &hosts)
        };
        for ok in [
            "127.0.0.1:8470",
            "localhost:8470",
            "LOCALHOST",
            "[::1]:8470",
            "10.0.0.5",
            "kms.example:443",
            "kms.example",
        ] {
            assert!(h(ok), "{ok}");
        }
        for bad in [
            "attacker.example:8470",
            "evil.localhost",
            "kms.example.evil",
            "[nothost]:1",
            "",
        ] {
            assert!(!h(bad), "{bad}");
        }
        assert!(!host_allowed(&hyper::HeaderMap::new(), &hosts));
    }

    #[test]
    fn forms_decode_and_refuse_bad_encoding() {
        let f = Form::parse(b"a=1&b=x+y%21&c=&d").unwrap_or(Form(Vec::new()));
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), Some("x y!"));
        assert_eq!(f.get("c"), Some(""));
        assert_eq!(f.get("d"), Some(""));
        assert_eq!(f.get("e"), None);
        assert!(Form::parse(b"a=%zz").is_none());
        assert!(Form::parse(b"a=%4").is_none());
        assert!(Form::parse(b"a=%ff").is_none());
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn origins_must_be_ours() {
        let mut h = hyper::HeaderMap::new();
        assert!(same_origin(&h, false));
        h.insert(
            hyper::header::HOST,
            "127.0.0.1:8470".parse().unwrap_or_else(|_| unreachable!()),
        );
        h.insert(
            hyper::header::ORIGIN,
            "http://127.0.0.1:8470"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert!(same_origin(&h, false));
        assert!(!same_origin(&h, true));
        h.insert(
            hyper::header::ORIGIN,
            "http://evil.example"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert!(!same_origin(&h, false));
        h.insert(
            hyper::header::ORIGIN,
            "null".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert!(!same_origin(&h, false));
    }
}
