//! Hostile files and paths (issue 16, findings 4–6): outputs never replace a link, FIFO,
//! device node or directory and leave no temporary files behind; IDX gzip bombs, endless
//! CSV rows, one-hot blow-ups and oversized model files fail clearly within bounded memory;
//! damaged `model_config`/`training_config` attributes of an `.h5` are errors naming the
//! file and the attribute, never "weights only" or "saved uncompiled".
//!
//! The memory checks use the shared recording allocator (`alloc_probe`): the bytes a test's
//! own thread holds at its peak.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use kiln::Error;
use kiln::datasets::csv_file::{CsvLabel, CsvLimits, CsvLoader};
use kiln::datasets::idx;
use kiln::keras::{KerasFile, load_model};
use kiln::tensor_file::{Encoding, write_tensor};

mod alloc_probe;

#[global_allocator]
static PROBE: alloc_probe::Probe = alloc_probe::Probe;

const MIB: usize = 1 << 20;

// ---- helpers ---------------------------------------------------------------------------

/// A fresh, empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("hostile-inputs")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn small_tensor() -> ir::Tensor {
    ir::Tensor::new(ir::Shape::new(vec![2]), vec![1.0, 2.0]).unwrap()
}

/// The names in `dir` that look like Kiln's temporary files.
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("kiln-tmp") || name.ends_with(".tmp"))
        .collect()
}

/// `text` gzip-compressed as one member.
fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn idx_header(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
    bytes
}

/// A reader that counts the bytes it hands out.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

// ---- finding 4: files written ----------------------------------------------------------

