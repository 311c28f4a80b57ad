//! Argon2id key derivation from PINs.
//!
//! A principal's PIN and its stored random salt give a 256-bit key-encryption key
//! (KEK) that wraps the token master key (see [`crate::crypto::seal`]). The cost
//! parameters are stored per principal, so they can be raised later without
//! touching other principals.

use crate::error::{Error, Result};
use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Length of the derived key-encryption key.
pub(crate) const KEK_LEN: usize = 32;
/// Length of the random salt the store keeps per principal.
pub(crate) const SALT_LEN: usize = 16;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Degree of parallelism (lanes).
    pub p_cost: u32,
}

impl KdfParams {
    /// The default cost: 19 MiB, 2 passes, 1 lane (the OWASP recommendation for Argon2id).
    pub const DEFAULT: KdfParams = KdfParams {
        m_cost_kib: 19456,
        t_cost: 2,
        p_cost: 1,
    };
    /// The smallest cost Argon2 allows; for tests only.
    pub const FAST: KdfParams = KdfParams {
        m_cost_kib: 8,
        t_cost: 1,
        p_cost: 1,
    };

    /// Largest memory cost accepted (4 GiB), so that a hostile file cannot make us
    /// allocate without bound.
    pub const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
    /// Largest number of passes accepted.
    pub const MAX_T_COST: u32 = 1024;
    /// Largest number of lanes accepted.
    pub const MAX_P_COST: u32 = 64;

    /// Checks that the parameters are in the range Argon2 and we accept
    /// (`CKR_ARGUMENTS_BAD` otherwise).
    pub fn validate(&self) -> Result<()> {
        let ok = self.t_cost >= 1
            && self.t_cost <= Self::MAX_T_COST
            && self.p_cost >= 1
            && self.p_cost <= Self::MAX_P_COST
            && self.m_cost_kib <= Self::MAX_M_COST_KIB
            && u64::from(self.m_cost_kib) >= 8 * u64::from(self.p_cost);
        if ok {
            Ok(())
        } else {
            Err(Error::ArgumentsBad)
        }
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams::DEFAULT
    }
}

/// Derives the 256-bit KEK from a PIN and salt with Argon2id (version 0x13).
pub(crate) fn derive_kek(
    pin: &[u8],
    salt: &[u8],
    p: &KdfParams,
) -> Result<Zeroizing<[u8; KEK_LEN]>> {
    let mut out = Zeroizing::new([0u8; KEK_LEN]);
    argon2id(pin, salt, p, &[], &[], out.as_mut())?;
    Ok(out)
}

fn argon2id(
    pin: &[u8],
    salt: &[u8],
    p: &KdfParams,
    secret: &[u8],
    ad: &[u8],
    out: &mut [u8],
) -> Result<()> {
    p.validate()?;
    let ad = AssociatedData::new(ad).map_err(|_| Error::ArgumentsBad)?;
    let params = ParamsBuilder::new()
        .m_cost(p.m_cost_kib)
        .t_cost(p.t_cost)
        .p_cost(p.p_cost)
        .data(ad)
        .output_len(out.len())
        .build()
        .map_err(|_| Error::ArgumentsBad)?;
    let a2 = Argon2::new_with_secret(secret, Algorithm::Argon2id, Version::V0x13, params)
        .map_err(|_| Error::ArgumentsBad)?;
    a2.hash_password_into(pin, salt, out).map_err(|e| match e {
        argon2::Error::OutOfMemory => Error::HostMemory,
        _ => Error::ArgumentsBad,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 9106 §5.3 (Argon2id test vector).
    #[test]
    fn rfc9106_argon2id_vector() {
        let p = KdfParams {
            m_cost_kib: 32,
            t_cost: 3,
            p_cost: 4,
        };
        let mut out = [0u8; 32];
        argon2id(
            &[0x01; 32],
            &[0x02; 16],
            &p,
            &[0x03; 8],
            &[0x04; 12],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out.to_vec(),
            hex("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
        );
    }

    #[test]
    fn kek_depends_on_pin_salt_and_params() {
        let salt = [9u8; SALT_LEN];
        let a = derive_kek(b"1234", &salt, &KdfParams::FAST).unwrap();
        let b = derive_kek(b"1234", &salt, &KdfParams::FAST).unwrap();
        assert_eq!(*a, *b);
        assert_ne!(*a, *derive_kek(b"1235", &salt, &KdfParams::FAST).unwrap());
        assert_ne!(
            *a,
            *derive_kek(b"1234", &[8u8; SALT_LEN], &KdfParams::FAST).unwrap()
        );
        let p2 = KdfParams {
            t_cost: 2,
            ..KdfParams::FAST
        };
        assert_ne!(*a, *derive_kek(b"1234", &salt, &p2).unwrap());
        // An empty PIN is accepted by the KDF (PIN length rules live in the token layer).
        derive_kek(b"", &salt, &KdfParams::FAST).unwrap();
    }

    #[test]
    fn bad_params_are_refused() {
        let salt = [0u8; SALT_LEN];
        for p in [
            KdfParams {
                m_cost_kib: 7,
                t_cost: 1,
                p_cost: 1,
            },
            KdfParams {
                m_cost_kib: 8,
                t_cost: 0,
                p_cost: 1,
            },
            KdfParams {
                m_cost_kib: 8,
                t_cost: 1,
                p_cost: 0,
            },
            KdfParams {
                m_cost_kib: 8,
                t_cost: 1,
                p_cost: 2,
            },
            KdfParams {
                m_cost_kib: u32::MAX,
                t_cost: 1,
                p_cost: 1,
            },
            KdfParams {
                m_cost_kib: 64,
                t_cost: u32::MAX,
                p_cost: 1,
            },
            KdfParams {
                m_cost_kib: 1 << 20,
                t_cost: 1,
                p_cost: 1000,
            },
        ] {
            assert_eq!(
                derive_kek(b"1", &salt, &p).unwrap_err(),
                Error::ArgumentsBad,
                "{p:?}"
            );
        }
        assert_eq!(
            derive_kek(b"1", &[0u8; 4], &KdfParams::FAST).unwrap_err(),
            Error::ArgumentsBad
        );
        KdfParams::DEFAULT.validate().unwrap();
        KdfParams::FAST.validate().unwrap();
    }
}
