//! Damaged and foreign `.keras` archives: a few hundred truncated, byte-flipped, renamed,
//! size-inflated and half-empty archives each give an `Error::ModelFile` naming the file
//! (or, for a flip in a byte no reader checks, load) — never a panic, never an allocation
//! the file's size does not justify.

use std::io::Write;
use std::path::{Path, PathBuf};

use kiln::{Error, Model};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// A fixture under `tests/fixtures/keras/archives`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras/archives")
        .join(name)
}

/// A fresh empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-keras-damage-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Loads `bytes` written to `dir/name`; `Ok(())` if it loaded, else the message of the
/// `ModelFile` error, which must name that file (any other outcome fails the test).
fn load(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let result = Model::load_keras_archive(&path);
    std::fs::remove_file(&path).unwrap();
    match result {
        Ok(_) => Ok(()),
        Err(Error::ModelFile { path: p, msg }) => {
            assert_eq!(p, path, "{msg}");
            let shown = Error::ModelFile {
                path: p,
                msg: msg.clone(),
            }
            .to_string();
            assert!(shown.contains(name), "{shown}");
            Err(msg)
        }
        Err(other) => panic!("{name}: expected a ModelFile error, got {other:?}"),
    }
}

/// A zip of `members`, each stored or deflated.
fn zip_of(members: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in members {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// The members of a real archive.
fn members(name: &str) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut member = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut member, &mut data).unwrap();
            (member.name().unwrap().to_string(), data)
        })
        .collect()
}

