//! The signature mechanisms of PKCS#11 3.0 current mechanisms and 3.2 in the
//! catalogue: EdDSA on Ed25519 (§2.3.14, RFC 8032 test 1 key), ECDSA on P-384
//! (a key pair generated per case), ML-DSA-44 (3.2 §6.67, a key pair generated
//! per case) with `CKM_ML_DSA`, `CKM_HASH_ML_DSA` and every
//! `CKM_HASH_ML_DSA_<hash>`.

use super::ml_dsa_vectors::HASH_ML_DSA_SIGS;
use super::params::{hash_sign_ctx, sign_ctx};
use super::*;

/// RFC 8032 §7.1 test 1: secret key, public key, signature of the empty message.
pub(super) const ED25519_SK: &str =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
pub(super) const ED25519_PK: &str =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const ED25519_SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
/// id-Ed25519 (1.3.101.112), CKA_EC_PARAMS.
pub(super) const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
/// secp384r1 (1.3.132.0.34), CKA_EC_PARAMS.
pub(super) const P384_OID: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// Wycheproof ECDSA P-384/SHA-384 (P1363): the public point and tcId 1's signature of "123400".
const WYCHEPROOF_P384_PUBLIC: &str = "042da57dda1089276a543f9ffdac0bff0d976cad71eb7280e7d9bfd9fee4bdb2f20f47ff888274389772d98cc5752138aa4b6d054d69dcf3e25ec49df870715e34883b1836197d76f8ad962e78f6571bbc7407b0d6091f9e4d88f014274406174f";
const WYCHEPROOF_P384_SIG: &str = "12b30abef6b5476fe6b612ae557c0425661e26b44b1bfe19daf2ca28e3113083ba8e4ae4cc45a0320abd3394f1c548d71840da9fc1d2f8f8900cf485d5413b8c2574ee3a8d4ca03995ca30240e09513805bf6209b58ac7aa9cff54eecd82b9f1";
/// NIST ACVP ML-DSA-keyGen-FIPS204 tcId 1 (ML-DSA-44): the seed ξ and its public key.
const ACVP_ML_DSA_44_SEED: &str =
    "93ef2e6ef1fb08999d142abe0295482370d3f43bdb254a78e2b0d5168eca065f";
