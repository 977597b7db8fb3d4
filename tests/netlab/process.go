package netlab

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a program the lab started, usually inside a namespace. Its
// stdout and stderr are kept for Lines and Output.
type Process struct {
	Name string // for messages: "dns-server", "tcpdump", …

	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, valid after done

	mu     sync.Mutex
	stdout []string
	stderr bytes.Buffer
	notify []func(line string) // called for every stdout and stderr line
}

// startProcess starts argv (prefixed with `ip netns exec NS` when ns is set)
// and returns once ready has seen a matching line on stdout or stderr, or
// fails after timeout. A nil ready returns at once.
func startProcess(name, ns string, argv []string, ready func(line string) bool, timeout time.Duration) (*Process, error) {
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// Pdeathsig: if the test binary dies (timeout panic, SIGKILL), the
	// servers die with it instead of holding a namespace forever.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{})}
	readyCh := make(chan struct{})
	var once sync.Once
	if ready == nil {
		once.Do(func() { close(readyCh) })
	}
	p.notify = append(p.notify, func(line string) {
		if ready != nil && ready(line) {
			once.Do(func() { close(readyCh) })
		}
	})
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		p.read(stdout, true)
	}()
	go func() {
		defer readers.Done()
		p.read(stderr, false)
	}()
	go func() {
		readers.Wait()
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case <-readyCh:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("start %s: exited early (%v): %s", name, p.err, p.Output())
	case <-time.After(timeout):
		p.Stop()
		return nil, fmt.Errorf("start %s: not ready after %s: %s", name, timeout, p.Output())
	}
}

func (p *Process) read(r io.Reader, isStdout bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		if isStdout {
			p.stdout = append(p.stdout, line)
		} else {
			p.stderr.WriteString(line)
			p.stderr.WriteByte('\n')
		}
		fns := p.notify
		p.mu.Unlock()
		for _, fn := range fns {
			fn(line)
		}
	}
}

// Lines returns the stdout lines so far (JSON lines for trafficgen).
func (p *Process) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stdout...)
}

// Output returns stdout and stderr so far, for failure messages.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stdout, "\n") + "\n" + p.stderr.String()
}

// Pid is the process id (of `ip netns exec`, which execs the program).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM, waits up to 15 s, then kills. It returns nil for an
// exit caused by the signal; calling it again is harmless.
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("stop %s: killed after 15 s", p.Name)
	}
	return p.exitErr()
}

// Interrupt is Stop with SIGINT, which tcpdump wants for a clean file end.
func (p *Process) Interrupt() error {
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(15 * time.Second):
		return p.Stop()
	}
}

func (p *Process) exitErr() error {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return nil
		}
	}
	if p.err != nil {
		return fmt.Errorf("%s: %w", p.Name, p.err)
	}
	return nil
}
