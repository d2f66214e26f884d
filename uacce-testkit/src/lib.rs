//! Helpers shared by the tests and examples of uacce-rs and by the VM guest (`kmod-patch/vmtest/guest`).
//!
//! * [`req`]: ZIP and SEC requests built from `&[u8]`/`&mut [u8]` slices (the addresses are the slices' own, as
//!   SVA, the kernel soft device and the emulator take them).
//! * [`codec`]: flate2 reference codecs (gzip, zlib, raw deflate), the independent side of every round trip.
//! * [`Rng`], [`data`], [`text`]: deterministic test data.
//! * [`golden`]: an expected SQE written byte by byte.
//!
//! `publish = false`: this crate is for the workspace's own tests.

pub mod codec;
pub mod req;

use uacce_sys::qm::{SQE_SIZE, Sqe};

/// A published AES-GCM vector: the GCM specification's test case 4 (AES-128, 96-bit IV, 20 bytes of AAD, 60
/// bytes of plaintext).
pub struct GcmVector {
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
    pub aad: Vec<u8>,
    pub pt: Vec<u8>,
    pub ct: Vec<u8>,
    pub tag: Vec<u8>,
}

/// The GCM specification's test case 4.
pub fn gcm_test_case_4() -> GcmVector {
    GcmVector {
        key: hex("feffe9928665731c6d6a8f9467308308"),
        iv: hex("cafebabefacedbaddecaf888"),
        aad: hex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
        pt: hex(concat!(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72",
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
        )),
        ct: hex(concat!(
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e",
            "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"
        )),
        tag: hex("5bc94fbc3221a5db94fae95ae7121a47"),
    }
}

/// Build an expected SQE from (byte offset, bytes) pairs; every byte not listed is zero.
pub fn golden(parts: &[(usize, &[u8])]) -> Sqe {
    let mut s = [0u8; SQE_SIZE];
    for (off, bytes) in parts {
        s[*off..*off + bytes.len()].copy_from_slice(bytes);
    }
    s
}

/// Small deterministic generator (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// A generator from `seed` (0, which xorshift never leaves, is taken as 1).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform enough in `0..n` (`n` 0 is taken as 1).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
    /// A nonzero 48-bit address.
    pub fn addr(&mut self) -> u64 {
        1 + self.below(1 << 48)
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
    /// Compressible bytes: runs of words from a small vocabulary, a random byte now and then.
    pub fn text(&mut self, len: usize) -> Vec<u8> {
        const WORDS: [&str; 10] = [
            "alpha ",
            "beta ",
            "gamma ",
            "delta\n",
            "uacce ",
            "queue ",
            "0xdeadbeef ",
            "{\"k\":1} ",
            "zip ",
            "sec ",
        ];
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            if self.below(8) == 0 {
                out.push(self.next() as u8);
            } else {
                out.extend_from_slice(WORDS[self.below(10) as usize].as_bytes());
            }
        }
        out.truncate(len);
        out
    }
}

/// Deterministic test data: 512-byte runs of text alternating with 512-byte runs of pseudo-random bytes, so that
/// compressors see both.
pub fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    let text = b"uacce soft device test data, compressible and repeated. ";
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if (i / 512) % 2 == 0 {
                text[i % text.len()]
            } else {
                x as u8
            }
        })
        .collect()
}

/// Compressible text only: words from a small vocabulary chosen by an LCG (the same for every call of one `len`).
pub fn text(len: usize) -> Vec<u8> {
    let words = [
        "uacce ",
        "queue ",
        "doorbell ",
        "phase ",
        "zip ",
        "sec ",
        "ring\n",
        "0123456789 ",
    ];
    let mut x: u32 = 12345;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        out.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
    }
    out.truncate(len);
    out
}

/// Bytes from a hex string (test vectors); panics on anything but pairs of hex digits.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}
