//! The FIFO replay buffer: the most recent training samples, replayed beside new ones so that
//! the model does not forget earlier content.

use std::collections::VecDeque;

/// Samples the buffer keeps.
pub const REPLAY_CAPACITY: usize = 10_000;

/// A FIFO of the last [`REPLAY_CAPACITY`] (or `capacity`) items.
#[derive(Debug, Clone)]
pub struct ReplayBuffer<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> ReplayBuffer<T> {
    /// An empty buffer holding at most `capacity` items (at least one).
    pub fn new(capacity: usize) -> Self {
        ReplayBuffer {
            items: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Adds an item, dropping the oldest when full.
    pub fn push(&mut self, item: T) {
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The item at `index` (0 is the oldest).
    pub fn get(&self, index: usize) -> Option<&T> {
        self.items.get(index)
    }

    /// Oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }
}

/// A small deterministic generator (SplitMix64) for choosing replayed samples: the choice is
/// reproducible from the step number, so a restart replays the same way.
pub fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_in_order() {
        let mut b = ReplayBuffer::new(3);
        for i in 0..5 {
            b.push(i);
        }
        assert_eq!(b.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(b.get(0), Some(&2));
        assert_eq!(b.len(), 3);
    }
}
