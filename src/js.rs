//! What both JS bindings share (features `wasm` and `wasm-inspect`): the imported `JSON.parse`
//! for results the core writes as JSON text, `SessionConfigError`s built from a
//! [`ConfigError`], the host's CSPRNG, and what a module without `std` must define itself: where
//! memory comes from and what a panic does.

use wasm_bindgen::prelude::*;

use crate::ConfigError;

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse`, for results the core wrote as JSON text (always valid).
    #[wasm_bindgen(js_namespace = JSON, js_name = parse)]
    pub(crate) fn json_parse(text: &str) -> JsValue;

    /// `crypto.getRandomValues` over a view of the module's memory (the bytes to fill).
    #[wasm_bindgen(catch, js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(bytes: &mut [u8]) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = Error)]
    type JsError;

    #[wasm_bindgen(constructor, js_class = Error)]
    fn new(message: &str) -> JsError;

    #[wasm_bindgen(method, setter, js_class = Error)]
    fn set_name(this: &JsError, name: &str);

    #[wasm_bindgen(method, setter, js_class = Error)]
    fn set_reason(this: &JsError, reason: &str);
}

/// A `SessionConfigError` (an `Error` with that name and a `reason` code; core.js rethrows it
/// as its own class).
pub(crate) fn config_error(err: &ConfigError) -> JsValue {
    let error = JsError::new(&err.message());
    error.set_name("SessionConfigError");
    error.set_reason(err.code());
    error.into()
}

/// Fills `bytes` from the host's CSPRNG; false when it threw (no `crypto` global, say).
pub(crate) fn fill_random(bytes: &mut [u8]) -> bool {
    get_random_values(bytes).is_ok()
}

/// Without `std` a panic traps, as `panic = "abort"` did with it, minus formatting a message no
/// one reads. Nothing in the library panics on any input: clippy denies `unwrap`, `expect`,
/// `panic!` and indexing, and the fuzz targets feed it hostile input.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// The allocator `std` uses on wasm32, named here because the module builds without `std`.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
