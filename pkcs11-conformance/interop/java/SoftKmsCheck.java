// Run by ../java.sh: SunPKCS11 (Java 17) against a PKCS#11 module through the
// JCA APIs. Usage: java SoftKmsCheck.java CFG PIN RSA_ALIAS EC_ALIAS
// Prints one "ok   NAME" / "FAIL NAME: why" line per check; exit 1 on a failure.
import java.nio.charset.StandardCharsets;
import java.security.*;
import java.security.cert.Certificate;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.KeyGenerator;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;

public class SoftKmsCheck {
    static int failed = 0;

    interface Check { void run() throws Exception; }

    static void check(String name, Check c) {
        try {
            c.run();
            System.out.println("ok   " + name);
        } catch (Throwable e) {
            failed++;
            System.out.println("FAIL " + name + ": " + e);
            Throwable cause = e.getCause();
            while (cause != null) {
                System.out.println("     caused by " + cause);
                cause = cause.getCause();
            }
        }
    }

    static void require(boolean cond, String what) {
        if (!cond) throw new IllegalStateException(what);
    }

    public static void main(String[] args) throws Exception {
        String cfg = args[0];
        char[] pin = args[1].toCharArray();
        String rsaAlias = args[2], ecAlias = args[3];
        byte[] msg = "SoftKMS through SunPKCS11".getBytes(StandardCharsets.UTF_8);

        Provider p = Security.getProvider("SunPKCS11").configure(cfg);
        Security.addProvider(p);
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        ks.load(null, pin);

        for (String[] t : new String[][] {{rsaAlias, "SHA256withRSA"}, {ecAlias, "SHA256withECDSA"}}) {
            String alias = t[0], alg = t[1];
            check(alg + " sign/verify", () -> {
                PrivateKey priv = (PrivateKey) ks.getKey(alias, null);
                require(priv != null, "no private key " + alias);
                Certificate cert = ks.getCertificate(alias);
                require(cert != null, "no certificate " + alias);
                Signature s = Signature.getInstance(alg, p);
                s.initSign(priv);
                s.update(msg);
                byte[] sig = s.sign();
                // verify on the token, then with the JDK's own software provider
                Signature v = Signature.getInstance(alg, p);
                v.initVerify(cert.getPublicKey());
                v.update(msg);
                require(v.verify(sig), "token verify rejected the signature");
                Signature sw = null;
                for (Provider q : Security.getProviders()) {
                    if (q != p && q.getService("Signature", alg) != null) {
                        sw = Signature.getInstance(alg, q);
                        break;
                    }
                }
                require(sw != null, "no software provider for " + alg);
                sw.initVerify(cert.getPublicKey());
                sw.update(msg);
                require(sw.verify(sig), sw.getProvider().getName() + " verify rejected the signature");
                byte[] bad = msg.clone();
                bad[0] ^= 1;
                v.initVerify(cert.getPublicKey());
                v.update(bad);
                require(!v.verify(sig), "token verify accepted a signature over other data");
            });
        }

        SecretKey[] aes = new SecretKey[1];
        check("KeyGenerator AES-256 on the token", () -> {
            KeyGenerator kg = KeyGenerator.getInstance("AES", p);
            kg.init(256);
            aes[0] = kg.generateKey();
            require(aes[0] != null && aes[0].getAlgorithm().equals("AES"), "no AES key");
        });
        SecureRandom rnd = new SecureRandom();
        check("Cipher AES/GCM/NoPadding encrypt/decrypt", () -> {
            byte[] iv = new byte[12];
            rnd.nextBytes(iv);
            byte[] aad = "header".getBytes(StandardCharsets.UTF_8);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding", p);
            c.init(Cipher.ENCRYPT_MODE, aes[0], new GCMParameterSpec(128, iv));
            c.updateAAD(aad);
            byte[] ct = c.doFinal(msg);
            require(ct.length == msg.length + 16, "ciphertext length " + ct.length);
            Cipher d = Cipher.getInstance("AES/GCM/NoPadding", p);
            d.init(Cipher.DECRYPT_MODE, aes[0], new GCMParameterSpec(128, iv));
            d.updateAAD(aad);
            require(Arrays.equals(d.doFinal(ct), msg), "decryption differs");
            byte[] bad = ct.clone();
            bad[0] ^= 1;
            d.init(Cipher.DECRYPT_MODE, aes[0], new GCMParameterSpec(128, iv));
            d.updateAAD(aad);
            boolean rejected = false;
            try {
                d.doFinal(bad);
            } catch (GeneralSecurityException e) {
                rejected = true;
            }
            require(rejected, "a tampered ciphertext decrypted");
        });
        check("Cipher AES/CBC/PKCS5Padding encrypt/decrypt", () -> {
            byte[] iv = new byte[16];
            rnd.nextBytes(iv);
            Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding", p);
            c.init(Cipher.ENCRYPT_MODE, aes[0], new IvParameterSpec(iv));
            byte[] ct = c.doFinal(msg);
            require(ct.length == (msg.length / 16 + 1) * 16, "ciphertext length " + ct.length);
            Cipher d = Cipher.getInstance("AES/CBC/PKCS5Padding", p);
            d.init(Cipher.DECRYPT_MODE, aes[0], new IvParameterSpec(iv));
            require(Arrays.equals(d.doFinal(ct), msg), "decryption differs");
        });
        System.exit(failed == 0 ? 0 : 1);
    }
}
