// Package archtest holds no code, only tests that keep the import
// direction of the module as STYLE.md describes it: the root package
// imports only the standard library, verify only the standard library and
// the root package, public packages never import internal/, and nothing
// outside cmd/ imports cmd/.
package archtest