const ACVP_ML_DSA_44_PK: &str = "bc5ff810eb089048b8ab3020a7bd3b16c0e0ca3d6b97e4646c2ccae0bbf19ef7230a19d75adbded52db855e252a719fcbd147ba67b2fad14ed0e68fdfe8c65badeacb0911193adfa8794d78f8e3d662a1c49da819fd959e7f078f203c456f8b6e7c9415898e541c73032dbd619eaf60f8d64f8683da99eca51220b0aca28464099f547c02777bd37d84a59bd37ed7a8a92633c75d07c793fe7252b584abf6a15ee14507e5e193f89864d09ac8727a6d0421f0c19f0e2fbfc213d3fbd70f4f9762cecff231e9c8a7628d3f8b0857b032d32de62ff8ecbf4008289bf34403665f81a081ad5a85a282f99bab9e5385afbcccf44b74c0196c7545527ec3026da1280c4eb37d09cfe3ec4b4910b62eb9815a425c6590fc4ad3fbb225752cc1fc5693f187e7dec4eefbeb6b91bd91c5e2ea6a91d14d097be203fba0bf937c97507dc007c4caa9b0785892966ff15900924e579d4fba02bda87555f073dae00513e70809abbc711fba2e7649577c42afdc24bf7413e51268ad6db6113b7d9191af9d061dbded5d630877650c124f11bc4bdc3fdc6a900f63126f921e838ad0c2275a3389a39bd99a134504550101cd3e95e6d1496be7de6627df4fd6c28bbf40b30efa9b5c3d5c85ab14a65c02d6d4781ff13d328608554b6d15ed91289a6d55aac0c38e37706f7355e9a4fda615b875926bfe5a59d9ef273bf94a07cfa573178f0e004b6e1ef0a8349e9bcc01981f2460f0a2743c28d1e138ffb765e7e3397b7913335d402fe91806aa8fc819253af32692fa651e867f5907ef46f00625a030ec904edab21426d59119d2caa43bd935dec0a550c61ee4b279c1ca3a79c79a66e3f2d2fadb00f59a3a438aa44570106073017fa1c8757500109720d125bba231a0c36350c78086dfdc8d613aeca88c4ccaeb4a44d13adb3c717d65c82a351b9b6eabf6a10f4b4e9623e3a95b4d40a12a818ac6b3822db82fb05dc4202648b4454689aeb69ea325f03e35defa54708481420c6d697bb912fca0d3f192ef297dfe77ff36b2103f1ad1aeeced1c814c2cd7ef16bce476ad04f941afc79e3295474a41062518c0037860934f0e5e652f72749a698632a0991f613f5cb96ca1178f974f2c4aa0ce63dc24e364c92a643b90a5f85a62fd4d8d2b193d29b18bede2653fc5d3f24f5b2c018dbbcb6ef00f305bf93666bd47fea9193bc233db39121442e938da5dd07ee6e879c5b9dff41ecee5e0589ae6175ff5ec6f6d2629f56b18b4de66fcb13df0400a797c92270f69bdebddcb88c4248919b56cda70b8ac4f9429c292da94d6478280764fe2386fc38cb0931458839ef4e7de8f0689d99805988c7f96111852c8929e5a540d3b78d712decc396fef3ec34402184e4fd29f363ea80f6fc50ba9a11351aceea8fe68d541e1aa5848d9f6e61dfb62b2f23bc5081e82f76226e03284982ec48481209b1a7d4c8797e44bfa870b22004db74bd7d478d5b3614d2b1da7502b398eb9da80d06461e90e03060446ab4a8238432bfaf752f391791214f1e6b63590d536060d1c245307bc5c1bac4aaa099d36bb6dcbc973cf2e69f2734d0f29aeec4567b99a16bc17c6cddacefe49927fb14e7d98dd4263519469cca3db4679a68ceeda955592210fc49aa5fbe934cc73d84e4ba5478002d6890989068ef8fc98c2532b83bf3cb9ef02893c2152426b9d1a94734dfb4f91135143c9eed18fd51ae875d07a23775606a734fba98c063b4a1622e7ff21aa7e652a3d6c19fe0dc6761b7d35302bf214d3079f76051082a875929920dc3b3cb43211a23a43a50332faf1ac2191e717125f63e2586c4d86dca6bcd3d038f9d3a7b66cbc7df34";
/// The ML-DSA-44 signature of "abc" with the key above, context `CTX`,
/// deterministic (rnd = 0), made once with dilithium-py 1.5.1 (`ML_DSA_44.sign(sk,
/// b"abc", ctx=CTX, deterministic=True)`; that library derives the ACVP public key
/// from the seed).
const ML_DSA_44_SIG_ABC: &str = "386a3b4c499c1b571ce66546d522aaca5d5700b414415aae03f7dd0d488461183c6e7170f056c54e833db8c8c5e1d57e01fb899e7c12c4d00c1bc5c8c5302d4af6896e8c7fc04f9e45acaad8a9fb00612cd22a77fef5ab65a9ba060332bae46f1fd9561ad48b80941dd8940828ff15537bd190928c1623cdde553d53bf535f4561b1317ed1e9de3961f74bc9a62962c2ab6a97ed1c270ecc1d3e4f7102957754c09bbca3c07180b1f95de1b8d17cb51509b4caa13c1208ab78c73ef82fb9d7375f58df19c3e6bfd7de2ff883f7f0f8962980f890edaac0f733753db4efeb279cdcd52ec2d4a2e881199f457dbb97d9e281ffa0a00d63978e2f094c3b59c3a3e47d61b6d95ace81c88145e2a4ec7017a112f933fe13b1214db99c44149aab6c01f1716bdd3fdf1afd16ef27c87b69cec4370a9fc70fdb068811955c2f2982f6d3537e3c7ebfe951eee77cdd3d0fe7b9f8d8f10270761b560bfca3fe8082a530f77e3f603780864e10cb5a59a9b7895b8e11ba91f8d035d68a7ddd606b7af1c9f43f0fcb70c08deabd7d4ae7bf44247854123a83967c365c20f65534e821622baef71e88df6494f9b909e21b7edc82a8b2fda7072895e92b4ac66fd566ed3c4ca54d923737046666a413fe0116a575ec36507bf926abb31e1b184506db08f7e263f1bff6e07b03391853bd8f9d3492a900adf64a8233d24a7b4e497dfb5c3ea956c2ceeb27cc8272aa1d025e3cc601ac1ada5b3459ede836e5e0cd10728e459b150be41e94cc96873bfd7cd50a49768b5bf50896f72a033ff0c3f0269796e27bb6e8cd2bdc31778e2eb394676dc344747a8dd97ae741b34815b0d1aeffe55f59c1d4a56d840045d8c5b5fba0f632e4f04d95ee281ea0b1a58d9c96eac1eb17b65f1e37dacc905603ba4d05565a92887aff34d164913e0646f4e56cbbd5e8961aaef6aaa20e1dfb61b257529bb3e772c1f5e9de57864811e9a9a7557274c69a72ab46f4dad2b2bbcb02db5c96c05e74d35b0aa8cc08e3b3d4f7745b2781835110f2ae96da7286c8260d6ad0299fe0fc2647ec592bf748cf9a973fb72d56ee5643956953b14cf028553f4de0a74731ff4015fe2c3a81f4971fd7e9fb25b02a577f36b74171645813a2d05c808f94f1ea288b1961bed9f7503b3bdc9d5f1b11fd1575d1dd660ee3621dc7451637424e430784ab5f7714fae396a19749ecdc2ba4ee52fc75b50176df53a06e6ba40f98b1fb89576c6fc65e1a6ed2414a2962a69eb3c2a1ab1c7853d34bbf2b4481ca84a36161d68c2abebd56af26564d9a39dccc1ac6eef2f7d1d4a90c3bf92a67dc3d9927924f2c261d7658c1308799fe1ccc6065207770796a545bbb61baea1421510c474e72e9da832abe371f3e8a55f90e1aaff5dcb1e6def25c7c08c054436488b1003ec44643960662c22ecd464d125e8f75564672839782b11a591a28f9572cf18a80def26fec48c4ca6483301886dae7e41d97227e3ebc9b8a9d1d540f5badfeea7f03986affc97266553c61b45dc635cb93cf618e5509493920f2c44cf43820a437d5ad7ce554d900490a4af8e878dec9b524bf899c41e6c995e915e1365663b9451b219c2f193506fa018b5a8f36cb5b8213afdafe91d2dfa1a8f3c590d4c46dae5c4dbd1621a64e9a317fc64a344cfe7b20e71136a84c975324909d656ca6adf74ec9809a4160fc86f0e91814d2356c4d27a6d476ee0d7b3bc1ec0b230cafd65aa0158c978f038c103691a3acf9c60951f6556c03f26f10b8dff71106ea2b26f92f0694cd7fd5b6ae088b03b673c4ffeb733af23f6d8e8aad748ab3a2816801d63149035dd581170b22a910d9939edfdeefc3e3ebc6640262e69164757da0a85bd83c32d220cd00a6b7b64111fed350076ed95e093bd3bed913e4ebb71cfd866ed065a0918648ac810701288e5cfc9fb07f03c61e8f49b91cf70a7c24c60e6c1fce8a1865975fac9ca79d3af929f19a8a4e720f057da1d7f784d905c27baafc323f18e0fcd5ed3b8cb077d00730173fe5cfa379250008866b21a16c828a014ed5245eea2535247283be774b34dca5bc7ed975a65b8b374582092f08a8573e435729c3fd78f2c545315049004f3f86bfb984a060e2cbc1cbcf453a6a7a73c60d437fa4d8e2112bbe34169cfcbb69de02c13553260932a99804444d3657360cbf033a12150d3e0a7c18886120cd773736a122bf5ac78e0fe0427403d6651f302edb3848d6c943386ba334eb80326efba588a9f8638168e9dbf5ce51ceb0fad06eecdde25462b2bf9ad353a10fdd142d110f7cb569702c1b6d215ef61f3bf6da61efc0e800977f0dc476fd92474b55b70dcc3195c4dafefd0c2d52bdcc185b785f35af2db79fbf342d64974a08c7583f44c96abce1ed1bb1f26cb973ab35823eb27448406676130c644d9bd85f3dbd5dea3e25dd8817912b9ce0fb4288a247a3aee0605746f1560de437f03ce215cbcab738165939855ee91e51c458cede26163c38bda6349bad96280d90413b5d9b30d32d1685297cbfd9f5f0ab25c4fba38e40764bec0c54ba2ae328a6d79eabf271d195619a413000ae3231178a2877f015e8f5d3a9032f77fa421e81e44456b5dedcb17c3e56810e6e2d8add72a8851b79324753578e8f38ccae79cca1986f1ad8c87b7cbd0ad222d9d8d8d6c8e9eff5f17892ec6d533f7d6069054635ff56e6a9f3ff817024d1f6d6ee54413c775bf2c1f28bf625e9132cb76fb485f71ca277f3efa1d73fa8fce1bf389ea5d841e6621984460a89ea1269e125c0cdb2017899ae802d9b3f08f2fc3212d5f3cfb91c44dbe965cf42548761876f058d0ec3be5405c56338cd3beabadba1e2b1def0ea4fbd847ab3138f19bd9fe0f069f43719396f1c0ac5b382f420af0e696739a8bcd6b873de393cc3fbfa99656592d0c3216834d7d218a69dcb19baa32b0c469cd941d429e74bbada58c54c5fb3e62cf5d17dc52b5c8e8e1aa78cf7428dc68bf1e03501484f827f3cc83f607586b8214f53ba2a633d9df8cb98f41e8871c51797ddfdaccc15b4190e5008ed13378e138de358f7a5dcc3d6417bdaa3fc2b927c76e5f0c5ef0528aa8f32516a2106e9c748e5c303dc36203001601c3ad56e5e400861daa803a2789515a0058d071ee8171d51ef672af859c147aa7db769e934860c264acbb2b63ed4cc36aa1847a822cb2e91a327456bc5ce20782dc59349427358a91c55c847c58d41c3cd20e9bf1272e13a3bd3df4e15554867e3b3f3e2d7c4071e1c6408914a510c881dc5b80036216b65581f53847f838695b0b6c3c6ccd1daecf332364c5f6271788c94b9d7fb0002293968758ba4ccd9dfe2e4040f101b26565c787994a3a5c7f3000000000000000000000000000000000000000000000000000000000d192634";
/// The context the `CKM_ML_DSA` row signs with (deterministic variant).
const CTX: &[u8] = b"pkcs11-conformance";

