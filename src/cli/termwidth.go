package cli

import (
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// TerminalWidth returns the width tables should fit: $COLUMNS if set,
// else the size of the terminal f is (TIOCGWINSZ), else 0, meaning no
// limit (output to a pipe or a file is never cut).
func TerminalWidth(f *os.File) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f == nil {
		return 0
	}
	var ws struct{ row, col, xpixel, ypixel uint16 }
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws)))
	if errno != 0 {
		return 0
	}
	return int(ws.col)
}
