//! Writes out/onnx.rs: the prost message types of ../proto/onnx.proto.
fn main() {
    let fds = protox::compile(["onnx.proto"], ["../proto"]).unwrap();
    let mut c = prost_build::Config::new();
    c.out_dir("out");
    std::fs::create_dir_all("out").unwrap();
    c.compile_fds(fds).unwrap();
}
