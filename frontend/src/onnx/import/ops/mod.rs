//! The op table: ONNX op type → the function that maps a node of it onto Kiln layers, one
//! file per op family. Ops whose inputs are all known are evaluated by `fold` instead and
//! never reach this table.

mod activation;
mod arith;
mod conv;
mod linear;
mod norm;
mod pool;
mod shape;

use super::attrs::NodeCtx;
use super::error::ImportResult;
use super::graph::Importer;

/// Maps one node onto layers of the importer's model.
pub(crate) type MapFn = fn(&mut Importer<'_>, &NodeCtx<'_>) -> ImportResult<()>;

/// Every op type mapped onto layers.
const OPS: &[(&str, MapFn)] = &[
    ("Gemm", linear::gemm),
    ("MatMul", linear::matmul),
    ("Conv", conv::conv),
    ("ConvTranspose", conv::conv_transpose),
    ("BatchNormalization", norm::batch_norm),
    ("Relu", activation::relu),
    ("LeakyRelu", activation::leaky_relu),
    ("Clip", activation::clip),
    ("Sigmoid", activation::sigmoid),
    ("Tanh", activation::tanh),
    ("Softmax", activation::softmax),
    ("MaxPool", pool::max_pool),
    ("AveragePool", pool::average_pool),
    ("GlobalAveragePool", pool::global_average_pool),
    ("GlobalMaxPool", pool::global_max_pool),
    ("ReduceMean", pool::reduce_mean),
    ("Flatten", shape::flatten),
    ("Reshape", shape::reshape),
    ("Transpose", shape::transpose),
    ("Concat", shape::concat),
    ("Pad", shape::pad),
    ("Identity", shape::identity),
    ("Dropout", shape::dropout),
    ("Add", arith::binary),
    ("Sub", arith::binary),
    ("Mul", arith::binary),
    ("Div", arith::binary),
];

/// The mapping of `op`, if Kiln has one.
pub(crate) fn mapper(op: &str) -> Option<MapFn> {
    OPS.iter().find(|(name, _)| *name == op).map(|(_, f)| *f)
}

/// Op types mapped onto layers, in table order.
pub(crate) fn mapped_ops() -> impl Iterator<Item = &'static str> {
    OPS.iter().map(|(name, _)| *name)
}
