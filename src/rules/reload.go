package rules

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotRunning is returned by Reload when no Suricata can be reached: it
// loads the rules when it next starts.
var ErrNotRunning = errors.New("suricata is not running")

// Reload makes a running Suricata load its rule files again without a
// restart: over its unix-command socket ("reload-rules", which answers
// once the new rules are in use), else with SIGUSR2 to the process in
// pidFile (detect.rule-reload must be on). It returns how it reloaded.
func Reload(ctx context.Context, socket, pidFile string) (string, error) {
	if socket != "" {
		if _, err := os.Stat(socket); err == nil {
			if err := reloadSocket(ctx, socket); err != nil {
				return "", fmt.Errorf("reload rules over %s: %w", socket, err)
			}
			return "reloaded over " + socket, nil
		}
	}
	if pidFile != "" {
		pid, err := suricataPID(pidFile)
		if err == nil {
			if err := syscall.Kill(pid, syscall.SIGUSR2); err != nil {
				return "", fmt.Errorf("reload rules: signal suricata (pid %d): %w", pid, err)
			}
			return fmt.Sprintf("sent SIGUSR2 to suricata (pid %d)", pid), nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrNotRunning) {
			return "", err
		}
	}
	return "", ErrNotRunning
}

// suricataPID reads a pid file and checks that the process is Suricata
// (its main thread is called Suricata-Main), so a stale file cannot make
// us signal some other process.
func suricataPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid file %s: no pid in %q", path, strings.TrimSpace(string(b)))
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || !strings.HasPrefix(strings.ToLower(string(comm)), "suricata") {
		return 0, ErrNotRunning
	}
	return pid, nil
}

// reloadSocket speaks Suricata's unix-command protocol: one JSON object
// each way, a version handshake, then the command.
func reloadSocket(ctx context.Context, path string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(5 * time.Minute) // a large ruleset takes a while to load
	if dl, ok := ctx.Deadline(); ok {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	dec := json.NewDecoder(bufio.NewReader(conn))
	call := func(msg map[string]string) (string, error) {
		b, _ := json.Marshal(msg)
		if _, err := conn.Write(append(b, '\n')); err != nil {
			return "", err
		}
		var reply struct {
			Return  string          `json:"return"`
			Message json.RawMessage `json:"message"`
		}
		if err := dec.Decode(&reply); err != nil {
			return "", fmt.Errorf("read reply: %w", err)
		}
		if reply.Return != "OK" {
			return "", fmt.Errorf("suricata answered %s: %s", reply.Return, reply.Message)
		}
		return string(reply.Message), nil
	}
	if _, err := call(map[string]string{"version": "0.2"}); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	_, err = call(map[string]string{"command": "reload-rules"})
	return err
}
