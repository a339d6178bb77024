//! [`Buckets`]: the gradients of a step grouped into buffers of about `cap` bytes, each
//! summed across ranks by one allreduce (DDP's gradient buckets; PyTorch's default cap is
//! 25 MiB, [`DEFAULT_BUCKET_BYTES`]).
//!
//! Tensors are assigned in reverse order (the last layers' gradients, which backward produces
//! first, go in the first bucket, as in DDP); a tensor larger than the cap gets a bucket of its
//! own. This file only packs and unpacks buffers; it does NOT talk to a communicator.

/// PyTorch DDP's default `bucket_cap_mb`: 25 MiB.
pub const DEFAULT_BUCKET_BYTES: usize = 25 * 1024 * 1024;

/// A plan of buckets over a fixed list of tensors (by index and length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    /// Per bucket, the tensors it holds (indices into the list, in packing order).
    groups: Vec<Vec<usize>>,
    /// Element count of every tensor of the list.
    lens: Vec<usize>,
}

impl Buckets {
    /// Buckets of at most `cap_bytes` (f32 elements, 4 bytes each; at least one tensor per
    /// bucket) over tensors of `lens` elements.
    #[must_use]
    pub fn new(lens: &[usize], cap_bytes: usize) -> Self {
        let cap = (cap_bytes / 4).max(1);
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut filled = 0;
        for i in (0..lens.len()).rev() {
            match groups.last_mut() {
                Some(group) if filled + lens[i] <= cap => {
                    group.push(i);
                    filled += lens[i];
                }
                _ => {
                    groups.push(vec![i]);
                    filled = lens[i];
                }
            }
        }
        Buckets {
            groups,
            lens: lens.to_vec(),
        }
    }

    /// Number of buckets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are no tensors at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The tensors (indices) in bucket `b`, in packing order.
    #[must_use]
    pub fn tensors(&self, b: usize) -> &[usize] {
        &self.groups[b]
    }

    /// Elements in bucket `b`.
    #[must_use]
    pub fn bucket_len(&self, b: usize) -> usize {
        self.groups[b].iter().map(|&i| self.lens[i]).sum()
    }

    /// For every tensor of the list (by index): its bucket and its offset in that bucket's
    /// buffer, as [`Buckets::pack`] lays them out.
    #[must_use]
    pub fn places(&self) -> Vec<(usize, usize)> {
        let mut places = vec![(0, 0); self.lens.len()];
        for (b, group) in self.groups.iter().enumerate() {
            let mut offset = 0;
            for &i in group {
                places[i] = (b, offset);
                offset += self.lens[i];
            }
        }
        places
    }

    /// Bucket `b`'s tensors taken from `tensors` (the whole list) into one buffer.
    #[must_use]
    pub fn pack(&self, b: usize, tensors: &[&[f32]]) -> Vec<f32> {
        let len = self.bucket_len(b);
        let mut buffer = Vec::with_capacity(len);
        for &i in &self.groups[b] {
            buffer.extend_from_slice(tensors[i]);
        }
        buffer
    }

    /// Bucket `b`'s buffer cut back into its tensors: `(index, values)` pairs.
    pub fn unpack<'a>(
        &self,
        b: usize,
        buffer: &'a [f32],
    ) -> impl Iterator<Item = (usize, &'a [f32])> {
        let lens = &self.lens;
        let mut offset = 0;
        self.groups[b].iter().map(move |&i| {
            let part = &buffer[offset..offset + lens[i]];
            offset += lens[i];
            (i, part)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_fill_in_reverse_up_to_the_cap() {
        let buckets = Buckets::new(&[3, 2, 5, 1], 6 * 4);
        assert_eq!(buckets.groups, vec![vec![3, 2], vec![1, 0]]);
        let big = Buckets::new(&[10, 1], 4);
        assert_eq!(big.groups, vec![vec![1], vec![0]]);
        let tensors: Vec<Vec<f32>> = vec![vec![0.0; 3], vec![1.0; 2], vec![2.0; 5], vec![3.0]];
        let views: Vec<&[f32]> = tensors.iter().map(Vec::as_slice).collect();
        let packed = buckets.pack(0, &views);
        assert_eq!(packed, vec![3.0, 2.0, 2.0, 2.0, 2.0, 2.0]);
        let back: Vec<(usize, Vec<f32>)> = buckets
            .unpack(0, &packed)
            .map(|(i, v)| (i, v.to_vec()))
            .collect();
        assert_eq!(back, vec![(3, vec![3.0]), (2, vec![2.0; 5])]);
        assert_eq!(buckets.places(), vec![(1, 2), (1, 0), (0, 1), (0, 0)]);
        assert_eq!((buckets.bucket_len(0), buckets.bucket_len(1)), (6, 5));
    }
}
