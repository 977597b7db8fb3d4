package ubus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubus/ubustest"
)

// logBuffer collects a client's log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newClient(t *testing.T, path string, opts ubus.Options) (*ubus.Client, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	opts.Path = path
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.ReconnectMin == 0 {
		opts.ReconnectMin = 10 * time.Millisecond
		opts.ReconnectMax = 50 * time.Millisecond
	}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := ubus.New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c, logs
}

func mustOpen(t *testing.T, c *ubus.Client) {
	t.Helper()
	if err := c.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pakonObject is shaped like the daemon's object: a query method with
// typed arguments, decoded into a struct.
func pakonObject(seen chan<- *ubus.Request) *ubus.Object {
	return &ubus.Object{Name: "pakon", Methods: []ubus.Method{
		{
			Name: "query",
			Signature: []ubus.Arg{
				{Name: "limit", Type: ubus.TypeInt32}, {Name: "device", Type: ubus.TypeString},
				{Name: "aggregate", Type: ubus.TypeBool}, {Name: "filter", Type: ubus.TypeTable},
			},
			Handler: func(ctx context.Context, req *ubus.Request) (any, error) {
				var args struct {
					Limit  int    `json:"limit"`
					Device string `json:"device"`
				}
				if err := req.Args.Decode(&args); err != nil {
					return nil, err
				}
				if args.Limit < 0 {
					return nil, ubus.Errorf(ubus.StatusInvalidArgument, "limit %d", args.Limit)
				}
				if seen != nil {
					seen <- req
				}
				type record struct {
					Device string  `json:"device"`
					Bytes  int64   `json:"bytes"`
					Ratio  float64 `json:"ratio"`
				}
				return struct {
					Records []record `json:"records"`
					Limit   int      `json:"limit"`
				}{[]record{{args.Device, 5000000000, 0.5}}, args.Limit}, nil
			},
		},
		{Name: "fail", Handler: func(context.Context, *ubus.Request) (any, error) { return nil, errors.New("disk on fire") }},
		{Name: "panic", Handler: func(context.Context, *ubus.Request) (any, error) { panic("boom") }},
		{Name: "scalar", Handler: func(context.Context, *ubus.Request) (any, error) { return 42, nil }},
		{Name: "huge", Handler: func(context.Context, *ubus.Request) (any, error) {
			return ubus.Table{{Name: "s", Value: ubus.String(strings.Repeat("x", ubus.MaxReplyData))}}, nil
		}},
		{Name: "empty", Handler: func(context.Context, *ubus.Request) (any, error) { return nil, nil }},
	}}
}

func TestClientRegisterListCall(t *testing.T) {
	b := ubustest.Start(t)
	ctx := testCtx(t)
	seen := make(chan *ubus.Request, 1)
	obj := pakonObject(seen)
	c, _ := newClient(t, b.Path(), ubus.Options{})
	if err := c.AddObject(ctx, obj); err != nil { // before Open: registered by Open
		t.Fatal(err)
	}
	mustOpen(t, c)

	list, err := ubustest.List(ctx, b.Path(), "pakon")
	if err != nil {
		t.Fatal(err)
	}
	wantList := fmt.Sprintf("'pakon' @%08x\n"+
		"\t\"query\":{\"limit\":\"Integer\",\"device\":\"String\",\"aggregate\":\"Boolean\",\"filter\":\"Table\"}\n"+
		"\t\"fail\":{}\n\t\"panic\":{}\n\t\"scalar\":{}\n\t\"huge\":{}\n\t\"empty\":{}\n", obj.ID())
	if list != wantList {
		t.Errorf("ubus -v list pakon:\n%s\nwant\n%s", list, wantList)
	}

	out, err := ubustest.Call(ctx, b.Path(), "pakon", "query", `{"limit":5,"device":"aa:bb"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n\t\"records\": [\n\t\t{\n\t\t\t\"device\": \"aa:bb\",\n\t\t\t\"bytes\": 5000000000,\n\t\t\t\"ratio\": 0.500000\n\t\t}\n\t],\n\t\"limit\": 5\n}\n"
	if out != want {
		t.Errorf("ubus call pakon query:\n%q\nwant\n%q", out, want)
	}
	req := <-seen
	me, _ := user.Current()
	if req.Object != "pakon" || req.Method != "query" || req.User != me.Username || req.Group == "" {
		t.Errorf("request %+v", req)
	}
	if v, _ := req.Args.Get("limit"); v != ubus.Int32(5) {
		t.Errorf("limit arrived as %#v, want Int32(5)", v)
	}

	// The client calling its own object through ubusd.
	tab, err := c.Call(ctx, "pakon", "query", map[string]any{"limit": 1})
	if err != nil {
		t.Fatal(err)
	}
	<-seen
	if got, _ := tab.MarshalJSON(); string(got) != `{"records":[{"device":"","bytes":5000000000,"ratio":0.5}],"limit":1}` {
		t.Errorf("Call reply %s", got)
	}
	if tab, err := c.Call(ctx, "pakon", "empty", nil); err != nil || tab != nil {
		t.Errorf("Call empty = %v, %v; want no DATA", tab, err)
	}
	infos, err := c.Lookup(ctx, "pak*")
	if err != nil || len(infos) != 1 || infos[0].Path != "pakon" || infos[0].ID != obj.ID() || len(infos[0].Signature) != 6 {
		t.Errorf("Lookup = %+v, %v", infos, err)
	}
}

// TestClientErrorStatuses: handler errors and unknown methods come back as
// the statuses the CLI reports; a panicking or failing handler does not
// take the client down.
func TestClientErrorStatuses(t *testing.T) {
	b := ubustest.Start(t)
	ctx := testCtx(t)
	c, logs := newClient(t, b.Path(), ubus.Options{})
	mustOpen(t, c)
	if err := c.AddObject(ctx, pakonObject(nil)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, args string
		want         ubus.Status
	}{
		{"query", `{"limit":-1}`, ubus.StatusInvalidArgument},
		{"query", `{"limit":"x"}`, ubus.StatusInvalidArgument},
		{"nosuch", `{}`, ubus.StatusMethodNotFound},
		{"fail", `{}`, ubus.StatusUnknownError},
		{"panic", `{}`, ubus.StatusUnknownError},
		{"scalar", `{}`, ubus.StatusUnknownError},
		{"huge", `{}`, ubus.StatusUnknownError},
		{"query", `{"limit":2}`, ubus.StatusOK},
	}
	for _, tc := range cases {
		out, err := ubustest.Call(ctx, b.Path(), "pakon", tc.method, tc.args)
		if ubus.StatusOf(err) != tc.want {
			t.Errorf("%s %s: %v (%q), want %v", tc.method, tc.args, err, out, tc.want)
		}
	}
	if _, err := ubustest.Call(ctx, b.Path(), "nosuchobj", "query", `{}`); ubus.StatusOf(err) != ubus.StatusNotFound {
		t.Errorf("unknown object: %v", err)
	}
	if _, err := c.Call(ctx, "nosuchobj", "x", nil); !errors.Is(err, &ubus.Error{Status: ubus.StatusNotFound}) {
		t.Errorf("Call unknown object: %v", err)
	}
	for _, s := range []string{"disk on fire", "panicked: boom", "want table", "too large"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, logs.String())
		}
	}
	if c.ID() == 0 {
		t.Error("client disconnected after the failures")
	}
}

// TestClientRefusesTooLarge: a request over 1 MiB is refused before it is
// written, and the connection survives (ubusd would drop it).
func TestClientRefusesTooLarge(t *testing.T) {
	b := ubustest.Start(t)
	ctx := testCtx(t)
	c, _ := newClient(t, b.Path(), ubus.Options{})
	mustOpen(t, c)
	id := c.ID()
	big := map[string]any{"s": strings.Repeat("x", ubus.MaxMessageLen)}
	if err := c.Send(ctx, "big", big); !errors.Is(err, ubus.ErrTooLarge) {
		t.Errorf("Send of 1 MiB: %v, want ErrTooLarge", err)
	}
	if err := c.Send(ctx, "small", nil); err != nil || c.ID() != id {
		t.Errorf("after the refusal: %v, id %08x → %08x", err, id, c.ID())
	}
}

// TestClientConcurrentCalls: calls run in parallel up to Concurrency, never
// more, and all get their own answers.
func TestClientConcurrentCalls(t *testing.T) {
	b := ubustest.Start(t)
	ctx := testCtx(t)
	const limit = 3
	var running, peak atomic.Int32
	release := make(chan struct{})
	obj := &ubus.Object{Name: "slow", Methods: []ubus.Method{{Name: "echo", Handler: func(ctx context.Context, req *ubus.Request) (any, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return req.Args, nil
	}}}}
	c, _ := newClient(t, b.Path(), ubus.Options{Concurrency: limit})
	if err := c.AddObject(ctx, obj); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, c)
	const calls = 10
	errs := make(chan error, calls)
	for i := range calls {
		go func() {
			out, err := ubustest.CallTable(ctx, b.Path(), "slow", "echo", fmt.Sprintf(`{"i":%d}`, i))
			if err == nil {
				if v, _ := out.Get("i"); v != ubus.Int32(i) {
					err = fmt.Errorf("call %d got %v", i, out)
				}
			}
			errs <- err
		}()
	}
	// Only `limit` handlers may start before any is released.
	eventually(t, "handlers to run in parallel", func() bool { return running.Load() == limit })
	time.Sleep(50 * time.Millisecond)
	if n := running.Load(); n != limit {
		t.Errorf("%d handlers running, limit %d", n, limit)
	}
	close(release)
	for range calls {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if p := peak.Load(); p != limit {
		t.Errorf("peak concurrency %d, want %d", p, limit)
	}
}

func TestClientAddObjectErrors(t *testing.T) {
	b := ubustest.Start(t)
	ctx := testCtx(t)
	c1, _ := newClient(t, b.Path(), ubus.Options{})
	mustOpen(t, c1)
	c2, _ := newClient(t, b.Path(), ubus.Options{})
	mustOpen(t, c2)
	obj := &ubus.Object{Name: "dup"}
	if err := c1.AddObject(ctx, obj); err != nil {
		t.Fatal(err)
	}
	if err := c2.AddObject(ctx, &ubus.Object{Name: "dup"}); ubus.StatusOf(err) != ubus.StatusInvalidArgument {
		t.Errorf("name taken: %v, want INVALID_ARGUMENT (add_object: ubusd_direct.hex [16-17])", err)
	}
	if err := c1.AddObject(ctx, obj); err == nil {
		t.Error("adding an object twice succeeded")
	}
	bad := []*ubus.Object{
		{},
		{Name: "x", Methods: []ubus.Method{{Name: "m"}}},
		{Name: "x", Methods: []ubus.Method{{Handler: func(context.Context, *ubus.Request) (any, error) { return nil, nil }}}},
	}
	for _, o := range bad {
		if err := c1.AddObject(ctx, o); err == nil {
			t.Errorf("AddObject(%+v) succeeded", o)
		}
	}
	if err := c1.RemoveObject(ctx, obj); err != nil {
		t.Fatal(err)
	}
	if _, err := ubustest.List(ctx, b.Path(), "dup"); ubus.StatusOf(err) != ubus.StatusNotFound {
		t.Errorf("after RemoveObject: %v", err)
	}
	if err := c2.AddObject(ctx, &ubus.Object{Name: "dup"}); err != nil {
		t.Errorf("name free again: %v", err)
	}
}

func TestClientOpenFails(t *testing.T) {
	dir := t.TempDir()
	c := ubus.New(ubus.Options{Path: filepath.Join(dir, "none.sock")})
	err := c.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "none.sock") {
		t.Errorf("Open without ubusd: %v", err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Error(err)
	}

	// A refused registration fails Open, which can be retried.
	b := ubustest.Start(t)
	ctx := testCtx(t)
	holder, _ := newClient(t, b.Path(), ubus.Options{})
	mustOpen(t, holder)
	taken := &ubus.Object{Name: "pakon"}
	if err := holder.AddObject(ctx, taken); err != nil {
		t.Fatal(err)
	}
	c2, _ := newClient(t, b.Path(), ubus.Options{})
	mine := &ubus.Object{Name: "pakon"}
	if err := c2.AddObject(ctx, mine); err != nil {
		t.Fatal(err)
	}
	if err := c2.Open(ctx); ubus.StatusOf(err) != ubus.StatusInvalidArgument {
		t.Fatalf("Open with the name taken: %v, want INVALID_ARGUMENT", err)
	}
	if err := holder.RemoveObject(ctx, taken); err != nil {
		t.Fatal(err)
	}
	if err := c2.Open(ctx); err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if out, err := ubustest.List(ctx, b.Path(), "pakon"); err != nil || !strings.Contains(out, fmt.Sprintf("@%08x", mine.ID())) {
		t.Errorf("List = %q, %v", out, err)
	}
}

// TestClientCloseCancelsHandlers: Close cancels a running handler's context
// and waits for it.
func TestClientCloseCancelsHandlers(t *testing.T) {
	b := ubustest.Start(t)
	ctx := testCtx(t)
	started := make(chan struct{})
	var stopped atomic.Bool
	c := ubus.New(ubus.Options{Path: b.Path()})
	obj := &ubus.Object{Name: "block", Methods: []ubus.Method{{Name: "wait", Handler: func(ctx context.Context, _ *ubus.Request) (any, error) {
		close(started)
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond)
		stopped.Store(true)
		return nil, ctx.Err()
	}}}}
	if err := c.AddObject(ctx, obj); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, c)
	go ubustest.Call(ctx, b.Path(), "block", "wait", "")
	<-started
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !stopped.Load() {
		t.Error("Close returned before the handler")
	}
	// Every goroutine of the client is gone: read loop, reconnect manager,
	// dispatcher, handlers. (They have called wg.Done but may still be
	// returning, hence the short poll.)
	var stacks bytes.Buffer
	deadline := time.Now().Add(time.Second)
	for {
		stacks.Reset()
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		if !strings.Contains(stacks.String(), "pakon/src/ubus.(") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client goroutines left after Close:\n%s", stacks.String())
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := c.Call(ctx, "block", "wait", nil); !errors.Is(err, ubus.ErrClosed) {
		t.Errorf("Call after Close: %v", err)
	}
}
