//! The information structures of PKCS#11 (`CK_SLOT_INFO`, `CK_TOKEN_INFO`,
//! `CK_SESSION_INFO`, `CK_MECHANISM_INFO`) in Rust form: what the module
//! answers, what `ffi` lays out for C callers, and what the remote protocol
//! carries. A leaf.

use cryptoki_sys::*;

/// `CK_SLOT_INFO` in Rust form.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlotInfo {
    /// `slotDescription`.
    pub description: String,
    /// `manufacturerID`.
    pub manufacturer: String,
    /// `CKF_*` slot flags.
    pub flags: CK_FLAGS,
    /// Hardware version.
    pub hardware_version: (u8, u8),
    /// Firmware version.
    pub firmware_version: (u8, u8),
}

/// `CK_TOKEN_INFO` in Rust form. Counts that are not known are
/// `CK_UNAVAILABLE_INFORMATION`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenInfo {
    /// `label`.
    pub label: String,
    /// `manufacturerID`.
    pub manufacturer: String,
    /// `model`.
    pub model: String,
    /// `serialNumber`.
    pub serial: String,
    /// `CKF_*` token flags.
    pub flags: CK_FLAGS,
    /// `ulMaxSessionCount`.
    pub max_session_count: CK_ULONG,
    /// `ulSessionCount`.
    pub session_count: CK_ULONG,
    /// `ulMaxRwSessionCount`.
    pub max_rw_session_count: CK_ULONG,
    /// `ulRwSessionCount`.
    pub rw_session_count: CK_ULONG,
    /// `ulMaxPinLen`.
    pub max_pin_len: CK_ULONG,
    /// `ulMinPinLen`.
    pub min_pin_len: CK_ULONG,
    /// `ulTotalPublicMemory`.
    pub total_public_memory: CK_ULONG,
    /// `ulFreePublicMemory`.
    pub free_public_memory: CK_ULONG,
    /// `ulTotalPrivateMemory`.
    pub total_private_memory: CK_ULONG,
    /// `ulFreePrivateMemory`.
    pub free_private_memory: CK_ULONG,
    /// `hardwareVersion`.
    pub hardware_version: (u8, u8),
    /// `firmwareVersion`.
    pub firmware_version: (u8, u8),
    /// `utcTime` (16 characters, or empty when the token has no clock).
    pub utc_time: String,
}

/// `CK_SESSION_INFO` in Rust form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionInfo {
    /// The slot.
    pub slot: CK_SLOT_ID,
    /// `CKS_*`.
    pub state: CK_STATE,
    /// `CKF_RW_SESSION | CKF_SERIAL_SESSION`.
    pub flags: CK_FLAGS,
    /// `ulDeviceError`.
    pub device_error: CK_ULONG,
}

/// `CK_MECHANISM_INFO` in Rust form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MechInfo {
    /// `ulMinKeySize`.
    pub min_key: CK_ULONG,
    /// `ulMaxKeySize`.
    pub max_key: CK_ULONG,
    /// `flags`.
    pub flags: CK_FLAGS,
}