/// The hashes of `CKM_HASH_ML_DSA_<hash>` with their digest lengths.
pub(super) const HASH_ML_DSA: [(&str, CK_MECHANISM_TYPE); 10] = [
    ("HASH_ML_DSA_SHA224", CKM_HASH_ML_DSA_SHA224),
    ("HASH_ML_DSA_SHA256", CKM_HASH_ML_DSA_SHA256),
    ("HASH_ML_DSA_SHA384", CKM_HASH_ML_DSA_SHA384),
    ("HASH_ML_DSA_SHA512", CKM_HASH_ML_DSA_SHA512),
    ("HASH_ML_DSA_SHA3_224", CKM_HASH_ML_DSA_SHA3_224),
    ("HASH_ML_DSA_SHA3_256", CKM_HASH_ML_DSA_SHA3_256),
    ("HASH_ML_DSA_SHA3_384", CKM_HASH_ML_DSA_SHA3_384),
    ("HASH_ML_DSA_SHA3_512", CKM_HASH_ML_DSA_SHA3_512),
    ("HASH_ML_DSA_SHAKE128", CKM_HASH_ML_DSA_SHAKE128),
    ("HASH_ML_DSA_SHAKE256", CKM_HASH_ML_DSA_SHAKE256),
];

/// A context of 256 bytes, one more than FIPS 204 allows (`CKR_MECHANISM_PARAM_INVALID`).
fn long_ctx(ty: CK_MECHANISM_TYPE) -> fn() -> Mech {
    macro_rules! pick {
        ($($c:ident),*) => {
            match ty {
                $($c => m!(sign_ctx($c, CKH_HEDGE_PREFERRED, &[0x55; 256])),)*
                _ => m!(Mech::new(CK_UNAVAILABLE_INFORMATION)),
            }
        };
    }
    pick!(
        CKM_ML_DSA,
        CKM_HASH_ML_DSA_SHA224,
        CKM_HASH_ML_DSA_SHA256,
        CKM_HASH_ML_DSA_SHA384,
        CKM_HASH_ML_DSA_SHA512,
        CKM_HASH_ML_DSA_SHA3_224,
        CKM_HASH_ML_DSA_SHA3_256,
        CKM_HASH_ML_DSA_SHA3_384,
        CKM_HASH_ML_DSA_SHA3_512,
        CKM_HASH_ML_DSA_SHAKE128,
        CKM_HASH_ML_DSA_SHAKE256
    )
}

