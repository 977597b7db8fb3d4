package eveinput_test

import (
	"os"
	"strconv"
	"syscall"
)

func inodeOf(fi os.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return strconv.FormatUint(st.Ino, 10)
	}
	return "0"
}
