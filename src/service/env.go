package service

import (
	"os"

	"golang.org/x/sys/unix"
)

// notifySocket is where systemd listens for state changes; "" when the
// process was not started by systemd with Type=notify.
func notifySocket() string { return os.Getenv("NOTIFY_SOCKET") }

// monotonicUsec is CLOCK_MONOTONIC in microseconds, the clock systemd
// compares MONOTONIC_USEC with.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}
