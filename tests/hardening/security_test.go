package hardening

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubus/ubustest"
	"github.com/pakon/pakon/src/ubusapi"
	"github.com/pakon/pakon/tests/pakontest"
)

// TestFileModes runs the daemon under umask 000, so that nothing it
// creates gets a private mode by luck, through every kind of file it
// writes: live database (with WAL), archive, flash journal, snapshot,
// EVE socket, and the offset of a followed EVE file. None may be
// readable, writable or searchable by others: it is browsing history.
func TestFileModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	r := start(t, "option commit_interval '1s'")
	base := time.Now().Add(-time.Hour)
	var lines []string
	for i := range 20 {
		lines = append(lines, flowLine(i, 0, base))
	}
	r.send(t, lines...)
	waitFor(t, 20*time.Second, "a commit with flows", func() bool {
		_, err := os.Stat(filepath.Join(r.pk.Dir, "archive.db.journal", "00000001.log"))
		return err == nil && r.rows(t) == 20
	})
	sock, err := os.Stat(r.pk.Socket)
	if err != nil {
		t.Fatal(err)
	}
	checkModes(t, r.pk.Dir, map[string]bool{r.pk.Config: true}, sock.Mode())
	if err := r.daemon.Stop(); err != nil {
		t.Fatal(err)
	}
	checkModes(t, r.pk.Dir, map[string]bool{r.pk.Config: true}, 0)

	// A followed EVE file: the offset file.
	dir := t.TempDir()
	eve := filepath.Join(dir, "eve.json")
	if err := os.WriteFile(eve, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pk := pakontest.New(t, fmt.Sprintf("option eve_file '%s'", eve), "option commit_interval '1s'")
	d := pk.StartDaemonNoSocket(t)
	waitFor(t, 20*time.Second, "the offset file", func() bool {
		_, err := os.Stat(filepath.Join(pk.Dir, "eve-offset.json"))
		return err == nil
	})
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	checkModes(t, pk.Dir, map[string]bool{pk.Config: true}, 0)
}

// checkModes walks dir and fails on any entry with permissions for
// others; the socket may be group-writable (Suricata's group).
func checkModes(t *testing.T, dir string, skip map[string]bool, sockMode fs.FileMode) {
	t.Helper()
	seen := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir || skip[p] {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		seen++
		perm := info.Mode().Perm()
		if perm&0o007 != 0 {
			t.Errorf("%s: mode %v gives others access", p, info.Mode())
		}
		if info.Mode().Type() == fs.ModeSocket && perm != 0o660 {
			t.Errorf("%s: socket mode %v, want 0660", p, perm)
		}
		if info.Mode().IsRegular() && perm&0o077 != 0 {
			t.Errorf("%s: file mode %v, want owner only", p, perm)
		}
		return nil
	})
	if seen < 3 {
		t.Errorf("only %d files under %s: the daemon wrote nothing?", seen, dir)
	}
}

