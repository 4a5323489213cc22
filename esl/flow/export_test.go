package flow

// Collected exposes collected to the external tests.
var Collected = collected
