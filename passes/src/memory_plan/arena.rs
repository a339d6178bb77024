//! The arena's offset allocator: best-fit over a free list of aligned blocks, growing the
//! arena at its end when nothing fits. Deterministic: ties go to the lowest offset.

use ir::memory_plan::ARENA_ALIGN;

/// Round an element count up to the arena alignment.
pub(super) fn aligned(len: usize) -> usize {
    len.div_ceil(ARENA_ALIGN) * ARENA_ALIGN
}

/// Free blocks `(offset, len)` sorted by offset and never adjacent (freed neighbours merge),
/// below a high-water mark that only grows.
#[derive(Debug, Default)]
pub(super) struct ArenaAllocator {
    free: Vec<(usize, usize)>,
    high_water: usize,
}

impl ArenaAllocator {
    /// The arena size needed so far.
    pub(super) fn high_water(&self) -> usize {
        self.high_water
    }

    /// Reserve `len` elements (a multiple of [`ARENA_ALIGN`]); returns the offset.
    pub(super) fn alloc(&mut self, len: usize) -> usize {
        let best = self
            .free
            .iter()
            .enumerate()
            .filter(|&(_, &(_, block))| block >= len)
            .min_by_key(|&(_, &(offset, block))| (block, offset))
            .map(|(i, _)| i);
        if let Some(i) = best {
            let (offset, block) = self.free[i];
            if block == len {
                self.free.remove(i);
            } else {
                self.free[i] = (offset + len, block - len);
            }
            return offset;
        }
        // Nothing fits: grow the arena, starting inside a free block that ends at its top.
        let offset = match self.free.last() {
            Some(&(offset, block)) if offset + block == self.high_water => {
                self.free.pop();
                offset
            }
            _ => self.high_water,
        };
        self.high_water = offset + len;
        offset
    }

    /// Return a block reserved by [`ArenaAllocator::alloc`].
    pub(super) fn free(&mut self, offset: usize, len: usize) {
        let at = self.free.partition_point(|&(o, _)| o < offset);
        self.free.insert(at, (offset, len));
        if at + 1 < self.free.len() && offset + len == self.free[at + 1].0 {
            self.free[at].1 += self.free[at + 1].1;
            self.free.remove(at + 1);
        }
        if at > 0 && self.free[at - 1].0 + self.free[at - 1].1 == offset {
            self.free[at - 1].1 += self.free[at].1;
            self.free.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_fit_reuses_the_tightest_block_and_merges_neighbours() {
        let mut a = ArenaAllocator::default();
        let x = a.alloc(64);
        let y = a.alloc(16);
        let z = a.alloc(32);
        let w = a.alloc(16);
        assert_eq!((x, y, z, w, a.high_water()), (0, 64, 80, 112, 128));
        a.free(x, 64);
        a.free(z, 32);
        // 32 fits both holes; the 32-element one is tighter.
        assert_eq!(a.alloc(32), 80);
        a.free(80, 32);
        a.free(y, 16);
        // x, y and z's blocks merged into one of 112 elements.
        assert_eq!(a.alloc(112), 0);
        assert_eq!(a.high_water(), 128);
    }

    #[test]
    fn growing_starts_in_a_trailing_free_block() {
        let mut a = ArenaAllocator::default();
        let x = a.alloc(16);
        let y = a.alloc(32);
        a.free(y, 32);
        assert_eq!(a.alloc(48), 16);
        assert_eq!(a.high_water(), 64);
        assert_eq!(x, 0);
        assert_eq!(aligned(1), 16);
        assert_eq!(aligned(33), 48);
        assert_eq!(aligned(0), 0);
    }
}