#[test]
fn truncated_archives_are_errors_at_every_cut() {
    let bytes = std::fs::read(fixture("text_lstm.keras")).unwrap();
    let dir = scratch_dir("truncated");
    let n = bytes.len();
    let mut cuts: Vec<usize> = (0..n).step_by(n / 150).collect();
    cuts.extend(0..40);
    cuts.extend(n - 120..n);
    for cut in cuts {
        let msg = load(&dir, &format!("cut{cut}.keras"), &bytes[..cut]).expect_err("truncated");
        assert!(!msg.is_empty());
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let bytes = std::fs::read(fixture("text_lstm.keras")).unwrap();
    let dir = scratch_dir("flipped");
    let n = bytes.len();
    let mut errors = 0;
    let positions: Vec<usize> = (0..n).step_by(n / 150).chain(n - 100..n).collect();
    for &at in &positions {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0xff;
        errors += usize::from(load(&dir, &format!("flip{at}.keras"), &damaged).is_err());
    }
    // Every flip inside a member's data fails its CRC; only header bytes no reader checks
    // (times, attributes) can pass.
    assert!(
        errors * 10 >= positions.len() * 9,
        "{errors} of {}",
        positions.len()
    );
}

/// A zip member: its name and bytes.
type Member<'a> = (&'a str, &'a [u8]);

/// The text_lstm archive's `config.json`, `metadata.json` and `model.weights.h5`.
fn text_lstm_members() -> [Vec<u8>; 3] {
    let real = members("text_lstm.keras");
    let get = |name: &str| real.iter().find(|(n, _)| n == name).unwrap().1.clone();
    [
        get("config.json"),
        get("metadata.json"),
        get("model.weights.h5"),
    ]
}

#[test]
fn missing_renamed_and_non_json_members_are_named() {
    let dir = scratch_dir("members");
    let [config, metadata, weights] = text_lstm_members();
    let (c, m, w) = ("config.json", "metadata.json", "model.weights.h5");
    let cases: [(&str, &[Member], &str); 7] = [
        (
            "renamed.keras",
            &[("konfig.json", &config), (w, &weights)],
            c,
        ),
        ("no_weights.keras", &[(c, &config), (m, &metadata)], w),
        (
            "not_json.keras",
            &[(c, b"{not json"), (w, &weights)],
            "not valid JSON",
        ),
        (
            "array.keras",
            &[(c, b"[1, 2]"), (w, &weights)],
            "not a JSON object",
        ),
        (
            "bad_metadata.keras",
            &[(c, &config), (m, b"\xff"), (w, &weights)],
            m,
        ),
        (
            "weights_not_hdf5.keras",
            &[(c, &config), (w, b"nothing")],
            "HDF5",
        ),
        ("empty.keras", &[], c),
    ];
    for (name, entries, says) in cases {
        let bytes = zip_of(entries, CompressionMethod::Stored);
        let msg = load(&dir, name, &bytes).expect_err(name);
        assert!(msg.contains(says), "{name}: {msg}");
    }
    for (name, bytes) in [("not_zip.keras", &b"plain text"[..]), ("zero.keras", b"")] {
        let msg = load(&dir, name, bytes).expect_err(name);
        assert!(msg.contains("not a zip"), "{name}: {msg}");
    }
}

#[test]
fn deflated_members_read_as_stored_ones_do() {
    let dir = scratch_dir("deflated");
    let [config, metadata, weights] = text_lstm_members();
    let deflated = zip_of(
        &[
            ("metadata.json", &metadata),
            ("config.json", &config),
            ("model.weights.h5", &weights),
        ],
        CompressionMethod::Deflated,
    );
    load(&dir, "deflated.keras", &deflated).unwrap();
}

#[test]
fn weights_of_another_model_are_refused_by_layer() {
    let dir = scratch_dir("foreign");
    let lstm = members("text_lstm.keras");
    let mlp = members("mlp.keras");
    let get =
        |m: &[(String, Vec<u8>)], name: &str| m.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let mixed = zip_of(
        &[
            ("config.json", &get(&lstm, "config.json")),
            ("model.weights.h5", &get(&mlp, "model.weights.h5")),
        ],
        CompressionMethod::Stored,
    );
    let msg = load(&dir, "mixed.keras", &mixed).expect_err("mixed");
    assert!(msg.contains("layer `"), "{msg}");
}

/// Sets the uncompressed size of every entry for `member` (local and central headers) to
/// `size`.
fn claim_size(bytes: &mut [u8], member: &str, size: u32) {
    let name = member.as_bytes();
    for at in 0..bytes.len().saturating_sub(46) {
        let (local, central) = (
            &bytes[at..at + 4] == b"PK\x03\x04",
            &bytes[at..at + 4] == b"PK\x01\x02",
        );
        let (name_at, size_at) = match (local, central) {
            (true, _) => (at + 30, at + 22),
            (_, true) => (at + 46, at + 24),
            _ => continue,
        };
        if bytes.get(name_at..name_at + name.len()) == Some(name) {
            bytes[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
        }
    }
}

#[test]
fn members_claiming_more_than_the_archive_holds_are_refused_before_reading() {
    let dir = scratch_dir("bomb");
    let real = members("text_lstm.keras");
    let get = |name: &str| real.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let (config, weights) = (get("config.json"), get("model.weights.h5"));
    for (method, tag) in [
        (CompressionMethod::Stored, "stored"),
        (CompressionMethod::Deflated, "deflated"),
    ] {
        for size in [u32::MAX - 1, 3_000_000_000, 900_000_000] {
            let mut bytes = zip_of(
                &[("config.json", &config), ("model.weights.h5", &weights)],
                method,
            );
            claim_size(&mut bytes, "model.weights.h5", size);
            let msg = load(&dir, &format!("{tag}{size}.keras"), &bytes).expect_err(tag);
            assert!(msg.contains("model.weights.h5"), "{tag} {size}: {msg}");
        }
    }
    // A real bomb: 64 MiB of zeros deflate to about 64 KiB, within deflate's ratio, and the
    // member is read — then refused as HDF5, naming the member's content, not a panic.
    let zeros = vec![0u8; 64 << 20];
    let bomb = zip_of(
        &[("config.json", &config), ("model.weights.h5", &zeros)],
        CompressionMethod::Deflated,
    );
    assert!(bomb.len() < 1 << 20);
    let msg = load(&dir, "bomb.keras", &bomb).expect_err("bomb");
    assert!(msg.contains("HDF5"), "{msg}");
}
