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
//! Layout: this file (sessions, requests, responses, routing), `html`
//! (the page frame), `keys` (the keys table and key page, with their
//! actions), `audit` (the audit view), `so` (the SO's pages), `chart` (SVG).

mod audit;
mod chart;
mod html;
mod keys;
mod so;

use super::State;
use crate::api::Principal;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Where the console lives.
pub(crate) const PREFIX: &str = "/console";
/// The default idle timeout of a console session.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(15 * 60);
/// The longest a console session lasts, however busy.
const MAX_AGE: Duration = Duration::from_secs(8 * 3600);
/// The most console sessions at once; a new one beyond it ends the least
/// recently used.
const MAX_SESSIONS: usize = 4096;
/// The most console sessions of one principal; a new one beyond it ends that
/// principal's least recently used.
const MAX_SESSIONS_PER_PRINCIPAL: usize = 16;
/// The most PIN checks (each runs the PIN's KDF) at once.
const MAX_SIGNINS: usize = 4;
/// Counters of wrong PINs for names the token does not know: a fixed table
/// indexed by a keyed hash of the name, so that it never fills up (a full
/// table would stop counting, and tell unknown names from known ones) and
/// takes no more memory however many names are tried.
/// A million one-byte counters: filling them (nine wrong PINs in each)
/// would take some nine million PIN checks, days of the KDF.
const UNKNOWN_COUNTERS: usize = 1 << 20;
/// How long a PIN check waits for its turn before the console says it is
/// busy (503).
const CHECK_WAIT: Duration = Duration::from_secs(15);
/// The largest form read (a 32 KiB policy, percent-encoded).
const MAX_FORM: usize = 128 * 1024;
/// How long a client may take to send a form.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The session cookie (plain HTTP) and its `__Host-` form (TLS).
const COOKIE: &str = "softkms_console";
/// The sign-in form's double-submit cookie.
const SIGNIN_COOKIE: &str = "softkms_console_signin";
/// The Content-Security-Policy of every response: nothing but our
/// stylesheet, forms to ourselves, no frames.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// The console's stylesheet.
const CSS: &str = include_str!("console.css");

/// One signed-in console session.
struct Session {
    who: Principal,
    /// The unique id of the principal's object at sign-in: a principal
    /// removed and added again under the name is somebody else.
    uid: String,
    csrf: String,
    created: Instant,
    last: Instant,
}

/// The console's state: its sessions.
pub(crate) struct Console {
    sessions: parking_lot::Mutex<HashMap<String, Session>>,
    /// The PIN checks (each runs the PIN's KDF) allowed at once, taken in
    /// the order requests arrive.
    checks: Arc<tokio::sync::Semaphore>,
    /// The names whose PIN is being checked now: one check per name at a
    /// time, so that the lock-out guard reads a count no other check is
    /// about to change.
    checking: parking_lot::Mutex<std::collections::HashSet<String>>,
    /// Wrong PINs in a row per name given at sign-in, for names the token
    /// does not know (they are treated as the token treats its principals).
    unknown: parking_lot::Mutex<Vec<u8>>,
    /// The key of the hash that indexes `unknown`.
    unknown_key: std::collections::hash_map::RandomState,
    settings: super::ConsoleSettings,
    tls: bool,
}

impl Console {
    /// A console with `settings`; `tls`: the listener speaks TLS (cookies
    /// are `Secure`).
    pub(crate) fn new(settings: super::ConsoleSettings, tls: bool) -> Console {
        Console {
            sessions: parking_lot::Mutex::new(HashMap::new()),
            checks: Arc::new(tokio::sync::Semaphore::new(MAX_SIGNINS)),
            checking: parking_lot::Mutex::new(std::collections::HashSet::new()),
            unknown: parking_lot::Mutex::new(vec![0; UNKNOWN_COUNTERS]),
            unknown_key: std::collections::hash_map::RandomState::new(),
            settings,
            tls,
        }
    }

