package ubus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
)

// script is one captured connection replayed against the Client: the fake
// ubusd sends every "<" message and requires every ">" message from the
// client byte for byte. hooks run in the script before the message with
// that vector (file, index), to make the client act at the captured moment.
type script struct {
	msgs  []vector
	hooks map[string]func()
}

func hookKey(file string, index int) string { return fmt.Sprintf("%s[%d]", file, index) }

// connScript collects the messages of connection conn from files, keeping
// only the indexes in keep (all when keep is nil).
func connScript(t *testing.T, conn string, files []string, keep map[string][]int) []vector {
	t.Helper()
	var out []vector
	for _, f := range files {
		want := map[int]bool{}
		for _, i := range keep[f] {
			want[i] = true
		}
		for _, v := range loadVectors(t, f) {
			if v.Conn == conn && (keep[f] == nil || want[v.Index]) {
				out = append(out, v)
			}
		}
	}
	return out
}

// fakeUbusd serves one script on a fresh socket and returns its path and a
// channel with the script's outcome.
func fakeUbusd(t *testing.T, s script) (string, <-chan error) {
	t.Helper()
	dir, err := os.MkdirTemp("", "ubusvec")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ubus.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		live net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			result <- err
			return
		}
		mu.Lock()
		live = c
		mu.Unlock()
		result <- playScript(c, s)
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		if live != nil {
			live.Close()
		}
		mu.Unlock()
		wg.Wait()
		os.RemoveAll(dir)
	})
	return path, result
}

func playScript(c net.Conn, s script) error {
	for _, v := range s.msgs {
		if h := s.hooks[hookKey(v.File, v.Index)]; h != nil {
			h()
		}
		if v.FromBus {
			if _, err := c.Write(v.Bytes); err != nil {
				return fmt.Errorf("%s: send: %w", v, err)
			}
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		frame, err := ubus.ReadFrame(c)
		if err != nil {
			return fmt.Errorf("%s: expected a message from the client: %w", v, err)
		}
		if !bytes.Equal(frame, v.Bytes) {
			got, _ := ubus.Decode(frame)
			want, _ := ubus.Decode(v.Bytes)
			return fmt.Errorf("%s: client sent\n %x\n%+v\nwant\n %x\n%+v", v, frame, got, v.Bytes, want)
		}
	}
	return nil
}

func waitScript(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("script did not finish")
	}
}