#[test]
fn outputs_refuse_links_fifos_and_directories() {
    let dir = scratch_dir("refuse");
    let real = dir.join("real.json");
    std::fs::write(&real, "keep").unwrap();
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let err = write_tensor(&link, &small_tensor(), Encoding::Inline).unwrap_err();
    assert!(matches!(err, Error::WriteFile { .. }), "{err:?}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(err.to_string().contains("link.json"), "{err}");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "keep");

    let fifo = dir.join("fifo.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let err = write_tensor(&fifo, &small_tensor(), Encoding::Inline).unwrap_err();
    assert!(err.to_string().contains("FIFO"), "{err}");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    let folder = dir.join("folder.json");
    std::fs::create_dir(&folder).unwrap();
    let err = write_tensor(&folder, &small_tensor(), Encoding::Inline).unwrap_err();
    assert!(err.to_string().contains("directory"), "{err}");

    // /dev/null is a device node: refused, and left as it is.
    let err = kiln::atomic_file::write_atomically(Path::new("/dev/null"), b"x").unwrap_err();
    assert!(err.to_string().contains("device node"), "{err}");
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    // A regular file is still replaced.
    write_tensor(&real, &small_tensor(), Encoding::Inline).unwrap();
    assert!(std::fs::read_to_string(&real).unwrap().contains("2.0"));
}

#[test]
fn stale_temp_files_of_dead_processes_are_removed_at_the_next_save() {
    let dir = scratch_dir("stale");
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = dir.join(format!(".model.kiln.kiln-tmp-{dead}-0"));
    let running = dir.join(".model.kiln.kiln-tmp-1-0"); // PID 1 always runs
    let users = dir.join(".notes.1234.0.tmp"); // not a name Kiln writes
    for path in [&stale, &running, &users] {
        std::fs::write(path, vec![0u8; 1024]).unwrap();
    }
    assert_eq!(
        kiln::atomic_file::is_temp_file_name(&stale.file_name().unwrap().to_string_lossy()),
        Some(dead)
    );
    write_tensor(dir.join("out.json"), &small_tensor(), Encoding::Inline).unwrap();
    assert!(
        !stale.exists(),
        "the dead process's temp file is still there"
    );
    assert!(running.exists() && users.exists());
    let mut left = temp_files(&dir);
    left.sort();
    assert_eq!(left, [".model.kiln.kiln-tmp-1-0", ".notes.1234.0.tmp"]);
}

// ---- finding 5: bounded reads ----------------------------------------------------------

/// 8 images of 28×28 as the header says, then `trailing_mib` MiB of zeros in further gzip
/// members: a 1 MiB-ish file that decompresses to far more than the header justifies.
fn idx_bomb(trailing_mib: usize) -> Vec<u8> {
    let mut first = idx_header(idx::IMAGES_MAGIC, &[8, 28, 28]);
    first.extend(vec![7u8; 8 * 28 * 28]);
    let mut bytes = gz(&first);
    let zeros = gz(&vec![0u8; MIB]);
    for _ in 0..trailing_mib {
        bytes.extend_from_slice(&zeros);
    }
    bytes
}

#[test]
fn an_idx_gzip_bomb_is_refused_within_what_its_header_justifies() {
    let dir = scratch_dir("idx-bomb");
    let bomb = dir.join("bomb-images.gz");
    std::fs::write(&bomb, idx_bomb(256)).unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 2 * MIB as u64);
    let (result, peak) = alloc_probe::peak_held(|| idx::read_gz_idx(&bomb, idx::IMAGES_MAGIC));
    let err = result.unwrap_err();
    assert!(matches!(err, Error::TrailingData { .. }), "{err:?}");
    assert!(err.to_string().contains("bomb-images.gz"), "{err}");
    assert!(peak < 8 * MIB, "reading the bomb held {peak} bytes");

    // Fed through a counting reader: the header, the payload, then at most 1 MiB counted.
    let compressed = idx_bomb(64);
    let mut counted = Counted {
        inner: MultiGzDecoder::new(compressed.as_slice()),
        count: 0,
    };
    let err = idx::read_idx(&bomb, &mut counted, idx::IMAGES_MAGIC, 1 << 31).unwrap_err();
    assert!(matches!(err, Error::TrailingData { .. }), "{err:?}");
    assert!(
        counted.count <= (16 + 8 * 784 + MIB + 1) as u64,
        "decompressed {} bytes",
        counted.count
    );
}

#[test]
fn an_idx_header_claiming_huge_dims_is_refused_before_its_payload() {
    let dir = scratch_dir("idx-huge");
    let huge = dir.join("huge-images.gz");
    let mut content = idx_header(idx::IMAGES_MAGIC, &[u32::MAX, 60_000, 60_000]);
    content.extend(vec![0u8; 4096]);
    std::fs::write(&huge, gz(&content)).unwrap();
    let (result, peak) = alloc_probe::peak_held(|| idx::read_gz_idx(&huge, idx::IMAGES_MAGIC));
    let err = result.unwrap_err();
    assert!(err.to_string().contains("huge-images.gz"), "{err}");
    assert!(err.to_string().contains("IDX payload"), "{err}");
    assert!(peak < MIB, "held {peak} bytes");

    // Within checked arithmetic but beyond what a small file can expand to (1032:1).
    let claims = dir.join("claims-images.gz");
    let mut content = idx_header(idx::IMAGES_MAGIC, &[100_000, 100, 100]);
    content.extend(vec![0u8; 4096]);
    std::fs::write(&claims, gz(&content)).unwrap();
    let mut counted = Counted {
        inner: MultiGzDecoder::new(std::fs::File::open(&claims).unwrap()),
        count: 0,
    };
    let limit = std::fs::metadata(&claims).unwrap().len() * 1032;
    let err = idx::read_idx(&claims, &mut counted, idx::IMAGES_MAGIC, limit).unwrap_err();
    assert!(err.to_string().contains("more than"), "{err}");
    assert_eq!(counted.count, 16, "only the header is read");
    let err = idx::read_gz_idx(&claims, idx::IMAGES_MAGIC).unwrap_err();
    assert!(err.to_string().contains("IDX payload"), "{err}");
}

#[test]
fn an_endless_csv_row_is_an_error_within_the_row_limit() {
    let dir = scratch_dir("csv-row");
    let path = dir.join("long.csv");
    let mut text = b"x,label\n1,a\n".to_vec();
    text.extend(std::iter::repeat_n(b'1', 32 * MIB));
    text.extend(b",b\n");
    std::fs::write(&path, &text).unwrap();
    drop(text);
    let (result, peak) = alloc_probe::peak_held(|| {
        CsvLoader::new(&path)
            .label("label", CsvLabel::Categorical)
            .load()
    });
    let err = result.unwrap_err();
    assert!(err.to_string().contains("long.csv"), "{err}");
    assert!(err.to_string().contains("max_row_bytes"), "{err}");
    assert!(peak < 20 * MIB, "held {peak} bytes");
}

#[test]
fn csv_column_counts_and_one_hot_sizes_have_limits() {
    let dir = scratch_dir("csv-limits");
    let wide = dir.join("wide.csv");
    std::fs::write(&wide, "a,b,c,d,label\n1,2,3,4,x\n").unwrap();
    let limits = CsvLimits {
        max_columns: 4,
        ..CsvLimits::default()
    };
    let err = CsvLoader::new(&wide)
        .label("label", CsvLabel::Categorical)
        .limits(limits)
        .load()
        .unwrap_err();
    assert!(err.to_string().contains("max_columns"), "{err}");

    // 600 distinct categories in 600 rows: a 600×600 one-hot table, 1.4 MB of f32.
    let onehot = dir.join("onehot.csv");
    let mut text = String::from("city,label\n");
    for i in 0..600 {
        text.push_str(&format!("c{i},{}\n", i % 2));
    }
    std::fs::write(&onehot, text).unwrap();
    let limits = CsvLimits {
        max_dataset_bytes: 1 << 20,
        ..CsvLimits::default()
    };
    let load = |limits| {
        CsvLoader::new(&onehot)
            .label("label", CsvLabel::Int)
            .categorical(["city"])
            .limits(limits)
            .load()
    };
    let err = load(limits).unwrap_err();
    assert!(err.to_string().contains("onehot.csv"), "{err}");
    assert!(err.to_string().contains("max_dataset_bytes"), "{err}");
    assert_eq!(load(CsvLimits::default()).unwrap().feature_names.len(), 600);
}

#[test]
fn oversized_model_files_are_refused_before_reading() {
    let dir = scratch_dir("oversized");
    // Sparse files: no disk space, but their length is over the limits.
    let onnx = dir.join("big.onnx");
    std::fs::File::create(&onnx)
        .unwrap()
        .set_len(kiln::read_limit::MAX_ONNX_FILE_BYTES + 1)
        .unwrap();
    let (result, peak) = alloc_probe::peak_held(|| kiln::Model::load_onnx(&onnx));
    let err = result.unwrap_err();
    assert!(err.to_string().contains("big.onnx"), "{err}");
    assert!(err.to_string().contains("at most"), "{err}");
    assert!(peak < MIB, "held {peak} bytes");

    let h5 = dir.join("big.h5");
    std::fs::File::create(&h5)
        .unwrap()
        .set_len(kiln::read_limit::MAX_MODEL_FILE_BYTES + 1)
        .unwrap();
    let (result, peak) = alloc_probe::peak_held(|| KerasFile::read(&h5));
    let err = result.unwrap_err();
    assert!(err.to_string().contains("big.h5"), "{err}");
    assert!(peak < MIB, "held {peak} bytes");
}

// ---- finding 6: silent damage ----------------------------------------------------------

/// `mlp.h5` with the global-heap index of the string that starts with `json_start` broken,
/// so that the attribute holding it cannot be read (h5py: "bad heap pointer").
fn with_damaged_heap_string(json_start: &[u8], dir: &Path, name: &str) -> PathBuf {
    let mut bytes = std::fs::read(fixture("keras/mlp.h5")).unwrap();
    let at = bytes
        .windows(json_start.len())
        .position(|w| w == json_start)
        .expect("the string is in the fixture");
    // A global heap object: index (2 bytes), reference count, reserved, size (8), data.
    bytes[at - 16..at - 14].copy_from_slice(&[0xff, 0xff]);
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_damaged_training_config_is_an_error_naming_the_file_and_attribute() {
    let dir = scratch_dir("training-config");
    let path = with_damaged_heap_string(b"{\"loss\"", &dir, "damaged-training.h5");
    for err in [
        KerasFile::read(&path).unwrap_err(),
        load_model(&path).unwrap_err(),
        kiln::Model::load_keras(&path).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(msg.contains("damaged-training.h5"), "{msg}");
        assert!(msg.contains("training_config"), "{msg}");
    }

    // Readable JSON without the form Keras writes (a key damaged): an error too, not
    // "loaded uncompiled".
    let mut file = KerasFile::read(fixture("keras/mlp.h5")).unwrap();
    let training = file.training_config.as_mut().unwrap();
    let optimizer = training["optimizer_config"].take();
    training["optimizer_confiw"] = optimizer;
    let renamed = dir.join("renamed-key.h5");
    file.write(&renamed).unwrap();
    let err = load_model(&renamed).unwrap_err();
    assert!(err.to_string().contains("renamed-key.h5"), "{err}");
    assert!(err.to_string().contains("training_config"), "{err}");
}

#[test]
fn a_damaged_model_config_is_damage_not_weights_only() {
    let dir = scratch_dir("model-config");
    let path =
        with_damaged_heap_string(b"{\"class_name\": \"Sequential\"", &dir, "damaged-model.h5");
    for err in [
        KerasFile::read(&path).unwrap_err(),
        KerasFile::read_model(&path).unwrap_err(),
        load_model(&path).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(msg.contains("damaged-model.h5"), "{msg}");
        assert!(
            msg.contains("model_config") && msg.contains("damaged"),
            "{msg}"
        );
        assert!(!msg.contains("weights only"), "{msg}");
    }
}
