//! Compiling and linking one C program: the C compiler to use, the runtime library's place
//! beside a model's object file, and [`CProgram`], which writes the source, runs the compiler
//! with `-Wall -Werror` and panics with the command line and the compiler's stderr when it
//! fails.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file name of Kiln's CPU runtime library, which the AOT compiler writes beside a
/// model's object file for the host.
pub const RUNTIME_LIBRARY: &str = "libkiln_cpu_runtime.a";

/// The system libraries the runtime library needs, after it on the link line (as the
/// generated headers' link line says).
pub const RUNTIME_SYSTEM_LIBRARIES: [&str; 3] = ["-lpthread", "-ldl", "-lm"];

/// The C compiler: the `CC` environment variable when it is set and not empty (a program,
/// possibly followed by arguments, e.g. `ccache gcc`), else `cc`. The program first, then
/// its arguments.
pub fn c_compiler() -> Vec<OsString> {
    let words: Vec<OsString> = std::env::var("CC")
        .map(|cc| cc.split_whitespace().map(OsString::from).collect())
        .unwrap_or_default();
    if words.is_empty() {
        vec![OsString::from("cc")]
    } else {
        words
    }
}

/// A C program to compile in a directory: `<dir>/<name>.c` built into the executable
/// `<dir>/<name>`, with `-std=c99 -Wall -Werror` (the standard can be changed), extra flags,
/// object files and, optionally, the runtime library. The compiler runs in `dir`, so
/// relative paths are relative to it.
#[derive(Debug, Clone)]
pub struct CProgram {
    dir: PathBuf,
    name: String,
    standard: String,
    flags: Vec<OsString>,
    objects: Vec<OsString>,
    runtime: bool,
}

impl CProgram {
    /// Writes `source` to `<dir>/<name>.c` (panics naming the file when it cannot).
    pub fn new(dir: &Path, name: &str, source: &str) -> Self {
        let path = dir.join(format!("{name}.c"));
        std::fs::write(&path, source)
            .unwrap_or_else(|e| panic!("cannot write the C source {}: {e}", path.display()));
        Self {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            standard: "c99".to_string(),
            flags: Vec::new(),
            objects: Vec::new(),
            runtime: false,
        }
    }

    /// The C standard (`-std=<standard>`), `c99` unless set: `gnu99` for POSIX clocks.
    pub fn standard(mut self, standard: &str) -> Self {
        self.standard = standard.to_string();
        self
    }

    /// One more compiler flag, before the source file: `-O2`, `-DNAME=value`, ...
    pub fn flag(mut self, flag: impl AsRef<OsStr>) -> Self {
        self.flags.push(flag.as_ref().to_os_string());
        self
    }

    /// An object file to link, after the source file (relative to the directory or absolute).
    pub fn object(mut self, object: impl AsRef<OsStr>) -> Self {
        self.objects.push(object.as_ref().to_os_string());
        self
    }

    /// Links the runtime library in the directory ([`RUNTIME_LIBRARY`], written there with the
    /// model) and the system libraries it needs ([`RUNTIME_SYSTEM_LIBRARIES`]).
    pub fn with_runtime(mut self) -> Self {
        self.runtime = true;
        self
    }

    /// The compiler's command line, program first, with every argument.
    fn command_line(&self) -> Vec<OsString> {
        let mut line = c_compiler();
        line.push(format!("-std={}", self.standard).into());
        line.extend(["-Wall", "-Werror"].map(OsString::from));
        line.extend(self.flags.iter().cloned());
        line.push(format!("{}.c", self.name).into());
        line.extend(self.objects.iter().cloned());
        if self.runtime {
            line.push(RUNTIME_LIBRARY.into());
            line.extend(RUNTIME_SYSTEM_LIBRARIES.map(OsString::from));
        }
        line.extend(["-o".into(), OsString::from(&self.name)]);
        line
    }

    /// Compiles and links the program; returns the executable's path. Panics, naming the
    /// command line and the directory, when the runtime library is asked for but missing, when
    /// the compiler cannot be started, or when it fails (with its stderr).
    pub fn build(self) -> PathBuf {
        let runtime = self.dir.join(RUNTIME_LIBRARY);
        assert!(
            !self.runtime || runtime.is_file(),
            "no {RUNTIME_LIBRARY} in {}: write the model with the runtime library first",
            self.dir.display()
        );
        let line = self.command_line();
        let shown = show(&line);
        let output = Command::new(&line[0])
            .args(&line[1..])
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "a C compiler is needed (set CC to choose one): `{shown}` could not start: {e}"
                )
            });
        assert!(
            output.status.success(),
            "`{shown}` in {} failed ({}):\n{}",
            self.dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        self.dir.join(&self.name)
    }
}

/// A command line as one string, for messages.
pub(crate) fn show(line: &[OsString]) -> String {
    line.iter()
        .map(|word| word.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}
