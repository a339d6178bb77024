//! Writing a compiled model's artefacts into a directory, and finding the runtime static
//! library (`libkiln_cpu_runtime.a`) that C programs link the model with.
//!
//! Cargo builds that library whenever it builds the `kiln-cpu-runtime` crate (a dependency
//! of this one), into the target directory's `deps/` folder under a hashed name; a
//! program that ships it (the `kiln` command line) finds it next to its own executable.

use std::path::{Path, PathBuf};

use super::{AotModel, WeightStorage};
use crate::error::{CodegenError, Result};

/// The runtime library's file name, as the header's link line names it.
pub const RUNTIME_LIB_NAME: &str = "libkiln_cpu_runtime.a";

/// The environment variable that, when set, names the runtime library's path.
pub const RUNTIME_LIB_ENV: &str = "KILN_CPU_RUNTIME_LIB";

fn io_error(path: &Path, e: impl std::fmt::Display) -> CodegenError {
    CodegenError::Io {
        path: path.display().to_string(),
        msg: e.to_string(),
    }
}

/// The host's runtime static library: the file [`RUNTIME_LIB_ENV`] names, else
/// `libkiln_cpu_runtime.a` (or Cargo's hashed `libkiln_cpu_runtime-*.a`, the newest) in the
/// running executable's folder, its `deps/` subfolder, or the same two one level up.
pub fn runtime_library() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(RUNTIME_LIB_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(io_error(
                &path,
                format!("named by {RUNTIME_LIB_ENV} but not a file"),
            ))
        };
    }
    let exe = std::env::current_exe().map_err(|e| io_error(Path::new("current executable"), e))?;
    let mut dirs = Vec::new();
    for dir in exe.ancestors().skip(1).take(2) {
        dirs.push(dir.to_path_buf());
        dirs.push(dir.join("deps"));
    }
    for dir in &dirs {
        if dir.join(RUNTIME_LIB_NAME).is_file() {
            return Ok(dir.join(RUNTIME_LIB_NAME));
        }
        let hashed = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let modified = entry.metadata().and_then(|m| m.modified()).ok()?;
                (name.starts_with("libkiln_cpu_runtime-") && name.ends_with(".a"))
                    .then(|| (modified, entry.path()))
            });
        if let Some((_, path)) = hashed.max() {
            return Ok(path);
        }
    }
    Err(io_error(
        &exe,
        format!(
            "no {RUNTIME_LIB_NAME} beside this executable (searched {dirs:?}); set {RUNTIME_LIB_ENV}"
        ),
    ))
}

impl AotModel {
    /// Write `<name>.o`, `<name>.h` and, with external weights, `<name>.weights` into `dir`
    /// (created if needed), and copy `runtime` (see [`runtime_library`]; it must be built
    /// for the model's target) there as `libkiln_cpu_runtime.a` when given. Returns the
    /// paths written.
    pub fn write(&self, dir: &Path, runtime: Option<&Path>) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let mut files: Vec<(PathBuf, &[u8])> = vec![
            (dir.join(format!("{}.o", self.name)), &self.object),
            (dir.join(format!("{}.h", self.name)), self.header.as_bytes()),
        ];
        if self.storage == WeightStorage::External {
            files.push((dir.join(format!("{}.weights", self.name)), &self.weights));
        }
        let mut written = Vec::new();
        for (path, bytes) in files {
            std::fs::write(&path, bytes).map_err(|e| io_error(&path, e))?;
            written.push(path);
        }
        if let Some(lib) = runtime {
            let to = dir.join(RUNTIME_LIB_NAME);
            std::fs::copy(lib, &to).map_err(|e| io_error(lib, e))?;
            written.push(to);
        }
        Ok(written)
    }
}
