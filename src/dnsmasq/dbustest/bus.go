// Package dbustest runs a private dbus-daemon for tests: the system bus's
// default policy plus the policy Debian's dnsmasq package installs (root
// may own dnsmasq's name), on a socket in a temporary directory, so that
// tests run dnsmasq and pakon against it as they would against the
// system bus.
package dbustest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// config follows /usr/share/dbus-1/system.conf's default policy and
// /usr/share/dbus-1/system.d/dnsmasq.conf; extra names may be owned by
// root too (dnsmasq --enable-dbus=NAME).
const config = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <policy user="root">
%s  </policy>
</busconfig>
`

// Bus is a running dbus-daemon. Stop and Start it again to simulate a
// restart of the system bus: every connection is lost.
type Bus struct {
	dir, socket, conf string

	mu     sync.Mutex
	cmd    *exec.Cmd
	stderr *lockedWriter
}

// Start runs a bus on which root may own "uk.org.thekelleys.dnsmasq" and
// the given extra names, and stops it when the test ends. It skips the
// test when dbus-daemon is not installed.
func Start(tb testing.TB, ownNames ...string) *Bus {
	tb.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		tb.Skip("dbustest: dbus-daemon not found (apt-get install dbus-daemon; tests/setup-debian.sh installs it)")
	}
	// Short path: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "dbus")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	var own strings.Builder
	for _, n := range append([]string{"uk.org.thekelleys.dnsmasq"}, ownNames...) {
		fmt.Fprintf(&own, "    <allow own=%q/>\n    <allow send_destination=%q/>\n", n, n)
	}
	b := &Bus{dir: dir, socket: filepath.Join(dir, "bus"), conf: filepath.Join(dir, "bus.conf")}
	if err := os.WriteFile(b.conf, []byte(fmt.Sprintf(config, b.socket, own.String())), 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Stop)
	if err := b.Start(); err != nil {
		tb.Fatal(err)
	}
	return b
}

// Address is the bus address for clients ("unix:path=…"); set
// DBUS_SYSTEM_BUS_ADDRESS to it to make a program use this bus as its
// system bus.
func (b *Bus) Address() string { return "unix:path=" + b.socket }

// Start starts the daemon again after Stop, on the same socket, and
// returns once it accepts connections.
func (b *Bus) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return nil
	}
	os.Remove(b.socket)
	cmd := exec.Command("dbus-daemon", "--config-file="+b.conf, "--nofork", "--nopidfile", "--nosyslog", "--print-address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	b.stderr = &lockedWriter{}
	cmd.Stderr = b.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dbus-daemon: %w", err)
	}
	// dbus-daemon prints its address once it listens.
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if !strings.HasPrefix(s, "unix:") {
			cmd.Process.Kill()
			cmd.Wait()
			return fmt.Errorf("dbus-daemon did not start: %q %s", s, b.stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("dbus-daemon did not start within 10 s: %s", b.stderr.String())
	}
	b.cmd = cmd
	return nil
}

// Stop kills the daemon; its clients lose their connections.
func (b *Bus) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Kill()
	b.cmd.Wait()
	b.cmd = nil
}

// lockedWriter makes the stderr buffer safe to read while the process
// writes.
type lockedWriter struct {
	mu sync.Mutex
	w  strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}