/// The deterministic signing parameter with `CTX` (the known answers).
fn det_ctx(ty: CK_MECHANISM_TYPE) -> fn() -> Mech {
    macro_rules! pick {
        ($($c:ident),*) => {
            match ty {
                $($c => m!(sign_ctx($c, CKH_DETERMINISTIC_REQUIRED, CTX)),)*
                _ => m!(Mech::new(CK_UNAVAILABLE_INFORMATION)),
            }
        };
    }
    pick!(
        CKM_HASH_ML_DSA_SHA224,
        CKM_HASH_ML_DSA_SHA256,
        CKM_HASH_ML_DSA_SHA384,
        CKM_HASH_ML_DSA_SHA512,
        CKM_HASH_ML_DSA_SHA3_224,
        CKM_HASH_ML_DSA_SHA3_256,
        CKM_HASH_ML_DSA_SHA3_384,
        CKM_HASH_ML_DSA_SHA3_512,
        CKM_HASH_ML_DSA_SHAKE128,
        CKM_HASH_ML_DSA_SHAKE256
    )
}

/// The HashML-DSA known answer of a `CKM_HASH_ML_DSA_<hash>` name.
fn hash_sig(name: &str) -> Option<Vec<u8>> {
    HASH_ML_DSA_SIGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, sig)| hx(sig))
}

