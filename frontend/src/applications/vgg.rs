//! VGG16 and VGG19 (Simonyan & Zisserman, 2014) as tf-keras 2.21 builds them: five blocks of
//! 3×3 ReLU convolutions (`block{b}_conv{i}`) each closed by a 2×2 max pooling
//! (`block{b}_pool`), then `flatten`, `fc1`, `fc2`, `predictions` — or the pooling of a model
//! without its top. One table of convolutions per block tells the two apart.

use crate::activations::Activation;
use crate::error::Result;
use crate::layers::{Conv2D, Dense, Flatten, MaxPooling2D, Padding};
use crate::model::Model;

use super::common::{Net, PoolNames};
use super::options::{Family, Options};

/// Filters of each block.
const FILTERS: [usize; 5] = [64, 128, 256, 512, 512];

/// VGG16 (Keras' `keras.applications.VGG16`): 138,357,544 parameters with the top at 224×224.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use kiln::applications::{vgg16, Options};
/// let model = vgg16(&Options::new().include_top(false).input_shape([32, 32, 3]))?;
/// assert_eq!(model.count_params()?, 14_714_688);
/// # Ok(())
/// # }
/// ```
pub fn vgg16(options: &Options) -> Result<Model> {
    vgg("vgg16", [2, 2, 3, 3, 3], options)
}

/// VGG19 (Keras' `keras.applications.VGG19`): four convolutions in each of the last three
/// blocks instead of three.
pub fn vgg19(options: &Options) -> Result<Model> {
    vgg("vgg19", [2, 2, 4, 4, 4], options)
}

/// A VGG with `convs[b]` convolutions in block `b + 1`.
fn vgg(name: &'static str, convs: [usize; 5], options: &Options) -> Result<Model> {
    let mut net = Net::start(name, Family::plain(name, 224, 32), options)?;
    let mut x = net.input;
    for (b, (&filters, &count)) in FILTERS.iter().zip(&convs).enumerate() {
        for i in 1..=count {
            let conv = Conv2D::new(filters, 3)
                .activation(Activation::Relu)
                .padding(Padding::Same)
                .named(format!("block{}_conv{i}", b + 1));
            x = net.add(conv, x)?;
        }
        let pool = MaxPooling2D::new(2)
            .strides(2)
            .named(format!("block{}_pool", b + 1));
        x = net.add(pool, x)?;
    }
    if !net.options.has_top() {
        let y = net.pool(x, PoolNames::AUTO)?;
        return net.finish(y);
    }
    x = net.add(Flatten::new().named("flatten"), x)?;
    for fc in ["fc1", "fc2"] {
        x = net.add(Dense::new(4096).activation(Activation::Relu).named(fc), x)?;
    }
    let y = net.predictions(x)?;
    net.finish(y)
}
