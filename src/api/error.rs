//! The API's error: a kind to match on, a message to show, and the PKCS#11
//! return value when the module refused the call.

use crate::error::Error as ModuleError;
use std::fmt;

/// What went wrong, in the terms of a key-management service.
///
/// The kinds follow the errors of a cloud KMS (AWS KMS's `NotFoundException`,
/// `DisabledException`, `KMSInvalidStateException`, `AccessDeniedException`,
/// `InvalidCiphertextException` …), so that a service can map them one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No key (principal, slot …) of that name or id.
    NotFound,
    /// A label names more than one key: use the key's id.
    Ambiguous,
    /// The key is disabled.
    Disabled,
    /// The key's state does not allow this (pending deletion, pending import,
    /// a lifecycle change that is not a valid transition), or the session's
    /// state does not (SoftKMS already open in this process, someone already
    /// logged in).
    InvalidState,
    /// The key policy does not allow the principal this action (or this
    /// encryption context), or the principal may not read what it asked for.
    AccessDenied,
    /// The key cannot do this (an operation its type or usage does not have).
    InvalidKeyUsage,
    /// The ciphertext is malformed, was changed, or does not match its
    /// encryption context.
    InvalidCiphertext,
    /// The signature does not verify.
    InvalidSignature,
    /// An argument is out of range or malformed (a spec, a policy, a label,
    /// a size, a PIN of the wrong length …).
    InvalidInput,
    /// The call needs a login (or another principal: the SO, the user).
    NotLoggedIn,
    /// The PIN is wrong, or the principal does not exist.
    PinIncorrect,
    /// Too many wrong PINs: the principal is locked until the SO sets a new PIN.
    PinLocked,
    /// The token is not initialized (or has no user PIN yet).
    Uninitialized,
    /// The token file was changed behind SoftKMS's back, is damaged, or is not
    /// a SoftKMS token.
    Tampered,
    /// The token file cannot be read or written.
    Storage,
    /// Reading the input or writing the output of a streaming call failed.
    Io,
    /// The module does not offer this.
    Unsupported,
    /// Anything else (a bug, or an unexpected failure of the module).
    Internal,
}

/// The error of every API call: its [`ErrorKind`], a message that says why
/// (never a secret), and the PKCS#11 `CK_RV` when the module refused the call.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    rv: Option<u64>,
    /// The `CKR_*` name: the module's, or the one the API chose.
    code: Option<&'static str>,
}