func openClient(t *testing.T, path string, objs ...*ubus.Object) *ubus.Client {
	t.Helper()
	c := ubus.New(ubus.Options{Path: path, Timeout: 5 * time.Second, ReconnectMin: time.Hour})
	for _, o := range objs {
		if err := c.AddObject(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return c
}

// exampleObject is the example server's object "test" (examples/server.c):
// hello answers {"message": "test received a message: <msg>"}, watch needs
// "id", count is listed only.
func exampleObject() *ubus.Object {
	return &ubus.Object{Name: "test", Methods: []ubus.Method{
		{Name: "hello", Signature: []ubus.Arg{{Name: "id", Type: ubus.TypeInt32}, {Name: "msg", Type: ubus.TypeString}},
			Handler: func(ctx context.Context, req *ubus.Request) (any, error) {
				msg, _ := req.Args.Get("msg")
				s, _ := msg.(ubus.String)
				return map[string]any{"message": "test received a message: " + string(s)}, nil
			}},
		{Name: "watch", Signature: []ubus.Arg{{Name: "id", Type: ubus.TypeInt32}, {Name: "counter", Type: ubus.TypeInt32}},
			Handler: func(ctx context.Context, req *ubus.Request) (any, error) {
				if _, ok := req.Args.Get("id"); !ok {
					return nil, ubus.Errorf(ubus.StatusInvalidArgument, "watch needs id")
				}
				return nil, nil
			}},
		{Name: "count", Signature: []ubus.Arg{{Name: "to", Type: ubus.TypeInt32}, {Name: "string", Type: ubus.TypeString}},
			Handler: func(ctx context.Context, req *ubus.Request) (any, error) { return nil, nil }},
	}}
}

// TestClientAsExampleServer replays the example server's side:
// add_object.hex [1-4] (HELLO, ADD_OBJECT with signature, replies),
// invoke.hex [6] → the client must send [7] DATA and [9] STATUS,
// call_error.hex [6] → [7] METHOD_NOT_FOUND and [14] → [15]
// INVALID_ARGUMENT, all byte for byte.
func TestClientAsExampleServer(t *testing.T) {
	msgs := connScript(t, "server", []string{"add_object.hex", "invoke.hex", "call_error.hex"},
		map[string][]int{"add_object.hex": {1, 2, 3, 4}})
	path, done := fakeUbusd(t, script{msgs: msgs})
	obj := exampleObject()
	c := openClient(t, path, obj)
	waitScript(t, done)
	if c.ID() != idServer || obj.ID() != idTest {
		t.Errorf("client id %08x object id %08x, want %08x %08x", c.ID(), obj.ID(), uint32(idServer), uint32(idTest))
	}
}

// TestClientCalls replays the CLI side of calls: invoke.hex call_hello
// [1-5, 8, 10], call_error.hex err_method [1-5, 8], err_arg [9-13, 16],
// err_obj [17-19], blobmsg_types.hex types_all [5-9, 12, 14] and
// types_echo [15-19, 22, 24]. The client's LOOKUP and INVOKE must match
// the CLI's bytes, and the replies must decode to what the CLI printed.
func TestClientCalls(t *testing.T) {
	cases := []struct {
		conn, file, method, path string
		args                     any
		want                     ubus.Table
		status                   ubus.Status
	}{
		{"call_hello", "invoke.hex", "hello", "test", json.RawMessage(`{"id":1,"msg":"hi"}`),
			ubus.Table{{Name: "message", Value: ubus.String("test received a message: hi")}}, ubus.StatusOK},
		{"err_method", "call_error.hex", "nosuch", "test", map[string]any{}, nil, ubus.StatusMethodNotFound},
		{"err_arg", "call_error.hex", "watch", "test", map[string]any{}, nil, ubus.StatusInvalidArgument},
		{"err_obj", "call_error.hex", "hello", "nosuchobj", map[string]any{}, nil, ubus.StatusNotFound},
		{"types_all", "blobmsg_types.hex", "all", "types", nil, typesAll, ubus.StatusOK},
		{"types_echo", "blobmsg_types.hex", "echo", "types", json.RawMessage(echoJSON), nil, ubus.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.file+"/"+tc.conn, func(t *testing.T) {
			msgs := connScript(t, tc.conn, []string{tc.file}, nil)
			path, done := fakeUbusd(t, script{msgs: msgs})
			c := openClient(t, path)
			got, err := c.Call(context.Background(), tc.path, tc.method, tc.args)
			waitScript(t, done)
			if ubus.StatusOf(err) != tc.status {
				t.Fatalf("Call: %v, want status %v", err, tc.status)
			}
			want := tc.want
			if tc.conn == "types_echo" {
				_ = want.UnmarshalJSON([]byte(echoJSON)) // echo returns what it got
			}
			if tc.status == ubus.StatusOK && !reflect.DeepEqual(got, want) {
				t.Errorf("reply %#v, want %#v", got, want)
			}
		})
	}
}

// TestClientAsTypesServer replays the helper server "types":
// blobmsg_types.hex types_server [1-4] (ADD_OBJECT with every type code in
// the signature), [10] → [11] DATA (every blobmsg type) + [13], [20] →
// [21] echo + [23]; then subscribe_notify.hex [9] ACTIVE 1, [16] → [17]
// (STATUS without DATA), [19] the client's NOTIFY "tick" {n:1} (started by
// a hook), [20] ubusd's STATUS with SUBSCRIBERS, [23] a subscriber's
// relayed STATUS (ignored), [24] ACTIVE 0.
func TestClientAsTypesServer(t *testing.T) {
	obj := &ubus.Object{Name: "types", Methods: []ubus.Method{
		{Name: "all", Handler: func(context.Context, *ubus.Request) (any, error) { return typesAll, nil }},
		{Name: "echo", Handler: func(_ context.Context, req *ubus.Request) (any, error) { return req.Args, nil }},
		{Name: "notify", Handler: func(context.Context, *ubus.Request) (any, error) { return nil, nil }},
		{Name: "sig", Handler: func(context.Context, *ubus.Request) (any, error) { return nil, nil }, Signature: []ubus.Arg{
			{Name: "s", Type: ubus.TypeString}, {Name: "b", Type: ubus.TypeBool}, {Name: "i16", Type: ubus.TypeInt16},
			{Name: "i32", Type: ubus.TypeInt32}, {Name: "i64", Type: ubus.TypeInt64}, {Name: "d", Type: ubus.TypeDouble},
			{Name: "a", Type: ubus.TypeArray}, {Name: "t", Type: ubus.TypeTable}, {Name: "u", Type: ubus.TypeUnspec},
		}},
	}}
	var client atomic.Pointer[ubus.Client] // set before the hook runs
	notified := make(chan error, 1)
	hooks := map[string]func(){
		hookKey("subscribe_notify.hex", 19): func() {
			if !obj.HasSubscribers() {
				notified <- errors.New("HasSubscribers false after ACTIVE 1")
				return
			}
			go func() {
				for client.Load() == nil {
					time.Sleep(time.Millisecond)
				}
				notified <- client.Load().Notify(context.Background(), obj, "tick", ubus.Table{{Name: "n", Value: ubus.Int32(1)}})
			}()
		},
	}
	msgs := connScript(t, "types_server", []string{"blobmsg_types.hex", "subscribe_notify.hex"}, nil)
	path, done := fakeUbusd(t, script{msgs: msgs, hooks: hooks})
	client.Store(openClient(t, path, obj))
	waitScript(t, done)
	if err := <-notified; err != nil {
		t.Fatalf("Notify: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for obj.HasSubscribers() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if obj.HasSubscribers() {
		t.Error("HasSubscribers still true after ACTIVE 0")
	}
}

// TestClientSubscribes replays `ubus subscribe types`
// (subscribe_notify.hex subscribe [1-8, 10, 21, 22]): anonymous ADD_OBJECT,
// LOOKUP, SUBSCRIBE, then the notification [21] must reach the callback and
// be answered with [22].
func TestClientSubscribes(t *testing.T) {
	msgs := connScript(t, "subscribe", []string{"subscribe_notify.hex"}, nil)
	path, done := fakeUbusd(t, script{msgs: msgs})
	c := openClient(t, path)
	got := make(chan string, 1)
	sub, err := c.Subscribe(context.Background(), "types", func(typ string, data ubus.Table) {
		b, _ := data.MarshalJSON()
		got <- typ + " " + string(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, id := sub.Subscribed(); !ok || id != idTypes {
		t.Errorf("Subscribed() = %v %08x", ok, id)
	}
	waitScript(t, done)
	select {
	case s := <-got:
		if s != `tick {"n":1}` {
			t.Errorf("notification %s", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
}

// TestClientEvents replays `ubus listen myevent` (event.hex listen [1-6,
// 9, 11]) and `ubus send myevent '{"a":1}'` (send [7, 8, 10]).
func TestClientEvents(t *testing.T) {
	listenPath, listenDone := fakeUbusd(t, script{msgs: connScript(t, "listen", []string{"event.hex"}, nil)})
	sendPath, sendDone := fakeUbusd(t, script{msgs: connScript(t, "send", []string{"event.hex"}, nil)})
	listener := openClient(t, listenPath)
	got := make(chan string, 1)
	if _, err := listener.Listen(context.Background(), "myevent", func(ev string, data ubus.Table) {
		b, _ := data.MarshalJSON()
		got <- ev + " " + string(b)
	}); err != nil {
		t.Fatal(err)
	}
	sender := openClient(t, sendPath)
	if err := sender.Send(context.Background(), "myevent", map[string]any{"a": 1}); err != nil {
		t.Fatal(err)
	}
	waitScript(t, sendDone)
	waitScript(t, listenDone)
	select {
	case s := <-got:
		if s != `myevent {"a":1}` {
			t.Errorf("event %s", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
}
