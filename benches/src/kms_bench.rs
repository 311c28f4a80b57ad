//! `kms-bench`: the AWS KMS JSON 1.1 API under load. Against each target (an
//! endpoint with its credentials) it creates one symmetric key through the API,
//! then runs `Encrypt` of 1 KiB and `GenerateDataKey` (AES_256) for a fixed time
//! at several numbers of concurrent connections (one keep-alive connection per
//! worker thread), each request signed with SigV4, and prints ops/s, p50/p99
//! latency and errors per row, the targets side by side. Any error (a status other
//! than 200, a malformed response, an I/O error or timeout) makes the exit status 1.
//!
//! `benches/kms-http.sh` runs it against `softkms serve` and moto's server; see
//! `docs/performance.md`, "The AWS API (softkms serve)".

mod kms_http;

use base64::Engine as _;
use kms_http::{Conn, Endpoint};
use softkms::serve::sigv4;
use std::process::ExitCode;
use std::sync::Barrier;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The usage text.
const USAGE: &str = "\
usage: kms-bench --target NAME,URL,CREDENTIALS [--target ...] [--seconds S]
                 [--connections N,N,...] [--region R] [--markdown]

  --target NAME,URL,CREDENTIALS
                  a server to measure: a column name, its http://HOST:PORT and a
                  JSON file with AccessKeyId and SecretAccessKey (as printed by
                  `softkms access-key create PRINCIPAL --json`); repeat to compare
                  (ratios are the first target over each other one)
  --seconds S     measured seconds per operation, connection count and target
                  (default 10)
  --connections L concurrent connections, one worker thread each (default 1,16,64)
  --region R      the SigV4 region (default us-east-1)
  --markdown      print the table as Markdown

Each target gets one new symmetric key (CreateKey) first. Exit status 1 when any
request fails.";

/// The largest credentials file read.
const MAX_CREDENTIALS: u64 = 64 * 1024;
/// The plaintext size of the Encrypt rows.
const PLAINTEXT_BYTES: usize = 1024;

/// A server and how to sign for it.
struct Target {
    name: String,
    endpoint: Endpoint,
    access_key_id: String,
    secret: Zeroizing<String>,
}

/// The command line.
struct Args {
    targets: Vec<Target>,
    seconds: f64,
    connections: Vec<usize>,
    region: String,
    markdown: bool,
}

/// An operation measured.
#[derive(Clone, Copy)]
enum Op {
    Encrypt,
    GenerateDataKey,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::Encrypt => "Encrypt 1 KiB",
            Op::GenerateDataKey => "GenerateDataKey AES_256",
        }
    }

    fn target(self) -> &'static str {
        match self {
            Op::Encrypt => "TrentService.Encrypt",
            Op::GenerateDataKey => "TrentService.GenerateDataKey",
        }
    }

    fn body(self, key_id: &str) -> Vec<u8> {
        let v = match self {
            Op::Encrypt => {
                let plaintext: Vec<u8> = (0..=255u8).cycle().take(PLAINTEXT_BYTES).collect();
                serde_json::json!({
                    "KeyId": key_id,
                    "Plaintext": base64::engine::general_purpose::STANDARD.encode(plaintext),
                })
            }
            Op::GenerateDataKey => serde_json::json!({ "KeyId": key_id, "KeySpec": "AES_256" }),
        };
        v.to_string().into_bytes()
    }
}

