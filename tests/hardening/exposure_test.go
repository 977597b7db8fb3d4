package hardening

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
)

// TestNoNetworkSockets runs the daemon with every input it has (EVE
// socket, ubus) and finds the sockets it holds (/proc/PID/fd) in the
// kernel's tables: none may be TCP, UDP or raw, over IPv4 or IPv6. pakon
// talks over unix sockets only.
func TestNoNetworkSockets(t *testing.T) {
	r := start(t)
	r.send(t, flowLine(1, 0, time.Now().Add(-time.Hour)))
	waitFor(t, 20*time.Second, "a flow", func() bool { return r.rows(t) == 1 })
	pid := r.daemon.PID()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	found := func(table string, col int) int {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(l)
			if len(f) > col && inodes[f[col]] {
				n++
				if table != "unix" {
					t.Errorf("pakon holds a %s socket: %s", table, l)
				}
			}
		}
		return n
	}
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6", "raw", "raw6"} {
		found(table, 9)
	}
	// The method must see the sockets pakon does hold: listener, EVE
	// client, ubus.
	if n := found("unix", 6); n < 2 || n != len(inodes) {
		t.Errorf("%d of pakon's %d sockets found among unix sockets", n, len(inodes))
	}
}

// injections are SQL fragments a caller might try in any text argument.
var injections = []string{
	`' OR 1=1 --`, `x'); DROP TABLE flows; --`, `" OR ""="`, `%' OR '%'='`, `*`, `%`, `_`,
	`1; DELETE FROM flows`, `') UNION SELECT * FROM devices --`, `\'; --`, "\u00a0' OR 1=1 --",
}

// TestInjectionStrings sends SQL injection strings through every text
// argument of pakon show and of the ubus query methods. None may match
// a flow it does not name, fail with anything but a clean argument
// error, or change the stored data.
func TestInjectionStrings(t *testing.T) {
	r := start(t)
	base := time.Now().Add(-time.Hour)
	var lines []string
	for i := range 30 {
		lines = append(lines, flowLine(i, i%3, base.Add(time.Duration(i)*time.Second)))
	}
	r.send(t, lines...)
	waitFor(t, 20*time.Second, "30 flows", func() bool { return r.rows(t) == 30 })

	for _, s := range injections {
		for _, flag := range []string{"-m", "-H", "--proto", "--app"} {
			out, errOut, code := r.pk.Run(t, "show", "-j", "--no-filter", "-s", "@0", flag, s)
			if code != 0 {
				if code != 2 || strings.Contains(strings.ToLower(errOut), "sql") {
					t.Errorf("show %s %q: exit %d: %s", flag, s, code, errOut)
				}
				continue
			}
			var res struct{ Total int }
			if err := json.Unmarshal([]byte(out), &res); err != nil || res.Total != 0 {
				t.Errorf("show %s %q: %d rows (%v)", flag, s, res.Total, err)
			}
		}
		for _, flag := range []string{"-s", "-e", "-p", "--sort", "-n"} {
			if _, errOut, code := r.pk.Run(t, "show", "-j", flag, s); code != 2 || strings.Contains(strings.ToLower(errOut), "sql") {
				t.Errorf("show %s %q: exit %d, want 2 (usage): %s", flag, s, code, errOut)
			}
		}
		q, _ := json.Marshal(s)
		for _, args := range []string{
			fmt.Sprintf(`{"start":0,"devices":[%s]}`, q), fmt.Sprintf(`{"start":0,"hostnames":[%s]}`, q),
			fmt.Sprintf(`{"start":0,"proto":%s}`, q), fmt.Sprintf(`{"start":0,"app_proto":%s}`, q),
			fmt.Sprintf(`{"start":0,"sort":%s}`, q), fmt.Sprintf(`{"start":%s}`, q),
			fmt.Sprintf(`{"start":0,"hostnames":[%s]}`, strings.Replace(string(q), `'`, `\u0000'`, 1)),
		} {
			for _, method := range []string{"query", "devices", "top", "histogram"} {
				b, err := r.call(t, method, args)
				var ue *ubus.Error
				if err != nil {
					// An unknown device name is NOT_FOUND.
					if !errors.As(err, &ue) || (ue.Status != ubus.StatusInvalidArgument && ue.Status != ubus.StatusNotFound) {
						t.Errorf("%s %s: %v, want a result, INVALID_ARGUMENT or NOT_FOUND", method, args, err)
					}
					continue
				}
				var res struct {
					Total int `json:"total"`
				}
				json.Unmarshal(b, &res)
				if method == "query" && res.Total != 0 {
					t.Errorf("%s %s: %d rows", method, args, res.Total)
				}
			}
		}
	}
	if n := r.rows(t); n != 30 {
		t.Errorf("%d flows left after the injections, want 30", n)
	}
	if res := r.pk.Show(t, "--no-filter", "-s", "@0", "-D"); res.Total != 3 {
		t.Errorf("%d devices after the injections, want 3", res.Total)
	}
}
