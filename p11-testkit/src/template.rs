//! Attribute templates that own their values: the `CK_ATTRIBUTE` arrays point
//! into buffers the template keeps alive.

use crate::sys::*;
use std::ffi::c_void;
use std::ptr;

/// An attribute template that owns its values.
#[derive(Clone, Default)]
pub struct Template(pub Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>);

impl Template {
    /// An empty template.
    pub fn new() -> Template {
        Template(Vec::new())
    }
    /// Adds a CK_ULONG attribute (replacing one of the same type).
    pub fn ulong(self, ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Template {
        self.bytes(ty, &v.to_ne_bytes())
    }
    /// Adds a CK_BBOOL attribute (replacing one of the same type).
    pub fn flag(self, ty: CK_ATTRIBUTE_TYPE, v: bool) -> Template {
        self.bytes(ty, &[v as u8])
    }
    /// Adds a byte-string attribute (replacing one of the same type).
    pub fn bytes(mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Template {
        self.0.retain(|(t, _)| *t != ty);
        self.0.push((ty, v.to_vec()));
        self
    }
    /// Appends an attribute even when one of the same type is there already
    /// (templates with duplicates, on purpose).
    pub fn push(mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Template {
        self.0.push((ty, v.to_vec()));
        self
    }
    /// Replaces the value of every attribute of type `ty`, in place.
    pub fn set(mut self, ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Template {
        for a in &mut self.0 {
            if a.0 == ty {
                a.1 = v.to_vec();
            }
        }
        self
    }
    /// The CK_ATTRIBUTE array pointing at this template's values, for calls
    /// that only read the template (the module must not write through it).
    pub fn raw(&self) -> Vec<CK_ATTRIBUTE> {
        self.0
            .iter()
            .map(|(t, v)| CK_ATTRIBUTE {
                type_: *t,
                pValue: if v.is_empty() {
                    ptr::null_mut()
                } else {
                    v.as_ptr() as *mut c_void
                },
                ulValueLen: v.len() as CK_ULONG,
            })
            .collect()
    }
    /// The CK_ATTRIBUTE array pointing at this template's values, for calls
    /// that may write into them (`C_GetAttributeValue`). Keep `self` alive and
    /// unchanged while the array is in use.
    pub fn raw_mut(&mut self) -> Vec<CK_ATTRIBUTE> {
        self.0
            .iter_mut()
            .map(|(t, v)| CK_ATTRIBUTE {
                type_: *t,
                pValue: if v.is_empty() {
                    ptr::null_mut()
                } else {
                    v.as_mut_ptr().cast()
                },
                ulValueLen: v.len() as CK_ULONG,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_replace_push_appends_and_raw_points_into_the_template() {
        let t = Template::new()
            .ulong(CKA_CLASS, CKO_DATA)
            .flag(CKA_TOKEN, true)
            .flag(CKA_TOKEN, false)
            .bytes(CKA_LABEL, b"")
            .push(CKA_CLASS, &[0; 8]);
        let types: Vec<_> = t.0.iter().map(|a| a.0).collect();
        assert_eq!(types, [CKA_CLASS, CKA_TOKEN, CKA_LABEL, CKA_CLASS]);
        assert_eq!(t.0[1].1, [0]);
        let raw = t.raw();
        assert_eq!(raw[0].pValue.cast_const(), t.0[0].1.as_ptr().cast());
        assert_eq!(raw[0].ulValueLen, 8);
        assert!(raw[2].pValue.is_null(), "an empty value is passed as NULL");
        let t = t.set(CKA_CLASS, &[1; 8]);
        assert!(t
            .0
            .iter()
            .filter(|a| a.0 == CKA_CLASS)
            .all(|a| a.1 == [1; 8]));
    }
}
