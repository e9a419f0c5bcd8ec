//! What both JS bindings share (features `wasm` and `wasm-inspect`): the imported `JSON.parse`
//! for results the core writes as JSON text, and `SessionConfigError`s built from a
//! [`ConfigError`].

use wasm_bindgen::prelude::*;

use crate::ConfigError;

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse`, for results the core wrote as JSON text (always valid).
    #[wasm_bindgen(js_namespace = JSON, js_name = parse)]
    pub(crate) fn json_parse(text: &str) -> JsValue;

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
