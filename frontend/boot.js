// Starts the wasm bundle. A file of its own (not an inline script) so the Content-Security-Policy
// can forbid inline scripts.
import init from '/frontend.js';
init();
