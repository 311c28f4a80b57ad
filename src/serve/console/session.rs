//! The console's sessions and its sign-in: the session table (random ids
//! in cookies, idle and absolute timeouts, caps), the lock-out guard that
//! keeps the console from ever making the PIN try that would lock a PIN, one
//! PIN check per name at a time, and the sign-in page's POST.

use super::{html, Page, Req, PREFIX};
use crate::api::Principal;
use crate::serve::State;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
/// indexed by a keyed hash of the name, so that it takes no more memory
/// however many names are tried. A million one-byte counters: filling them
/// (nine wrong PINs in each, where a full table would stop counting and so
/// tell unknown names from known ones) would take some nine million PIN
/// checks, days of the KDF.
const UNKNOWN_COUNTERS: usize = 1 << 20;
/// How long a PIN check waits for its turn before the console says it is
/// busy (503).
pub(super) const CHECK_WAIT: Duration = Duration::from_secs(15);
/// The session cookie (plain HTTP) and its `__Host-` form (TLS).
const COOKIE: &str = "softkms_console";
/// The sign-in form's double-submit cookie.
const SIGNIN_COOKIE: &str = "softkms_console_signin";

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
    pub(super) checks: Arc<tokio::sync::Semaphore>,
    /// The names whose PIN is being checked now: one check per name at a
    /// time, so that the lock-out guard reads a count no other check is
    /// about to change.
    checking: parking_lot::Mutex<std::collections::HashSet<String>>,
    /// Wrong PINs in a row per name given at sign-in, for names the token
    /// does not know (they are treated as the token treats its principals).
    unknown: parking_lot::Mutex<Vec<u8>>,
    /// The key of the hash that indexes `unknown`.
    unknown_key: std::collections::hash_map::RandomState,
    pub(super) settings: crate::serve::ConsoleSettings,
    pub(super) tls: bool,
}

impl Console {
    /// A console with `settings`; `tls`: the listener speaks TLS (cookies
    /// are `Secure`).
    pub(crate) fn new(settings: crate::serve::ConsoleSettings, tls: bool) -> Console {
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
    pub(super) fn cookie(&self, base: &str) -> String {
        if self.tls {
            format!("__Host-{base}")
        } else {
            base.to_string()
        }
    }

    pub(super) fn cookie_name(&self) -> String {
        self.cookie(COOKIE)
    }

    /// A `Set-Cookie` value: `value` for `name`, or its removal.
    pub(super) fn set_cookie(&self, name: &str, value: Option<&str>) -> String {
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
    pub(super) fn session(&self, id: &str) -> Option<(Principal, String, String)> {
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
    pub(super) fn start(&self, who: Principal, uid: String) -> Option<String> {
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

    pub(super) fn end(&self, id: &str) {
        self.sessions.lock().remove(id);
    }
}

/// A name's PIN check in progress; the name is free again when dropped.
pub(super) struct Checking<'a> {
    console: &'a Console,
    name: String,
}

impl<'a> Checking<'a> {
    /// Takes `name` for one check; `None` while another check has it.
    pub(super) fn take(console: &'a Console, name: &str) -> Option<Checking<'a>> {
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
pub(super) fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
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
pub(super) fn sign_in(
    state: &State,
    console: &Console,
    req: &Req,
    cookies: &HashMap<String, String>,
) -> Page {
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

    fn settings(idle: Duration) -> crate::serve::ConsoleSettings {
        crate::serve::ConsoleSettings {
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
}
