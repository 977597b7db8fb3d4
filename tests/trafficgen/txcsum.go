package main

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// ethtool ioctl numbers (linux/ethtool.h, linux/sockios.h).
const (
	siocEthtool     = 0x8946
	ethtoolSTXCSUM  = 0x00000017 // set TX checksum offload
	ifNameSize      = 16
	ethtoolValueLen = 8
)

// runTxCsumOff turns off TX checksum offload on each interface, like
// `ethtool -K IFACE tx off`. On veth pairs the kernel otherwise leaves
// checksums unfilled, and captures show every TCP/UDP checksum as bad.
func runTxCsumOff(ifaces []string) error {
	if len(ifaces) == 0 {
		return errors.New("usage: txcsum-off IFACE…")
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer syscall.Close(fd)
	for _, name := range ifaces {
		if len(name) >= ifNameSize {
			return fmt.Errorf("interface name %q too long", name)
		}
		// struct ethtool_value { __u32 cmd; __u32 data; } with data 0 = off.
		// Heap-allocated: Go never moves heap objects, so the address stays valid.
		val := new([ethtoolValueLen]byte)
		*(*uint32)(unsafe.Pointer(&val[0])) = ethtoolSTXCSUM
		// struct ifreq { char name[16]; union { void *data; … } } padded to 40 bytes.
		var ifr [40]byte
		copy(ifr[:], name)
		*(*uintptr)(unsafe.Pointer(&ifr[ifNameSize])) = uintptr(unsafe.Pointer(val))
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), siocEthtool, uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(val)
		if errno != 0 {
			return fmt.Errorf("ethtool set tx checksum off on %s: %w", name, errno)
		}
	}
	emit(map[string]any{"event": "txcsum-off", "ifaces": ifaces})
	return nil
}
