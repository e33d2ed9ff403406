//! Typed handles: the promise, inside a pipeline body, of a step's output.

use std::fmt;
use std::marker::PhantomData;

use crate::graph::NodeId;

/// The output of a step inside a `#[pipeline]` body. Passing it to another step is an edge.
///
/// `T` is the output's type, so wiring a `Handle<File>` into a `Dir` parameter is a compile
/// error at the argument.
pub struct Handle<T> {
    node: NodeId,
    part: usize,
    _type: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    /// The handle of part `part` of node `node`'s output.
    pub fn new(node: NodeId, part: usize) -> Self {
        Self {
            node,
            part,
            _type: PhantomData,
        }
    }

    /// The node producing this value.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Which part of the node's output this is (0 unless the step returns a tuple).
    pub fn part(&self) -> usize {
        self.part
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Handle<T> {}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({}.{})", self.node.index(), self.part)
    }
}

/// The handles of a task's output, made from the node that produces it.
pub trait FromNode: Sized {
    /// How many artifacts the output has.
    const PARTS: usize;

    /// The handles of `node`'s output.
    fn from_node(node: NodeId) -> Self;

    /// The handles as `(node, part)` pairs, in order.
    fn parts(&self) -> Vec<(NodeId, usize)>;
}

impl<T> FromNode for Handle<T> {
    const PARTS: usize = 1;

    fn from_node(node: NodeId) -> Self {
        Handle::new(node, 0)
    }

    fn parts(&self) -> Vec<(NodeId, usize)> {
        vec![(self.node, self.part)]
    }
}

impl FromNode for () {
    const PARTS: usize = 0;

    fn from_node(_node: NodeId) -> Self {}

    fn parts(&self) -> Vec<(NodeId, usize)> {
        Vec::new()
    }
}

macro_rules! tuple_from_node {
    ($($t:ident $i:tt),+) => {
        impl<$($t),+> FromNode for ($(Handle<$t>,)+) {
            const PARTS: usize = [$($i),+].len();

            fn from_node(node: NodeId) -> Self {
                ($(Handle::new(node, $i),)+)
            }

            fn parts(&self) -> Vec<(NodeId, usize)> {
                vec![$((self.$i.node, self.$i.part)),+]
            }
        }
    };
}

tuple_from_node!(A 0);
tuple_from_node!(A 0, B 1);
tuple_from_node!(A 0, B 1, C 2);
tuple_from_node!(A 0, B 1, C 2, D 3);
tuple_from_node!(A 0, B 1, C 2, D 3, E 4);
tuple_from_node!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_node!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_node!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