/// One measured cell: a target at one connection count.
#[derive(Default)]
struct Cell {
    /// Successful requests.
    ok: u64,
    /// Failed requests.
    errors: u64,
    /// The first failure, for stderr.
    first_error: Option<String>,
    /// Operations per second (successful requests over the measured time).
    rate: f64,
    /// Latency percentiles of the successful requests.
    p50: Duration,
    p99: Duration,
    /// TCP connections opened beyond one per worker (the server closed some).
    reconnects: u64,
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kms-bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut keys = Vec::new();
    for t in &args.targets {
        match create_key(t, &args.region) {
            Ok(k) => {
                eprintln!("setup: {}: key {k}", t.name);
                keys.push(k);
            }
            Err(e) => {
                eprintln!("kms-bench: {}: CreateKey: {e}", t.name);
                return ExitCode::FAILURE;
            }
        }
    }
    let seconds = Duration::from_secs_f64(args.seconds);
    let mut rows: Vec<(Op, usize, Vec<Cell>)> = Vec::new();
    let mut failed = false;
    for op in [Op::Encrypt, Op::GenerateDataKey] {
        for &n in &args.connections {
            let mut cells: Vec<Cell> = args.targets.iter().map(|_| Cell::default()).collect();
            // Alternate the order so that no target always runs first.
            let mut order: Vec<usize> = (0..args.targets.len()).collect();
            if rows.len() % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let t = &args.targets[i];
                let body = op.body(&keys[i]);
                let cell = run(t, &args.region, op, &body, n, seconds);
                eprintln!(
                    "{} x{n} on {}: {:.0} ops/s, {} errors",
                    op.label(),
                    t.name,
                    cell.rate,
                    cell.errors
                );
                if let Some(e) = &cell.first_error {
                    failed = true;
                    eprintln!(
                        "FAILED {} x{n} on {}: {} of {} requests; first: {e}",
                        op.label(),
                        t.name,
                        cell.errors,
                        cell.errors + cell.ok
                    );
                }
                if cell.reconnects > 0 {
                    eprintln!(
                        "note: {} x{n} on {}: {} reconnects (the server closed connections)",
                        op.label(),
                        t.name,
                        cell.reconnects
                    );
                }
                cells[i] = cell;
            }
            rows.push((op, n, cells));
        }
    }
    let names: Vec<&str> = args.targets.iter().map(|t| t.name.as_str()).collect();
    print!("{}", render(&names, &rows, args.markdown));
    println!(
        "\n{} s per operation, connection count and target; one keep-alive connection per worker thread",
        args.seconds
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Parses the arguments after the program name; `Err("")` asks for the usage.
fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut targets = Vec::new();
    let mut seconds = 10.0;
    let mut connections = vec![1, 16, 64];
    let mut region = "us-east-1".to_string();
    let mut markdown = false;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--target" => targets.push(target(&value("--target")?)?),
            "--seconds" => {
                let v = value("--seconds")?;
                seconds = v.parse().map_err(|_| format!("bad --seconds {v}"))?;
                if !(seconds > 0.0 && seconds < 86_400.0) {
                    return Err(format!("bad --seconds {v}"));
                }
            }
            "--connections" => {
                let v = value("--connections")?;
                connections = v
                    .split(',')
                    .map(|n| {
                        n.trim()
                            .parse::<usize>()
                            .ok()
                            .filter(|&n| (1..=1024).contains(&n))
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("bad --connections {v}: counts from 1 to 1024"))?;
            }
            "--region" => region = value("--region")?,
            "--markdown" => markdown = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if targets.is_empty() {
        return Err("at least one --target is needed".into());
    }
    Ok(Args {
        targets,
        seconds,
        connections,
        region,
        markdown,
    })
}

/// A `--target NAME,URL,CREDENTIALS` value.
fn target(spec: &str) -> Result<Target, String> {
    let mut parts = spec.splitn(3, ',');
    let (Some(name), Some(url), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "bad --target {spec}: expected NAME,URL,CREDENTIALS"
        ));
    };
    if name.is_empty() {
        return Err(format!("bad --target {spec}: empty name"));
    }
    let endpoint = Endpoint::parse(url)?;
    let (access_key_id, secret) = credentials(file)?;
    Ok(Target {
        name: name.to_string(),
        endpoint,
        access_key_id,
        secret,
    })
}

/// The access key id and secret of a JSON credentials file.
fn credentials(path: &str) -> Result<(String, Zeroizing<String>), String> {
    use std::io::Read;
    let mut text = Zeroizing::new(String::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CREDENTIALS).read_to_string(&mut text))
        .map_err(|e| format!("{path}: {e}"))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| format!("{path}: not JSON"))?;
    let field = |name: &str| {
        v.get(name)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("{path}: no {name}"))
    };
    let id = field("AccessKeyId")?.to_string();
    let secret = Zeroizing::new(field("SecretAccessKey")?.to_string());
    Ok((id, secret))
}

/// `YYYYMMDDTHHMMSSZ` of now, the SigV4 request time.
fn amz_date() -> String {
    softkms::api::Timestamp::now()
        .to_rfc3339()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}

/// Signs and sends one request of `operation` (`TrentService.X`) to `t`.
fn call(
    conn: &mut Conn,
    t: &Target,
    region: &str,
    operation: &str,
    body: &[u8],
) -> Result<kms_http::Response, String> {
    let date = amz_date();
    let content_type = "application/x-amz-json-1.1";
    let signed: [(&str, &[u8]); 4] = [
        ("Host", t.endpoint.host.as_bytes()),
        ("X-Amz-Date", date.as_bytes()),
        ("X-Amz-Target", operation.as_bytes()),
        ("Content-Type", content_type.as_bytes()),
    ];
    let req = sigv4::Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &signed,
        body,
    };
    let creds = sigv4::Credentials {
        access_key_id: &t.access_key_id,
        secret: t.secret.as_bytes(),
        region,
        service: "kms",
        amz_date: &date,
    };
    let authorization = sigv4::sign(&req, &creds);
    let headers = [
        ("Host", t.endpoint.host.as_str()),
        ("X-Amz-Date", date.as_str()),
        ("X-Amz-Target", operation),
        ("Content-Type", content_type),
        ("Authorization", authorization.as_str()),
    ];
    conn.post(&headers, body)
}

