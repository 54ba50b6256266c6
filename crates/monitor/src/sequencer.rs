//! Restores log order from batches that arrive out of order (parallel downloads).

use std::collections::BTreeMap;

/// Why a batch was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SequenceError {
    #[error("batch at {start} overlaps entries already received (next expected {next})")]
    Overlap { start: u64, next: u64 },
    #[error("batch at {start} overlaps a buffered batch at {other}")]
    OverlapBuffered { start: u64, other: u64 },
}

/// Buffers `(start, items)` batches and releases items strictly in index order.
#[derive(Debug)]
pub struct Sequencer<T> {
    next: u64,
    pending: BTreeMap<u64, Vec<T>>,
    buffered: usize,
}

impl<T> Sequencer<T> {
    /// Expect index `start` first.
    pub fn new(start: u64) -> Self {
        Sequencer { next: start, pending: BTreeMap::new(), buffered: 0 }
    }

    /// The next index to be released.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Items buffered but not yet released.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Add the batch of items starting at `start`. Empty batches are ignored.
    pub fn insert(&mut self, start: u64, items: Vec<T>) -> Result<(), SequenceError> {
        if items.is_empty() {
            return Ok(());
        }
        if start < self.next {
            return Err(SequenceError::Overlap { start, next: self.next });
        }
        let end = start + items.len() as u64;
        if let Some((&s, v)) = self.pending.range(..=start).next_back()
            && s + v.len() as u64 > start
        {
            return Err(SequenceError::OverlapBuffered { start, other: s });
        }
        if let Some((&s, _)) = self.pending.range(start..).next()
            && s < end
        {
            return Err(SequenceError::OverlapBuffered { start, other: s });
        }
        self.buffered += items.len();
        self.pending.insert(start, items);
        Ok(())
    }

    /// Release every item that is now contiguous with what was released before.
    pub fn pop_ready(&mut self) -> Vec<T> {
        let mut out = Vec::new();
        while let Some(items) = self.pending.remove(&self.next) {
            self.next += items.len() as u64;
            self.buffered -= items.len();
            out.extend(items);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_in_order_whatever_the_arrival_order() {
        // Every permutation of four batches of different lengths.
        let batches: Vec<(u64, Vec<u64>)> =
            vec![(10, vec![10, 11]), (12, vec![12]), (13, vec![13, 14, 15]), (16, vec![16])];
        let perms = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1], [3, 0, 2, 1]];
        for p in perms {
            let mut s = Sequencer::new(10);
            let mut got = Vec::new();
            for &i in &p {
                let (start, items) = batches[i].clone();
                s.insert(start, items).unwrap();
                got.extend(s.pop_ready());
            }
            assert_eq!(got, (10..17).collect::<Vec<_>>(), "order {p:?}");
            assert_eq!(s.buffered(), 0);
            assert_eq!(s.next(), 17);
        }
    }

    #[test]
    fn refuses_duplicates_and_overlaps() {
        let mut s = Sequencer::new(0);
        s.insert(0, vec![0, 1]).unwrap();
        assert_eq!(s.pop_ready(), vec![0, 1]);
        assert_eq!(s.insert(1, vec![1]), Err(SequenceError::Overlap { start: 1, next: 2 }));
        s.insert(5, vec![5, 6]).unwrap();
        assert_eq!(s.insert(6, vec![6]), Err(SequenceError::OverlapBuffered { start: 6, other: 5 }));
        assert_eq!(s.insert(4, vec![4, 5]), Err(SequenceError::OverlapBuffered { start: 4, other: 5 }));
        s.insert(2, Vec::new()).unwrap();
        assert!(s.pop_ready().is_empty());
        assert_eq!(s.buffered(), 2);
    }
}
