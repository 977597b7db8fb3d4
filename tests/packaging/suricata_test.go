package packaging_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSuricataCommandLine starts the real Suricata with the command line
// /etc/init.d/pakon-suricata hands procd, on two interfaces of a network
// namespace, and checks that it captures on both and connects to the EVE
// socket, as pakon would listen on it.
func TestSuricataCommandLine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	suricata, err := exec.LookPath("suricata")
	if err != nil {
		t.Skip("suricata not installed (tests/setup-debian.sh installs it)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}

	dir, err := os.MkdirTemp("", "pakon-suri-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "eve.sock")
	root := newRoot(t)
	installInit(t, root, fmt.Sprintf("config monitor 'monitor'\n\tlist interface 'pk0'\n\tlist interface 'pk1'\n\toption eve_socket '%s'\n", sock))
	mustChroot(t, root, "/etc/init.d/pakon-suricata start")
	svc := only(t, services(t, procdLog(t, root)))
	if len(svc.instances) != 1 {
		t.Fatalf("no Suricata instance: %+v", svc)
	}
	argv := svc.instances[0].params["command"]
	if len(argv) < 2 || argv[0] != "/usr/bin/suricata" {
		t.Fatalf("command %q", argv)
	}
	// The shipped suricata.yaml, from the tree.
	for i, a := range argv {
		if a == "/etc/pakon/suricata.yaml" {
			argv[i] = filepath.Join(repo, "files/etc/pakon/suricata.yaml")
		}
	}

	ns := fmt.Sprintf("pakon-pkg-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, l := range []string{"pk0", "pk1"} {
		run("-n", ns, "link", "add", l, "type", "veth", "peer", "name", l+"p")
		run("-n", ns, "link", "set", l, "up")
		run("-n", ns, "link", "set", l+"p", "up")
	}

	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	connected := make(chan struct{})
	go func() {
		if c, err := ln.Accept(); err == nil {
			close(connected)
			c.Close()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, suricata}, append(argv[1:], "-l", dir)...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log []string
	started := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		log = append(log, sc.Text())
		if strings.Contains(sc.Text(), "Engine started") {
			started = true
			break
		}
	}
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Errorf("Suricata did not connect to the EVE socket %s", sock)
	}
	cancel()
	go func() {
		for sc.Scan() {
		}
	}()
	cmd.Wait()
	text := strings.Join(log, "\n")
	if !started {
		t.Fatalf("Suricata did not start with %q:\n%s", argv, text)
	}
	// pakon's suricata.yaml has one worker thread per interface.
	if !strings.Contains(text, "W: 2 ") {
		t.Errorf("want two capture (worker) threads, one per interface:\n%s", text)
	}
}
