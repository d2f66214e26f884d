//! Crypto as awaitable calls: AES-256-GCM seal/open of messages, SHA-256 of a file streamed in chunks, HMAC
//! sign/verify, each result checked against the CPU implementation (RustCrypto's `aes-gcm`, `sha2`, `hmac`), and
//! public-key jobs on the HPRE engine: ECDSA P-256 sign/verify (checked with RustCrypto's `p256`), an ECDH P-256
//! key agreement, RSA-2048 signatures (PKCS#1 v1.5 and PSS) and OAEP (checked against the CPU backend, aws-lc-rs).
//!
//! `cargo run --release --example crypto` uses real uacce SEC devices when present and the in-process emulated
//! device otherwise, and says which; `UACCE_BACKEND=auto|hw|emu|cpu` chooses explicitly, `UACCE_MODE` the
//! notification mode (default eventfd). An optional argument names the file to hash (default: a generated 24 MiB
//! temporary file).

use std::time::Instant;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::Mac;
use sha2::Digest;
use tokio::io::AsyncReadExt;
use uacce_async::{
    Accel, AeadKey, Backend, EcCurve, EcPrivateKey, Error, HashAlg, HmacKey, JobKind, Nonce,
    NotifyMode, RsaHash, RsaPrivateKey,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Deterministic filler (xorshift), so the messages are not all zeros.
fn filler(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `UACCE_BACKEND` if set; else real devices if the machine has them, else the emulator (as the tour does).
async fn open_accel(mode: NotifyMode) -> Result<Accel, BoxError> {
    if std::env::var_os("UACCE_BACKEND").is_some() {
        let backend = Backend::from_env()?;
        return Ok(Accel::builder().backend(backend).mode(mode).build().await?);
    }
    match Accel::builder()
        .backend(Backend::Hardware)
        .mode(mode)
        .build()
        .await
    {
        Ok(a) => Ok(a),
        Err(e) => {
            println!("no usable uacce devices ({e}); using the in-process emulated device");
            Ok(Accel::builder()
                .backend(Backend::Emulated)
                .mode(mode)
                .build()
                .await?)
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mode: NotifyMode = match std::env::var("UACCE_MODE") {
        Ok(m) => m.parse()?,
        Err(_) => NotifyMode::Eventfd,
    };
    let accel = open_accel(mode).await?;
    println!(
        "crypto on {} (mode {mode}, offloaded: {})",
        accel.description(),
        accel.crypto_offloaded()
    );
    let mut checks = 0usize;

    // --- AES-256-GCM: seal several messages concurrently, open them, check against aes-gcm. ---
    println!("\nAES-256-GCM seal/open");
    let key_bytes = filler(32, 1);
    let key = AeadKey::new(&key_bytes)?;
    let cpu = aes_gcm::Aes256Gcm::new_from_slice(&key_bytes)?;
    let aad = b"uacce-rs crypto example, message header";
    let sizes = [0usize, 1, 16, 100, 4096, 65_536, 1 << 20];
    let mut tasks = tokio::task::JoinSet::new();
    for (i, &len) in sizes.iter().enumerate() {
        let (accel, key) = (accel.clone(), key.clone());
        let msg = filler(len, 100 + i as u64);
        // A fresh random nonce per message (the key is fixed here so that runs can be compared, so a counter that
        // restarts at every run would repeat nonces under it).
        let fresh = Nonce::random()?;
        let nonce = *fresh.as_bytes();
        tasks.spawn(async move {
            let t = Instant::now();
            let sealed = accel.aes_gcm_seal(&key, fresh, aad, msg.clone()).await?;
            let opened = accel
                .aes_gcm_open(&key, &nonce, aad, sealed.clone())
                .await?;
            Ok::<_, Error>((i, msg, nonce, sealed, opened, t.elapsed()))
        });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.push(r??);
    }
    results.sort_by_key(|r| r.0);
    for (i, msg, nonce, sealed, opened, took) in results {
        let reference = cpu
            .encrypt(
                aes_gcm::Nonce::from_slice(&nonce),
                Payload { msg: &msg, aad },
            )
            .map_err(|_| "aes-gcm reference failed")?;
        if sealed[..] != reference[..] {
            return Err(format!("message {i}: sealed bytes differ from aes-gcm").into());
        }
        if opened[..] != msg[..] {
            return Err(format!("message {i}: open did not give the plaintext back").into());
        }
        let tag = &sealed[sealed.len() - 16..];
        println!(
            "  {:>8} bytes  tag {}  seal+open {:>8.1?}  == aes-gcm: ok",
            msg.len(),
            hex(tag),
            took
        );
        checks += 2;
    }
    // A tampered ciphertext and a wrong AAD must both fail authentication.
    let fresh = Nonce::random()?;
    let nonce = *fresh.as_bytes();
    let sealed = accel
        .aes_gcm_seal(&key, fresh, aad, &b"attack at dawn"[..])
        .await?;
    let mut tampered = sealed.to_vec();
    tampered[0] ^= 1;
    let bad_ct = accel.aes_gcm_open(&key, &nonce, aad, tampered).await;
    let bad_aad = accel
        .aes_gcm_open(&key, &nonce, b"another header", sealed)
        .await;
    if !matches!(bad_ct, Err(Error::AuthFailed)) || !matches!(bad_aad, Err(Error::AuthFailed)) {
        return Err(
            format!("tampering not detected: ciphertext {bad_ct:?}, aad {bad_aad:?}").into(),
        );
    }
    println!("  tampered ciphertext and wrong AAD: AuthFailed, as they must");
    checks += 2;

    // --- SHA-256 of a file, streamed in chunks through Accel::hasher. ---
    println!("\nSHA-256 of a file, streamed");
    let (path, _tmp) = match std::env::args_os().nth(1) {
        Some(p) => (std::path::PathBuf::from(p), None),
        None => {
            let p = std::env::temp_dir().join(format!("uacce-crypto-{}.bin", std::process::id()));
            std::fs::write(&p, filler(24 << 20, 7))?;
            (p.clone(), Some(TempFile(p)))
        }
    };
    let mut file = tokio::fs::File::open(&path).await?;
    let mut hasher = accel.hasher(HashAlg::Sha256);
    let mut reference = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut total, mut chunks) = (0u64, 0usize);
    let t = Instant::now();
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]).await?;
        reference.update(&buf[..n]);
        total += n as u64;
        chunks += 1;
    }
    let digest = hasher.finalize().await?;
    let took = t.elapsed();
    let want = reference.finalize();
    if digest[..] != want[..] {
        return Err(format!(
            "SHA-256 mismatch: {} (accel) vs {} (sha2)",
            hex(&digest),
            hex(&want)
        )
        .into());
    }
    println!(
        "  {} ({total} bytes, {chunks} chunks of up to 256 KiB, {took:.1?} with the CPU reference alongside)",
        path.display()
    );
    println!("  sha256 {}  == sha2: ok", hex(&digest));
    checks += 1;

    // --- HMAC-SHA-256 sign / verify. ---
    println!("\nHMAC-SHA-256 sign/verify");
    let hkey_bytes = filler(48, 3);
    let hkey = HmacKey::new(HashAlg::Sha256, &hkey_bytes);
    for (name, msg) in [
        ("short", b"GET /v1/objects?id=42".to_vec()),
        ("4 KiB", filler(4096, 11)),
        ("1 MiB", filler(1 << 20, 12)),
    ] {
        let mac = accel.hmac_sign(&hkey, msg.clone()).await?;
        let mut cpu = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&hkey_bytes)?;
        cpu.update(&msg);
        let want = cpu.finalize().into_bytes();
        if mac[..] != want[..] {
            return Err(format!("HMAC mismatch on the {name} message").into());
        }
        accel.hmac_verify(&hkey, msg.clone(), &mac).await?;
        let mut wrong = mac.clone();
        wrong[31] ^= 0x80;
        if !matches!(
            accel.hmac_verify(&hkey, msg.clone(), &wrong).await,
            Err(Error::AuthFailed)
        ) {
            return Err(format!("a wrong HMAC verified on the {name} message").into());
        }
        println!(
            "  {name:>6}: {}  == hmac: ok; verify ok; altered tag rejected",
            hex(&mac)
        );
        checks += 3;
    }

    // Backend::Hardware fails the public-key jobs its devices cannot do (no hisi_hpre device; ECC without a QM v3
    // one): those run as Backend::Auto would run them, on the CPU.
    let pk = if accel.config().backend == Backend::Hardware
        && !(accel.offloaded(JobKind::Rsa) && accel.offloaded(JobKind::Ecc))
    {
        println!(
            "\n(no hisi_hpre device for RSA and ECC jobs: the public-key checks use Backend::Auto)"
        );
        Accel::builder()
            .backend(Backend::Auto)
            .mode(mode)
            .build()
            .await?
    } else {
        accel.clone()
    };

    // --- ECDSA P-256 sign / verify and ECDH P-256 (the HPRE engine; ECC needs a QM v3 device, else the CPU). ---
    println!("\nECDSA P-256 sign/verify, ECDH P-256");
    let key = EcPrivateKey::generate(EcCurve::P256);
    let msg = b"POST /v1/transfer amount=100";
    let sig = pk.ecdsa_sign(&key, msg).await?;
    pk.ecdsa_verify(key.public_key(), msg, &sig).await?;
    // Deterministic (RFC 6979): RustCrypto makes the same signature and accepts ours.
    {
        use p256::ecdsa::signature::{Signer, Verifier};
        let rc = p256::ecdsa::SigningKey::from(p256::SecretKey::try_from(&key)?);
        let theirs: p256::ecdsa::Signature = rc.sign(msg);
        if theirs.to_bytes()[..] != sig.to_bytes()[..] {
            return Err("ECDSA signature differs from RustCrypto's RFC 6979 signature".into());
        }
        rc.verifying_key()
            .verify(msg, &p256::ecdsa::Signature::from_slice(sig.to_bytes())?)?;
    }
    if !matches!(
        pk.ecdsa_verify(key.public_key(), b"POST /v1/transfer amount=900", &sig)
            .await,
        Err(Error::BadSignature)
    ) {
        return Err("a signature verified for another message".into());
    }
    println!(
        "  ecdsa  {} (DER {} bytes) == p256: ok; verify ok; other message rejected",
        hex(&sig.to_bytes()[..16]),
        sig.to_der().len()
    );
    checks += 3;
    let peer = EcPrivateKey::generate(EcCurve::P256);
    let ours = pk.ecdh(&key, peer.public_key()).await?;
    let theirs = pk.ecdh(&peer, key.public_key()).await?;
    let cpu = Accel::builder().backend(Backend::Cpu).build().await?;
    if *ours != *theirs || *ours != *cpu.ecdh(&key, peer.public_key()).await? {
        return Err("ECDH secrets differ".into());
    }
    println!(
        "  ecdh   {}  both sides and the CPU backend agree: ok",
        hex(&ours[..16])
    );
    checks += 2;

    // --- RSA-2048: PKCS#1 v1.5 and PSS signatures, OAEP. ---
    println!("\nRSA-2048 (a test key made by openssl genpkey, PKCS#8 PEM)");
    let key =
        RsaPrivateKey::from_pem(include_str!("../uacce-async/tests/vectors/rsa/key2048.pem"))?;
    let public = key.public_key();
    let msg = b"a document to sign";
    let sig = pk.rsa_sign_pkcs1v15(&key, RsaHash::Sha256, msg).await?;
    if sig != cpu.rsa_sign_pkcs1v15(&key, RsaHash::Sha256, msg).await? {
        return Err("RSA PKCS#1 v1.5 signature differs from the CPU backend's".into());
    }
    pk.rsa_verify_pkcs1v15(&public, RsaHash::Sha256, msg, &sig)
        .await?;
    if !matches!(
        pk.rsa_verify_pkcs1v15(&public, RsaHash::Sha256, b"another document", &sig)
            .await,
        Err(Error::BadSignature)
    ) {
        return Err("an RSA signature verified for another message".into());
    }
    println!(
        "  PKCS#1 v1.5 SHA-256: {}…  == aws-lc-rs: ok; verify ok; other message rejected",
        hex(&sig[..16])
    );
    let pss = pk.rsa_sign_pss(&key, RsaHash::Sha256, msg).await?;
    cpu.rsa_verify_pss(&public, RsaHash::Sha256, msg, &pss)
        .await?;
    println!(
        "  PSS SHA-256: {}…  verified by the CPU backend: ok",
        hex(&pss[..16])
    );
    let ct = pk
        .rsa_encrypt_oaep(&public, RsaHash::Sha256, b"", b"a session key")
        .await?;
    if cpu
        .rsa_decrypt_oaep(&key, RsaHash::Sha256, b"", &ct)
        .await?
        != b"a session key"
    {
        return Err("OAEP round trip through the CPU backend failed".into());
    }
    println!("  OAEP SHA-256: encrypted here, decrypted by the CPU backend: ok");
    checks += 5;

    println!("\nall {checks} checks passed on {}", accel.description());
    Ok(())
}

/// Removes the generated file at the end.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
