//! The plan as the scheduler walks it: each node's count of dependencies, its dependents, and
//! the length of the longest chain of steps after it (its priority for a `-j` slot).

use crate::graph::Plan;

/// Each node's count of dependencies and its dependents (in plan order), by plan index.
pub(super) fn dependency_graph(plan: &Plan) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut pending = vec![0; plan.nodes.len()];
    let mut dependents = vec![Vec::new(); plan.nodes.len()];
    for node in &plan.nodes {
        let deps = node.deps();
        pending[node.id.index()] = deps.len();
        for dep in deps {
            dependents[dep.index()].push(node.id.index());
        }
    }
    (pending, dependents)
}

/// Every node that depends on `index`, directly or not, found depth first (a node's latest
/// dependent first).
pub(super) fn dependents(dependents_of: &[Vec<usize>], index: usize) -> Vec<usize> {
    let mut seen = vec![false; dependents_of.len()];
    let mut stack = vec![index];
    let mut out = Vec::new();
    while let Some(at) = stack.pop() {
        for &next in dependents_of[at].iter().rev() {
            if !seen[next] {
                seen[next] = true;
                out.push(next);
                stack.push(next);
            }
        }
    }
    out
}

/// Each node's priority: how many steps the longest chain from it to the plan's end holds,
/// itself included. `is_step[i]` says whether node `i` is a step (inputs and literals count
/// for nothing); `dependents_of[i]` lists node `i`'s dependents, which come after it in the
/// plan's order.
pub(super) fn chain_lengths(is_step: &[bool], dependents_of: &[Vec<usize>]) -> Vec<u32> {
    let mut length = vec![0_u32; is_step.len()];
    // A plan lists arguments before their users, so walking it backwards sees every
    // dependent's length before its dependency's.
    for index in (0..is_step.len()).rev() {
        let longest_after = dependents_of[index]
            .iter()
            .map(|&d| length[d])
            .max()
            .unwrap_or(0);
        length[index] = longest_after + u32::from(is_step[index]);
    }
    length
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_counts_the_steps_after_a_node() {
        // 0 (input) -> 1 -> 2 -> 3, and 1 -> 4: node 1 heads a chain of three steps.
        let is_step = [false, true, true, true, true];
        let dependents = vec![vec![1], vec![2, 4], vec![3], vec![], vec![]];
        assert_eq!(chain_lengths(&is_step, &dependents), [3, 3, 2, 1, 1]);
    }
}
