//! Named principals, managed by the SO (`docs/policy.md`): objects of the
//! vendor class `CKO_SOFTKMS_PRINCIPAL`, as a PKCS#11 client manages them.

use super::error::{Error, ErrorKind, Result};
use super::session::{label, Token};
use super::types::{Pin, PrincipalName};
use crate::abi::{CKA_SOFTKMS_PRINCIPAL_PIN, CKO_SOFTKMS_PRINCIPAL};
use crate::object::attr::Attribute;
use cryptoki_sys::*;

impl Token {
    fn principal_objects(&self, name: Option<&str>) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let mut t = vec![Attribute::ulong(CKA_CLASS, CKO_SOFTKMS_PRINCIPAL)];
        if let Some(n) = name {
            t.push(label(n));
        }
        self.find(&t, usize::MAX)
    }

    fn principal_object(&self, name: &PrincipalName) -> Result<CK_OBJECT_HANDLE> {
        match self.principal_objects(Some(name.as_str()))?.as_slice() {
            [p] => Ok(*p),
            [] => Err(Error::new(
                ErrorKind::NotFound,
                format!("no principal named {:?}", name.as_str()),
            )),
            _ => Err(Error::new(
                ErrorKind::Ambiguous,
                format!("more than one principal is named {:?}", name.as_str()),
            )),
        }
    }

    /// The SO, logged in, adds a principal with its own PIN.
    pub fn add_principal(&self, name: &PrincipalName, pin: &Pin) -> Result<()> {
        self.check_pin(pin)?;
        let _g = self.take();
        // Attribute values are wiped when dropped.
        let mut t = crate::kms::principals::stored_template(name.as_str());
        t.push(Attribute::new(
            CKA_SOFTKMS_PRINCIPAL_PIN,
            pin.bytes().to_vec(),
        ));
        self.m().create_object(self.h(), &t)?;
        Ok(())
    }

    /// The named principals, sorted (public: no login needed).
    pub fn list_principals(&self) -> Result<Vec<String>> {
        let _g = self.take();
        let mut names: Vec<String> = self
            .principal_objects(None)?
            .into_iter()
            .map(|p| self.text(p, CKA_LABEL).unwrap_or_default())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The SO, logged in, removes a principal.
    pub fn remove_principal(&self, name: &PrincipalName) -> Result<()> {
        let _g = self.take();
        let p = self.principal_object(name)?;
        Ok(self.m().destroy_object(self.h(), p)?)
    }

    /// The SO, logged in, sets a principal's PIN (which also clears a
    /// lock-out).
    pub fn set_principal_pin(&self, name: &PrincipalName, pin: &Pin) -> Result<()> {
        self.check_pin(pin)?;
        let _g = self.take();
        let p = self.principal_object(name)?;
        let t = vec![Attribute::new(
            CKA_SOFTKMS_PRINCIPAL_PIN,
            pin.bytes().to_vec(),
        )];
        Ok(self.m().set_attributes(self.h(), p, &t)?)
    }
}
