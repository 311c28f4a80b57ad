//! The one error type of SoftKMS and the single place that maps it to `CK_RV`.
//!
//! Errors pick their code where they happen: a validator returns
//! `Error::AttributeValueInvalid(CKA_CLASS)`, the store returns
//! `Error::Device("…")`. [`Error::rv`] is the only function that turns an error
//! into a PKCS#11 return value.

use cryptoki_sys::*;
use std::fmt;

macro_rules! simple_errors {
    ($( $(#[$doc:meta])* $name:ident => $rv:ident ),* $(,)?) => {
        /// Everything that can go wrong below the FFI boundary.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Error {
            $( $(#[$doc])* $name, )*
            /// An attribute type the object class does not know (`CKR_ATTRIBUTE_TYPE_INVALID`).
            AttributeTypeInvalid(CK_ATTRIBUTE_TYPE),
            /// A malformed or disallowed attribute value (`CKR_ATTRIBUTE_VALUE_INVALID`).
            AttributeValueInvalid(CK_ATTRIBUTE_TYPE),
            /// An attribute that cannot be set or changed (`CKR_ATTRIBUTE_READ_ONLY`).
            AttributeReadOnly(CK_ATTRIBUTE_TYPE),
            /// A sensitive or unextractable attribute was asked for (`CKR_ATTRIBUTE_SENSITIVE`).
            AttributeSensitive(CK_ATTRIBUTE_TYPE),
            /// A required attribute is missing (`CKR_TEMPLATE_INCOMPLETE`).
            TemplateIncomplete {
                /// The attribute that was required.
                missing: CK_ATTRIBUTE_TYPE,
            },
            /// Attributes that contradict each other (`CKR_TEMPLATE_INCONSISTENT`).
            TemplateInconsistent(&'static str),
            /// A key may not be used this way; the reason is logged (`CKR_KEY_FUNCTION_NOT_PERMITTED`).
            KeyFunctionNotPermitted(String),
            /// The token file could not be read or written (`CKR_DEVICE_ERROR`).
            Device(String),
            /// The token file is not a SoftKMS token or is damaged (`CKR_TOKEN_NOT_RECOGNIZED`).
            TokenNotRecognized(String),
            /// An internal error that should not happen (`CKR_GENERAL_ERROR`).
            General(String),
        }

        impl Error {
            /// The PKCS#11 return value for this error.
            pub fn rv(&self) -> CK_RV {
                match self {
                    $( Error::$name => $rv, )*
                    Error::AttributeTypeInvalid(_) => CKR_ATTRIBUTE_TYPE_INVALID,
                    Error::AttributeValueInvalid(_) => CKR_ATTRIBUTE_VALUE_INVALID,
                    Error::AttributeReadOnly(_) => CKR_ATTRIBUTE_READ_ONLY,
                    Error::AttributeSensitive(_) => CKR_ATTRIBUTE_SENSITIVE,
                    Error::TemplateIncomplete { .. } => CKR_TEMPLATE_INCOMPLETE,
                    Error::TemplateInconsistent(_) => CKR_TEMPLATE_INCONSISTENT,
                    Error::KeyFunctionNotPermitted(_) => CKR_KEY_FUNCTION_NOT_PERMITTED,
                    Error::Device(_) => CKR_DEVICE_ERROR,
                    Error::TokenNotRecognized(_) => CKR_TOKEN_NOT_RECOGNIZED,
                    Error::General(_) => CKR_GENERAL_ERROR,
                }
            }

            /// The error a return value stands for: the client of a remote
            /// slot turns the server's `CK_RV` back into an error, which
            /// [`Error::rv`] maps to the same value (the attribute type or
            /// the reason of the server's error stays on the server).
            #[allow(unreachable_patterns)] // CKR_FUNCTION_FAILED: FunctionFailed, not Conflict
            pub fn from_rv(rv: CK_RV) -> Error {
                match rv {
                    $( $rv => Error::$name, )*
                    CKR_ATTRIBUTE_TYPE_INVALID => Error::AttributeTypeInvalid(0),
                    CKR_ATTRIBUTE_VALUE_INVALID => Error::AttributeValueInvalid(0),
                    CKR_ATTRIBUTE_READ_ONLY => Error::AttributeReadOnly(0),
                    CKR_ATTRIBUTE_SENSITIVE => Error::AttributeSensitive(0),
                    CKR_TEMPLATE_INCOMPLETE => Error::TemplateIncomplete { missing: 0 },
                    CKR_TEMPLATE_INCONSISTENT => Error::TemplateInconsistent("(reported by the server)"),
                    CKR_KEY_FUNCTION_NOT_PERMITTED => Error::KeyFunctionNotPermitted("refused by the server".into()),
                    CKR_DEVICE_ERROR => Error::Device("reported by the server".into()),
                    CKR_TOKEN_NOT_RECOGNIZED => Error::TokenNotRecognized("reported by the server".into()),
                    other => Error::General(format!("the server answered 0x{other:x}")),
                }
            }

            /// The PKCS#11 name of [`Error::rv`] (`CKR_PIN_INCORRECT` …).
            pub fn rv_name(&self) -> &'static str {
                match self {
                    $( Error::$name => stringify!($rv), )*
                    Error::AttributeTypeInvalid(_) => "CKR_ATTRIBUTE_TYPE_INVALID",
                    Error::AttributeValueInvalid(_) => "CKR_ATTRIBUTE_VALUE_INVALID",
                    Error::AttributeReadOnly(_) => "CKR_ATTRIBUTE_READ_ONLY",
                    Error::AttributeSensitive(_) => "CKR_ATTRIBUTE_SENSITIVE",
                    Error::TemplateIncomplete { .. } => "CKR_TEMPLATE_INCOMPLETE",
                    Error::TemplateInconsistent(_) => "CKR_TEMPLATE_INCONSISTENT",
                    Error::KeyFunctionNotPermitted(_) => "CKR_KEY_FUNCTION_NOT_PERMITTED",
                    Error::Device(_) => "CKR_DEVICE_ERROR",
                    Error::TokenNotRecognized(_) => "CKR_TOKEN_NOT_RECOGNIZED",
                    Error::General(_) => "CKR_GENERAL_ERROR",
                }
            }
        }
    };
}

simple_errors! {
    /// `CKR_ARGUMENTS_BAD`
    ArgumentsBad => CKR_ARGUMENTS_BAD,
    /// `CKR_BUFFER_TOO_SMALL`
    BufferTooSmall => CKR_BUFFER_TOO_SMALL,
    /// `CKR_CANT_LOCK`
    CantLock => CKR_CANT_LOCK,
    /// `CKR_CRYPTOKI_ALREADY_INITIALIZED`
    AlreadyInitialized => CKR_CRYPTOKI_ALREADY_INITIALIZED,
    /// `CKR_CRYPTOKI_NOT_INITIALIZED`
    NotInitialized => CKR_CRYPTOKI_NOT_INITIALIZED,
    /// `CKR_CURVE_NOT_SUPPORTED`
    CurveNotSupported => CKR_CURVE_NOT_SUPPORTED,
    /// `CKR_DATA_INVALID`
    DataInvalid => CKR_DATA_INVALID,
    /// `CKR_DATA_LEN_RANGE`
    DataLenRange => CKR_DATA_LEN_RANGE,
    /// `CKR_DOMAIN_PARAMS_INVALID`
    DomainParamsInvalid => CKR_DOMAIN_PARAMS_INVALID,
    /// `CKR_ENCRYPTED_DATA_INVALID`
    EncryptedDataInvalid => CKR_ENCRYPTED_DATA_INVALID,
    /// `CKR_ENCRYPTED_DATA_LEN_RANGE`
    EncryptedDataLenRange => CKR_ENCRYPTED_DATA_LEN_RANGE,
    /// `CKR_FUNCTION_FAILED`
    FunctionFailed => CKR_FUNCTION_FAILED,
    /// A conditional write found the object changed by another writer since it
    /// was read (`Store::replace_object_audited`); the caller reloads and
    /// retries, and only a caller that gives up returns `CKR_FUNCTION_FAILED`.
    Conflict => CKR_FUNCTION_FAILED,
    /// `CKR_FUNCTION_NOT_PARALLEL`
    FunctionNotParallel => CKR_FUNCTION_NOT_PARALLEL,
    /// `CKR_FUNCTION_NOT_SUPPORTED`
    FunctionNotSupported => CKR_FUNCTION_NOT_SUPPORTED,
    /// `CKR_HOST_MEMORY`
    HostMemory => CKR_HOST_MEMORY,
    /// `CKR_DEVICE_MEMORY` (a remote slot's server is out of room for this
    /// connection, or a call's message is beyond the protocol's limit)
    DeviceMemory => CKR_DEVICE_MEMORY,
    /// `CKR_DEVICE_REMOVED` (the connection to a remote slot's server broke
    /// during the call)
    DeviceRemoved => CKR_DEVICE_REMOVED,
    /// `CKR_KEY_HANDLE_INVALID`
    KeyHandleInvalid => CKR_KEY_HANDLE_INVALID,
    /// `CKR_KEY_INDIGESTIBLE`
    KeyIndigestible => CKR_KEY_INDIGESTIBLE,
    /// `CKR_KEY_NOT_WRAPPABLE`
    KeyNotWrappable => CKR_KEY_NOT_WRAPPABLE,
    /// `CKR_KEY_SIZE_RANGE`
    KeySizeRange => CKR_KEY_SIZE_RANGE,
    /// `CKR_KEY_TYPE_INCONSISTENT`
    KeyTypeInconsistent => CKR_KEY_TYPE_INCONSISTENT,
    /// `CKR_KEY_UNEXTRACTABLE`
    KeyUnextractable => CKR_KEY_UNEXTRACTABLE,
    /// `CKR_MECHANISM_INVALID`
    MechanismInvalid => CKR_MECHANISM_INVALID,
    /// `CKR_MECHANISM_PARAM_INVALID`
    MechanismParamInvalid => CKR_MECHANISM_PARAM_INVALID,
    /// `CKR_NEED_TO_CREATE_THREADS`
    NeedToCreateThreads => CKR_NEED_TO_CREATE_THREADS,
    /// `CKR_OBJECT_HANDLE_INVALID`
    ObjectHandleInvalid => CKR_OBJECT_HANDLE_INVALID,
    /// `CKR_OPERATION_ACTIVE`
    OperationActive => CKR_OPERATION_ACTIVE,
    /// `CKR_OPERATION_NOT_INITIALIZED`
    OperationNotInitialized => CKR_OPERATION_NOT_INITIALIZED,
    /// `CKR_PIN_INCORRECT`
    PinIncorrect => CKR_PIN_INCORRECT,
    /// `CKR_PIN_INVALID`
    PinInvalid => CKR_PIN_INVALID,
    /// `CKR_PIN_LEN_RANGE`
    PinLenRange => CKR_PIN_LEN_RANGE,
    /// `CKR_PIN_LOCKED`
    PinLocked => CKR_PIN_LOCKED,
    /// `CKR_PUBLIC_KEY_INVALID`
    PublicKeyInvalid => CKR_PUBLIC_KEY_INVALID,
    /// `CKR_RANDOM_SEED_NOT_SUPPORTED`
    RandomSeedNotSupported => CKR_RANDOM_SEED_NOT_SUPPORTED,
    /// `CKR_SESSION_CLOSED`
    SessionClosed => CKR_SESSION_CLOSED,
    /// `CKR_SESSION_COUNT`
    SessionCount => CKR_SESSION_COUNT,
    /// `CKR_SESSION_EXISTS`
    SessionExists => CKR_SESSION_EXISTS,
    /// `CKR_SESSION_HANDLE_INVALID`
    SessionHandleInvalid => CKR_SESSION_HANDLE_INVALID,
    /// `CKR_SESSION_PARALLEL_NOT_SUPPORTED`
    SessionParallelNotSupported => CKR_SESSION_PARALLEL_NOT_SUPPORTED,
    /// `CKR_SESSION_READ_ONLY`
    SessionReadOnly => CKR_SESSION_READ_ONLY,
    /// `CKR_SESSION_READ_ONLY_EXISTS`
    SessionReadOnlyExists => CKR_SESSION_READ_ONLY_EXISTS,
    /// `CKR_SESSION_READ_WRITE_SO_EXISTS`
    SessionReadWriteSoExists => CKR_SESSION_READ_WRITE_SO_EXISTS,
    /// `CKR_SIGNATURE_INVALID`
    SignatureInvalid => CKR_SIGNATURE_INVALID,
    /// `CKR_SIGNATURE_LEN_RANGE`
    SignatureLenRange => CKR_SIGNATURE_LEN_RANGE,
    /// `CKR_SLOT_ID_INVALID`
    SlotIdInvalid => CKR_SLOT_ID_INVALID,
    /// `CKR_TOKEN_NOT_PRESENT`
    TokenNotPresent => CKR_TOKEN_NOT_PRESENT,
    /// `CKR_TOKEN_WRITE_PROTECTED`
    TokenWriteProtected => CKR_TOKEN_WRITE_PROTECTED,
    /// `CKR_UNWRAPPING_KEY_HANDLE_INVALID`
    UnwrappingKeyHandleInvalid => CKR_UNWRAPPING_KEY_HANDLE_INVALID,
    /// `CKR_UNWRAPPING_KEY_SIZE_RANGE`
    UnwrappingKeySizeRange => CKR_UNWRAPPING_KEY_SIZE_RANGE,
    /// `CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT`
    UnwrappingKeyTypeInconsistent => CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    /// `CKR_USER_ALREADY_LOGGED_IN`
    UserAlreadyLoggedIn => CKR_USER_ALREADY_LOGGED_IN,
    /// `CKR_USER_ANOTHER_ALREADY_LOGGED_IN`
    UserAnotherAlreadyLoggedIn => CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
    /// `CKR_USER_NOT_LOGGED_IN`
    UserNotLoggedIn => CKR_USER_NOT_LOGGED_IN,
    /// `CKR_USER_PIN_NOT_INITIALIZED`
    UserPinNotInitialized => CKR_USER_PIN_NOT_INITIALIZED,
    /// `CKR_USER_TOO_MANY_TYPES`
    UserTooManyTypes => CKR_USER_TOO_MANY_TYPES,
    /// `CKR_USER_TYPE_INVALID`
    UserTypeInvalid => CKR_USER_TYPE_INVALID,
    /// `CKR_WRAPPED_KEY_INVALID`
    WrappedKeyInvalid => CKR_WRAPPED_KEY_INVALID,
    /// `CKR_WRAPPED_KEY_LEN_RANGE`
    WrappedKeyLenRange => CKR_WRAPPED_KEY_LEN_RANGE,
    /// `CKR_WRAPPING_KEY_HANDLE_INVALID`
    WrappingKeyHandleInvalid => CKR_WRAPPING_KEY_HANDLE_INVALID,
    /// `CKR_WRAPPING_KEY_SIZE_RANGE`
    WrappingKeySizeRange => CKR_WRAPPING_KEY_SIZE_RANGE,
    /// `CKR_WRAPPING_KEY_TYPE_INCONSISTENT`
    WrappingKeyTypeInconsistent => CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
    /// `CKR_ACTION_PROHIBITED`
    ActionProhibited => CKR_ACTION_PROHIBITED,
    /// `CKR_AEAD_DECRYPT_FAILED`
    AeadDecryptFailed => CKR_AEAD_DECRYPT_FAILED,
    /// `CKR_TOKEN_NOT_INITIALIZED` (PKCS#11 3.1 value; 3.0 modules report it too)
    TokenNotInitialized => CKR_TOKEN_NOT_INITIALIZED,
    /// `CKR_OPERATION_CANCEL_FAILED`
    OperationCancelFailed => CKR_OPERATION_CANCEL_FAILED,
    /// `CKR_KEY_NEEDED`
    KeyNeeded => CKR_KEY_NEEDED,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AttributeTypeInvalid(t) => write!(f, "attribute type 0x{t:x} is not valid here"),
            Error::AttributeValueInvalid(t) => write!(f, "attribute 0x{t:x} has an invalid value"),
            Error::AttributeReadOnly(t) => write!(f, "attribute 0x{t:x} is read-only here"),
            Error::AttributeSensitive(t) => write!(f, "attribute 0x{t:x} is sensitive"),
            Error::TemplateIncomplete { missing } => {
                write!(f, "template lacks required attribute 0x{missing:x}")
            }
            Error::TemplateInconsistent(why) => write!(f, "template inconsistent: {why}"),
            Error::KeyFunctionNotPermitted(why) => write!(f, "key use not permitted: {why}"),
            Error::Device(why) => write!(f, "token storage error: {why}"),
            Error::TokenNotRecognized(why) => write!(f, "token file not recognized: {why}"),
            Error::General(why) => write!(f, "internal error: {why}"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for CK_RV {
    fn from(e: Error) -> CK_RV {
        e.rv()
    }
}

/// The result type of everything below the FFI boundary.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_picked_by_variant() {
        assert_eq!(Error::PinIncorrect.rv(), CKR_PIN_INCORRECT);
        assert_eq!(
            Error::TemplateIncomplete {
                missing: CKA_VALUE_LEN
            }
            .rv(),
            CKR_TEMPLATE_INCOMPLETE
        );
        assert_eq!(Error::Device("x".into()).rv(), CKR_DEVICE_ERROR);
        assert_eq!(CK_RV::from(Error::OperationActive), CKR_OPERATION_ACTIVE);
        assert_eq!(Error::PinIncorrect.rv_name(), "CKR_PIN_INCORRECT");
        for rv in [
            CKR_PIN_INCORRECT,
            CKR_FUNCTION_FAILED,
            CKR_ATTRIBUTE_SENSITIVE,
            CKR_DEVICE_MEMORY,
            CKR_DEVICE_ERROR,
        ] {
            assert_eq!(Error::from_rv(rv).rv(), rv);
        }
        assert_eq!(Error::from_rv(0x7777_7777).rv(), CKR_GENERAL_ERROR);
        assert_eq!(
            Error::AttributeValueInvalid(CKA_LABEL).rv_name(),
            "CKR_ATTRIBUTE_VALUE_INVALID"
        );
    }
}
