//! The Cranelift target ISAs the backend compiles for: this host with its native CPU
//! features (the JIT, host objects), or a named target triple with its baseline features.

use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::{settings, settings::Configurable};

use crate::error::{CodegenError, Result};

/// The host ISA with its native features (AVX, FMA, ...), position independent or not.
pub(crate) fn host_isa(pic: bool) -> Result<OwnedTargetIsa> {
    target_isa(None, pic)
}

/// The ISA for target triple `triple` (its baseline features), or the host's with its
/// native features when `None`.
pub(crate) fn target_isa(triple: Option<&str>, pic: bool) -> Result<OwnedTargetIsa> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| {
        f.set(k, v)
            .map_err(|e| CodegenError::Cranelift(format!("setting {k}: {e}")))
    };
    // Measured on the elementwise, reduction and movement kernels: "speed" and "none" are
    // within noise of each other; "speed" shares the splatted constants.
    set(&mut flags, "opt_level", "speed")?;
    set(&mut flags, "is_pic", if pic { "true" } else { "false" })?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    let isa = match triple {
        None => cranelift_native::builder().map_err(|e| CodegenError::Host(e.to_string()))?,
        Some(name) => {
            let fail = |msg: String| CodegenError::Target {
                triple: name.to_string(),
                msg,
            };
            let parsed: target_lexicon::Triple = name
                .parse()
                .map_err(|e| fail(format!("not a target triple: {e}")))?;
            cranelift_codegen::isa::lookup(parsed).map_err(|e| fail(e.to_string()))?
        }
    };
    isa.finish(settings::Flags::new(flags))
        .map_err(|e| CodegenError::Host(e.to_string()))
}
