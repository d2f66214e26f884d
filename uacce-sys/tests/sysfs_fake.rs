//! Discovery on fake sysfs trees in temporary directories, well-formed and malformed.

use std::fs;
use std::path::Path;

use uacce_sys::qm::QmVersion;
use uacce_sys::sysfs::{Device, Sysfs, SysfsError, filter_by_algorithm};

/// Writes `attrs` (relative path, content) into `<root>/<name>/`.
fn fake_device(root: &Path, name: &str, attrs: &[(&str, &str)]) {
    let dir = root.join(name);
    fs::create_dir_all(&dir).unwrap();
    for (attr, content) in attrs {
        let path = dir.join(attr);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
}

fn zip_attrs() -> Vec<(&'static str, &'static str)> {
    vec![
        ("api", "hisi_qm_v2\n"),
        ("flags", "1\n"),
        ("available_instances", "256\n"),
        ("algorithms", "zlib\ngzip\n\n"),
        ("region_mmio_size", "8192\n"),
        ("region_dus_size", "151552\n"),
        ("device/numa_node", "1\n"),
    ]
}

fn with_attr(
    mut attrs: Vec<(&'static str, &'static str)>,
    attr: &'static str,
    content: &'static str,
) -> Vec<(&'static str, &'static str)> {
    attrs.retain(|(a, _)| *a != attr);
    attrs.push((attr, content));
    attrs
}

fn without_attr(
    mut attrs: Vec<(&'static str, &'static str)>,
    attr: &str,
) -> Vec<(&'static str, &'static str)> {
    attrs.retain(|(a, _)| *a != attr);
    attrs
}

fn tree() -> (tempfile::TempDir, Sysfs) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("class/uacce");
    fs::create_dir_all(&root).unwrap();
    let sysfs = Sysfs::with_root(&root, tmp.path().join("dev"));
    (tmp, sysfs)
}

#[test]
fn parses_a_hardware_device() {
    let (tmp, sysfs) = tree();
    fake_device(sysfs.root(), "hisi_zip-0", &zip_attrs());
    let devs = sysfs.devices().unwrap();
    assert_eq!(devs.len(), 1);
    let d = &devs[0];
    assert_eq!(d.name, "hisi_zip-0");
    assert_eq!(d.driver, "hisi_zip");
    assert_eq!(d.instance(), Some(0));
    assert_eq!(d.api, "hisi_qm_v2");
    assert_eq!(d.flags, 1);
    assert!(d.is_sva());
    assert_eq!(d.available_instances, 256);
    assert_eq!(d.algorithms, ["zlib", "gzip"]);
    assert_eq!(d.region_mmio_size, 8192);
    assert_eq!(d.region_dus_size, 151552);
    assert_eq!(d.isolate, None);
    assert_eq!(d.isolate_strategy, None);
    assert_eq!(d.numa_node, Some(1));
    assert_eq!(d.node_path, tmp.path().join("dev/hisi_zip-0"));
    assert_eq!(d.sysfs_path, sysfs.root().join("hisi_zip-0"));
    assert_eq!(d.qm_version(), Some(QmVersion::V2));
    assert!(d.is_hisi_qm());
    assert!(!d.is_soft());
    assert!(d.supports("zlib") && !d.supports("deflate") && !d.supports("zli"));
}

#[test]
fn parses_soft_device_and_optional_attributes() {
    let (_tmp, sysfs) = tree();
    fake_device(
        sysfs.root(),
        "soft_sec-1",
        &[
            ("api", "  soft_qm_v2 \n"),
            ("flags", "0x0\n"),
            ("available_instances", "-19\n"),
            ("algorithms", "  cipher\n\n digest \naead"),
            ("isolate", "0\n"),
            ("isolate_strategy", "0\n"),
            ("device/numa_node", "-1\n"),
        ],
    );
    let d = sysfs.device("soft_sec-1").unwrap();
    assert_eq!(d.api, "soft_qm_v2");
    assert!(d.is_soft() && !d.is_hisi_qm() && !d.is_sva());
    assert_eq!(d.qm_version(), Some(QmVersion::V2));
    assert_eq!(d.available_instances, 0, "negative errno reads as 0");
    assert_eq!(d.algorithms, ["cipher", "digest", "aead"]);
    assert_eq!(
        (d.region_mmio_size, d.region_dus_size),
        (0, 0),
        "absent region files read as 0"
    );
    assert_eq!(d.isolate, Some(false));
    assert_eq!(d.isolate_strategy, Some(0));
    assert_eq!(d.numa_node, None, "negative numa_node is None");
}

#[test]
fn versions_from_api() {
    let (_tmp, sysfs) = tree();
    for (name, api, v) in [
        ("a-0", "hisi_qm_v1", Some(QmVersion::V1)),
        ("a-1", "hisi_qm_v3", Some(QmVersion::V3)),
        ("a-2", "hisi_qm_v5", Some(QmVersion::V3)),
        ("a-3", "something_else", None),
    ] {
        fake_device(sysfs.root(), name, &with_attr(zip_attrs(), "api", api));
        assert_eq!(sysfs.device(name).unwrap().qm_version(), v, "{api}");
    }
}

