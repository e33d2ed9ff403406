//! The wiring check: which arguments a step parameter of type `T` accepts.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::graph::{Arg, Handle};

/// An argument that can be passed to parameter `P` of step `S`, whose type is `T`.
///
/// A handle of the same type, a value of the same type (or a reference to one), a string
/// literal for a `String`, or, for a `Vec<T>`, the `Vec<Handle<T>>` a loop collected (fan-in).
/// The pipeline macro checks each argument against this trait at the argument's span, so a
/// wrong wiring is a compile error on the user's argument that names the step and parameter.
#[diagnostic::on_unimplemented(
    message = "step `{S}` parameter `{P}` expects `{T}`, but this argument is `{Self}`",
    label = "expected `{T}` or `Handle<{T}>` here",
    note = "an argument is a pipeline input, the output of an earlier step, or a literal of the parameter's type"
)]
pub trait Wire<T, S, P> {
    /// The graph argument this value stands for.
    fn into_arg(self) -> Arg;
}

impl<T, S, P> Wire<T, S, P> for Handle<T> {
    fn into_arg(self) -> Arg {
        Arg::Handle {
            node: self.node(),
            part: self.part(),
        }
    }
}

impl<T: Serialize + DeserializeOwned, S, P> Wire<T, S, P> for T {
    fn into_arg(self) -> Arg {
        Arg::literal(&self)
    }
}

impl<T: Serialize + DeserializeOwned, S, P> Wire<T, S, P> for &T {
    fn into_arg(self) -> Arg {
        Arg::literal(self)
    }
}

impl<S, P> Wire<String, S, P> for &str {
    fn into_arg(self) -> Arg {
        Arg::literal(&self)
    }
}

impl<S, P> Wire<String, S, P> for &&str {
    fn into_arg(self) -> Arg {
        Arg::literal(self)
    }
}

/// Fan-in: the handles a loop collected, each an item of the parameter's list.
impl<T, S, P> Wire<Vec<T>, S, P> for Vec<Handle<T>> {
    fn into_arg(self) -> Arg {
        <&Self as Wire<Vec<T>, S, P>>::into_arg(&self)
    }
}

impl<T, S, P> Wire<Vec<T>, S, P> for &Vec<Handle<T>> {
    fn into_arg(self) -> Arg {
        Arg::List(
            self.iter()
                .map(|h| Arg::Handle {
                    node: h.node(),
                    part: h.part(),
                })
                .collect(),
        )
    }
}
