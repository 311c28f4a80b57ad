//! The parameters of one request: a JSON object read with AWS's rules (a
//! wrong JSON type is a `SerializationException`, a value out of its range a
//! `ValidationException` naming the member and the constraint).

use super::errors::AwsError;
use crate::api::EncryptionContext;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The most pairs an encryption context may have here.
const MAX_CONTEXT_PAIRS: usize = 64;

/// A request's parameters.
pub(crate) struct Input(Map<String, Value>);

/// The error for a member of a wrong JSON type.
fn wrong_type(name: &str, want: &str) -> AwsError {
    AwsError::new("SerializationException", format!("{name}: expected {want}"))
}

/// AWS's wording of a violated constraint.
pub(crate) fn constraint(name: &str, what: &str) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value at '{}' failed to satisfy constraint: {what}",
        lower_first(name)
    ))
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Input {
    /// Parses a request body (an empty body is an empty object).
    pub(crate) fn parse(body: &[u8]) -> Result<Input, AwsError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Input(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => Ok(Input(m)),
            Ok(_) => Err(AwsError::new(
                "SerializationException",
                "the request body is not a JSON object",
            )),
            Err(e) => Err(AwsError::new(
                "SerializationException",
                format!("the request body is not JSON: {e}"),
            )),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// An optional string.
    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<&str>, AwsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(name, "a string")),
        }
    }

    /// A required string of 1..=`max` characters.
    pub(crate) fn str(&self, name: &str, max: usize) -> Result<&str, AwsError> {
        let s = self
            .opt_str(name)?
            .ok_or_else(|| constraint(name, "Member must not be null"))?;
        if s.is_empty() || s.chars().count() > max {
            return Err(constraint(
                name,
                &format!("Member must have length between 1 and {max}"),
            ));
        }
        Ok(s)
    }

    /// An optional boolean.
    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, AwsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(name, "a boolean")),
        }
    }

    /// An optional integer in `min..=max`.
    pub(crate) fn opt_int(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, AwsError> {
        let v = match self.get(name) {
            None => return Ok(None),
            Some(Value::Number(n)) => n,
            Some(_) => return Err(wrong_type(name, "an integer")),
        };
        match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ if v.is_i64() || v.is_u64() => Err(constraint(
                name,
                &format!("Member must have value between {min} and {max}"),
            )),
            _ => Err(wrong_type(name, "an integer")),
        }
    }

    /// An optional blob (base64 in JSON) of at most `max` bytes, at least 1.
    pub(crate) fn opt_blob(&self, name: &str, max: usize) -> Result<Option<Vec<u8>>, AwsError> {
        let Some(s) = self.opt_str(name)? else {
            return Ok(None);
        };
        // Base64 of `max` bytes is at most this long: refuse before decoding.
        if s.len() > max.div_ceil(3) * 4 + 4 {
            return Err(constraint(
                name,
                &format!("Member must have length less than or equal to {max}"),
            ));
        }
        let b = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| wrong_type(name, "base64"))?;
        if b.is_empty() || b.len() > max {
            return Err(constraint(
                name,
                &format!("Member must have length between 1 and {max}"),
            ));
        }
        Ok(Some(b))
    }

    /// A required blob.
    pub(crate) fn blob(&self, name: &str, max: usize) -> Result<Vec<u8>, AwsError> {
        self.opt_blob(name, max)?
            .ok_or_else(|| constraint(name, "Member must not be null"))
    }

    /// An optional list of strings (at most `max`).
    pub(crate) fn opt_strings(
        &self,
        name: &str,
        max: usize,
    ) -> Result<Option<Vec<String>>, AwsError> {
        let list = match self.get(name) {
            None => return Ok(None),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(wrong_type(name, "a list")),
        };
        if list.len() > max {
            return Err(constraint(
                name,
                &format!("Member must have length less than or equal to {max}"),
            ));
        }
        list.iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| wrong_type(name, "a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A string map (`EncryptionContext`, `Constraints.*`).
    pub(crate) fn opt_map(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => string_map(name, v).map(Some),
        }
    }

    /// An encryption context (empty when absent).
    pub(crate) fn context(&self, name: &str) -> Result<EncryptionContext, AwsError> {
        Ok(self
            .opt_map(name)?
            .unwrap_or_default()
            .into_iter()
            .collect())
    }

    /// A nested object.
    pub(crate) fn opt_object(&self, name: &str) -> Result<Option<Input>, AwsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Input(m.clone()))),
            Some(_) => Err(wrong_type(name, "an object")),
        }
    }

    /// AWS's `Tags`: a list of `{"TagKey": …, "TagValue": …}`.
    pub(crate) fn opt_tags(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        let list = match self.get(name) {
            None => return Ok(None),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(wrong_type(name, "a list")),
        };
        if list.len() > 50 {
            return Err(AwsError::new("TagException", "a key has at most 50 tags"));
        }
        let mut out = BTreeMap::new();
        for t in list {
            let (Some(k), Some(v)) = (
                t.get("TagKey").and_then(Value::as_str),
                t.get("TagValue").and_then(Value::as_str),
            ) else {
                return Err(wrong_type(name, "a list of {TagKey, TagValue}"));
            };
            out.insert(k.to_string(), v.to_string());
        }
        Ok(Some(out))
    }

    /// The names of the members.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Members the operation does not know (AWS ignores them; so do we,
    /// except where they would change the meaning — see the callers).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

fn string_map(name: &str, v: &Value) -> Result<BTreeMap<String, String>, AwsError> {
    let Value::Object(m) = v else {
        return Err(wrong_type(name, "a map of strings"));
    };
    if m.len() > MAX_CONTEXT_PAIRS {
        return Err(constraint(
            name,
            &format!("Member must have at most {MAX_CONTEXT_PAIRS} entries"),
        ));
    }
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(wrong_type(name, "a map of strings")),
        })
        .collect()
}

/// Base64 for a JSON blob.
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> Input {
        Input::parse(json.as_bytes()).unwrap_or_else(|e| panic!("{}", e.message))
    }

    #[test]
    fn members_and_their_errors() {
        let i = input(r#"{"KeyId":"k","N":5,"B":"AAEC","Ctx":{"a":"b"},"L":["x"],"Bad":3}"#);
        assert_eq!(i.str("KeyId", 10).ok(), Some("k"));
        assert_eq!(i.opt_int("N", 1, 10).ok().flatten(), Some(5));
        assert_eq!(
            i.opt_int("N", 6, 10).map_err(|e| e.kind),
            Err("ValidationException")
        );
        assert_eq!(i.blob("B", 3).ok(), Some(vec![0, 1, 2]));
        assert_eq!(
            i.blob("B", 2).map_err(|e| e.kind),
            Err("ValidationException")
        );
        assert_eq!(
            i.str("Bad", 10).map_err(|e| e.kind),
            Err("SerializationException")
        );
        assert_eq!(
            i.str("Missing", 10).map_err(|e| e.kind),
            Err("ValidationException")
        );
        assert_eq!(i.context("Ctx").map(|c| c.pairs().len()).ok(), Some(1));
        assert_eq!(
            i.opt_strings("L", 1).ok().flatten(),
            Some(vec!["x".to_string()])
        );
        assert!(Input::parse(b"[1]").is_err());
        assert!(Input::parse(b"{").is_err());
        assert!(Input::parse(b"").is_ok());
        let big = format!(r#"{{"B":"{}"}}"#, "A".repeat(10_000));
        assert_eq!(
            input(&big).blob("B", 4096).map_err(|e| e.kind),
            Err("ValidationException")
        );
    }
}