#[test]
fn sorted_by_driver_and_instance() {
    let (_tmp, sysfs) = tree();
    for name in ["hisi_zip-10", "hisi_sec2-0", "hisi_zip-2", "hisi_zip-0"] {
        fake_device(sysfs.root(), name, &zip_attrs());
    }
    let names: Vec<String> = sysfs
        .devices()
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(
        names,
        ["hisi_sec2-0", "hisi_zip-0", "hisi_zip-2", "hisi_zip-10"]
    );
}

#[test]
fn missing_class_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let sysfs = Sysfs::with_root(tmp.path().join("nope"), "/dev");
    let err = sysfs.devices().unwrap_err();
    assert!(matches!(err, SysfsError::NoClass { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("modprobe hisi_zip") && msg.contains("not loaded"),
        "{msg}"
    );
    assert!(matches!(
        sysfs.device("hisi_zip-0"),
        Err(SysfsError::NoClass { .. })
    ));
}

#[test]
fn no_such_device() {
    let (_tmp, sysfs) = tree();
    assert!(matches!(
        sysfs.device("hisi_zip-7"),
        Err(SysfsError::NoSuchDevice { .. })
    ));
}

#[test]
fn empty_class_dir() {
    let (_tmp, sysfs) = tree();
    assert!(sysfs.devices().unwrap().is_empty());
}

#[test]
fn non_numeric_flags() {
    let (_tmp, sysfs) = tree();
    fake_device(
        sysfs.root(),
        "hisi_zip-0",
        &with_attr(zip_attrs(), "flags", "sva\n"),
    );
    match sysfs.device("hisi_zip-0") {
        Err(SysfsError::Malformed { path, content, .. }) => {
            assert!(path.ends_with("hisi_zip-0/flags"));
            assert_eq!(content, "sva");
        }
        other => panic!("expected Malformed flags, got {other:?}"),
    }
    let msg = sysfs.device("hisi_zip-0").unwrap_err().to_string();
    assert!(msg.contains("flags") && msg.contains("\"sva\""), "{msg}");
}

#[test]
fn missing_api() {
    let (_tmp, sysfs) = tree();
    fake_device(
        sysfs.root(),
        "hisi_zip-0",
        &without_attr(zip_attrs(), "api"),
    );
    match sysfs.device("hisi_zip-0") {
        Err(SysfsError::MissingAttribute { path }) => assert!(path.ends_with("hisi_zip-0/api")),
        other => panic!("expected MissingAttribute api, got {other:?}"),
    }
}

#[test]
fn empty_api() {
    let (_tmp, sysfs) = tree();
    fake_device(
        sysfs.root(),
        "hisi_zip-0",
        &with_attr(zip_attrs(), "api", " \n"),
    );
    assert!(matches!(
        sysfs.device("hisi_zip-0"),
        Err(SysfsError::Malformed { .. })
    ));
}

#[test]
fn garbage_numa_node() {
    let (_tmp, sysfs) = tree();
    fake_device(
        sysfs.root(),
        "hisi_zip-0",
        &with_attr(zip_attrs(), "device/numa_node", "node0\n"),
    );
    match sysfs.device("hisi_zip-0") {
        Err(SysfsError::Malformed { path, content, .. }) => {
            assert!(path.ends_with("device/numa_node"));
            assert_eq!(content, "node0");
        }
        other => panic!("expected Malformed numa_node, got {other:?}"),
    }
}

#[test]
fn garbage_other_attributes() {
    for (attr, content) in [
        ("available_instances", "many"),
        ("region_dus_size", "-4096"),
        ("region_mmio_size", "8k"),
        ("isolate", "2"),
        ("isolate_strategy", "x"),
    ] {
        let (_tmp, sysfs) = tree();
        fake_device(
            sysfs.root(),
            "hisi_zip-0",
            &with_attr(zip_attrs(), attr, content),
        );
        match sysfs.device("hisi_zip-0") {
            Err(SysfsError::Malformed { path, .. }) => assert!(path.ends_with(attr), "{attr}"),
            other => panic!("{attr}={content}: expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn scan_keeps_good_devices_next_to_bad_ones() {
    let (_tmp, sysfs) = tree();
    fake_device(
        sysfs.root(),
        "hisi_zip-0",
        &with_attr(zip_attrs(), "flags", "junk"),
    );
    fake_device(sysfs.root(), "hisi_zip-1", &zip_attrs());
    let scan = sysfs.scan().unwrap();
    assert_eq!(scan.len(), 2);
    assert!(scan[0].is_err() && scan[1].is_ok());
    assert!(sysfs.devices().is_err(), "devices() is strict");
    let usable = sysfs.devices_for_algorithm("zlib").unwrap();
    assert_eq!(usable.len(), 1);
    assert_eq!(usable[0].name, "hisi_zip-1");
}

#[test]
fn algorithm_filter_skips_isolated() {
    let (_tmp, sysfs) = tree();
    fake_device(
        sysfs.root(),
        "hisi_zip-0",
        &with_attr(zip_attrs(), "isolate", "1\n"),
    );
    fake_device(sysfs.root(), "hisi_zip-1", &zip_attrs());
    fake_device(
        sysfs.root(),
        "hisi_sec2-0",
        &with_attr(zip_attrs(), "algorithms", "cipher\ndigest\naead\n"),
    );
    let names = |alg: &str| -> Vec<String> {
        sysfs
            .devices_for_algorithm(alg)
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect()
    };
    assert_eq!(names("zlib"), ["hisi_zip-1"]);
    assert_eq!(names("aead"), ["hisi_sec2-0"]);
    assert!(names("lz4").is_empty());

    let all = sysfs.devices().unwrap();
    let gzip: Vec<&Device> = filter_by_algorithm(&all, "gzip").collect();
    assert_eq!(gzip.len(), 1);

    let isolated = sysfs.device("hisi_zip-0").unwrap();
    assert!(isolated.is_isolated());
    let err = isolated.check_access().unwrap_err();
    assert!(matches!(err, SysfsError::Isolated { .. }), "{err:?}");
}

#[test]
fn check_access_of_nodes() {
    let (tmp, sysfs) = tree();
    fake_device(sysfs.root(), "hisi_zip-0", &zip_attrs());
    let d = sysfs.device("hisi_zip-0").unwrap();
    assert!(matches!(
        d.check_access(),
        Err(SysfsError::NodeMissing { .. })
    ));
    fs::create_dir_all(tmp.path().join("dev")).unwrap();
    fs::write(&d.node_path, b"").unwrap();
    d.check_access().unwrap();
}

#[test]
fn permission_denied_message_has_a_hint() {
    let msg = SysfsError::PermissionDenied {
        path: "/dev/hisi_zip-0".into(),
    }
    .to_string();
    assert!(msg.contains("root") && msg.contains("udev"), "{msg}");
}

/// `hisi_hpre` entries as the kernel's hpre driver writes them (`hpre_main.c`): QM v2 lists `rsa`, `dh`; v3 adds
/// the ECC algorithms (newer mainline builds the list from its capability bitmap and drops the last newline).
#[test]
fn parses_hpre_devices() {
    let (_tmp, sysfs) = tree();
    let hpre = |api: &'static str, algs: &'static str| {
        with_attr(with_attr(zip_attrs(), "api", api), "algorithms", algs)
    };
    fake_device(
        sysfs.root(),
        "hisi_hpre-0",
        &hpre("hisi_qm_v2\n", "rsa\ndh\n"),
    );
    fake_device(
        sysfs.root(),
        "hisi_hpre-1",
        &hpre("hisi_qm_v3\n", "rsa\ndh\necdh\necdsa\nsm2\nx25519\nx448"),
    );
    fake_device(
        sysfs.root(),
        "hisi_hpre-2",
        &with_attr(
            hpre("hisi_qm_v3\n", "rsa\ndh\necdh\nx25519\nx448\necdsa\nsm2\n"),
            "flags",
            "0\n",
        ),
    );
    let devs = sysfs.devices().unwrap();
    assert_eq!(devs.len(), 3);
    let (v2, v3, no_sva) = (&devs[0], &devs[1], &devs[2]);
    assert_eq!((v2.driver.as_str(), v2.instance()), ("hisi_hpre", Some(0)));
    assert_eq!(v2.qm_version(), Some(QmVersion::V2));
    assert_eq!(v2.algorithms, ["rsa", "dh"]);
    assert!(v2.supports("rsa") && !v2.supports("ecdh"));
    assert_eq!(v3.qm_version(), Some(QmVersion::V3));
    assert_eq!(
        v3.algorithms,
        ["rsa", "dh", "ecdh", "ecdsa", "sm2", "x25519", "x448"]
    );
    assert!(v3.is_sva() && v3.numa_node == Some(1) && v3.available_instances == 256);
    assert!(!no_sva.is_sva() && no_sva.supports("sm2"));
    let names = |alg: &str| -> Vec<String> {
        sysfs
            .devices_for_algorithm(alg)
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect()
    };
    assert_eq!(names("rsa"), ["hisi_hpre-0", "hisi_hpre-1", "hisi_hpre-2"]);
    // The sysfs layer lists; SVA is checked by `uacce_sys::queue::check_device`.
    assert_eq!(names("ecdh"), ["hisi_hpre-1", "hisi_hpre-2"]);
    assert!(uacce_sys::queue::check_device(v3).is_ok());
    assert!(uacce_sys::queue::check_device(no_sva).is_err());
}
