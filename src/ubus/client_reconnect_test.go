package ubus_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubus/ubustest"
)

// TestClientReconnects: after a ubusd restart the client reconnects with a
// new id, registers its object again and answers calls.
func TestClientReconnects(t *testing.T) {
	b := ubustest.Start(t)
	ctx := testCtx(t)
	c, logs := newClient(t, b.Path(), ubus.Options{})
	obj := pakonObject(nil)
	if err := c.AddObject(ctx, obj); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, c)
	oldID, oldObj := c.ID(), obj.ID()
	for round := range 3 {
		if err := b.Restart(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "re-registration", func() bool {
			_, err := ubustest.List(ctx, b.Path(), "pakon")
			return err == nil
		})
		if _, err := ubustest.Call(ctx, b.Path(), "pakon", "query", `{"limit":1}`); err != nil {
			t.Fatalf("round %d: call after restart: %v", round, err)
		}
	}
	if c.ID() == oldID || obj.ID() == oldObj || c.ID() == 0 {
		t.Errorf("ids after restart: client %08x→%08x object %08x→%08x", oldID, c.ID(), oldObj, obj.ID())
	}
	if !strings.Contains(logs.String(), "lost connection to ubusd") || !strings.Contains(logs.String(), "reconnected") {
		t.Errorf("log:\n%s", logs.String())
	}

	// While ubusd is down, calls fail fast instead of hanging.
	b.Stop()
	eventually(t, "disconnect", func() bool { return c.ID() == 0 })
	if _, err := c.Call(ctx, "pakon", "query", nil); !errors.Is(err, ubus.ErrDisconnected) {
		t.Errorf("Call while down: %v, want ErrDisconnected", err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reconnect", func() bool { return c.ID() != 0 })
}

// TestClientSurvivesBadFrames: an undecodable message is dropped with a
// log line and the next one is served; a broken frame (length below 4)
// ends the connection and the client reconnects. Neither panics.
func TestClientSurvivesBadFrames(t *testing.T) {
	dir, err := os.MkdirTemp("", "ubusbad")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ubus.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	c, logs := newClient(t, path, ubus.Options{})
	var served atomic.Int32
	listener, err := c.Listen(context.Background(), "x", func(string, ubus.Table) { served.Add(1) })
	if err != nil || listener == nil {
		t.Fatal(err)
	}
	hello := unhex(t, "00000000 12345678 00000004")
	openDone := make(chan error, 1)
	go func() { openDone <- c.Open(context.Background()) }()
	srv := <-conns
	defer srv.Close()
	srv.Write(hello)
	// Answer the listener's ADD_OBJECT (seq 1) and register INVOKE (seq 2).
	for seq := 1; seq <= 2; seq++ {
		if _, err := ubus.ReadFrame(srv); err != nil {
			t.Fatal(err)
		}
		if seq == 1 {
			srv.Write(unhex(t, "00020001 00000000 0000000c 03000008 0000abcd"))
			srv.Write(unhex(t, "00010001 00000000 0000000c 01000008 00000000"))
		} else {
			srv.Write(unhex(t, "00010002 00000001 0000000c 01000008 00000000"))
		}
	}
	if err := <-openDone; err != nil {
		t.Fatal(err)
	}
	// Bad padding inside an otherwise well-framed message, then a valid
	// event for the listener object 0000abcd.
	srv.Write(unhex(t, "00050001 00000000 00000010 02000009 74657374 00 0001ff"))
	srv.Write(unhex(t, "00050002 00000000 00000018 03000008 0000abcd 04000006 78000000 07000004"))
	eventually(t, "event after a bad message", func() bool { return served.Load() == 1 })
	if !strings.Contains(logs.String(), "drop undecodable message") {
		t.Errorf("log:\n%s", logs.String())
	}
	// A frame whose blob length is below 4: the stream is lost.
	srv.Write(unhex(t, "00020001 00000000 00000002"))
	select {
	case again := <-conns:
		again.Write(hello)
		defer again.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("no reconnection after a broken frame")
	}
	if !strings.Contains(logs.String(), "framing") {
		t.Errorf("log lacks the framing error:\n%s", logs.String())
	}
}