/// The error of a response other than 200 with a `CiphertextBlob`, else `None`.
fn check(r: &kms_http::Response) -> Option<String> {
    let v: Option<serde_json::Value> = serde_json::from_slice(&r.body).ok();
    let has_blob = v
        .as_ref()
        .and_then(|v| v.get("CiphertextBlob"))
        .is_some_and(serde_json::Value::is_string);
    if r.status == 200 && has_blob {
        return None;
    }
    let text = String::from_utf8_lossy(&r.body);
    let short: String = text.chars().take(300).collect();
    Some(format!("HTTP {}: {short}", r.status))
}

/// Creates a symmetric encryption key on `t` and returns its id.
fn create_key(t: &Target, region: &str) -> Result<String, String> {
    let mut conn = Conn::new(t.endpoint.clone());
    let body = serde_json::json!({
        "Description": "kms-bench",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "KeyUsage": "ENCRYPT_DECRYPT",
    })
    .to_string();
    let r = call(
        &mut conn,
        t,
        region,
        "TrentService.CreateKey",
        body.as_bytes(),
    )?;
    let v: serde_json::Value =
        serde_json::from_slice(&r.body).map_err(|_| format!("HTTP {}: not JSON", r.status))?;
    v.get("KeyMetadata")
        .and_then(|m| m.get("KeyId"))
        .and_then(serde_json::Value::as_str)
        .filter(|_| r.status == 200)
        .map(str::to_string)
        .ok_or_else(|| format!("HTTP {}: {v}", r.status))
}

/// What one worker measured.
#[derive(Default)]
struct WorkerResult {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
    connects: u64,
    elapsed: Duration,
}

/// Runs `op` on `t` with `n` workers for `time` and sums up.
fn run(t: &Target, region: &str, op: Op, body: &[u8], n: usize, time: Duration) -> Cell {
    let barrier = Barrier::new(n);
    let results: Vec<WorkerResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| scope.spawn(|| worker(t, region, op, body, &barrier, time)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| WorkerResult {
                    errors: 1,
                    first_error: Some("worker thread panicked".into()),
                    ..WorkerResult::default()
                })
            })
            .collect()
    });
    let mut cell = Cell::default();
    let mut all = Vec::new();
    let mut elapsed = Duration::ZERO;
    let mut connects = 0;
    for r in results {
        cell.errors += r.errors;
        if cell.first_error.is_none() {
            cell.first_error = r.first_error;
        }
        connects += r.connects;
        elapsed = elapsed.max(r.elapsed);
        all.extend(r.latencies);
    }
    cell.ok = all.len() as u64;
    cell.reconnects = connects.saturating_sub(n as u64);
    cell.rate = all.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    all.sort_unstable();
    cell.p50 = percentile(&all, 500);
    cell.p99 = percentile(&all, 990);
    cell
}

/// The `per_mille`/1000 quantile of sorted `v` (nearest rank), zero when empty.
fn percentile(v: &[Duration], per_mille: usize) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = per_mille.saturating_mul(v.len()).div_ceil(1000);
    v.get(rank.clamp(1, v.len()) - 1)
        .copied()
        .unwrap_or_default()
}

/// One worker: connects, makes one untimed request, waits for the others, then
/// sends requests back to back until `time` has passed.
fn worker(
    t: &Target,
    region: &str,
    op: Op,
    body: &[u8],
    barrier: &Barrier,
    time: Duration,
) -> WorkerResult {
    let mut conn = Conn::new(t.endpoint.clone());
    let mut out = WorkerResult::default();
    let fail = |out: &mut WorkerResult, e: String| {
        out.errors += 1;
        if out.first_error.is_none() {
            out.first_error = Some(e);
        }
    };
    // Warm-up: opens the connection and checks that the operation works.
    match call(&mut conn, t, region, op.target(), body) {
        Ok(r) => {
            if let Some(e) = check(&r) {
                fail(&mut out, e);
            }
        }
        Err(e) => fail(&mut out, e),
    }
    barrier.wait();
    let start = Instant::now();
    let deadline = start + time;
    out.latencies.reserve(4096);
    while Instant::now() < deadline {
        let t0 = Instant::now();
        match call(&mut conn, t, region, op.target(), body) {
            Ok(r) => match check(&r) {
                None => out.latencies.push(t0.elapsed()),
                Some(e) => fail(&mut out, e),
            },
            Err(e) => fail(&mut out, e),
        }
    }
    out.elapsed = start.elapsed();
    out.connects = conn.connects;
    out
}

