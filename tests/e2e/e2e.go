// Package e2e holds pakon's end-to-end tests: real traffic in network
// namespaces (tests/netlab), real Suricata, the real pakon binary
// (tests/pakontest). They need root and skip with a message without it.
package e2e
