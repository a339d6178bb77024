//! The checked depthwise kernel wrapper: a hand case, and clear errors for short slices and
//! a geometry whose output channels are not `in_c * multiplier`.

use codegen_cpu::contract::{ContractError, Conv2dGeometry, ConvPass, depthwise_conv2d};
use ir::{Conv2dAttrs, Padding};

fn geometry(c: usize, m: usize) -> Conv2dGeometry {
    let attrs = Conv2dAttrs { strides: [1, 1], dilation: [1, 1], padding: Padding::Valid };
    Conv2dGeometry::resolve([1, 2, 2, c], [2, 1, c, c * m], &attrs).unwrap()
}

#[test]
fn forward_hand_case() {
    // 2x2 image, 2 channels, 2x1 filter, multiplier 2: output 1x2, 4 channels.
    // x[y, x, c]: channel 0 = [1, 2; 3, 4], channel 1 = [10, 20; 30, 40].
    let mut x = vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0];
    // w[ky, 0, c, m]: ky 0 = [[1, 2], [3, 4]], ky 1 = [[5, 6], [7, 8]].
    let mut w = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let mut y = vec![f32::NAN; 8];
    depthwise_conv2d(ConvPass::Forward, &geometry(2, 2), 2, &mut x, &mut w, &mut y).unwrap();
    // Pixel (0, 0): c0 taps 1, 3; c1 taps 10, 30.
    let want = [1.0 + 15.0, 2.0 + 18.0, 30.0 + 210.0, 40.0 + 240.0, 2.0 + 20.0, 4.0 + 24.0, 60.0 + 280.0, 80.0 + 320.0];
    assert_eq!(y, want);
}

#[test]
fn short_slices_and_bad_multipliers_are_errors() {
    let g = geometry(2, 2);
    let (mut x, mut w, mut y) = (vec![0.0; 8], vec![0.0; 7], vec![0.0; 8]);
    let err = depthwise_conv2d(ConvPass::BackpropFilter, &g, 2, &mut x, &mut w, &mut y).unwrap_err();
    assert_eq!(err, ContractError::OperandTooShort { operand: "dw", needed: 8, len: 7 });
    let mut w = vec![0.0; 8];
    let err = depthwise_conv2d(ConvPass::Forward, &g, 3, &mut x, &mut w, &mut y).unwrap_err();
    assert!(matches!(err, ContractError::InvalidGeometry(ref m) if m.contains("multiplier 3")), "{err}");
}
