//! Raw pointers become typed values here, and typed results go back to the
//! caller's memory from here: nowhere else in SoftKMS reads or writes through a
//! caller's pointer.
//!
//! Every `unsafe fn` in this file has the same contract, which the entry points
//! in `entry.rs` uphold by passing their own arguments straight through: each
//! non-null pointer is what the PKCS#11 signature of the calling function says it
//! is (for `(ptr, len)` pairs: `len` readable, or writable, bytes; for templates:
//! `count` `CK_ATTRIBUTE`s whose `pValue`s hold `ulValueLen` bytes), valid for
//! the duration of the call (the application owns that memory).
//! Null pointers, lengths and sizes are checked here and refused with the code
//! the standard names. Structs are read and written with unaligned accesses, so
//! a caller's packing never matters, and no Rust reference into caller memory
//! outlives the call.

use crate::error::{Error, Result};
use crate::module::{InitArgs, MechInfo, ModuleInfo, SessionInfo, SlotInfo, TokenInfo};
use crate::object::attr::{self, Attribute, Template};
use crate::object::rules::AttrRead;
use crate::outbuf::OutBuf;
use cryptoki_sys::*;
use std::ffi::c_void;
use std::mem::size_of;
use std::ops::Deref;
use zeroize::Zeroizing;

mod mechanism;
pub(super) mod plain;
#[cfg(test)]
mod tests;

pub(super) use mechanism::{
    additional_handles, mechanism, message_mechanism, message_param, write_back_derive,
};

pub(super) use crate::mechanism::limits::{MAX_TEMPLATE_ATTRS, MAX_TEMPLATE_BYTES, MAX_VALUE_LEN};

/// Deepest nesting of templates: a template inside `CKA_WRAP_TEMPLATE` has depth 1;
/// a template inside that one would have depth 2 and is refused.
pub(super) const MAX_NESTING: usize = 1;

/// Size of one `CK_ATTRIBUTE`, the unit of a nested template's `ulValueLen`.
const ATTR_SIZE: usize = size_of::<CK_ATTRIBUTE>();

// ---------------------------------------------------------------- lengths

/// A caller's `CK_ULONG` length as `usize`; `err` when it does not fit.
fn to_usize(len: CK_ULONG, err: &Error) -> Result<usize> {
    usize::try_from(len).map_err(|_| err.clone())
}

/// A caller's element count of an array of `T` as `usize`: a count whose array
/// could not exist in memory (more than `isize::MAX` bytes, such as `ULONG_MAX`
/// attributes) is `CKR_ARGUMENTS_BAD`, before anything is read (the arguments
/// must describe memory the application owns).
fn array_len<T>(count: CK_ULONG) -> Result<usize> {
    let n = to_usize(count, &Error::ArgumentsBad)?;
    match n.checked_mul(size_of::<T>()) {
        Some(bytes) if isize::try_from(bytes).is_ok() => Ok(n),
        _ => Err(Error::ArgumentsBad),
    }
}

/// A template's attribute count: an impossible array ([`array_len`]) or more
/// than [`MAX_TEMPLATE_ATTRS`] attributes is `CKR_ARGUMENTS_BAD`.
fn template_len(count: CK_ULONG) -> Result<usize> {
    let n = array_len::<CK_ATTRIBUTE>(count)?;
    if n > MAX_TEMPLATE_ATTRS {
        return Err(Error::ArgumentsBad);
    }
    Ok(n)
}

/// A copy of `b` whose allocation may fail: `CKR_HOST_MEMORY` (PKCS#11 3.0
/// §5.1.1) instead of the abort of an infallible allocation, which
/// `catch_unwind` cannot stop. Callers check the size against a limit first;
/// this is the last line for sizes whose limit is the host's memory.
pub(super) fn fallible_copy(b: &[u8]) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(b.len())
        .map_err(|_| Error::HostMemory)?;
    v.extend_from_slice(b);
    Ok(v)
}

/// One of our lengths as `CK_ULONG`.
pub(super) fn to_ulong(n: usize) -> Result<CK_ULONG> {
    CK_ULONG::try_from(n).map_err(|_| Error::General("length does not fit a CK_ULONG".into()))
}

// ---------------------------------------------------------------- bytes

