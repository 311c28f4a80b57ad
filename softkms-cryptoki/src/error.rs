//! The one error type of the helpers.

use cryptoki::error::RvError;
use std::fmt;

/// What went wrong in a helper.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A PKCS#11 call failed (the module's `CKR_*` is in it; see
    /// [`Error::rv`]). `SOFTKMS_LOG=info` makes the module say why.
    Cryptoki(cryptoki::error::Error),
    /// The input is not a SoftKMS envelope message (its header does not parse).
    NotAnEnvelope,
    /// No key on the token has the `CKA_UNIQUE_ID` the message names (or the
    /// session cannot see it: private keys need a login).
    KeyNotFound {
        /// The key id the message names.
        key_id: String,
    },
    /// More than one key has this label; name the key by its unique id.
    AmbiguousLabel {
        /// The label.
        label: String,
    },
    /// A length does not fit a `CK_ULONG`, or is over a limit of the module.
    TooLong,
    /// An attribute came back in a shape the vendor ABI does not give it.
    BadAttribute(&'static str),
    /// Reading the input or writing the output of a stream failed.
    Io(std::io::Error),
}

impl Error {
    /// The PKCS#11 return value, when a call failed.
    pub fn rv(&self) -> Option<RvError> {
        match self {
            Error::Cryptoki(cryptoki::error::Error::Pkcs11(rv, _)) => Some(*rv),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Cryptoki(e) => write!(f, "{e}"),
            Error::NotAnEnvelope => f.write_str("the input is not a SoftKMS envelope message"),
            Error::KeyNotFound { key_id } => write!(
                f,
                "the key {key_id} that the message names is not on this token (or not visible to this session)"
            ),
            Error::AmbiguousLabel { label } => write!(
                f,
                "more than one key is labelled {label:?}: name it by its unique id"
            ),
            Error::TooLong => f.write_str("a length is over the module's limit"),
            Error::BadAttribute(what) => write!(f, "{what} has an unexpected value"),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Cryptoki(e) => Some(e),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<cryptoki::error::Error> for Error {
    fn from(e: cryptoki::error::Error) -> Error {
        Error::Cryptoki(e)
    }
}

/// The result of a helper.
pub type Result<T> = std::result::Result<T, Error>;
