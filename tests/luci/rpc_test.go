package luci

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/ubus"
)

type fakeCaller struct{ calls []string }

func (f *fakeCaller) Call(ctx context.Context, path, method string, args any) (ubus.Table, error) {
	f.calls = append(f.calls, path+"."+method)
	switch path + "." + method {
	case "pakon.query":
		return ubus.Table{{Name: "total", Value: ubus.Int32(3)}}, nil
	case "pakon.reload":
		return nil, nil
	case "pakon.top":
		return nil, &ubus.Error{Status: ubus.StatusInvalidArgument}
	}
	return nil, &ubus.Error{Status: ubus.StatusNotFound}
}

func TestRPC(t *testing.T) {
	acl := &ACL{Groups: map[string]Grant{"app": {
		Read:  Perms{Ubus: map[string][]string{"pakon": {"query", "top"}}, UCI: []string{"pakon"}},
		Write: Perms{Ubus: map[string][]string{"pakon": {"reload"}}, UCI: []string{"pakon"}},
	}}}
	call := func(sid, obj, method, args string) string {
		return `{"jsonrpc":"2.0","id":7,"method":"call","params":["` + sid + `","` + obj + `","` + method + `",` + args + `]}`
	}
	tests := []struct {
		name, body, want string
		readOnly         bool
	}{
		{"data", call("s", "pakon", "query", `{}`), `{"jsonrpc":"2.0","id":7,"result":[0,{"total":3}]}`, false},
		{"no data", call("s", "pakon", "reload", `{}`), `{"jsonrpc":"2.0","id":7,"result":[0]}`, false},
		{"ubus status", call("s", "pakon", "top", `{}`), `{"jsonrpc":"2.0","id":7,"result":[2]}`, false},
		{"write denied read-only", call("s", "pakon", "reload", `{}`), `{"jsonrpc":"2.0","id":7,"error":{"code":-32002,"message":"Access denied"}}`, true},
		{"method not granted", call("s", "pakon", "clear", `{}`), `{"jsonrpc":"2.0","id":7,"error":{"code":-32002,"message":"Access denied"}}`, false},
		{"other object", call("s", "file", "exec", `{}`), `{"jsonrpc":"2.0","id":7,"error":{"code":-32002,"message":"Access denied"}}`, false},
		{"wrong session", call("x", "pakon", "query", `{}`), `{"jsonrpc":"2.0","id":7,"error":{"code":-32002,"message":"Access denied"}}`, false},
		{"uci of another config", call("s", "uci", "get", `{"config":"network"}`), `{"jsonrpc":"2.0","id":7,"error":{"code":-32002,"message":"Access denied"}}`, false},
		{"uci set read-only", call("s", "uci", "set", `{"config":"pakon"}`), `{"jsonrpc":"2.0","id":7,"error":{"code":-32002,"message":"Access denied"}}`, true},
		{"args not a table", call("s", "pakon", "query", `[]`), `{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"Invalid parameters"}}`, false},
		{"not json", `{`, `{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}`, false},
		{"list", `{"jsonrpc":"2.0","id":7,"method":"list","params":[]}`, `{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found"}}`, false},
		{"batch", "[" + call("s", "pakon", "reload", `{}`) + "," + call("s", "pakon", "top", `{}`) + "]",
			`[{"jsonrpc":"2.0","id":7,"result":[0]},{"jsonrpc":"2.0","id":7,"result":[2]}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := *acl
			a.ReadOnly = tt.readOnly
			fc := &fakeCaller{}
			h := &RPC{Caller: fc, Session: "s", ACL: &a}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/ubus", strings.NewReader(tt.body)))
			if got := strings.TrimSpace(rec.Body.String()); got != tt.want {
				t.Errorf("reply %s\nwant  %s", got, tt.want)
			}
			if strings.Contains(tt.want, "-32002") && len(fc.calls) > 0 {
				t.Errorf("denied call reached ubus: %v", fc.calls)
			}
		})
	}
}

func TestRPCAddsSession(t *testing.T) {
	var got ubus.Table
	h := &RPC{Caller: callerFunc(func(args any) { got = args.(ubus.Table) }), Session: "s",
		ACL: &ACL{Groups: map[string]Grant{"g": {Read: Perms{Ubus: map[string][]string{"pakon": {"*"}}}}}}}
	body := `{"jsonrpc":"2.0","id":1,"method":"call","params":["s","pakon","query",{"limit":5}]}`
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/ubus", strings.NewReader(body)))
	data, _ := json.Marshal(got)
	if string(data) != `{"limit":5,"ubus_rpc_session":"s"}` {
		t.Errorf("args passed on: %s", data)
	}
}

type callerFunc func(args any)

func (f callerFunc) Call(ctx context.Context, path, method string, args any) (ubus.Table, error) {
	f(args)
	return nil, nil
}
