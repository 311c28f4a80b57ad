//! One HTTP request of the AWS KMS JSON 1.1 protocol: `POST /` with
//! `X-Amz-Target: TrentService.<Operation>`, authenticated by SigV4, run on a
//! session acting for the access key's principal, recorded in the audit log.

use super::errors::AwsError;
use super::input::Input;
use super::ops::{Call, OPERATIONS};
use super::sigv4;
use super::State;
use crate::api::{ErrorKind, Principal};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The largest request body read (a 32 KiB policy, a 6 KiB blob, … in JSON).
const MAX_BODY: usize = 256 * 1024;
/// How long a client may take to send a request's body.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The prefix of `X-Amz-Target`.
const TARGET_PREFIX: &str = "TrentService.";
/// The JSON 1.1 content type.
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// A response of `status` with a JSON body.
fn respond(status: u16, body: Vec<u8>, request_id: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(CONTENT_TYPE),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

fn error_response(e: &AwsError, request_id: &str) -> Response<Full<Bytes>> {
    respond(e.status, e.body(), request_id)
}

/// A fresh request id (a random UUID).
fn request_id() -> String {
    let mut b = [0u8; 16];
    if crate::crypto::random(&mut b).is_err() {
        return "00000000-0000-0000-0000-000000000000".into();
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The most refused unauthenticated requests recorded one by one in the
/// audit log per source address and second: a flood of unsigned requests
/// must not fill the token file, nor hide another source's. The rest of a
/// second are counted, and the count is recorded once the second is over.
const MAX_UNAUTHENTICATED_PER_SECOND: u32 = 20;
/// The most source addresses tracked at once.
const MAX_SOURCES: usize = 4096;
/// The longest error text kept in an audit reason.
const MAX_REASON_ERROR: usize = 200;

/// Per source address: the second, the records written in it, the refusals
/// not recorded one by one.
type Window = (i64, u32, u64);

static WINDOWS: parking_lot::Mutex<Option<HashMap<IpAddr, Window>>> = parking_lot::Mutex::new(None);

/// Whether one more unauthenticated refusal from `ip` may be recorded now;
/// also the counts of earlier seconds' unrecorded refusals, to record.
fn unauthenticated_budget(ip: IpAddr) -> (bool, Vec<(IpAddr, i64, u64)>) {
    let now = crate::api::Timestamp::now().unix();
    let mut guard = WINDOWS.lock();
    let map = guard.get_or_insert_with(HashMap::new);
    let mut summaries = Vec::new();
    if map.len() >= MAX_SOURCES {
        map.retain(|ip, (sec, _, dropped)| {
            if *sec == now {
                return true;
            }
            if *dropped > 0 {
                summaries.push((*ip, *sec, *dropped));
            }
            false
        });
    }
    let w = map.entry(ip).or_insert((now, 0, 0));
    if w.0 != now {
        if w.2 > 0 {
            summaries.push((ip, w.0, w.2));
        }
        *w = (now, 0, 0);
    }
    w.1 = w.1.saturating_add(1);
    let ok = w.1 <= MAX_UNAUTHENTICATED_PER_SECOND;
    if !ok {
        w.2 += 1;
    }
    (ok, summaries)
}

/// An error's text for an audit reason: short, and without what the caller
/// sent (an echoed Authorization header).
fn reason_text(e: &AwsError) -> String {
    let m = e.message.split("Authorization=").next().unwrap_or("");
    let mut m: String = m.chars().take(MAX_REASON_ERROR).collect();
    if m.len() < e.message.len() {
        m.push('…');
    }
    format!("{}: {m}", e.kind)
}

/// Records an unauthenticated refusal (within the budget of its source).
fn record_unauthenticated(
    state: &State,
    p: &Parts,
    op: &str,
    key_id: Option<&str>,
    e: &AwsError,
    request_id: &str,
) {
    let reason = format!(
        "request {request_id} from {}; access key {}; refused: {}",
        p.peer,
        key_id.unwrap_or("-"),
        reason_text(e)
    );
    let (ok, summaries) = unauthenticated_budget(p.peer.ip());
    for (ip, sec, n) in summaries {
        let why = format!(
            "{n} more unauthenticated requests from {ip} refused in the second starting at \
             {}, not recorded one by one",
            crate::api::Timestamp::from_unix(sec).to_rfc3339()
        );
        if let Err(err) = state.anchor.record_unauthenticated("kms:*", e.rv, &why) {
            log::error!("serve: cannot audit: {err}");
        }
    }
    if ok {
        if let Err(err) = state.anchor.record_unauthenticated(op, e.rv, &reason) {
            log::error!("serve: cannot audit request {request_id}: {err}");
        }
    } else {
        log::warn!("serve: counted, not audited one by one: {reason}");
    }
}

/// What the blocking part of a request needs from the HTTP one.
struct Parts {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    peer: SocketAddr,
    operation: String,
}

/// Answers one request.
pub(crate) async fn handle(
    state: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let id = request_id();
    let path = req.uri().path();
    if path == super::console::PREFIX || path.starts_with(&format!("{}/", super::console::PREFIX)) {
        return super::console::handle(state, peer, req).await;
    }
    let (head, body) = req.into_parts();
    if head.method != hyper::Method::POST || head.uri.path() != "/" {
        let e = AwsError {
            status: 404,
            ..AwsError::new(
                "UnknownOperationException",
                "this server answers the AWS KMS JSON API: POST / with X-Amz-Target",
            )
        };
        return error_response(&e, &id);
    }
    let target = head
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(operation) = target
        .strip_prefix(TARGET_PREFIX)
        .filter(|op| OPERATIONS.contains(op))
    else {
        return error_response(
            &AwsError::new(
                "UnknownOperationException",
                format!("unknown operation {target:?}"),
            ),
            &id,
        );
    };
    let read = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await;
    let body = match read {
        Ok(Ok(b)) => b.to_bytes().to_vec(),
        Ok(Err(_)) => {
            let e = AwsError {
                status: 413,
                ..AwsError::validation(format!("the request body is over {MAX_BODY} bytes"))
            };
            return error_response(&e, &id);
        }
        Err(_) => {
            let e = AwsError {
                status: 408,
                ..AwsError::new(
                    "RequestTimeoutException",
                    format!("the request body took over {BODY_TIMEOUT:?}"),
                )
            };
            return error_response(&e, &id);
        }
    };
    let mut headers: Vec<(String, Vec<u8>)> = head
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    if !headers.iter().any(|(k, _)| k == "host") {
        if let Some(a) = head.uri.authority() {
            headers.push(("host".into(), a.as_str().as_bytes().to_vec()));
        }
    }
    let parts = Parts {
        method: head.method.as_str().to_string(),
        path: head.uri.path().to_string(),
        query: head.uri.query().unwrap_or("").to_string(),
        headers,
        body,
        peer,
        operation: operation.to_string(),
    };
    let rid = id.clone();
    let out = tokio::task::spawn_blocking(move || answer(&state, &parts, &rid)).await;
    match out {
        Ok(Ok(body)) => respond(200, body, &id),
        Ok(Err(e)) => error_response(&e, &id),
        Err(e) => {
            log::error!("serve: request {id} failed: {e}");
            error_response(&AwsError::internal("the request failed"), &id)
        }
    }
}

/// The principal an access key stands for, after checking the signature.
fn authenticate(
    state: &State,
    p: &Parts,
) -> Result<(String, Principal), (Option<String>, AwsError)> {
    let headers: Vec<(&str, &[u8])> = p
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let req = sigv4::Request {
        method: &p.method,
        path: &p.path,
        query: &p.query,
        headers: &headers,
        body: &p.body,
    };
    let sig = |e: sigv4::SigError| AwsError::new(e.aws_type(), e.message());
    let auth = sigv4::parse(&req).map_err(|e| (None, sig(e)))?;
    let key_id = auth.access_key_id.clone();
    // The operation and the date must be signed: a captured request must not
    // be replayed as another operation (SigV4 itself only requires `host`).
    for must in ["x-amz-target", "x-amz-date"] {
        if !auth.signed_headers.iter().any(|h| h == must) {
            return Err((
                Some(key_id),
                AwsError::new(
                    "IncompleteSignatureException",
                    format!("'{must}' must be a 'SignedHeader' in the AWS Authorization."),
                ),
            ));
        }
    }
    let (info, secret) = match state.anchor.access_key(&key_id) {
        Ok(k) => k,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err((Some(key_id), sig(sigv4::SigError::UnrecognizedClient)))
        }
        Err(e) => return Err((Some(key_id), AwsError::from(e))),
    };
    let now = crate::api::Timestamp::now().unix();
    let n = &state.settings.naming;
    sigv4::verify(&req, &auth, secret.as_bytes(), &n.region, "kms", now)
        .map_err(|e| (Some(key_id.clone()), sig(e)))?;
    Ok((key_id, info.principal))
}

/// Authenticates, runs and records one request (on a blocking thread).
fn answer(state: &State, p: &Parts, request_id: &str) -> Result<Vec<u8>, AwsError> {
    let op = format!("kms:{}", p.operation);
    let (key_id, principal) = match authenticate(state, p) {
        Ok(x) => x,
        Err((key_id, e)) => {
            record_unauthenticated(state, p, &op, key_id.as_deref(), &e, request_id);
            return Err(e);
        }
    };
    let token = state
        .kms
        .token(state.settings.slot)
        .map_err(AwsError::from)?;
    if let Err(err) = token.act_as(&principal) {
        // Its principal was removed since the key was looked up.
        log::warn!("serve: access key {key_id}: {err}");
        let e = AwsError::new(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
        record_unauthenticated(state, p, &op, Some(&key_id), &e, request_id);
        return Err(e);
    }
    let via = format!("request {request_id} from {}; access key {key_id}", p.peer);
    let value = run_recorded(
        state,
        &token,
        &principal,
        &p.operation,
        Input::parse(&p.body),
        &via,
    )?;
    serde_json::to_vec(&value).map_err(|e| AwsError::internal(e.to_string()))
}

/// Runs `operation` with `input` on `token` (a session acting for
/// `principal`) and records the request in the audit log: `via` (how it
/// came: request id, source, access key or console session) starts the
/// record's reason, the outcome ends it.
pub(crate) fn run_recorded(
    state: &State,
    token: &crate::api::Token,
    principal: &Principal,
    operation: &str,
    input: Result<Input, AwsError>,
    via: &str,
) -> Result<serde_json::Value, AwsError> {
    let mut call = Call {
        token,
        principal,
        naming: &state.settings.naming,
        key: None,
        alias: None,
        policy_writes: &state.policy_writes,
    };
    let r = input.and_then(|input| call.run(operation, &input));
    let (rv, outcome) = match &r {
        Ok(_) => (0, "ok".to_string()),
        Err(e) => (e.rv, reason_text(e)),
    };
    let reason = format!("{via}; {outcome}");
    let key = call.key.as_ref().map(|k| k.as_str().to_string());
    let reason = match (&key, &call.alias) {
        (None, Some(alias)) => format!("{reason}; key named {alias}"),
        _ => reason,
    };
    let op = format!("kms:{operation}");
    if let Err(err) = token.record_request(&op, key.as_deref(), rv, &reason) {
        // What the request changed is recorded with the change by the module;
        // this record of the request itself is what is lost.
        log::error!("serve: cannot audit {op} ({via}): {err}");
    }
    r
}