/// A time in ms or µs with three significant figures.
fn duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        let ms = us / 1000.0;
        let digits = if ms >= 100.0 {
            0
        } else if ms >= 10.0 {
            1
        } else {
            2
        };
        format!("{ms:.digits$} ms")
    } else {
        format!("{us:.0} µs")
    }
}

/// A rate with three significant figures and thousands separators.
fn ops(rate: f64) -> String {
    if rate < 100.0 {
        return format!("{rate:.1}");
    }
    let s = format!("{rate:.0}");
    let digits = s.len();
    let unit = 10f64.powi(i32::try_from(digits).unwrap_or(3) - 3);
    let s = format!("{:.0}", (rate / unit).round() * unit);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The table: one row per operation and connection count; per target ops/s,
/// p50, p99 and errors; then the first target's rate over each other one's.
fn render(names: &[&str], rows: &[(Op, usize, Vec<Cell>)], md: bool) -> String {
    let mut header = vec!["Operation".to_string(), "conns".to_string()];
    for n in names {
        header.push(format!("{n} ops/s"));
        header.push(format!("{n} p50"));
        header.push(format!("{n} p99"));
        header.push(format!("{n} errors"));
    }
    for other in names.iter().skip(1) {
        header.push(format!("{} / {other}", names[0]));
    }
    let mut table = vec![header];
    for (op, n, cells) in rows {
        let mut r = vec![op.label().to_string(), n.to_string()];
        for c in cells {
            r.push(ops(c.rate));
            if c.ok == 0 {
                r.extend(["-".to_string(), "-".to_string()]);
            } else {
                r.push(duration(c.p50));
                r.push(duration(c.p99));
            }
            r.push(c.errors.to_string());
        }
        let first = cells.first().map(|c| c.rate).unwrap_or(0.0);
        for c in cells.iter().skip(1) {
            r.push(if c.rate > 0.0 {
                format!("{:.2}×", first / c.rate)
            } else {
                "-".into()
            });
        }
        table.push(r);
    }
    let cols = table.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            table
                .iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (k, row) in table.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (s, &w))| {
                let pad = w.saturating_sub(s.chars().count());
                if i < 2 {
                    format!("{s}{}", " ".repeat(pad))
                } else {
                    format!("{}{s}", " ".repeat(pad))
                }
            })
            .collect();
        if md {
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
            if k == 0 {
                let rule: Vec<String> = widths
                    .iter()
                    .enumerate()
                    .map(|(i, &w)| {
                        if i < 2 {
                            "-".repeat(w.max(3))
                        } else {
                            format!("{}:", "-".repeat(w.max(3) - 1))
                        }
                    })
                    .collect();
                out.push_str(&format!("| {} |\n", rule.join(" | ")));
            }
        } else {
            out.push_str(&cells.join("  "));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 500), Duration::from_millis(50));
        assert_eq!(percentile(&v, 990), Duration::from_millis(99));
        assert_eq!(percentile(&v[..1], 990), Duration::from_millis(1));
        assert_eq!(percentile(&[], 500), Duration::ZERO);
    }

    #[test]
    fn numbers_as_shown() {
        assert_eq!(ops(12_345.0), "12,300");
        assert_eq!(ops(987.6), "988");
        assert_eq!(ops(5.25), "5.2");
        assert_eq!(duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(duration(Duration::from_micros(12_345)), "12.3 ms");
    }

    #[test]
    fn amz_date_is_basic_iso8601() {
        let d = amz_date();
        assert_eq!(d.len(), 16);
        assert_eq!(d.as_bytes().get(8), Some(&b'T'));
        assert!(d.ends_with('Z'));
    }

    #[test]
    fn refuses_bad_arguments() {
        let p = |s: &str| parse(s.split_whitespace().map(String::from));
        assert!(p("").is_err());
        assert!(p("--target x").is_err());
        assert!(p("--target a,ftp://x,/nonexistent").is_err());
        assert!(p("--target a,http://127.0.0.1:1,/nonexistent").is_err());
        assert!(p("--seconds 0").is_err());
        assert!(p("--connections 0,5").is_err());
        assert!(p("--what").is_err());
    }

    #[test]
    fn reads_credentials_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.json");
        std::fs::write(&f, r#"{"AccessKeyId":"AKIA1","SecretAccessKey":"s3"}"#).unwrap();
        let (id, secret) = credentials(f.to_str().unwrap()).unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("AKIA1", "s3"));
        std::fs::write(&f, r#"{"AccessKeyId":"AKIA1"}"#).unwrap();
        assert!(credentials(f.to_str().unwrap()).is_err());
        let t = target(&format!("soft,http://127.0.0.1:9,{}", f.display()));
        assert!(t.is_err());
    }
}