/// This family's rows of the catalogue.
pub(super) fn specs(v: &mut Vec<Spec>) {
    // --- EdDSA (3.0 current mechanisms §2.3.14): pure Ed25519 without a parameter;
    // a parameter of the wrong size is CKR_MECHANISM_PARAM_INVALID.
    v.push(Spec {
        name: "EDDSA",
        ty: CKM_EDDSA,
        fam: Fam::EdDsa,
        mech: m!(Mech::new(CKM_EDDSA)),
        bad_param: Some(m!(Mech::with_bytes(CKM_EDDSA, &[0u8; 3]))),
        multipart: true,
        deterministic: true,
        input_len: 100,
        kat: Some(Kat {
            key: None,
            mech: m!(Mech::new(CKM_EDDSA)),
            op: Op::Verify,
            input: Vec::new(),
            output: hx(ED25519_SIG),
        }),
    });
    // --- ECDSA on P-384 (§2.3): the same mechanisms with a 384-bit key.
    v.push(Spec {
        name: "ECDSA(P-384)",
        ty: CKM_ECDSA,
        fam: Fam::Ecdsa,
        mech: m!(Mech::new(CKM_ECDSA)),
        bad_param: None,
        multipart: false,
        deterministic: false,
        input_len: 48,
        // The same Wycheproof signature over SHA-384("123400").
        kat: Some(Kat {
            key: Some(hx(WYCHEPROOF_P384_PUBLIC)),
            mech: m!(Mech::new(CKM_ECDSA)),
            op: Op::Verify,
            input: hx("f9b127f0d81ebcd17b7ba0ea131c660d340b05ce557c82160e0f793de07d38179023942871acb7002dfafdfffc8deace"),
            output: hx(WYCHEPROOF_P384_SIG),
        }),
    });
    // Wycheproof ecdsa_secp384r1_sha384_p1363_test.json tcId 1 (valid).
    v.push(Spec {
        name: "ECDSA_SHA384(P-384)",
        ty: CKM_ECDSA_SHA384,
        fam: Fam::Ecdsa,
        mech: m!(Mech::new(CKM_ECDSA_SHA384)),
        bad_param: None,
        multipart: true,
        deterministic: false,
        input_len: 100,
        kat: Some(Kat {
            key: Some(hx(WYCHEPROOF_P384_PUBLIC)),
            mech: m!(Mech::new(CKM_ECDSA_SHA384)),
            op: Op::Verify,
            input: hx("313233343030"),
            output: hx(WYCHEPROOF_P384_SIG),
        }),
    });
    // --- ML-DSA (3.2 §6.67) with an ML-DSA-44 key. CKM_ML_DSA signs with a context
    // and CKH_DETERMINISTIC_REQUIRED, so its output repeats.
    v.push(Spec {
        name: "ML_DSA",
        ty: CKM_ML_DSA,
        fam: Fam::MlDsa,
        mech: m!(sign_ctx(CKM_ML_DSA, CKH_DETERMINISTIC_REQUIRED, CTX)),
        bad_param: Some(long_ctx(CKM_ML_DSA)),
        multipart: true,
        deterministic: true,
        input_len: 100,
        // The private key from the ACVP seed (CKA_SEED) signs as dilithium-py does.
        kat: Some(Kat {
            key: Some(hx(ACVP_ML_DSA_44_SEED)),
            mech: m!(sign_ctx(CKM_ML_DSA, CKH_DETERMINISTIC_REQUIRED, CTX)),
            op: Op::Sign,
            input: b"abc".to_vec(),
            output: hx(ML_DSA_44_SIG_ABC),
        }),
    });
    // CKM_HASH_ML_DSA signs a hash the caller made: single-part, the hash named in
    // the parameter (a mechanism that is no hash is CKR_MECHANISM_PARAM_INVALID).
    v.push(Spec {
        name: "HASH_ML_DSA",
        ty: CKM_HASH_ML_DSA,
        fam: Fam::MlDsa,
        mech: m!(hash_sign_ctx(CKH_HEDGE_PREFERRED, b"", CKM_SHA256)),
        bad_param: Some(m!(hash_sign_ctx(CKH_HEDGE_PREFERRED, b"", CKM_AES_ECB))),
        multipart: false,
        deterministic: false,
        input_len: 32,
        // The caller's SHA-256 of "abc" signs as CKM_HASH_ML_DSA_SHA256 signs "abc".
        kat: hash_sig("HASH_ML_DSA_SHA256").map(|sig| Kat {
            key: Some(hx(ACVP_ML_DSA_44_SEED)),
            mech: m!(hash_sign_ctx(CKH_DETERMINISTIC_REQUIRED, CTX, CKM_SHA256)),
            op: Op::Sign,
            input: hx(ABC_SHA256),
            output: sig,
        }),
    });
    for (name, ty) in HASH_ML_DSA {
        v.push(Spec {
            name,
            ty,
            fam: Fam::MlDsa,
            mech: simple(ty),
            bad_param: Some(long_ctx(ty)),
            multipart: true,
            deterministic: false,
            input_len: 100,
            kat: hash_sig(name).map(|sig| Kat {
                key: Some(hx(ACVP_ML_DSA_44_SEED)),
                mech: det_ctx(ty),
                op: Op::Sign,
                input: b"abc".to_vec(),
                output: sig,
            }),
        });
    }
}