/// The result of every API call.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `kind` with `message` that did not come from the module.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            rv: None,
            code: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Why, in words (what the module or the API said; never a secret).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The PKCS#11 return value (`CKR_*`) when the module refused the call:
    /// what a PKCS#11 client would have seen.
    pub fn pkcs11_rv(&self) -> Option<u64> {
        self.rv
    }

    /// The PKCS#11 name of the error's code: the module's when it refused
    /// the call (`CKR_ATTRIBUTE_VALUE_INVALID` …), else the `CKR_*` a PKCS#11
    /// client would see for this kind of error ([`ErrorKind::InvalidInput`]:
    /// `CKR_ARGUMENTS_BAD`, [`ErrorKind::NotFound`]: `CKR_KEY_HANDLE_INVALID`,
    /// [`ErrorKind::Disabled`]: `CKR_KEY_FUNCTION_NOT_PERMITTED` …).
    pub fn code_name(&self) -> &'static str {
        if let Some(c) = self.code {
            return c;
        }
        match self.kind {
            ErrorKind::NotFound => "CKR_KEY_HANDLE_INVALID",
            ErrorKind::Ambiguous | ErrorKind::InvalidInput => "CKR_ARGUMENTS_BAD",
            ErrorKind::Disabled | ErrorKind::InvalidState | ErrorKind::AccessDenied => {
                "CKR_KEY_FUNCTION_NOT_PERMITTED"
            }
            ErrorKind::InvalidKeyUsage => "CKR_KEY_TYPE_INCONSISTENT",
            ErrorKind::InvalidCiphertext => "CKR_ENCRYPTED_DATA_INVALID",
            ErrorKind::InvalidSignature => "CKR_SIGNATURE_INVALID",
            ErrorKind::NotLoggedIn => "CKR_USER_NOT_LOGGED_IN",
            ErrorKind::PinIncorrect => "CKR_PIN_INCORRECT",
            ErrorKind::PinLocked => "CKR_PIN_LOCKED",
            ErrorKind::Uninitialized => "CKR_TOKEN_NOT_INITIALIZED",
            ErrorKind::Tampered => "CKR_TOKEN_NOT_RECOGNIZED",
            ErrorKind::Storage => "CKR_DEVICE_ERROR",
            ErrorKind::Io => "CKR_FUNCTION_FAILED",
            ErrorKind::Unsupported => "CKR_FUNCTION_NOT_SUPPORTED",
            ErrorKind::Internal => "CKR_GENERAL_ERROR",
        }
    }

    /// The same error with the `CKR_*` name a PKCS#11 client would see.
    pub(super) fn with_code(mut self, code: &'static str) -> Error {
        self.code = Some(code);
        self
    }

    pub(super) fn with_kind(mut self, kind: ErrorKind) -> Error {
        self.kind = kind;
        self
    }

    /// The same error (kind, code) told in other words.
    pub(super) fn with_message(mut self, message: impl Into<String>) -> Error {
        self.message = message.into();
        self
    }

    pub(super) fn io(e: &std::io::Error) -> Error {
        Error::new(ErrorKind::Io, e.to_string())
    }

    pub(super) fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidInput, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(rv) = self.rv {
            d.field("rv", &format_args!("0x{rv:x}"));
        }
        d.finish()
    }
}

impl std::error::Error for Error {}

/// The kind of a module error, by the code the module picked for it.
fn kind_of(e: &ModuleError) -> ErrorKind {
    use ModuleError as M;
    match e {
        M::KeyHandleInvalid
        | M::ObjectHandleInvalid
        | M::SlotIdInvalid
        | M::TokenNotPresent
        | M::WrappingKeyHandleInvalid
        | M::UnwrappingKeyHandleInvalid => ErrorKind::NotFound,
        M::KeyFunctionNotPermitted(_) => ErrorKind::AccessDenied,
        M::KeyTypeInconsistent
        | M::KeyUnextractable
        | M::KeyNotWrappable
        | M::KeyIndigestible
        | M::WrappingKeyTypeInconsistent
        | M::UnwrappingKeyTypeInconsistent
        | M::MechanismInvalid => ErrorKind::InvalidKeyUsage,
        M::EncryptedDataInvalid
        | M::EncryptedDataLenRange
        | M::AeadDecryptFailed
        | M::WrappedKeyInvalid
        | M::WrappedKeyLenRange => ErrorKind::InvalidCiphertext,
        M::SignatureInvalid | M::SignatureLenRange => ErrorKind::InvalidSignature,
        M::ArgumentsBad
        | M::DataInvalid
        | M::DataLenRange
        | M::AttributeTypeInvalid(_)
        | M::AttributeValueInvalid(_)
        | M::AttributeReadOnly(_)
        | M::TemplateIncomplete { .. }
        | M::TemplateInconsistent(_)
        | M::MechanismParamInvalid
        | M::KeySizeRange
        | M::DomainParamsInvalid
        | M::PublicKeyInvalid
        | M::PinInvalid
        | M::PinLenRange
        | M::WrappingKeySizeRange
        | M::UnwrappingKeySizeRange => ErrorKind::InvalidInput,
        M::UserNotLoggedIn
        | M::UserTypeInvalid
        | M::SessionReadOnly
        | M::SessionReadWriteSoExists
        | M::SessionReadOnlyExists => ErrorKind::NotLoggedIn,
        M::PinIncorrect => ErrorKind::PinIncorrect,
        M::PinLocked => ErrorKind::PinLocked,
        M::TokenNotInitialized | M::UserPinNotInitialized => ErrorKind::Uninitialized,
        M::TokenNotRecognized(_) => ErrorKind::Tampered,
        M::Device(_) | M::TokenWriteProtected => ErrorKind::Storage,
        M::FunctionNotSupported
        | M::CurveNotSupported
        | M::RandomSeedNotSupported
        | M::ActionProhibited => ErrorKind::Unsupported,
        M::AlreadyInitialized
        | M::SessionExists
        | M::UserAlreadyLoggedIn
        | M::UserAnotherAlreadyLoggedIn => ErrorKind::InvalidState,
        _ => ErrorKind::Internal,
    }
}