/// `(ptr, len)` → `&[u8]` with `err` for a null pointer with a non-zero length
/// (or a length no slice can have). A null pointer with length 0 is empty.
unsafe fn bytes_or<'a>(p: *const u8, len: CK_ULONG, err: Error) -> Result<&'a [u8]> {
    let n = to_usize(len, &err)?;
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() || isize::try_from(n).is_err() {
        return Err(err);
    }
    // SAFETY: `p` is non-null and, by this file's contract, points at `n` readable
    // bytes that stay valid for the call; `n` fits `isize`.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// `(ptr, len)` → `&[u8]`: null with `len > 0` is `CKR_ARGUMENTS_BAD`.
pub(super) unsafe fn bytes<'a>(p: *const u8, len: CK_ULONG) -> Result<&'a [u8]> {
    // SAFETY: same contract as ours.
    unsafe { bytes_or(p, len, Error::ArgumentsBad) }
}

/// `(ptr, len)` → `&mut [u8]`: null with `len > 0` is `CKR_ARGUMENTS_BAD`.
pub(super) unsafe fn bytes_mut<'a>(p: *mut u8, len: CK_ULONG) -> Result<&'a mut [u8]> {
    let n = to_usize(len, &Error::ArgumentsBad)?;
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() || isize::try_from(n).is_err() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-null, `n` writable bytes by contract, and no other reference to
    // them exists during the call.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}

/// A PIN (`C_Login`, `C_InitToken`, `C_InitPIN`, `C_SetPIN`). A null PIN asks for
/// the protected authentication path, which SoftKMS does not have:
/// `CKR_ARGUMENTS_BAD`, as SoftHSMv2 does.
pub(super) unsafe fn pin<'a>(p: *const u8, len: CK_ULONG) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: same contract as ours.
    unsafe { bytes(p, len) }
}

/// The user name of `C_LoginUser`: null, or a length no buffer can have (more
/// than `isize::MAX`), is `CKR_ARGUMENTS_BAD`; a name longer than any
/// principal's ([`MAX_NAME`](crate::kms::principals::MAX_NAME) bytes) is
/// `CKR_PIN_INCORRECT`, the answer for any name that is not a principal's (no
/// hint about names), given before the name is read.
pub(super) unsafe fn username<'a>(p: *const u8, len: CK_ULONG) -> Result<&'a [u8]> {
    let n = to_usize(len, &Error::ArgumentsBad)?;
    if p.is_null() || isize::try_from(n).is_err() {
        return Err(Error::ArgumentsBad);
    }
    if n > crate::kms::principals::MAX_NAME {
        return Err(Error::PinIncorrect);
    }
    // SAFETY: same contract as ours.
    unsafe { bytes(p, len) }
}

/// The 32-byte blank-padded label of `C_InitToken`; null is `CKR_ARGUMENTS_BAD`.
pub(super) unsafe fn label<'a>(p: *const u8) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: C_InitToken's pLabel points at 32 bytes (PKCS#11 3.0 §5.5.7).
    Ok(unsafe { std::slice::from_raw_parts(p, 32) })
}

// ---------------------------------------------------------------- outputs

/// A checked, non-null pointer to one value the caller wants back (a handle, a
/// size, an info struct). Checked before the module runs, so that a call with a
/// null output pointer changes nothing.
pub(super) struct OutPtr<T>(pub(super) *mut T);

/// Checks an output pointer: null is `CKR_ARGUMENTS_BAD`.
pub(super) fn out_ptr<T>(p: *mut T) -> Result<OutPtr<T>> {
    if p.is_null() {
        Err(Error::ArgumentsBad)
    } else {
        Ok(OutPtr(p))
    }
}

impl<T> OutPtr<T> {
    /// Writes the value.
    pub(super) unsafe fn set(self, v: T) {
        // SAFETY: non-null (checked by `out_ptr`), writable by contract; unaligned
        // write, so the caller's alignment does not matter.
        unsafe { self.0.write_unaligned(v) }
    }
}

/// Input bytes of an operation that also writes output. PKCS#11 lets input and
/// output share memory (in-place encryption); such input is copied first, so that
/// no `&[u8]` of the input aliases the `&mut [u8]` of the output.
pub(super) enum Input<'a> {
    /// The caller's memory, disjoint from the output.
    Borrowed(&'a [u8]),
    /// A copy of input that overlapped the output.
    Copied(Zeroizing<Vec<u8>>),
}

impl Deref for Input<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Input::Borrowed(b) => b,
            Input::Copied(v) => v,
        }
    }
}