/// The RFC 8032 test 1 key as (public, private) CKK_EC_EDWARDS objects.
pub fn ed25519_pair(
    m: &Module,
    s: CK_SESSION_HANDLE,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    let public = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .bytes(CKA_EC_PARAMS, &ED25519_OID)
            .bytes(CKA_EC_POINT, &ec_point_der(ED25519_PK)),
    )?;
    let private = m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
            .flag(CKA_TOKEN, false)
            .flag(CKA_PRIVATE, true)
            .flag(CKA_SENSITIVE, true)
            .flag(CKA_SIGN, true)
            .bytes(CKA_EC_PARAMS, &ED25519_OID)
            .bytes(CKA_VALUE, &hx(ED25519_SK)),
    )?;
    Ok((public, private))
}

/// A generated P-384 pair (public, private).
pub fn p384_pair(
    m: &Module,
    s: CK_SESSION_HANDLE,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    m.generate_pair(
        s,
        &Mech::new(CKM_EC_KEY_PAIR_GEN),
        &Template::new()
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .bytes(CKA_EC_PARAMS, &P384_OID),
        &Template::new()
            .flag(CKA_TOKEN, false)
            .flag(CKA_PRIVATE, true)
            .flag(CKA_SIGN, true),
    )
}

/// A P-384 public key with this uncompressed point.
pub fn p384_public(
    m: &Module,
    s: CK_SESSION_HANDLE,
    point: &[u8],
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_EC)
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .bytes(CKA_EC_PARAMS, &P384_OID)
            .bytes(
                CKA_EC_POINT,
                &[vec![0x04, point.len() as u8], point.to_vec()].concat(),
            ),
    )
}

/// An ML-DSA private key from its seed (CKA_SEED, 3.2 §6.67).
pub fn ml_dsa_private_from_seed(
    m: &Module,
    s: CK_SESSION_HANDLE,
    set: CK_ULONG,
    seed: &[u8],
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
            .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
            .flag(CKA_TOKEN, false)
            .flag(CKA_PRIVATE, true)
            .flag(CKA_SENSITIVE, true)
            .flag(CKA_SIGN, true)
            .ulong(CKA_PARAMETER_SET, set)
            .bytes(CKA_SEED, seed),
    )
}

/// An ML-DSA public key with this value.
pub fn ml_dsa_public(
    m: &Module,
    s: CK_SESSION_HANDLE,
    set: CK_ULONG,
    value: &[u8],
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    m.create(
        s,
        &Template::new()
            .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
            .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .ulong(CKA_PARAMETER_SET, set)
            .bytes(CKA_VALUE, value),
    )
}

/// A generated ML-DSA pair of the parameter set (public, private).
pub fn ml_dsa_pair(
    m: &Module,
    s: CK_SESSION_HANDLE,
    set: CK_ULONG,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    m.generate_pair(
        s,
        &Mech::new(CKM_ML_DSA_KEY_PAIR_GEN),
        &Template::new()
            .flag(CKA_TOKEN, false)
            .flag(CKA_VERIFY, true)
            .ulong(CKA_PARAMETER_SET, set),
        &Template::new()
            .flag(CKA_TOKEN, false)
            .flag(CKA_PRIVATE, true)
            .flag(CKA_SIGN, true),
    )
}