/// The name of an attribute type: its `CKA_*` name, never a number a user
/// cannot look up.
fn attribute_name(ty: u64) -> String {
    match crate::object::table::name_of(ty) {
        Some(n) => n.to_string(),
        None if crate::abi::is_vendor(ty) => {
            "a SoftKMS attribute this version does not know".into()
        }
        None => "an attribute this token does not know".into(),
    }
}

/// The rule an invalid value of a SoftKMS attribute broke, in words.
fn attribute_rule(ty: u64) -> Option<String> {
    use crate::abi::*;
    use crate::kms::{lifecycle, meta};
    Some(match ty {
        CKA_SOFTKMS_ROTATION_PERIOD => format!(
            "the rotation period must be 0 (off) or {} to {} days",
            lifecycle::ROTATION_DAYS.start(),
            lifecycle::ROTATION_DAYS.end()
        ),
        CKA_SOFTKMS_PENDING_WINDOW => format!(
            "the deletion window must be {} to {} days",
            lifecycle::PENDING_WINDOW_DAYS.start(),
            lifecycle::PENDING_WINDOW_DAYS.end()
        ),
        CKA_SOFTKMS_KEY_STATE => "that key state change is not allowed (Enabled and Disabled \
             switch; either may be scheduled for deletion; a cancelled deletion leaves the key \
             Disabled)"
            .into(),
        CKA_SOFTKMS_MIN_DECRYPT_VERSION => "the minimum decryption version can only go up, \
             to at most the current version"
            .into(),
        CKA_SOFTKMS_DESCRIPTION => format!(
            "a description is UTF-8 text of at most {} bytes",
            meta::MAX_DESCRIPTION
        ),
        CKA_SOFTKMS_TAGS => format!(
            "tags are at most {} pairs; keys of 1 to {} characters, not starting with \"aws:\", \
             each once; values of at most {} characters",
            meta::MAX_TAGS,
            meta::MAX_TAG_KEY,
            meta::MAX_TAG_VALUE
        ),
        CKA_SOFTKMS_POLICY => "the key policy is not valid (docs/policy.md; SOFTKMS_LOG=info \
             logs why)"
            .into(),
        CKA_SOFTKMS_IMPORT_FROM => "that is not the material this key had".into(),
        _ => return None,
    })
}

