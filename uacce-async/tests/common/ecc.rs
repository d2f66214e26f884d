//! Helpers of the ECC tests (`ecc.rs`, `p521.rs`): the vector files and their parsers, the emulated HPRE.

use std::collections::HashMap;
use std::time::Duration;

use uacce_async::{Accel, EmuOptions, NotifyMode};
use uacce_emu::DeviceKind;
use uacce_sys::qm::QmVersion;

pub const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/ecc/");

pub fn vector_file(name: &str) -> String {
    std::fs::read_to_string(format!("{VECTORS}{name}")).expect("vector file")
}

/// The `Key = value` records of a CAVP file, one map per blank-line-separated block that has `first`.
pub fn records(text: &str, first: &str) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    let mut cur: HashMap<String, String> = HashMap::new();
    for line in text.lines().chain(std::iter::once("")) {
        let line = line.trim();
        if line.is_empty() {
            if cur.contains_key(first) {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
            continue;
        }
        if let Some((k, v)) = line.split_once(" = ") {
            cur.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    out
}

pub fn hpre(accel: &Accel) -> Option<uacce_emu::EmuDevice> {
    accel
        .emulated_devices()
        .iter()
        .find(|d| d.config().kind == DeviceKind::Hpre)
        .cloned()
}

pub fn hpre_completed(accel: &Accel) -> u64 {
    hpre(accel).map(|d| d.counters().completed).unwrap_or(0)
}

pub async fn emu(version: QmVersion, mode: NotifyMode) -> Accel {
    let opts = EmuOptions::default().version(version).depth(16);
    super::emu(mode, opts, Some(Duration::from_secs(20))).await
}

/// An OpenSSL `evp_test` file of RFC 6979 cases: the PEM keys by name, and the blocks that have an `Output`.
pub fn rfc6979_file(text: &str) -> (HashMap<String, String>, Vec<HashMap<String, String>>) {
    let mut keys: HashMap<String, String> = HashMap::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some(name) = l
            .strip_prefix("PrivateKey=")
            .or_else(|| l.strip_prefix("PublicKey="))
        {
            let mut pem = String::new();
            for p in lines.by_ref() {
                pem.push_str(p);
                pem.push('\n');
                if p.starts_with("-----END") {
                    break;
                }
            }
            keys.insert(name.to_string(), pem);
        }
    }
    let blocks: Vec<HashMap<String, String>> = text
        .split("\n\n")
        .map(|b| {
            b.lines()
                .filter_map(|l| l.split_once(" = "))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .filter(|m: &HashMap<String, String>| m.contains_key("Output"))
        .collect();
    (keys, blocks)
}
