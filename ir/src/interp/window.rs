//! The geometry shared by convolutions and pooling: which input cell each (output
//! position, window tap) pair reads. Conv2d, both of its backprops, Pool2d and Pool2dGrad
//! all walk the same taps, so the backprops are the adjoints of the forward ops by
//! construction.

use crate::op::Padding;
use crate::shape::Shape;

/// A sliding 2-D window over an NHWC input, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window2d {
    /// Batch size `n`.
    pub batch: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
    /// Window (filter) height and width, undilated.
    pub window: [usize; 2],
    /// Strides over H and W.
    pub strides: [usize; 2],
    /// Dilation over H and W.
    pub dilation: [usize; 2],
    /// Padding before (top, left).
    pub pad_before: [usize; 2],
}

/// One tap: a window cell that falls inside the input. Positions are flat indices of the
/// spatial grids (channels excluded): `out_pos = (n*oh + oy)*ow + ox`,
/// `in_pos = (n*h + iy)*w + ix`, `tap = ky*kw + kx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tap {
    /// Flat output position.
    pub out_pos: usize,
    /// Flat input position read.
    pub in_pos: usize,
    /// Flat window cell.
    pub tap: usize,
}

impl Window2d {
    /// Resolve the window over an input of shape `[n, h, w, c]`; `None` when it does not fit
    /// (shape inference has already rejected such ops).
    pub fn new(
        input: &Shape,
        window: [usize; 2],
        strides: [usize; 2],
        dilation: [usize; 2],
        padding: Padding,
    ) -> Option<Self> {
        let mut output = [0; 2];
        let mut pad_before = [0; 2];
        for axis in 0..2 {
            let extent = (window[axis].checked_sub(1)?) * dilation[axis] + 1;
            let resolved = padding.resolve(axis, input.0[1 + axis], extent, strides[axis])?;
            output[axis] = resolved.out;
            pad_before[axis] = resolved.pad_before;
        }
        Some(Window2d {
            batch: input.0[0],
            input: [input.0[1], input.0[2]],
            output,
            window,
            strides,
            dilation,
            pad_before,
        })
    }

    /// Number of output positions (`n * oh * ow`).
    pub fn n_out_positions(&self) -> usize {
        self.batch * self.output[0] * self.output[1]
    }

    /// Visit every tap that lands inside the input (padding cells are skipped), ordered by
    /// output position and, within a window, row-major by window cell.
    pub fn for_each_tap(&self, mut visit: impl FnMut(Tap)) {
        let [h, w] = self.input;
        let [oh, ow] = self.output;
        let [kh, kw] = self.window;
        for n in 0..self.batch {
            for oy in 0..oh {
                for ox in 0..ow {
                    let out_pos = (n * oh + oy) * ow + ox;
                    for ky in 0..kh {
                        let Some(iy) = self.input_coord(0, oy, ky).filter(|&iy| iy < h) else {
                            continue;
                        };
                        for kx in 0..kw {
                            let Some(ix) = self.input_coord(1, ox, kx).filter(|&ix| ix < w) else {
                                continue;
                            };
                            visit(Tap {
                                out_pos,
                                in_pos: (n * h + iy) * w + ix,
                                tap: ky * kw + kx,
                            });
                        }
                    }
                }
            }
        }
    }

    /// The input coordinate along `axis` read by output `o`, window cell `k`; `None` in the
    /// padding before the input (padding after shows up as a coordinate past the end).
    fn input_coord(&self, axis: usize, o: usize, k: usize) -> Option<usize> {
        (o * self.strides[axis] + k * self.dilation[axis]).checked_sub(self.pad_before[axis])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_skip_padding_and_follow_row_major_window_order() {
        // 3x3 input, 2x2 window, stride 2, SAME: 2x2 output, padding only after.
        let win = Window2d::new(
            &Shape::from([1, 3, 3, 1]),
            [2, 2],
            [2, 2],
            [1, 1],
            Padding::Same,
        )
        .unwrap();
        assert_eq!((win.output, win.pad_before), ([2, 2], [0, 0]));
        let mut taps = Vec::new();
        win.for_each_tap(|t| taps.push((t.out_pos, t.in_pos, t.tap)));
        let want = vec![
            (0, 0, 0),
            (0, 1, 1),
            (0, 3, 2),
            (0, 4, 3),
            (1, 2, 0),
            (1, 5, 2),
            (2, 6, 0),
            (2, 7, 1),
            (3, 8, 0),
        ];
        assert_eq!(taps, want);
    }

    #[test]
    fn dilated_taps_with_padding_before() {
        // 1x4 input, 1x2 window at dilation 2, explicit left padding 1: output 2 wide.
        let win = Window2d::new(
            &Shape::from([1, 1, 4, 1]),
            [1, 2],
            [1, 1],
            [1, 2],
            Padding::Explicit([0, 0, 1, 0]),
        )
        .unwrap();
        assert_eq!(win.output, [1, 3]);
        let mut taps = Vec::new();
        win.for_each_tap(|t| taps.push((t.out_pos, t.in_pos, t.tap)));
        // ox = 0 reads padded columns 0 (padding) and 2 (input 1); ox = 1 reads inputs 0, 2; ox = 2 inputs 1, 3.
        assert_eq!(
            taps,
            vec![(0, 1, 1), (1, 0, 0), (1, 2, 1), (2, 1, 0), (2, 3, 1)]
        );
    }
}
