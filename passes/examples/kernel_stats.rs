//! Kernels and bytes moved per execution of every graph in an IR dump.
//!
//! `KILN_DUMP_IR=fuse cargo run --release -p kiln-examples --example mnist_mlp 2> dump.ir`,
//! then `cargo run -p kiln-passes --example kernel_stats < dump.ir`: one line per
//! `graph { ... }` block of the input (headed by the `; after <pass>` line before it), with
//! the counts of [`passes::stats::kernel_stats`]. Lines outside graph blocks are ignored.

use std::io::Read;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let mut header = String::from("graph");
    let mut block: Option<String> = None;
    let mut index = 0;
    for line in text.lines() {
        if let Some(body) = &mut block {
            body.push_str(line);
            body.push('\n');
            if line.trim_end() == "}" {
                let graph = ir::text::parse(body)?;
                let s = passes::stats::kernel_stats(&graph);
                println!(
                    "{index}: {header}: {} kernels, {} bytes read, {} written, {} moved",
                    s.kernels,
                    s.bytes_read,
                    s.bytes_written,
                    s.bytes_moved()
                );
                index += 1;
                block = None;
            }
        } else if let Some(pass) = line.strip_prefix("; after ") {
            header = format!("after {}", pass.trim());
        } else if line.trim_end() == "graph {" {
            block = Some(String::from("graph {\n"));
        }
    }
    Ok(())
}
