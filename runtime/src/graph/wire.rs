//! The wiring check: which arguments a step parameter of type `T` accepts.

use serde::Serialize;
use serde::de::DeserializeOwned;

use tanto_engine::__internal::graph::Arg;
use tanto_engine::Handle;

/// An argument that can be passed to a step parameter of type `T`.
///
/// A handle of the same type, a value of the same type (or a reference to either), a string
/// literal for a `String`, or, for a `Vec<T>`, the `Vec<Handle<T>>` a loop collected (fan-in).
/// The pipeline macro checks each argument at its span against a trait of the parameter's own
/// that requires this one, so a wrong wiring is a compile error on the user's argument that
/// names the step and the parameter.
#[diagnostic::on_unimplemented(
    message = "a step parameter of type `{T}` cannot take `{Self}`",
    label = "expected `{T}` or `Handle<{T}>` here",
    note = "an argument is a pipeline input, the output of an earlier step, or a literal of the parameter's type"
)]
pub trait Wire<T> {
    /// The graph argument this value stands for.
    fn into_arg(self) -> Arg;
}

impl<T> Wire<T> for Handle<T> {
    fn into_arg(self) -> Arg {
        Arg::Handle {
            node: self.node(),
            part: self.part(),
        }
    }
}

/// The same edge as the handle itself: a pipeline body may pass any argument by `&`.
impl<T> Wire<T> for &Handle<T> {
    fn into_arg(self) -> Arg {
        (*self).into_arg()
    }
}

impl<T: Serialize + DeserializeOwned> Wire<T> for T {
    fn into_arg(self) -> Arg {
        Arg::literal(&self)
    }
}

impl<T: Serialize + DeserializeOwned> Wire<T> for &T {
    fn into_arg(self) -> Arg {
        Arg::literal(self)
    }
}

impl Wire<String> for &str {
    fn into_arg(self) -> Arg {
        Arg::literal(&self)
    }
}

impl Wire<String> for &&str {
    fn into_arg(self) -> Arg {
        Arg::literal(self)
    }
}

/// Fan-in: the handles a loop collected, each an item of the parameter's list.
impl<T> Wire<Vec<T>> for Vec<Handle<T>> {
    fn into_arg(self) -> Arg {
        <&Self as Wire<Vec<T>>>::into_arg(&self)
    }
}

impl<T> Wire<Vec<T>> for &Vec<Handle<T>> {
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
