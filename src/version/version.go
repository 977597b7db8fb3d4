// Package version holds pakon's version, set at link time with
// -ldflags "-X github.com/pakon/pakon/src/version.Version=…".
package version

// Version is the release or git description of this build.
var Version = "dev"
