//! The versions of a managed key: each rotation adds new material; old versions
//! stay for decryption until the minimum decryption version passes them, when
//! their material is destroyed.
//!
//! Stored in the sealed attribute `CKA_SOFTKMS_VERSIONS` as a sequence of
//! `version (u32) ‖ created (i64, Unix seconds) ‖ length (u16) ‖ material`, all
//! big-endian, oldest first. Versions below the minimum keep their entry with
//! empty material, so that their creation times stay visible.

use crate::error::{Error, Result};
use zeroize::Zeroizing;

/// One version of a managed key.
#[derive(Clone, PartialEq, Eq)]
pub struct Version {
    /// Its number (1, 2, …).
    pub number: u32,
    /// When it was made (Unix seconds).
    pub created: i64,
    /// Its key material (empty once retired).
    pub material: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Version({}, created {}, {} bytes)",
            self.number,
            self.created,
            self.material.len()
        )
    }
}

/// Encodes versions for `CKA_SOFTKMS_VERSIONS`.
pub fn encode(versions: &[Version]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    for v in versions {
        out.extend_from_slice(&v.number.to_be_bytes());
        out.extend_from_slice(&v.created.to_be_bytes());
        out.extend_from_slice(&u16::try_from(v.material.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&v.material);
    }
    out
}

/// Decodes `CKA_SOFTKMS_VERSIONS`; anything malformed is a damaged token.
pub fn decode(mut b: &[u8]) -> Result<Vec<Version>> {
    let bad = || Error::Device("malformed key versions".into());
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 14 {
            return Err(bad());
        }
        let number = u32::from_be_bytes(b[0..4].try_into().map_err(|_| bad())?);
        let created = i64::from_be_bytes(b[4..12].try_into().map_err(|_| bad())?);
        let len = usize::from(u16::from_be_bytes(b[12..14].try_into().map_err(|_| bad())?));
        let material = b.get(14..14 + len).ok_or_else(bad)?;
        out.push(Version {
            number,
            created,
            material: Zeroizing::new(material.to_vec()),
        });
        b = &b[14 + len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let v = vec![
            Version {
                number: 1,
                created: 10,
                material: Zeroizing::new(vec![]),
            },
            Version {
                number: 2,
                created: 20,
                material: Zeroizing::new(vec![7; 32]),
            },
        ];
        let e = encode(&v);
        assert_eq!(decode(&e).unwrap(), v);
        assert!(decode(&e[..e.len() - 1]).is_err());
        assert!(decode(&[0; 5]).is_err());
        assert!(!format!("{:?}", v[1]).contains("7, 7"));
    }
}