    /// The name of cookie `base`: with the `__Host-` prefix under TLS (the
    /// browser then keeps it to this host, `Secure`, path `/`).
    fn cookie(&self, base: &str) -> String {
        if self.tls {
            format!("__Host-{base}")
        } else {
            base.to_string()
        }
    }

    fn cookie_name(&self) -> String {
        self.cookie(COOKIE)
    }

    /// A `Set-Cookie` value: `value` for `name`, or its removal.
    fn set_cookie(&self, name: &str, value: Option<&str>) -> String {
        let (path, secure) = if self.tls {
            ("/", "; Secure")
        } else {
            (PREFIX, "")
        };
        match value {
            Some(v) => format!("{name}={v}; Path={path}; HttpOnly; SameSite=Strict{secure}"),
            None => format!("{name}=; Path={path}; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
        }
    }

    /// The session of cookie value `id`, still alive (its idle time restarts).
    fn session(&self, id: &str) -> Option<(Principal, String, String)> {
        let mut map = self.sessions.lock();
        let now = Instant::now();
        let alive = map
            .get(id)
            .is_some_and(|s| now - s.last < self.settings.idle && now - s.created < MAX_AGE);
        if !alive {
            map.remove(id);
            return None;
        }
        let s = map.get_mut(id)?;
        s.last = now;
        Some((s.who.clone(), s.csrf.clone(), s.uid.clone()))
    }

    /// Starts a session for `who`: ends `who`'s least recently used one
    /// when it has [`MAX_SESSIONS_PER_PRINCIPAL`], and the least recently
    /// used of all when the table is full. `None` when the random source
    /// fails.
    fn start(&self, who: Principal, uid: String) -> Option<String> {
        let id = random_token()?;
        let csrf = random_token()?;
        let mut map = self.sessions.lock();
        let now = Instant::now();
        let idle = self.settings.idle;
        map.retain(|_, s| now - s.last < idle && now - s.created < MAX_AGE);
        let oldest = |map: &HashMap<String, Session>, only: Option<&Principal>| {
            map.iter()
                .filter(|(_, s)| only.is_none_or(|p| &s.who == p))
                .min_by_key(|(_, s)| s.last)
                .map(|(k, _)| k.clone())
        };
        if map.values().filter(|s| s.who == who).count() >= MAX_SESSIONS_PER_PRINCIPAL {
            if let Some(k) = oldest(&map, Some(&who)) {
                map.remove(&k);
            }
        }
        if map.len() >= MAX_SESSIONS {
            if let Some(k) = oldest(&map, None) {
                map.remove(&k);
            }
        }
        map.insert(
            id.clone(),
            Session {
                who,
                uid,
                csrf,
                created: now,
                last: now,
            },
        );
        Some(id)
    }

    /// Ends every session of `who` (its PIN was reset).
    pub(crate) fn end_all(&self, who: &Principal) {
        self.sessions.lock().retain(|_, s| &s.who != who);
    }

    /// The counter of wrong PINs of unknown name `name`.
    fn unknown_slot(&self, name: &str) -> usize {
        use std::hash::BuildHasher;
        let h = self.unknown_key.hash_one(name);
        usize::try_from(h % (UNKNOWN_COUNTERS as u64)).unwrap_or(0)
    }

    fn unknown_failures(&self, name: &str) -> u32 {
        u32::from(self.unknown.lock()[self.unknown_slot(name)])
    }

    fn unknown_failed(&self, name: &str) {
        let slot = self.unknown_slot(name);
        let mut t = self.unknown.lock();
        t[slot] = t[slot].saturating_add(1);
    }

    fn end(&self, id: &str) {
        self.sessions.lock().remove(id);
    }
}

/// A name's PIN check in progress; the name is free again when dropped.
struct Checking<'a> {
    console: &'a Console,
    name: String,
}

impl<'a> Checking<'a> {
    /// Takes `name` for one check; `None` while another check has it.
    fn take(console: &'a Console, name: &str) -> Option<Checking<'a>> {
        console
            .checking
            .lock()
            .insert(name.to_string())
            .then(|| Checking {
                console,
                name: name.to_string(),
            })
    }
}

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        self.console.checking.lock().remove(&self.name);
    }
}

