package netlab

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Capture is a tcpdump writing a pcap of the router's br-lan, where frames
// from the clients carry the clients' MACs.
type Capture struct {
	// Path is the pcap file; complete once Stop returned.
	Path string
	p    *Process
}

var captureSeq atomic.Int64

// StartCapture starts tcpdump on br-lan and returns once it listens.
func (l *Lab) StartCapture(tb testing.TB) *Capture {
	tb.Helper()
	path := filepath.Join(l.Dir, fmt.Sprintf("lan-%d.pcap", captureSeq.Add(1)))
	// -Z root: tcpdump would otherwise drop to its own user and fail to
	// write into the test's directory. --immediate-mode and -U: every packet
	// reaches the file at once; with the default 1 s buffer timeout, a short
	// capture stopped by SIGINT can end up empty. -s and -B: in immediate
	// mode every ring slot holds a full snaplen, so the default 256 KiB
	// snaplen in a 2 MiB buffer leaves 8 slots and bursts get dropped;
	// 64 KiB slots in 32 MiB give 500.
	p, err := l.Start("tcpdump", l.Router,
		[]string{"tcpdump", "-i", LANIface, "-n", "-s", "65535", "-B", "32768", "-U", "--immediate-mode", "-Z", "root", "-w", path},
		func(line string) bool { return strings.Contains(line, "listening on") })
	if err != nil {
		tb.Fatalf("netlab: %v", err)
	}
	return &Capture{Path: path, p: p}
}

// Stop ends the capture after a short settle time (so the last replies are
// in) and returns the pcap path.
func (c *Capture) Stop(tb testing.TB) string {
	tb.Helper()
	time.Sleep(200 * time.Millisecond)
	if err := c.p.Interrupt(); err != nil {
		tb.Fatalf("netlab: stop capture: %v\n%s", err, c.p.Output())
	}
	// A capture with holes would make any comparison with it wrong.
	if m := dropped.FindStringSubmatch(c.p.Output()); m != nil && m[1] != "0" {
		tb.Fatalf("netlab: tcpdump lost packets:\n%s", c.p.Output())
	}
	return c.Path
}

var dropped = regexp.MustCompile(`(\d+) packets? dropped by kernel`)

// Output is tcpdump's console output, with its packet and drop counts once
// stopped.
func (c *Capture) Output() string { return c.p.Output() }
