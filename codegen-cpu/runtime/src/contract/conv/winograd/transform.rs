//! The three one-dimensional transforms of Winograd F(4, 3) with the interpolation points
//! 0, ±1/2, ±2, ∞, each applied lane by lane to `L` channels at once; a 2-D transform is
//! the 1-D one along rows, then along columns. Here only arithmetic: no memory layout, no
//! loops over tiles.
//!
//! ```text
//!        | 1   0  -17/4   0    1  0 |        |  1      0      0   |
//!        | 0  -2   -4    1/2   1  0 |        | -8/15 -4/15  -2/15 |        | 1  1    1    1  1  0 |
//! B^T =  | 0   2   -4   -1/2   1  0 |   G =  | -8/15  4/15  -2/15 |  A^T = | 0 1/2 -1/2  2 -2  0 |
//!        | 0 -1/2 -1/4    2    1  0 |        |  1/30  1/15   2/15 |        | 0 1/4  1/4  4  4  0 |
//!        | 0  1/2 -1/4   -2    1  0 |        |  1/30 -1/15   2/15 |        | 0 1/8 -1/8  8 -8  1 |
//!        | 0   1    0  -17/4   0  1 |        |  0      0      1   |
//! ```
//!
//! `y = A^T [(G g) ⊙ (B^T d)]` is the 4-output, 3-tap correlation of the 6 inputs `d`.
//! Why these points and not Lavin & Gray's 0, ±1, ±2 (2016): the algorithm is exact either
//! way, but in f32 the error of a layer comes almost all from summing the products over the
//! source channels, which `A^T` then amplifies; with ±1/2 in place of ±1 that error is
//! about 1.5× smaller (a numpy simulation of a 384-channel layer against float64: relative
//! rms 2.0e-6 vs 3.0e-6 with sequential FMA sums), at the same operation count (Barabasz et
//! al. 2020 compare point sets the same way).
//! Every term the matrices multiply by a non-zero coefficient is computed, and no other,
//! so a NaN input reaches exactly the outputs with a non-zero path to it (which include
//! every output that reads it).

/// `L` channels of one tile element.
pub(super) type Lanes<const L: usize> = [f32; L];

/// `B^T d`: six inputs to six transformed values.
#[inline(always)]
pub(super) fn input_1d<const L: usize>(d: &[Lanes<L>; 6]) -> [Lanes<L>; 6] {
    let mut v = [[0.0; L]; 6];
    for l in 0..L {
        let [d0, d1, d2, d3, d4, d5] = [d[0][l], d[1][l], d[2][l], d[3][l], d[4][l], d[5][l]];
        let (a, b) = (d4 - 4.0 * d2, 0.5 * d3 - 2.0 * d1);
        let (c, e) = (d4 - 0.25 * d2, 2.0 * d3 - 0.5 * d1);
        v[0][l] = d0 - 4.25 * d2 + d4;
        v[1][l] = a + b;
        v[2][l] = a - b;
        v[3][l] = c + e;
        v[4][l] = c - e;
        v[5][l] = d1 - 4.25 * d3 + d5;
    }
    v
}

/// `G g`: three filter taps to six transformed values.
#[inline(always)]
pub(super) fn filter_1d<const L: usize>(g: &[Lanes<L>; 3]) -> [Lanes<L>; 6] {
    let mut u = [[0.0; L]; 6];
    for l in 0..L {
        let [g0, g1, g2] = [g[0][l], g[1][l], g[2][l]];
        let (near, far) = (4.0 * g0 + g2, g0 + 4.0 * g2);
        let twice = 2.0 * g1;
        u[0][l] = g0;
        u[1][l] = (near + twice) * (-2.0 / 15.0);
        u[2][l] = (near - twice) * (-2.0 / 15.0);
        u[3][l] = (far + twice) * (1.0 / 30.0);
        u[4][l] = (far - twice) * (1.0 / 30.0);
        u[5][l] = g2;
    }
    u
}

/// `A^T m`: six products to four outputs.
#[inline(always)]
pub(super) fn output_1d<const L: usize>(m: &[Lanes<L>; 6]) -> [Lanes<L>; 4] {
    let mut y = [[0.0; L]; 4];
    for l in 0..L {
        let [m0, m1, m2, m3, m4, m5] = [m[0][l], m[1][l], m[2][l], m[3][l], m[4][l], m[5][l]];
        let (s, d) = (m1 + m2, m1 - m2);
        let (s2, d2) = (m3 + m4, m3 - m4);
        y[0][l] = m0 + s + s2;
        y[1][l] = 0.5 * d + 2.0 * d2;
        y[2][l] = 0.25 * s + 4.0 * s2;
        y[3][l] = 0.125 * d + 8.0 * d2 + m5;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 1-D algorithm against the direct 3-tap correlation on exact small integers
    /// (the result is compared within 1e-4).
    #[test]
    fn one_dimensional_algorithm_is_the_correlation() {
        let d: [Lanes<1>; 6] = [[3.0], [-1.0], [4.0], [1.0], [-5.0], [9.0]];
        let g: [Lanes<1>; 3] = [[2.0], [-6.0], [5.0]];
        let (v, u) = (input_1d(&d), filter_1d(&g));
        let m: [Lanes<1>; 6] = std::array::from_fn(|i| [v[i][0] * u[i][0]]);
        let y = output_1d(&m);
        for o in 0..4 {
            let want: f32 = (0..3).map(|k| d[o + k][0] * g[k][0]).sum();
            assert!(
                (y[o][0] - want).abs() < 1e-4,
                "output {o}: {} vs {want}",
                y[o][0]
            );
        }
    }
}
