//! The error shapes of the AWS KMS JSON 1.1 protocol: an HTTP status and a
//! body `{"__type": "NotFoundException", "message": "…"}` (`docs/aws-api.md`,
//! "Errors").

use crate::api::{Error, ErrorKind};

/// `CKR_FUNCTION_FAILED`: the audit code of a refusal that has no PKCS#11 code.
const CKR_FUNCTION_FAILED: u64 = 0x6;

/// An error as the AWS API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwsError {
    /// The error type (`__type`): `NotFoundException`, `ValidationException`, …
    pub kind: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The message, in words.
    pub message: String,
    /// The PKCS#11 code of the refusal, for the audit record.
    pub rv: u64,
}

impl AwsError {
    /// An error of `kind` with HTTP 400.
    pub(crate) fn new(kind: &'static str, message: impl Into<String>) -> AwsError {
        AwsError {
            kind,
            status: 400,
            message: message.into(),
            rv: CKR_FUNCTION_FAILED,
        }
    }

    /// `ValidationException`: a parameter out of its range or of a wrong form.
    pub(crate) fn validation(message: impl Into<String>) -> AwsError {
        AwsError::new("ValidationException", message)
    }

    /// `NotFoundException`.
    pub(crate) fn not_found(message: impl Into<String>) -> AwsError {
        AwsError::new("NotFoundException", message)
    }

    /// `KMSInternalException` (HTTP 500): our failure, not the caller's.
    pub(crate) fn internal(message: impl Into<String>) -> AwsError {
        AwsError {
            status: 500,
            ..AwsError::new("KMSInternalException", message)
        }
    }

    /// The response body.
    pub(crate) fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "__type": self.kind,
            "message": self.message,
        }))
        .unwrap_or_default()
    }
}

impl From<Error> for AwsError {
    fn from(e: Error) -> AwsError {
        let kind = match e.kind() {
            ErrorKind::NotFound | ErrorKind::Ambiguous => "NotFoundException",
            ErrorKind::Disabled => "DisabledException",
            ErrorKind::InvalidState => "KMSInvalidStateException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::InvalidKeyUsage => "InvalidKeyUsageException",
            ErrorKind::InvalidCiphertext => "InvalidCiphertextException",
            ErrorKind::InvalidSignature => "KMSInvalidSignatureException",
            ErrorKind::InvalidInput => "ValidationException",
            ErrorKind::Unsupported => "UnsupportedOperationException",
            _ => {
                log::error!("serve: internal error: {e}");
                let mut out = AwsError::internal("the service could not complete the request");
                out.rv = e.pkcs11_rv().unwrap_or(CKR_FUNCTION_FAILED);
                return out;
            }
        };
        AwsError {
            kind,
            status: 400,
            message: e.message().to_string(),
            rv: e.pkcs11_rv().unwrap_or(CKR_FUNCTION_FAILED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_map_to_aws_types() {
        let e = AwsError::from(Error::new(ErrorKind::Disabled, "key k is disabled"));
        assert_eq!((e.kind, e.status), ("DisabledException", 400));
        assert_eq!(e.message, "key k is disabled");
        let e = AwsError::from(Error::new(ErrorKind::Storage, "disk full at /secret/path"));
        assert_eq!((e.kind, e.status), ("KMSInternalException", 500));
        assert!(
            !e.message.contains("/secret"),
            "internal details stay in the log"
        );
        let body: serde_json::Value =
            serde_json::from_slice(&AwsError::not_found("x").body()).unwrap_or_default();
        assert_eq!(body["__type"], "NotFoundException");
        assert_eq!(body["message"], "x");
    }
}
