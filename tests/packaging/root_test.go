package packaging_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// repo is the repository root (tests/packaging/../..).
var repo = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}()

var (
	ucicmdOnce sync.Once
	ucicmdPath string
	ucicmdErr  error
)

// ucicmd builds the uci stand-in once per test run, statically, so that
// it runs inside the chroot.
func ucicmd(t *testing.T) string {
	t.Helper()
	ucicmdOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pakon-ucicmd-")
		if err != nil {
			ucicmdErr = err
			return
		}
		ucicmdPath = filepath.Join(dir, "uci")
		cmd := exec.Command("go", "build", "-o", ucicmdPath, "./tests/packaging/ucicmd")
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			ucicmdErr = &buildError{out: string(out), err: err}
		}
	})
	if ucicmdErr != nil {
		t.Fatalf("build uci stand-in: %v", ucicmdErr)
	}
	return ucicmdPath
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// busybox returns the busybox binary, or skips the test.
func busybox(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("busybox not installed (tests/setup-debian.sh installs it): OpenWrt's shell is busybox ash")
	return ""
}

// newRoot makes a throw-away OpenWrt-like root: busybox as /bin/sh and its
// applets, the stand-ins for /lib/functions.sh, /lib/functions/procd.sh,
// /etc/rc.common and /sbin/uci, and the directories base-files provides.
// Scripts run in it with chroot, so it needs root.
func newRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to chroot into a throw-away OpenWrt root")
	}
	bb := busybox(t)
	root := t.TempDir()
	for _, d := range []string{"bin", "dev", "sbin", "etc/config", "etc/init.d", "etc/rc.d", "etc/uci-defaults",
		"lib/functions", "tmp", "usr/bin", "usr/lib/opkg/info", "var/run", "var/lib"} {
		mustMkdir(t, filepath.Join(root, d))
	}
	// /dev/null as the character device 1:3; a plain file if mknod is
	// not allowed here.
	if err := syscall.Mknod(filepath.Join(root, "dev/null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		writeFile(t, filepath.Join(root, "dev/null"), "", 0o666)
	}
	copyFile(t, bb, filepath.Join(root, "bin/busybox"), 0o755)
	// A dynamically linked busybox needs its libraries in the root.
	if out, err := exec.Command("ldd", bb).Output(); err == nil {
		for _, lib := range lddPaths(out) {
			copyFile(t, lib, filepath.Join(root, lib), 0o755)
		}
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" && !strings.Contains(applet, "/") {
			_ = os.Symlink("busybox", filepath.Join(root, "bin", applet))
		}
	}
	copyFile(t, ucicmd(t), filepath.Join(root, "sbin/uci"), 0o755)
	stubs := filepath.Join(repo, "tests/packaging/testdata/openwrt")
	copyFile(t, filepath.Join(stubs, "lib/functions.sh"), filepath.Join(root, "lib/functions.sh"), 0o644)
	copyFile(t, filepath.Join(stubs, "lib/functions/procd.sh"), filepath.Join(root, "lib/functions/procd.sh"), 0o644)
	copyFile(t, filepath.Join(stubs, "etc/rc.common"), filepath.Join(root, "etc/rc.common"), 0o755)
	return root
}

// lddPaths returns the absolute library paths in ldd's output.
func lddPaths(out []byte) []string {
	var paths []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		for _, f := range strings.Fields(sc.Text()) {
			if strings.HasPrefix(f, "/") {
				paths = append(paths, f)
				break
			}
		}
	}
	return paths
}

// chroot runs script with busybox sh inside root and returns its output.
func chroot(t *testing.T, root, script string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustChroot is chroot that fails the test on a non-zero exit.
func mustChroot(t *testing.T, root, script string, env ...string) string {
	t.Helper()
	out, err := chroot(t, root, script, env...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(b), mode)
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	mustMkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// procdCall is one line of the procd.sh stand-in's log.
type procdCall []string

// procdLog reads and clears the procd.sh stand-in's log in root.
func procdLog(t *testing.T, root string) []procdCall {
	t.Helper()
	path := filepath.Join(root, "tmp/procd.log")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	var calls []procdCall
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l != "" {
			calls = append(calls, strings.Split(l, "\t"))
		}
	}
	return calls
}

// instance is what procd would be told about one service instance.
type instance struct {
	name   string
	params map[string][]string
}

// service is what one "ubus call service set" would carry.
type service struct {
	name, script string
	instances    []*instance
	triggers     [][]string
	method       string
}

// services folds the procd log into the messages procd would receive.
func services(t *testing.T, calls []procdCall) []*service {
	t.Helper()
	var out []*service
	var cur *service
	var in *instance
	for _, c := range calls {
		switch c[0] {
		case "open_service":
			cur = &service{name: c[1], script: c[2]}
		case "open_instance":
			in = &instance{name: c[1], params: map[string][]string{}}
		case "set_param":
			in.params[c[1]] = append([]string{}, c[2:]...)
		case "append_param":
			in.params[c[1]] = append(in.params[c[1]], c[2:]...)
		case "close_instance":
			cur.instances = append(cur.instances, in)
			in = nil
		case "trigger":
			cur.triggers = append(cur.triggers, c[1:])
		case "close_service":
			cur.method = c[1]
			out = append(out, cur)
			cur = nil
		case "kill", "signal":
			out = append(out, &service{name: c[1], method: c[0]})
		default:
			t.Fatalf("unknown procd call %q", c)
		}
	}
	if cur != nil || in != nil {
		t.Fatalf("procd calls not closed: %q", calls)
	}
	return out
}
