//! libFuzzer binary of `kiln_fuzz::csv_dataset` (see ../README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: kiln_fuzz::fuzzing_init(),
    |data: &[u8]| kiln_fuzz::csv_dataset(data)
);