/// A module error in words: the rule it broke where it is known, the
/// attribute by name, and never a bare number.
fn words(e: &ModuleError) -> String {
    use ModuleError as M;
    match e {
        M::AttributeValueInvalid(t) => attribute_rule(*t)
            .unwrap_or_else(|| format!("{} has an invalid value", attribute_name(*t))),
        M::AttributeReadOnly(t) => format!("{} cannot be set here", attribute_name(*t)),
        M::AttributeTypeInvalid(t) => {
            format!("{} is not an attribute of this object", attribute_name(*t))
        }
        M::AttributeSensitive(t) => format!("{} is secret and cannot be read", attribute_name(*t)),
        M::TemplateIncomplete { missing } => format!("{} is missing", attribute_name(*missing)),
        M::TemplateInconsistent(why) => (*why).to_string(),
        M::PinLenRange => "the PIN is too short or too long for this token".into(),
        M::PinIncorrect => "wrong PIN (or no such principal)".into(),
        M::PinLocked => {
            "the PIN is locked after too many wrong tries: the SO must set a new one".into()
        }
        M::UserNotLoggedIn => "log in first (as the user or a named principal)".into(),
        M::UserAlreadyLoggedIn | M::UserAnotherAlreadyLoggedIn => {
            "someone is already logged in to this token: log out first".into()
        }
        M::KeyHandleInvalid | M::ObjectHandleInvalid => "no such key (it may have been \
             destroyed)"
            .into(),
        M::KeyTypeInconsistent | M::MechanismInvalid => {
            "the key's type does not fit this operation".into()
        }
        M::KeyUnextractable => "the key may not leave the token".into(),
        M::EncryptedDataInvalid | M::AeadDecryptFailed | M::WrappedKeyInvalid => {
            "the ciphertext was changed, is not for this key, or its encryption context differs"
                .into()
        }
        M::SignatureInvalid => "the signature does not verify".into(),
        M::TokenNotInitialized => "the token is not initialized: softkms token init".into(),
        M::UserPinNotInitialized => "the user PIN is not set: the SO sets it first".into(),
        M::KeyFunctionNotPermitted(_) | M::Device(_) | M::TokenNotRecognized(_) | M::General(_) => {
            e.to_string()
        }
        other => {
            // "EncryptedDataLenRange" -> "encrypted data len range (CKR_…)".
            let name = format!("{other:?}");
            let mut out = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push(' ');
                }
                out.push(c.to_ascii_lowercase());
            }
            format!("{out} ({})", other.rv_name())
        }
    }
}

impl From<ModuleError> for Error {
    fn from(e: ModuleError) -> Error {
        Error {
            kind: kind_of(&e),
            message: words(&e),
            rv: Some(e.rv()),
            code: Some(e.rv_name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_errors_keep_their_code_and_get_a_kind() {
        let e = Error::from(ModuleError::PinIncorrect);
        assert_eq!(e.kind(), ErrorKind::PinIncorrect);
        assert_eq!(e.pkcs11_rv(), Some(cryptoki_sys::CKR_PIN_INCORRECT));
        let e = Error::from(ModuleError::KeyFunctionNotPermitted("no".into()));
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
        assert_eq!(e.to_string(), "key use not permitted: no");
        assert_eq!(
            Error::from(ModuleError::EncryptedDataInvalid).kind(),
            ErrorKind::InvalidCiphertext
        );
        assert_eq!(Error::invalid("x").pkcs11_rv(), None);
        assert_eq!(Error::invalid("x").code_name(), "CKR_ARGUMENTS_BAD");
        assert_eq!(e.code_name(), "CKR_KEY_FUNCTION_NOT_PERMITTED");
    }

    #[test]
    fn module_errors_are_in_words() {
        use crate::abi::{CKA_SOFTKMS_ROTATION_PERIOD, SOFTKMS_VENDOR_BASE};
        let e = Error::from(ModuleError::AttributeValueInvalid(
            CKA_SOFTKMS_ROTATION_PERIOD,
        ));
        assert!(e.message().contains("90 to 2560 days"), "{e}");
        assert_eq!(e.code_name(), "CKR_ATTRIBUTE_VALUE_INVALID");
        let e = Error::from(ModuleError::AttributeReadOnly(
            crate::abi::CKA_SOFTKMS_CURRENT_VERSION,
        ));
        assert!(e.message().contains("CKA_SOFTKMS_CURRENT_VERSION"), "{e}");
        for e in [
            ModuleError::AttributeValueInvalid(SOFTKMS_VENDOR_BASE + 0x7777),
            ModuleError::AttributeReadOnly(cryptoki_sys::CKA_VALUE_LEN),
            ModuleError::EncryptedDataLenRange,
            ModuleError::PinLenRange,
        ] {
            let m = Error::from(e).to_string();
            assert!(!m.contains("0x"), "{m}");
        }
    }
}
