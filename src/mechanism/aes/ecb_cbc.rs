//! ECB, CBC and CBC_PAD (PKCS#11 3.0 current mechanisms §2.12 ff.) with AES:
//! the block modes of `crate::mechanism::block` over the AES key schedule.

use crate::crypto::aes::{cbc_decrypt, cbc_encrypt, GcmKey, BLOCK};
use crate::mechanism::block::BlockCipher;

impl BlockCipher<BLOCK> for GcmKey {
    fn encrypt_blocks(&self, data: &mut [u8]) {
        self.aes().encrypt_blocks(data);
    }
    fn decrypt_blocks(&self, data: &mut [u8]) {
        self.aes().decrypt_blocks(data);
    }
    fn cbc_encrypt(&self, iv: &mut [u8; BLOCK], data: &mut [u8]) {
        cbc_encrypt(self.aes(), iv, data);
    }
    fn cbc_decrypt(&self, iv: &mut [u8; BLOCK], data: &mut [u8]) {
        cbc_decrypt(self.aes(), iv, data);
    }
}
