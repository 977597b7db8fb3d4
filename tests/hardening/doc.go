// Package hardening holds end-to-end tests of pakon under bad input,
// faults, load and attack: the built binary (tests/pakontest) is fed
// through its EVE socket, asked over a ubus broker (ubustest) and through
// pakon show, while its connections are cut, its archive's file system
// fills up, its clock jumps, its input is replayed or floods it. Tests
// that mount file systems or change users need root and skip without it.
package hardening
