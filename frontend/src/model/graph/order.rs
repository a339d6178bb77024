//! A topological order of a graph given by its inbound lists — used when the connections
//! come from a file, where layers may be listed in any order.

use std::collections::BTreeSet;

/// The nodes `0..inbound.len()` in a topological order (inbound nodes first) that keeps the
/// given order where it already is one: Kahn's algorithm, always taking the earliest ready
/// node. `Err(node)` names a node on a cycle (or fed by one).
pub(crate) fn topological_order(inbound: &[Vec<usize>]) -> Result<Vec<usize>, usize> {
    let count = inbound.len();
    let mut remaining: Vec<usize> = inbound.iter().map(Vec::len).collect();
    let mut consumers = vec![Vec::new(); count];
    for (i, from) in inbound.iter().enumerate() {
        for &j in from {
            consumers[j].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..count).filter(|&i| remaining[i] == 0).collect();
    let mut order = Vec::with_capacity(count);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &c in &consumers[i] {
            remaining[c] -= 1;
            if remaining[c] == 0 {
                ready.insert(c);
            }
        }
    }
    if order.len() == count {
        Ok(order)
    } else {
        Err((0..count)
            .find(|i| !order.contains(i))
            .expect("some node is left"))
    }
}

/// `items` rearranged into `order` (a permutation of their positions).
pub(crate) fn reorder<T>(items: Vec<T>, order: &[usize]) -> Vec<T> {
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order
        .iter()
        .map(|&i| slots[i].take().expect("each position once"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::topological_order;

    #[test]
    fn keeps_a_valid_order_and_sorts_an_invalid_one() {
        assert_eq!(
            topological_order(&[vec![], vec![0], vec![1]]),
            Ok(vec![0, 1, 2])
        );
        assert_eq!(
            topological_order(&[vec![2], vec![], vec![1]]),
            Ok(vec![1, 2, 0])
        );
        assert_eq!(topological_order(&[vec![], vec![2], vec![1]]), Err(1));
    }
}
