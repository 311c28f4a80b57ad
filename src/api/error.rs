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

impl From<ModuleError> for Error {
    fn from(e: ModuleError) -> Error {
        Error {
            kind: kind_of(&e),
            message: e.to_string(),
            rv: Some(e.rv()),
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
    }
}
