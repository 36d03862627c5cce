// Package deploy holds no code, only the deployment examples of SPEC §12
// (Dockerfile, kubernetes/) and the test that keeps them true to the
// service: ports, probes, configuration variable names, Secret keys, the
// shutdown deadline and the build command. See README.md in this
// directory.
package deploy