/// 32 random bytes in hex; `None` when the random source fails.
fn random_token() -> Option<String> {
    let mut b = [0u8; 32];
    crate::crypto::random(&mut b).ok()?;
    Some(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Whether two secrets are equal, in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

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

/// The lock-out guard before the console checks `who`'s PIN: refused
/// (status and why) when `who` is locked, or when one more wrong PIN would
/// lock it (the console never makes that try). `Ok(known)`: whether the
/// token knows the name (unknown names are counted by the console alone).
pub(crate) fn guard(
    state: &State,
    console: &Console,
    who: &Principal,
) -> Result<bool, (u16, &'static str)> {
    let status = state.anchor.pin_status(who).map_err(|e| {
        log::error!("console: cannot read the PIN state: {e}");
        (500, "The server could not check the PIN.")
    })?;
    let known = status.failed.is_some();
    let failed = status
        .failed
        .unwrap_or_else(|| console.unknown_failures(who.name()));
    if failed >= status.max {
        return Err((401, LOCKED));
    }
    if status.max >= 3 && failed + 1 >= status.max {
        return Err((429, WOULD_LOCK));
    }
    Ok(known)
}

/// What the guard says before the try that would lock a PIN.
const WOULD_LOCK: &str = "Refused: one more wrong PIN would lock this principal out, and the \
     console does not make that try. Log in once with the softkms command or a PKCS#11 \
     application (a good PIN there resets the count), or ask the SO to set a new PIN.";

/// What a locked principal's sign-in says.
const LOCKED: &str =
    "Sign-in failed: this principal is locked out after too many wrong PINs; the SO sets a new PIN.";

/// `GET`/`POST /console/signin`.
fn sign_in(state: &State, console: &Console, req: &Req, cookies: &HashMap<String, String>) -> Page {
    if !req.post {
        let Some(token) = random_token() else {
            return html::error_page(503, None, "Unavailable", "The random source failed.");
        };
        return Page::html(200, html::sign_in(&token, None, ""))
            .with_cookie(console.set_cookie(&console.cookie(SIGNIN_COOKIE), Some(&token)));
    }
    let expected = cookies
        .get(&console.cookie(SIGNIN_COOKIE))
        .map_or("", String::as_str);
    let sent = req.form.get("csrf").unwrap_or("");
    if expected.is_empty() || !same(sent, expected) {
        return html::forbidden(
            None,
            "The sign-in form did not carry its CSRF token: load the sign-in page again.",
        );
    }
    let so = req.form.get("role") == Some("so");
    let name = req.form.text("name");
    let principal = if so {
        Principal::SecurityOfficer
    } else if name == "user" {
        Principal::User
    } else {
        Principal::Named(name.to_string())
    };
    let pin = crate::api::Pin::new(req.form.get("pin").unwrap_or("").as_bytes().to_vec());
    let again = |status: u16, message: &str| {
        Page::html(
            status,
            html::sign_in(sent, Some(message), if so { "" } else { name }),
        )
    };
    if !so && name.is_empty() {
        return again(400, "Give the principal's name (user for the token owner).");
    }
    // A name no principal can have (the rule is public) is refused before
    // anything is checked or counted.
    if !so && name != "user" && crate::api::PrincipalName::new(name).is_err() {
        return again(401, "Sign-in failed: wrong name or PIN.");
    }
    if so && !console.settings.remote_so && !req.peer.ip().to_canonical().is_loopback() {
        return again(
            403,
            "The SO signs in to the console from this machine only (the server runs without \
             --console-remote-so).",
        );
    }
    let limited = principal.name().to_string();
    let Some(_checking) = Checking::take(console, &limited) else {
        return again(
            429,
            "Another sign-in with this name is being checked: try again in a moment.",
        );
    };
    // The console never makes the try that would lock a PIN: a stranger
    // who reaches the console must not be able to lock the SO or a
    // principal out of the token (PKCS#11 and the command line included).
    // Names the token does not know are counted here, so that they look
    // the same.
    let known = match guard(state, console, &principal) {
        Ok(known) => known,
        Err((status, why)) => return again(status, why),
    };
    let reason = format!("console sign-in from {}", req.peer);
    // On a session of its own: the KDF must not hold the owner's session,
    // which authenticates the API's requests.
    let checked = state
        .kms
        .token(state.settings.slot)
        .and_then(|t| t.verify_pin(&principal, &pin, "console:SignIn", &reason));
    if checked.is_err() && !known {
        console.unknown_failed(&limited);
    }
    match checked {
        Ok(()) => {}
        Err(e) if e.kind() == crate::api::ErrorKind::PinLocked => return again(401, LOCKED),
        Err(e)
            if matches!(
                e.kind(),
                crate::api::ErrorKind::PinIncorrect | crate::api::ErrorKind::InvalidInput
            ) =>
        {
            return again(401, "Sign-in failed: wrong name or PIN.")
        }
        Err(e) => {
            log::error!("console: sign-in check failed: {e}");
            return again(500, "Sign-in failed: the server could not check the PIN.");
        }
    }
    let so = matches!(principal, Principal::SecurityOfficer);
    // A browser signing in again leaves its old session behind: end it.
    if let Some(old) = cookies.get(&console.cookie_name()) {
        console.end(old);
    }
    let Some(uid) = state.anchor.principal_uid(&principal) else {
        return again(401, "Sign-in failed: wrong name or PIN.");
    };
    let Some(id) = console.start(principal, uid) else {
        return again(503, "Too many console sessions are open: try again later.");
    };
    Page::redirect(if so { "/principals" } else { "/keys" })
        .with_cookie(console.set_cookie(&console.cookie_name(), Some(&id)))
        .with_cookie(console.set_cookie(&console.cookie(SIGNIN_COOKIE), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(idle: Duration) -> super::super::ConsoleSettings {
        super::super::ConsoleSettings {
            idle,
            hosts: vec!["kms.example".into()],
            remote_so: false,
        }
    }

    #[test]
    fn sessions_are_capped_per_principal_and_in_all() {
        let c = Console::new(settings(DEFAULT_IDLE), false);
        let alice = Principal::Named("alice".into());
        let first = c.start(alice.clone(), "a".into()).unwrap_or_default();
        for _ in 0..MAX_SESSIONS_PER_PRINCIPAL {
            c.start(alice.clone(), "a".into());
        }
        assert!(c.session(&first).is_none(), "the oldest of alice's ended");
        assert_eq!(c.sessions.lock().len(), MAX_SESSIONS_PER_PRINCIPAL);
        let so = c
            .start(Principal::SecurityOfficer, String::new())
            .unwrap_or_default();
        c.end_all(&alice);
        assert_eq!(c.sessions.lock().len(), 1);
        assert!(c.session(&so).is_some());
    }

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
    fn sessions_expire_and_end() {
        let c = Console::new(settings(Duration::from_millis(50)), false);
        let id = c.start(Principal::User, String::new()).unwrap_or_default();
        assert!(c.session(&id).is_some());
        assert!(c.session("nope").is_none());
        std::thread::sleep(Duration::from_millis(80));
        assert!(c.session(&id).is_none(), "idle timeout");
        let id = c.start(Principal::User, String::new()).unwrap_or_default();
        c.end(&id);
        assert!(c.session(&id).is_none());
    }

    #[test]
    fn cookies_are_strict() {
        let plain = Console::new(settings(DEFAULT_IDLE), false);
        let c = plain.set_cookie(COOKIE, Some("x"));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"));
        assert!(!c.contains("Secure"));
        let tls = Console::new(settings(DEFAULT_IDLE), true);
        assert_eq!(tls.cookie_name(), "__Host-softkms_console");
        let c = tls.set_cookie(&tls.cookie_name(), Some("x"));
        assert!(c.contains("; Secure") && c.contains("Path=/;"));
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
