//! `serve_body`: the body reader of `POST /v1/predict` (kiln-serve) on fuzzed bytes. The
//! first byte picks the model's per-example input shape and the instance limit; the rest is
//! the body. It does NOT start a server or check headers.

/// Per-example input shapes a served model may have.
const SHAPES: &[&[usize]] = &[
    &[],
    &[1],
    &[3],
    &[2, 2],
    &[4, 3],
    &[2, 3, 2],
    &[28, 28, 1],
    &[0],
];

/// Reads `data[1..]` as a predict body.
pub fn serve_body(data: &[u8]) {
    let (pick, body) = data.split_first().unwrap_or((&0, &[]));
    let dims = SHAPES[*pick as usize % SHAPES.len()];
    let max = [1, 4, 64][(*pick as usize / SHAPES.len()) % 3];
    if let Ok((values, count)) = kiln_serve::fuzzing::read_request_body(body, dims, max) {
        let per_instance: usize = dims.iter().product();
        assert!(
            count <= max,
            "{count} instances accepted, the limit is {max}"
        );
        assert_eq!(
            values.len(),
            count * per_instance,
            "values for {count} instances"
        );
        assert!(
            values.iter().all(|v| v.is_finite()),
            "a non-finite value was accepted"
        );
    }
}
