//! Inputs and outputs of the data commands: files, stdin and stdout, the rule
//! that binary never goes to a terminal unasked, base64 in both directions,
//! and progress bars for long streams.

use super::invalid;
use base64::Engine as _;
use softkms::api::{Error, ErrorKind};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;

/// Standard base64 with padding.
pub(crate) fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Wipes a string field of a JSON document that held a secret (its base64).
pub(crate) fn wipe_field(v: &mut serde_json::Value, field: &str) {
    if let Some(serde_json::Value::String(mut s)) = v.get_mut(field).map(serde_json::Value::take) {
        zeroize::Zeroize::zeroize(&mut s);
    }
}

/// Lower-case hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A binary input as the matching output wrote it: raw bytes, or base64
/// text (`--base64`, or a `--json` field). `raw_marker` is how the raw form
/// begins, when it has a fixed start (an envelope message's magic); without
/// one, text that is all base64 and decodes is taken as base64.
pub(crate) fn decode_binary(bytes: Vec<u8>, raw_marker: Option<&[u8]>) -> Vec<u8> {
    if raw_marker.is_some_and(|m| bytes.starts_with(m)) {
        return bytes;
    }
    let text: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if text.is_empty() || !text.iter().all(alphabet) {
        return bytes;
    }
    match base64::engine::general_purpose::STANDARD.decode(&text) {
        Ok(decoded) => decoded,
        Err(_) => bytes,
    }
}

/// The magic of envelope messages and data key blobs (`docs/envelope-format.md`).
pub(crate) const ENVELOPE_MAGIC: &[u8] = b"SKMS";

fn file_error(path: &str, e: &std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{path}: {e}"))
}

/// Reads `path` (`-` or none: stdin) whole, at most `max` bytes.
pub(crate) fn read_all(path: Option<&str>, max: usize) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let name = path.unwrap_or("-");
    match path.filter(|p| *p != "-") {
        Some(p) => std::fs::File::open(p)
            .and_then(|f| f.take(limit).read_to_end(&mut buf))
            .map_err(|e| file_error(p, &e))?,
        None => std::io::stdin()
            .take(limit)
            .read_to_end(&mut buf)
            .map_err(|e| file_error("stdin", &e))?,
    };
    if buf.len() > max {
        return Err(invalid(format!(
            "{name}: more than {max} bytes; the streaming commands (encrypt, decrypt) take any size"
        )));
    }
    Ok(buf)
}

/// `--in F` (default: stdin), opened at the first read: a command that fails
/// before it reads leaves no trace of having opened it.
pub(crate) struct Input {
    path: Option<String>,
    open: Option<Box<dyn Read>>,
}

impl Input {
    pub(crate) fn new(path: Option<&str>) -> Input {
        Input {
            path: path.filter(|p| *p != "-").map(str::to_string),
            open: None,
        }
    }

    /// The input's size, when it is a file.
    pub(crate) fn size(&self) -> Option<u64> {
        let p = self.path.as_ref()?;
        std::fs::metadata(p).ok().map(|m| m.len())
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.open.is_none() {
            self.open = Some(match &self.path {
                Some(p) => Box::new(
                    std::fs::File::open(p)
                        .map_err(|e| std::io::Error::new(e.kind(), format!("{p}: {e}")))?,
                ),
                None => Box::new(std::io::stdin()),
            });
        }
        match &mut self.open {
            Some(r) => r.read(buf),
            None => Ok(0),
        }
    }
}

/// Where a binary output goes: `--out F` (a file), `--out -` (stdout, even a
/// terminal), or stdout when it is not a terminal; with `--base64` as base64
/// text (held in memory until the end).
///
/// A file is written as a temporary file beside it, readable by its owner
/// only, and renamed to F when the output is complete: a command that fails
/// (a message cut short, a changed ciphertext) leaves no file, and never a
/// part of a plaintext.
pub(crate) struct Output {
    path: Option<String>,
    base64: bool,
    open: Option<Box<dyn Write>>,
    /// The temporary file while a file output is being written.
    partial: Option<std::path::PathBuf>,
    /// What was written, kept for base64 (bounded by the one-shot limit).
    held: zeroize::Zeroizing<Vec<u8>>,
}

