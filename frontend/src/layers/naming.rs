//! Layer naming in one place. Every layer keeps its user-given or model-assigned name in an
//! `Option<String>` field (`name`, or a nested one such as `options.name`);
//! [`name_methods!`] writes the [`crate::layers::Layer::name`] / [`crate::layers::Layer::set_name`]
//! pair over it and [`named_builder!`] the consuming `named` builder. A model names the
//! layers left unnamed from their [`crate::layers::Layer::name_prefix`].

/// Generates `Layer::name` and `Layer::set_name` over the layer's `Option<String>` name
/// field; invoke inside `impl Layer for ...`. The field defaults to `name`:
///
/// ```text
/// name_methods!();              // self.name
/// name_methods!(options.name);  // self.options.name
/// ```
macro_rules! name_methods {
    () => {
        $crate::layers::naming::name_methods!(name);
    };
    ($($field:ident).+) => {
        fn name(&self) -> Option<&str> {
            self.$($field).+.as_deref()
        }

        fn set_name(&mut self, name: String) {
            self.$($field).+ = Some(name);
        }
    };
}

/// Generates the builder `pub fn named(self, name) -> Self` over the layer's
/// `Option<String>` name field (default `name`, as for [`name_methods!`]); invoke inside the
/// layer's inherent `impl`.
macro_rules! named_builder {
    () => {
        $crate::layers::naming::named_builder!(name);
    };
    ($($field:ident).+) => {
        /// The same layer with an explicit name.
        pub fn named(mut self, name: impl Into<String>) -> Self {
            self.$($field).+ = Some(name.into());
            self
        }
    };
}

pub(crate) use {name_methods, named_builder};
