package ubusapi_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubusapi"
)

// TestWriteMethodsNeedRoot calls every method as the users ubusd could
// name: the write methods answer PERMISSION_DENIED to anyone but root and
// the configured group, and never reach the backend for them; the read
// methods stay open to all (ubusd's own ACL decides who reaches them).
func TestWriteMethodsNeedRoot(t *testing.T) {
	args, err := ubus.TableOf(map[string]any{"mac": "02:00:00:00:00:0a", "name": "x", "all": true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, group, writeGroup string
		allowed                 bool
	}{
		{"root", "root", "", true},
		{"nobody", "nogroup", "", false},
		{"", "", "", false},
		{"Root", "root", "", false},
		{"pakon", "pakon", "pakon", true},
		{"alice", "users", "pakon", false},
		{"alice", "users", "", false},
	} {
		b := &backend{names: map[string]string{}}
		svc := &ubusapi.Service{Backend: b, Now: func() time.Time { return now }, Writers: ubusapi.MayWrite(c.writeGroup)}
		obj := svc.Object()
		for _, m := range obj.Methods {
			req := &ubus.Request{Object: "pakon", Method: m.Name, User: c.user, Group: c.group, Args: args}
			write := slices.Contains(ubusapi.WriteMethods, m.Name)
			if !write {
				if m.Name == "status" {
					if _, err := m.Handler(context.Background(), req); err != nil {
						t.Errorf("%s as %s/%s: %v", m.Name, c.user, c.group, err)
					}
				}
				continue
			}
			_, err := m.Handler(context.Background(), req)
			var ue *ubus.Error
			denied := errors.As(err, &ue) && ue.Status == ubus.StatusPermissionDenied
			if denied == c.allowed {
				t.Errorf("%s as %s/%s (write group %q): err %v, want allowed=%v", m.Name, c.user, c.group, c.writeGroup, err, c.allowed)
			}
		}
		b.mu.Lock()
		calls := len(b.names) + len(b.clears) + b.reloads
		b.mu.Unlock()
		if !c.allowed && calls != 0 {
			t.Errorf("as %s/%s the backend was called %d times", c.user, c.group, calls)
		}
		if c.allowed && calls != 3 {
			t.Errorf("as %s/%s the backend was called %d times, want 3", c.user, c.group, calls)
		}
	}
	// Without Writers, only root writes.
	svc := &ubusapi.Service{Backend: &backend{names: map[string]string{}}}
	for _, m := range svc.Object().Methods {
		if m.Name == "reload" {
			if _, err := m.Handler(context.Background(), &ubus.Request{User: "nobody", Group: "nogroup"}); err == nil {
				t.Error("reload as nobody without Writers: allowed")
			}
			if _, err := m.Handler(context.Background(), &ubus.Request{User: "root", Group: "root"}); err != nil {
				t.Errorf("reload as root without Writers: %v", err)
			}
		}
	}
}
