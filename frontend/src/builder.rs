//! [`builder_setters!`]: the consuming `fn name(mut self, value) -> Self` setters of the
//! builder-style layers and callbacks, written once.

/// Generates consuming builder setters. Each entry is the setter's docs, its name, the
/// (possibly nested) field it sets with the value's type, and optionally a function the
/// value passes through first (`Some`, `String::from`):
///
/// ```text
/// builder_setters! {
///     /// Penalise the kernel (default none).
///     kernel_regularizer(options.kernel_regularizer: Regularizer) => Some;
/// }
/// ```
macro_rules! builder_setters {
    ($(
        $(#[$doc:meta])*
        $setter:ident($($field:ident).+ : $value:ty) $(=> $convert:path)?;
    )*) => {
        $(
            $(#[$doc])*
            pub fn $setter(mut self, value: $value) -> Self {
                self.$($field).+ = $($convert)?(value);
                self
            }
        )*
    };
}

pub(crate) use builder_setters;
