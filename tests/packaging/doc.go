// Package packaging holds the tests of pakon's OpenWrt packaging: the rpcd
// ACL against the ubus API, the procd init scripts and uci-defaults run in
// a throw-away root with stand-ins for OpenWrt's shell libraries, the feed
// layout as the buildroot's scanner sees it, and the .ipk packages built
// by "make ipk", unpacked and installed the way opkg does.
//
// The script tests chroot into a directory with busybox as the shell, so
// they need root and busybox (tests/setup-debian.sh installs it); they skip
// with a message otherwise.
package packaging