/// True when `[a, a + a_len)` and `[b, b + b_len)` share a byte.
fn overlaps(a: *const u8, a_len: usize, b: *const u8, b_len: usize) -> bool {
    let (a, b) = (a.addr(), b.addr());
    a_len > 0 && b_len > 0 && a < b.saturating_add(b_len) && b < a.saturating_add(a_len)
}

/// Runs `f` with the inputs and an [`OutBuf`] over the caller's output buffer
/// (`p_out` of `*p_len` bytes, or a size query when `p_out` is null), then writes
/// the output length back to `*p_len`, both on success and on
/// `CKR_BUFFER_TOO_SMALL` (PKCS#11 §5.2). `p_len` null is `CKR_ARGUMENTS_BAD`.
pub(super) unsafe fn with_output<const N: usize>(
    inputs: [(*const u8, CK_ULONG); N],
    p_out: *mut u8,
    p_len: *mut CK_ULONG,
    f: impl FnOnce([&[u8]; N], &mut OutBuf<'_>) -> Result<()>,
) -> Result<()> {
    let len_ptr = out_ptr(p_len)?;
    // SAFETY: `p_len` is non-null and readable by contract.
    let cap = unsafe { plain::read(p_len) };
    let cap_n = to_usize(cap, &Error::ArgumentsBad)?;
    let mut owned = Vec::with_capacity(N);
    for (p, len) in inputs {
        let n = to_usize(len, &Error::ArgumentsBad)?;
        // What `bytes` refuses is refused first: a null pointer with a length,
        // or a length no slice can have, is CKR_ARGUMENTS_BAD, not a copy.
        if n > 0 && (p.is_null() || isize::try_from(n).is_err()) {
            return Err(Error::ArgumentsBad);
        }
        if !p_out.is_null() && overlaps(p, n, p_out, cap_n) {
            // In-place input is copied: the copy is sized by the caller's input
            // length, whose only limit is the host's memory, so it is reserved
            // (fallibly: CKR_HOST_MEMORY) before the input is looked at.
            let mut copy = Zeroizing::new(Vec::new());
            copy.try_reserve_exact(n).map_err(|_| Error::HostMemory)?;
            // SAFETY: same contract as ours.
            copy.extend_from_slice(unsafe { bytes(p, len) }?);
            owned.push(Input::Copied(copy));
        } else {
            // SAFETY: same contract as ours.
            owned.push(Input::Borrowed(unsafe { bytes(p, len) }?));
        }
    }
    let slices: [&[u8]; N] = std::array::from_fn(|i| &*owned[i]);
    let buf = if p_out.is_null() {
        None
    } else {
        // SAFETY: same contract as ours; inputs that overlap this buffer were copied.
        Some(unsafe { bytes_mut(p_out, cap) }?)
    };
    let mut out = OutBuf::new(buf);
    let r = f(slices, &mut out);
    if matches!(r, Ok(()) | Err(Error::BufferTooSmall)) {
        // SAFETY: checked non-null above, writable by contract.
        unsafe { len_ptr.set(to_ulong(out.len())?) };
    }
    r
}

/// Runs `f` with input bytes and the caller's output buffer (see [`with_output`]).
pub(super) unsafe fn in_out(
    p_in: *const u8,
    in_len: CK_ULONG,
    p_out: *mut u8,
    p_len: *mut CK_ULONG,
    f: impl FnOnce(&[u8], &mut OutBuf<'_>) -> Result<()>,
) -> Result<()> {
    // SAFETY: same contract as ours.
    unsafe { with_output([(p_in, in_len)], p_out, p_len, |[d], o| f(d, o)) }
}

/// Runs `f` with the caller's output buffer only (see [`with_output`]).
pub(super) unsafe fn out(
    p_out: *mut u8,
    p_len: *mut CK_ULONG,
    f: impl FnOnce(&mut OutBuf<'_>) -> Result<()>,
) -> Result<()> {
    // SAFETY: same contract as ours.
    unsafe { with_output([], p_out, p_len, |[], o| f(o)) }
}

/// Writes a list with the length-query rule of `C_GetSlotList`,
/// `C_GetMechanismList` and `C_GetInterfaceList` (PKCS#11 §5.2): `p_count` null
/// is `CKR_ARGUMENTS_BAD`; `p` null reports the count; a list shorter than the
/// count gets the count and `CKR_BUFFER_TOO_SMALL`.
pub(super) unsafe fn list_out<T: Copy>(
    p: *mut T,
    p_count: *mut CK_ULONG,
    items: &[T],
) -> Result<()> {
    let count = out_ptr(p_count)?;
    let n = to_ulong(items.len())?;
    if p.is_null() {
        // SAFETY: checked non-null.
        unsafe { count.set(n) };
        return Ok(());
    }
    // SAFETY: `p_count` is non-null and readable by contract.
    let cap = unsafe { plain::read(p_count) };
    // SAFETY: checked non-null.
    unsafe { count.set(n) };
    if cap < n {
        return Err(Error::BufferTooSmall);
    }
    for (i, v) in items.iter().enumerate() {
        // SAFETY: `p` holds `cap >= items.len()` elements by contract.
        unsafe { p.add(i).write_unaligned(*v) };
    }
    Ok(())
}

/// `C_FindObjects` (PKCS#11 3.0 §5.7.8): `ph` and `p_count` must not be null; `f`
/// gets the maximum and returns at most that many handles.
pub(super) unsafe fn handles_out(
    ph: *mut CK_OBJECT_HANDLE,
    max: CK_ULONG,
    p_count: *mut CK_ULONG,
    f: impl FnOnce(usize) -> Result<Vec<CK_OBJECT_HANDLE>>,
) -> Result<()> {
    let count = out_ptr(p_count)?;
    if ph.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let max_n = to_usize(max, &Error::ArgumentsBad)?;
    let found = f(max_n)?;
    if found.len() > max_n {
        return Err(Error::General(
            "C_FindObjects produced more handles than asked".into(),
        ));
    }
    for (i, h) in found.iter().enumerate() {
        // SAFETY: `ph` holds `max >= found.len()` handles by contract.
        unsafe { ph.add(i).write_unaligned(*h) };
    }
    // SAFETY: checked non-null.
    unsafe { count.set(to_ulong(found.len())?) };
    Ok(())
}

// ---------------------------------------------------------------- C_Initialize

/// `CK_C_INITIALIZE_ARGS` (PKCS#11 3.0 §3.7, §5.4.1): null means defaults; `pReserved` must
/// be null and the four mutex callbacks are all set or all null, else
/// `CKR_ARGUMENTS_BAD`.
pub(super) unsafe fn init_args(p: *const c_void) -> Result<InitArgs> {
    if p.is_null() {
        return Ok(InitArgs::default());
    }
    // SAFETY: a non-null pInitArgs points at a CK_C_INITIALIZE_ARGS (§5.4.1).
    let a = unsafe { plain::read(p.cast::<CK_C_INITIALIZE_ARGS>()) };
    if !a.pReserved.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let set = [
        a.CreateMutex.is_some(),
        a.DestroyMutex.is_some(),
        a.LockMutex.is_some(),
        a.UnlockMutex.is_some(),
    ];
    let n = set.iter().filter(|s| **s).count();
    if n != 0 && n != set.len() {
        return Err(Error::ArgumentsBad);
    }
    Ok(InitArgs {
        mutex_callbacks: n == set.len(),
        os_locking_ok: a.flags & CKF_OS_LOCKING_OK != 0,
        cant_create_threads: a.flags & CKF_LIBRARY_CANT_CREATE_OS_THREADS != 0,
    })
}

// ---------------------------------------------------------------- infos

/// A fixed-width text field: blank-padded (0x20), never NUL-terminated,
/// truncated at a UTF-8 character boundary.
pub(super) fn padded<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&s.as_bytes()[..end]);
    out
}

fn version((major, minor): (u8, u8)) -> CK_VERSION {
    CK_VERSION { major, minor }
}

/// `CK_INFO` from [`ModuleInfo`].
pub(super) fn ck_info(i: &ModuleInfo) -> CK_INFO {
    CK_INFO {
        cryptokiVersion: version(i.cryptoki_version),
        manufacturerID: padded(&i.manufacturer),
        flags: 0,
        libraryDescription: padded(&i.description),
        libraryVersion: version(i.library_version),
    }
}

/// `CK_SLOT_INFO` from [`SlotInfo`].
pub(super) fn ck_slot_info(i: &SlotInfo) -> CK_SLOT_INFO {
    CK_SLOT_INFO {
        slotDescription: padded(&i.description),
        manufacturerID: padded(&i.manufacturer),
        flags: i.flags,
        hardwareVersion: version(i.hardware_version),
        firmwareVersion: version(i.firmware_version),
    }
}

/// `CK_TOKEN_INFO` from [`TokenInfo`].
pub(super) fn ck_token_info(i: &TokenInfo) -> CK_TOKEN_INFO {
    CK_TOKEN_INFO {
        label: padded(&i.label),
        manufacturerID: padded(&i.manufacturer),
        model: padded(&i.model),
        serialNumber: padded(&i.serial),
        flags: i.flags,
        ulMaxSessionCount: i.max_session_count,
        ulSessionCount: i.session_count,
        ulMaxRwSessionCount: i.max_rw_session_count,
        ulRwSessionCount: i.rw_session_count,
        ulMaxPinLen: i.max_pin_len,
        ulMinPinLen: i.min_pin_len,
        ulTotalPublicMemory: i.total_public_memory,
        ulFreePublicMemory: i.free_public_memory,
        ulTotalPrivateMemory: i.total_private_memory,
        ulFreePrivateMemory: i.free_private_memory,
        hardwareVersion: version(i.hardware_version),
        firmwareVersion: version(i.firmware_version),
        utcTime: padded(&i.utc_time),
    }
}

/// `CK_SESSION_INFO` from [`SessionInfo`].
pub(super) fn ck_session_info(i: &SessionInfo) -> CK_SESSION_INFO {
    CK_SESSION_INFO {
        slotID: i.slot,
        state: i.state,
        flags: i.flags,
        ulDeviceError: i.device_error,
    }
}

/// `CK_MECHANISM_INFO` from [`MechInfo`].
pub(super) fn ck_mechanism_info(i: &MechInfo) -> CK_MECHANISM_INFO {
    CK_MECHANISM_INFO {
        ulMinKeySize: i.min_key,
        ulMaxKeySize: i.max_key,
        flags: i.flags,
    }
}

// ---------------------------------------------------------------- templates

/// A template (`CK_ATTRIBUTE_PTR`, count) → [`Template`] (PKCS#11 3.0 §3.4):
/// null with `count > 0`, or more than [`MAX_TEMPLATE_ATTRS`] attributes, is
/// `CKR_ARGUMENTS_BAD`; an attribute whose `pValue` is null with
/// `ulValueLen > 0`, whose length is `CK_UNAVAILABLE_INFORMATION` or beyond
/// [`MAX_VALUE_LEN`], or whose value would take the template past
/// [`MAX_TEMPLATE_BYTES`], is `CKR_ATTRIBUTE_VALUE_INVALID` (SoftHSMv2 answers
/// the same for the first three). Every limit is checked before the value is
/// read or copied. Nested templates (`CKA_WRAP_TEMPLATE`, …) are converted
/// recursively, share the byte budget, and are stored with
/// [`attr::encode_template`].
pub(super) unsafe fn template(p: *const CK_ATTRIBUTE, count: CK_ULONG) -> Result<Template> {
    let mut budget = MAX_TEMPLATE_BYTES;
    // SAFETY: same contract as ours.
    unsafe { template_at(p, count, 0, &mut budget) }
}

/// [`template`] taking the bytes it copies from `budget`, which several
/// templates of one call share.
pub(super) unsafe fn template_with_budget(
    p: *const CK_ATTRIBUTE,
    count: CK_ULONG,
    budget: &mut usize,
) -> Result<Template> {
    // SAFETY: same contract as ours.
    unsafe { template_at(p, count, 0, budget) }
}

/// [`template`] at nesting `depth`, taking the bytes it copies from `budget`.
unsafe fn template_at(
    p: *const CK_ATTRIBUTE,
    count: CK_ULONG,
    depth: usize,
    budget: &mut usize,
) -> Result<Template> {
    let n = template_len(count)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // Never trust `count` for an allocation size.
    let mut t = Vec::with_capacity(n.min(64));
    for i in 0..n {
        // SAFETY: `p` holds `count` attributes by contract.
        let a = unsafe { plain::read(p.add(i)) };
        // SAFETY: the attribute's pValue holds ulValueLen bytes by contract.
        t.push(unsafe { attribute(&a, depth, budget) }?);
    }
    Ok(t)
}

unsafe fn attribute(a: &CK_ATTRIBUTE, depth: usize, budget: &mut usize) -> Result<Attribute> {
    let ty = a.type_;
    let invalid = Error::AttributeValueInvalid(ty);
    if a.ulValueLen == CK_UNAVAILABLE_INFORMATION {
        return Err(invalid);
    }
    let n = to_usize(a.ulValueLen, &invalid)?;
    if n > MAX_VALUE_LEN || (n > 0 && a.pValue.is_null()) {
        return Err(invalid);
    }
    *budget = budget.checked_sub(n).ok_or_else(|| invalid.clone())?;
    if attr::is_template_attribute(ty) {
        if depth >= MAX_NESTING || n % ATTR_SIZE != 0 {
            return Err(invalid);
        }
        // SAFETY: pValue of an array attribute holds ulValueLen / sizeof(CK_ATTRIBUTE)
        // attributes (PKCS#11 3.0 §4.8–§4.10, CKA_WRAP_TEMPLATE and its kin);
        // checked non-null when non-empty.
        let inner =
            unsafe { template_at(a.pValue.cast(), to_ulong(n / ATTR_SIZE)?, depth + 1, budget) }?;
        return Ok(Attribute {
            ty,
            value: attr::encode_template(&inner),
        });
    }
    // SAFETY: pValue holds ulValueLen bytes by contract.
    let v = unsafe { bytes_or(a.pValue.cast(), a.ulValueLen, invalid) }?;
    Ok(Attribute::new(ty, fallible_copy(v)?))
}

/// The attribute types of a `C_GetAttributeValue` template (null with
/// `count > 0`, or more than [`MAX_TEMPLATE_ATTRS`] attributes, is
/// `CKR_ARGUMENTS_BAD`).
pub(super) unsafe fn attribute_types(
    p: *const CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Result<Vec<CK_ATTRIBUTE_TYPE>> {
    let n = template_len(count)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let mut types = Vec::with_capacity(n.min(64));
    for i in 0..n {
        // SAFETY: `p` holds `count` attributes by contract.
        types.push(unsafe { plain::read(p.add(i)) }.type_);
    }
    Ok(types)
}

/// How bad an error of `C_GetAttributeValue` is when several attributes fail:
/// the call returns the worst one. `CKR_ATTRIBUTE_SENSITIVE` beats
/// `CKR_ATTRIBUTE_TYPE_INVALID`, which beats `CKR_BUFFER_TOO_SMALL` (PKCS#11
/// §5.7.5 allows any of them); an internal error beats them all.
fn severity(e: &Error) -> u8 {
    match e {
        Error::BufferTooSmall => 1,
        Error::AttributeTypeInvalid(_) => 2,
        Error::AttributeSensitive(_) => 3,
        _ => 4,
    }
}

/// Keeps the first of the worst errors.
fn worst(acc: Option<Error>, r: Result<()>) -> Option<Error> {
    match (acc, r) {
        (acc, Ok(())) => acc,
        (None, Err(e)) => Some(e),
        (Some(a), Err(e)) if severity(&e) > severity(&a) => Some(e),
        (acc, Err(_)) => acc,
    }
}

/// Writes the answers of `C_GetAttributeValue` into the caller's template by the
/// rules of PKCS#11 3.0 §5.7.5: every attribute is processed; a sensitive one
/// gets `CK_UNAVAILABLE_INFORMATION` and `CKR_ATTRIBUTE_SENSITIVE`; an invalid
/// type `CK_UNAVAILABLE_INFORMATION` and `CKR_ATTRIBUTE_TYPE_INVALID`; a null
/// `pValue` gets the length; a large enough buffer gets the value and its
/// length; a small one `CK_UNAVAILABLE_INFORMATION` and `CKR_BUFFER_TOO_SMALL`.
/// Nested templates (`CKA_WRAP_TEMPLATE` …) report `count × sizeof(CK_ATTRIBUTE)`
/// and, when the caller gives the array, fill each inner attribute (type set on
/// output) by the same rules. The result is the worst error (see [`severity`]).
pub(super) unsafe fn write_attribute_values(
    p: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    reads: &[AttrRead],
) -> Result<()> {
    let n = template_len(count)?;
    if reads.len() != n {
        return Err(Error::General(
            "C_GetAttributeValue: answer count differs from the template".into(),
        ));
    }
    let mut acc = None;
    for (i, r) in reads.iter().enumerate() {
        // SAFETY: `p` holds `count` attributes by contract (non-null: `attribute_types`
        // accepted it, and `count > 0` here).
        let slot = unsafe { p.add(i) };
        let r = match r {
            // SAFETY: `slot` is one of the caller's attributes.
            AttrRead::Sensitive => unsafe { unavailable(slot, Error::AttributeSensitive) },
            // SAFETY: as above.
            AttrRead::Invalid => unsafe { unavailable(slot, Error::AttributeTypeInvalid) },
            // SAFETY: as above; its pValue holds ulValueLen bytes by contract.
            AttrRead::Value(v) => unsafe { fill_value(slot, v, 0) },
        };
        acc = worst(acc, r);
    }
    acc.map_or(Ok(()), Err)
}

/// Sets `ulValueLen = CK_UNAVAILABLE_INFORMATION` and returns the error.
unsafe fn unavailable(slot: *mut CK_ATTRIBUTE, err: fn(CK_ATTRIBUTE_TYPE) -> Error) -> Result<()> {
    // SAFETY: `slot` is a caller attribute, readable and writable.
    let mut a = unsafe { plain::read(slot) };
    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    // SAFETY: as above.
    unsafe { slot.write_unaligned(a) };
    Err(err(a.type_))
}

/// One value by the §5.7.5 rules (see [`write_attribute_values`]).
unsafe fn fill_value(slot: *mut CK_ATTRIBUTE, value: &[u8], depth: usize) -> Result<()> {
    // SAFETY: `slot` is a caller attribute, readable and writable.
    let mut a = unsafe { plain::read(slot) };
    if attr::is_template_attribute(a.type_) && depth < MAX_NESTING {
        let Some(inner) = attr::decode_template(value) else {
            // SAFETY: as above.
            let _ = unsafe { unavailable(slot, Error::AttributeTypeInvalid) };
            return Err(Error::General(format!(
                "stored template of attribute 0x{:x} is malformed",
                a.type_
            )));
        };
        let needed = to_ulong(inner.len().saturating_mul(ATTR_SIZE))?;
        if a.pValue.is_null() {
            a.ulValueLen = needed;
            // SAFETY: as above.
            unsafe { slot.write_unaligned(a) };
            return Ok(());
        }
        if a.ulValueLen < needed {
            // SAFETY: as above.
            return unsafe { unavailable(slot, |_| Error::BufferTooSmall) };
        }
        let array = a.pValue.cast::<CK_ATTRIBUTE>();
        let mut acc = None;
        for (j, inner_attr) in inner.iter().enumerate() {
            // SAFETY: the caller's array holds ulValueLen >= needed bytes, i.e. at
            // least `inner.len()` attributes.
            let islot = unsafe { array.add(j) };
            // SAFETY: as above; the type is ignored on input and set on output (§5.7.5).
            let mut ia = unsafe { plain::read(islot) };
            ia.type_ = inner_attr.ty;
            // SAFETY: as above.
            unsafe { islot.write_unaligned(ia) };
            // SAFETY: the inner attribute's pValue holds ulValueLen bytes by contract.
            acc = worst(acc, unsafe {
                fill_value(islot, &inner_attr.value, depth + 1)
            });
        }
        a.ulValueLen = needed;
        // SAFETY: `slot` is a caller attribute.
        unsafe { slot.write_unaligned(a) };
        return acc.map_or(Ok(()), Err);
    }
    let len = to_ulong(value.len())?;
    if a.pValue.is_null() {
        a.ulValueLen = len;
    } else if a.ulValueLen >= len {
        // SAFETY: pValue holds ulValueLen >= value.len() writable bytes by contract;
        // `value` is our own memory, so the ranges are disjoint.
        unsafe {
            std::ptr::copy_nonoverlapping(value.as_ptr(), a.pValue.cast::<u8>(), value.len())
        };
        a.ulValueLen = len;
    } else {
        // SAFETY: `slot` is a caller attribute.
        return unsafe { unavailable(slot, |_| Error::BufferTooSmall) };
    }
    // SAFETY: `slot` is a caller attribute.
    unsafe { slot.write_unaligned(a) };
    Ok(())
}
