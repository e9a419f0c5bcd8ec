// A bare import, to have the wasm fetched and instantiated early: a bundler may drop it only if
// the package wrongly declares its entry free of side effects.
import 'edge-session';

window.result = { loaded: true };