impl Output {
    /// Checks the rule before anything runs: binary to a terminal is refused
    /// unless asked for with `--out -` or `--base64`.
    pub(crate) fn new(out: Option<&str>, base64: bool) -> Result<Output, Error> {
        if out.is_none() && !base64 && std::io::stdout().is_terminal() {
            return Err(invalid(
                "the output is binary and stdout is a terminal: give --out FILE, --out - \
                 (binary to stdout anyway) or --base64",
            ));
        }
        Ok(Output {
            path: out.filter(|p| *p != "-").map(str::to_string),
            base64,
            open: None,
            partial: None,
            held: zeroize::Zeroizing::new(Vec::new()),
        })
    }

    /// Whether the output goes to a file.
    pub(crate) fn to_file(&self) -> bool {
        self.path.is_some()
    }

    fn get(&mut self) -> std::io::Result<&mut Box<dyn Write>> {
        if self.open.is_none() {
            self.open = Some(match &self.path {
                Some(p) => {
                    let (tmp, file) = private_partial(Path::new(p))
                        .map_err(|e| std::io::Error::new(e.kind(), format!("{p}: {e}")))?;
                    self.partial = Some(tmp);
                    Box::new(file)
                }
                None => Box::new(std::io::stdout()),
            });
        }
        self.open
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no output"))
    }

    /// Writes all of `bytes` and ends the output (base64 is written here).
    pub(crate) fn finish(mut self, bytes: &[u8]) -> Result<(), Error> {
        let name = self.path.clone().unwrap_or_else(|| "stdout".into());
        self.write_all(bytes)
            .and_then(|()| self.close())
            .map_err(|e| file_error(&name, &e))
    }

    /// Ends the output: writes the base64 text of what was held, and puts a
    /// file in its place.
    pub(crate) fn close(&mut self) -> std::io::Result<()> {
        if self.base64 {
            let text = zeroize::Zeroizing::new(b64(&self.held));
            zeroize::Zeroize::zeroize(&mut *self.held);
            let o = self.get()?;
            writeln!(o, "{}", text.as_str())?;
        }
        self.get()?.flush()?;
        self.open = None;
        if let (Some(tmp), Some(path)) = (self.partial.take(), &self.path) {
            std::fs::rename(&tmp, path).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })?;
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // An output that was not completed leaves nothing behind.
        if let Some(tmp) = self.partial.take() {
            self.open = None;
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// A new file beside `path`, readable and writable by its owner only, to be
/// renamed to `path` when complete.
fn private_partial(path: &Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".softkms-partial-{}", std::process::id()));
    let tmp = dir.map_or_else(|| tmp_name.clone().into(), |d| d.join(&tmp_name));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    Ok((tmp, file))
}

/// Writes `bytes` to the file `path` as [`Output`] does: readable by its
/// owner only, complete or not at all.
pub(crate) fn write_private(path: &str, bytes: &[u8]) -> Result<(), Error> {
    let (tmp, mut file) = private_partial(Path::new(path)).map_err(|e| file_error(path, &e))?;
    let done = file
        .write_all(bytes)
        .and_then(|()| file.flush())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(file_error(path, &e));
    }
    Ok(())
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.base64 {
            self.held.extend_from_slice(buf);
            return Ok(buf.len());
        }
        self.get()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.base64 {
            return Ok(());
        }
        self.get()?.flush()
    }
}

/// A progress bar on stderr for a stream of `total` bytes, when stderr is a
/// terminal and the size is known; `None` otherwise.
pub(crate) fn progress(total: Option<u64>) -> Option<indicatif::ProgressBar> {
    let total = total.filter(|t| *t > (4 << 20))?;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_inputs_take_raw_and_base64() {
        let raw = b"SKMS\x01\x01rest".to_vec();
        assert_eq!(decode_binary(raw.clone(), Some(ENVELOPE_MAGIC)), raw);
        let text = format!("{}\n", b64(&raw)).into_bytes();
        assert_eq!(decode_binary(text, Some(ENVELOPE_MAGIC)), raw);
        let sig = vec![0u8, 0xff, 0x10, 0x80];
        assert_eq!(decode_binary(sig.clone(), None), sig);
        assert_eq!(decode_binary(b64(&sig).into_bytes(), None), sig);
    }
}
