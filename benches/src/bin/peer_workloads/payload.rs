//! The results file: the peers' JSON document (`framework`, `threads`, load and steal at the
//! start and end, one section per workload with `results`, `loadavg_before`/`after` and a
//! `note`, the `rows`, `machine`, `flops`, `peak_gflops_2core`, `written_at`), assembled as
//! the workloads finish and written once. It runs no workload.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::error::{BenchError, Result};
use crate::rows::{FRAMEWORK, Row};
use crate::{flops, machine};

/// What one workload measured.
pub struct Section {
    /// Kiln's entry of the section's `results` (the peers key it by framework).
    pub results: Value,
    /// How Kiln ran the workload, where that differs from a plain reading of the definition.
    pub note: &'static str,
    /// The table rows.
    pub rows: Vec<Row>,
}

/// The document being assembled.
pub struct Payload {
    document: Map<String, Value>,
    rows: Vec<Row>,
}

impl Payload {
    /// A document with the framework, versions, threads and the starting load.
    pub fn start() -> Payload {
        let mut document = Map::new();
        document.insert("framework".into(), json!(FRAMEWORK));
        document.insert(
            "versions".into(),
            json!({"kiln": env!("CARGO_PKG_VERSION"), "kernel_threads": machine::kiln_threads()}),
        );
        document.insert("threads".into(), json!(machine::kiln_threads()));
        document.insert("loadavg_start".into(), json!(machine::loadavg()));
        document.insert("steal_s_start".into(), json!(machine::steal_seconds()));
        Payload {
            document,
            rows: Vec::new(),
        }
    }

    /// Add workload `key`'s section (`"w1"`), with the snapshots taken around it.
    pub fn add(&mut self, key: &str, section: Section, before: Value, after: Value) {
        let results = json!({ FRAMEWORK: section.results });
        let entry = json!({"results": results, "loadavg_before": before,
                           "loadavg_after": after, "note": section.note});
        self.document.insert(key.into(), entry);
        self.rows.extend(section.rows);
    }

    /// The rows so far.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Finish the document (end load, rows, machine, FLOP counts, time) and write it to
    /// `path`, creating its folder.
    pub fn write(mut self, path: &Path) -> Result<()> {
        let rows = serde_json::to_value(&self.rows).map_err(|source| BenchError::Json {
            what: "rows",
            source,
        })?;
        let document = &mut self.document;
        document.insert("loadavg_end".into(), json!(machine::loadavg()));
        document.insert("steal_s_end".into(), json!(machine::steal_seconds()));
        document.insert("rows".into(), rows);
        document.insert("machine".into(), machine::info());
        document.insert("flops".into(), Value::Object(flops::table()));
        document.insert("peak_gflops_2core".into(), json!(flops::PEAK_GFLOPS_2CORE));
        document.insert("written_at".into(), json!(machine::utc_timestamp()));
        let text =
            serde_json::to_string_pretty(&self.document).map_err(|source| BenchError::Json {
                what: "results",
                source,
            })?;
        let io = |what| {
            move |source| BenchError::Io {
                what,
                path: path.to_path_buf(),
                source,
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io("creating the folder of"))?;
        }
        std::fs::write(path, text + "\n").map_err(io("writing"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_has_the_fields_summarize_py_reads() {
        let mut payload = Payload::start();
        let section = Section {
            results: json!({"steady_step_s": 0.002}),
            note: "n",
            rows: vec![Row::w4(0.02, 0.002)],
        };
        payload.add("w4", section, machine::snap(), machine::snap());
        let path = std::env::temp_dir().join(format!("kiln-peer-{}/t.json", std::process::id()));
        payload.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["framework"], "kiln");
        assert_eq!(doc["rows"][0]["framework"], "kiln");
        // summarize.py: the W4 row's steady step from w4.results[<row's framework>].
        assert_eq!(doc["w4"]["results"]["kiln"]["steady_step_s"], 0.002);
        assert!(doc["w4"]["loadavg_before"].is_object());
        for key in [
            "loadavg_start",
            "loadavg_end",
            "steal_s_start",
            "steal_s_end",
        ] {
            assert!(doc.get(key).is_some(), "{key}");
        }
        assert_eq!(doc["flops"]["w3_forward_per_image"], 30_940_528_640_u64);
    }
}