// TestUbusWriteNeedsRoot calls the daemon over ubus as root and as user
// nobody (a process of its own, so that the broker finds its uid by
// SO_PEERCRED as ubusd does): nobody may read but every write method
// answers PERMISSION_DENIED and changes nothing; with ubus.write_group
// naming nobody's group, nobody may write too.
func TestUbusWriteNeedsRoot(t *testing.T) {
	needRoot(t)
	self := copySelf(t)
	for _, c := range []struct {
		writeGroup string
		allowed    bool
	}{{"", false}, {nogroup(t), true}} {
		broker := ubustest.Start(t)
		opts := []string{fmt.Sprintf("config ubus 'ubus'\n\toption socket '%s'", broker.Path())}
		if c.writeGroup != "" {
			opts[0] += fmt.Sprintf("\n\toption write_group '%s'", c.writeGroup)
		}
		pk := pakontest.New(t, opts...)
		d := pk.StartDaemon(t)
		r := &rig{pk: pk, daemon: d, ubus: broker.Path()}
		waitFor(t, 30*time.Second, "ubus", func() bool { _, err := r.call(t, "status", "{}"); return err == nil })
		os.Chmod(filepath.Dir(broker.Path()), 0o755)
		os.Chmod(broker.Path(), 0o666)
		r.send(t, flowLine(1, 0, time.Now().Add(-time.Hour)))
		waitFor(t, 20*time.Second, "a flow", func() bool { return r.rows(t) == 1 })

		if st := asNobody(t, self, broker.Path(), "status", "{}"); st != 0 {
			t.Errorf("status as nobody: ubus status %d, want 0", st)
		}
		for _, m := range []struct{ method, args string }{
			{"set_device_name", `{"mac":"02:00:00:00:00:00","name":"owned"}`},
			{"clear", `{"all":true}`},
			{"reload", `{}`},
		} {
			got := asNobody(t, self, broker.Path(), m.method, m.args)
			want := int(ubus.StatusPermissionDenied)
			if c.allowed {
				want = 0
			}
			if got != want {
				t.Errorf("%s as nobody (write_group %q): ubus status %d, want %d", m.method, c.writeGroup, got, want)
			}
		}
		cfg, _ := os.ReadFile(pk.Config)
		if n := r.rows(t); !c.allowed && (n != 1 || strings.Contains(string(cfg), "owned")) {
			t.Errorf("nobody changed data: %d rows, config:\n%s", n, cfg)
		} else if c.allowed && n != 0 {
			t.Errorf("clear by the write group left %d rows", n)
		}
		if !c.allowed && !strings.Contains(d.Logs(), "ubus write refused") {
			t.Error("refusals not logged")
		}
		// Root still may.
		if _, err := r.call(t, "reload", "{}"); err != nil {
			t.Errorf("reload as root: %v", err)
		}
		d.Stop()
	}
}

// TestShippedUbusdACL checks ubusd/pakon.json against ubusd's format
// (openwrt/ubus ubusd_acl.c: "user" or "group", "access" by object with
// "methods"): it grants exactly the read methods, and no write method.
func TestShippedUbusdACL(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "ubusd", "pakon.json"))
	if err != nil {
		t.Fatal(err)
	}
	var acl struct {
		User   string `json:"user"`
		Group  string `json:"group"`
		Access map[string]struct {
			Methods []string `json:"methods"`
		} `json:"access"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&acl); err != nil {
		t.Fatal(err)
	}
	if acl.Group == "" || acl.User != "" || len(acl.Access) != 1 {
		t.Fatalf("acl %+v", acl)
	}
	got := acl.Access[ubusapi.ObjectName].Methods
	if strings.Join(got, ",") != strings.Join(ubusapi.ReadMethods, ",") {
		t.Errorf("methods %q, want the read methods %q", got, ubusapi.ReadMethods)
	}
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

// nogroup is the name of nobody's group on this system.
func nogroup(t *testing.T) string {
	out, err := exec.Command("id", "-gn", "nobody").Output()
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// copySelf copies the test binary where user nobody can run it.
func copySelf(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pakon-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	dst := filepath.Join(dir, "hardening.test")
	in, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
	return dst
}

// asNobody runs one ubus call as user nobody and returns the ubus status.
func asNobody(t *testing.T, self, sock, method, args string) int {
	t.Helper()
	cmd := exec.Command(self, "-test.run", "^TestUbusCallHelper$")
	cmd.Env = append(os.Environ(), "PAKON_UBUS_CALL="+strings.Join([]string{sock, method, args}, "\x1f"))
	uid, gid := lookupNobody(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, _ := cmd.CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "ubus-status "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatalf("helper printed no status:\n%s", out)
	return -1
}

func lookupNobody(t *testing.T) (uint32, uint32) {
	out, err := exec.Command("id", "-u", "nobody").Output()
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	out, _ = exec.Command("id", "-g", "nobody").Output()
	gid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return uint32(uid), uint32(gid)
}

// TestUbusCallHelper is the child of asNobody; it does nothing in a
// normal run.
func TestUbusCallHelper(t *testing.T) {
	spec := os.Getenv("PAKON_UBUS_CALL")
	if spec == "" {
		t.Skip("helper for TestUbusWriteNeedsRoot")
	}
	p := strings.SplitN(spec, "\x1f", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := ubustest.CallTable(ctx, p[0], "pakon", p[1], p[2])
	var ue *ubus.Error
	switch {
	case err == nil:
		fmt.Println("ubus-status 0")
	case errors.As(err, &ue):
		fmt.Printf("ubus-status %d\n", int(ue.Status))
	default:
		fmt.Printf("ubus-status -1\n%v\n", err)
	}
}