/// `CK_EDDSA_PARAMS` (cm §2.3.14).
fn eddsa(ph: bool, ctx: &[u8]) -> Mech {
    let mut c = ctx.to_vec();
    let p = CK_EDDSA_PARAMS {
        phFlag: if ph { CK_TRUE } else { CK_FALSE },
        ulContextDataLen: c.len() as CK_ULONG,
        pContextData: if c.is_empty() {
            std::ptr::null_mut()
        } else {
            c.as_mut_ptr()
        },
    };
    Mech::with_parts(CKM_EDDSA, p11_testkit::struct_bytes(&p), vec![c])
}

/// Sign with `sign`, then verify with `verify`: the verification's return code.
fn sign_then_verify(
    m: &Module,
    s: CK_SESSION_HANDLE,
    (public, private): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    sign: &Mech,
    verify: &Mech,
    data: &[u8],
) -> Result<CK_RV, Outcome> {
    let sig = m
        .run(Op::Sign, s, sign, private, data)
        .map_err(|rv| Outcome::Fail(format!("C_Sign: {}", rv_name(rv))))?;
    Ok(m.run_verify(s, verify, public, data, &sig))
}

/// Cases on the parameters of EdDSA and ML-DSA beyond the catalogue's: the
/// context binds the signature, limits on the context and hedging variant,
/// the hash length of `CKM_HASH_ML_DSA`.
pub(super) fn params_cases(r: &mut Runner, env: &Env) {
    let sec = "cm §2.3.14";
    let ed = [
        "mech.EDDSA.context-round-trip",
        "mech.EDDSA.context-binds",
        "mech.EDDSA.ph-round-trip",
        "mech.EDDSA.context-too-long",
    ];
    if env.mechs.contains(&CKM_EDDSA) {
        r.case(ed[0], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(ed25519_pair(m, s), "importing the Ed25519 key");
            let rv = match sign_then_verify(
                m,
                s,
                k,
                &eddsa(false, b"foo"),
                &eddsa(false, b"foo"),
                b"abc",
            ) {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            expect_rv(&[CKR_OK], rv)
        });
        r.case(ed[1], sec, env, |m, e| {
            // Ed25519ctx with context "foo" does not verify as "bar", nor as pure Ed25519.
            let s = t!(user(m, e), "open+login");
            let k = t!(ed25519_pair(m, s), "importing the Ed25519 key");
            let rv = match sign_then_verify(
                m,
                s,
                k,
                &eddsa(false, b"foo"),
                &eddsa(false, b"bar"),
                b"abc",
            ) {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            ensure!(
                rv == CKR_SIGNATURE_INVALID,
                "context \"bar\": expected CKR_SIGNATURE_INVALID, got {}",
                rv_name(rv)
            );
            let rv = match sign_then_verify(
                m,
                s,
                k,
                &eddsa(false, b"foo"),
                &Mech::new(CKM_EDDSA),
                b"abc",
            ) {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            expect_rv(&[CKR_SIGNATURE_INVALID], rv)
        });
        r.case(ed[2], sec, env, |m, e| {
            // Ed25519ph (phFlag TRUE) verifies as Ed25519ph and not as pure Ed25519.
            let s = t!(user(m, e), "open+login");
            let k = t!(ed25519_pair(m, s), "importing the Ed25519 key");
            let rv = match sign_then_verify(m, s, k, &eddsa(true, b""), &eddsa(true, b""), b"abc") {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            ensure!(
                rv == CKR_OK,
                "Ed25519ph: expected CKR_OK, got {}",
                rv_name(rv)
            );
            let rv =
                match sign_then_verify(m, s, k, &eddsa(true, b""), &Mech::new(CKM_EDDSA), b"abc") {
                    Ok(rv) => rv,
                    Err(o) => return o,
                };
            expect_rv(&[CKR_SIGNATURE_INVALID], rv)
        });
        r.case(ed[3], sec, env, |m, e| {
            // RFC 8032 §5.1: a context is at most 255 bytes.
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(ed25519_pair(m, s), "importing the Ed25519 key");
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                m.op_init(Op::Sign, s, &eddsa(false, &[7; 256]), q),
            )
        });
    } else {
        for id in ed {
            r.record(
                id,
                sec,
                Outcome::Skip("CKM_EDDSA not supported (not advertised)".into()),
            );
        }
    }
    let sec = "3.2 §6.67";
    let ml = [
        "mech.ML_DSA.context-binds",
        "mech.ML_DSA.hedge-invalid",
        "mech.ML_DSA.deterministic-repeats",
        "mech.ML_DSA.known-answer-verify",
    ];
    if env.mechs.contains(&CKM_ML_DSA) {
        r.case(ml[0], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let k = t!(
                ml_dsa_pair(m, s, CKP_ML_DSA_44),
                "C_GenerateKeyPair(ML-DSA-44)"
            );
            let a = sign_ctx(CKM_ML_DSA, CKH_HEDGE_PREFERRED, b"context A");
            let b = sign_ctx(CKM_ML_DSA, CKH_HEDGE_PREFERRED, b"context B");
            let rv = match sign_then_verify(m, s, k, &a, &b, b"abc") {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            ensure!(
                rv == CKR_SIGNATURE_INVALID,
                "other context: expected CKR_SIGNATURE_INVALID, got {}",
                rv_name(rv)
            );
            let rv = match sign_then_verify(m, s, k, &a, &Mech::new(CKM_ML_DSA), b"abc") {
                Ok(rv) => rv,
                Err(o) => return o,
            };
            expect_rv(&[CKR_SIGNATURE_INVALID], rv)
        });
        r.case(ml[1], sec, env, |m, e| {
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(
                ml_dsa_pair(m, s, CKP_ML_DSA_44),
                "C_GenerateKeyPair(ML-DSA-44)"
            );
            expect_rv(
                &[CKR_MECHANISM_PARAM_INVALID],
                m.op_init(Op::Sign, s, &sign_ctx(CKM_ML_DSA, 0x99, b""), q),
            )
        });
        r.case(ml[2], sec, env, |m, e| {
            // CKH_DETERMINISTIC_REQUIRED: the same signature twice; hedged: two different ones.
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(
                ml_dsa_pair(m, s, CKP_ML_DSA_44),
                "C_GenerateKeyPair(ML-DSA-44)"
            );
            let det = sign_ctx(CKM_ML_DSA, CKH_DETERMINISTIC_REQUIRED, b"");
            let a = t!(
                m.run(Op::Sign, s, &det, q, b"abc"),
                "C_Sign (deterministic)"
            );
            let b = t!(
                m.run(Op::Sign, s, &det, q, b"abc"),
                "C_Sign (deterministic, again)"
            );
            ensure!(a == b, "expected the same deterministic signature twice");
            let hedged = sign_ctx(CKM_ML_DSA, CKH_HEDGE_REQUIRED, b"");
            let c = t!(m.run(Op::Sign, s, &hedged, q, b"abc"), "C_Sign (hedged)");
            let d = t!(
                m.run(Op::Sign, s, &hedged, q, b"abc"),
                "C_Sign (hedged, again)"
            );
            check(c != d && c.len() == 2420, || {
                "expected two different 2420-byte hedged signatures".into()
            })
        });
        r.case(ml[3], sec, env, |m, e| {
            // The ACVP public key verifies dilithium-py's signature, and not with another context.
            let s = t!(user(m, e), "open+login");
            let p = t!(
                ml_dsa_public(m, s, CKP_ML_DSA_44, &hx(ACVP_ML_DSA_44_PK)),
                "C_CreateObject(ACVP public key)"
            );
            let sig = hx(ML_DSA_44_SIG_ABC);
            let rv = m.run_verify(
                s,
                &sign_ctx(CKM_ML_DSA, CKH_HEDGE_PREFERRED, CTX),
                p,
                b"abc",
                &sig,
            );
            ensure!(rv == CKR_OK, "expected CKR_OK, got {}", rv_name(rv));
            let rv = m.run_verify(s, &Mech::new(CKM_ML_DSA), p, b"abc", &sig);
            expect_rv(&[CKR_SIGNATURE_INVALID], rv)
        });
    } else {
        for id in ml {
            r.record(
                id,
                sec,
                Outcome::Skip("CKM_ML_DSA not supported (not advertised)".into()),
            );
        }
    }
    let id = "mech.HASH_ML_DSA.data-len-range";
    if env.mechs.contains(&CKM_HASH_ML_DSA) {
        r.case(id, sec, env, |m, e| {
            // The data is the SHA-256 hash named in the parameter: 31 bytes is not one.
            let s = t!(user(m, e), "open+login");
            let (_, q) = t!(
                ml_dsa_pair(m, s, CKP_ML_DSA_44),
                "C_GenerateKeyPair(ML-DSA-44)"
            );
            let mech = hash_sign_ctx(CKH_HEDGE_PREFERRED, b"", CKM_SHA256);
            expect_rv(
                &[CKR_DATA_LEN_RANGE],
                m.run(Op::Sign, s, &mech, q, &[1; 31])
                    .err()
                    .unwrap_or(CKR_OK),
            )
        });
    } else {
        r.record(
            id,
            sec,
            Outcome::Skip("CKM_HASH_ML_DSA not supported (not advertised)".into()),
        );
    }
}
