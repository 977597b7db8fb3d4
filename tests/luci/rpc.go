package luci

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/pakon/pakon/src/ubus"
)

// JSON-RPC error codes of uhttpd-mod-ubus.
const (
	errParse   = -32700
	errRequest = -32600
	errMethod  = -32601
	errParams  = -32602
	errObject  = -32000
	errSession = -32001
	errAccess  = -32002
	errTimeout = -32003
)

// uciReadMethods are the methods of rpcd's uci object that only read; the
// others need write access to the config named in their arguments.
var uciReadMethods = map[string]bool{"get": true, "state": true, "changes": true, "configs": true}

// RPC is uhttpd's /ubus endpoint: JSON-RPC 2.0 "call" requests (single or
// batched in an array, as LuCI batches them) with params [session, object,
// method, args], checked against the ACL like rpcd's session access and
// forwarded to ubusd. A call answers {"result": [status, data]} or
// {"result": [status]} without data.
type RPC struct {
	// Caller calls ubus objects; a *ubus.Client.
	Caller interface {
		Call(ctx context.Context, path, method string, args any) (ubus.Table, error)
	}
	// Session is the one session id the server accepts.
	Session string
	ACL     *ACL
	// Timeout bounds one call; zero means 20 s (LuCI's rpctimeout).
	Timeout time.Duration
}

type rpcRequest struct {
	JSONRPC string            `json:"jsonrpc"`
	ID      json.RawMessage   `json:"id"`
	Method  string            `json:"method"`
	Params  []json.RawMessage `json:"params"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type rpcReply struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

func (h *RPC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		// uhttpd answers GET /ubus/ with 400, which LuCI probes for.
		http.Error(w, "POST JSON-RPC here", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var reply any
	var batch []json.RawMessage
	if json.Unmarshal(body, &batch) == nil {
		out := make([]rpcReply, 0, len(batch))
		for _, one := range batch {
			out = append(out, h.one(r.Context(), one))
		}
		reply = out
	} else {
		reply = h.one(r.Context(), body)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(reply)
}

func fail(id json.RawMessage, code int, msg string) rpcReply {
	return rpcReply{JSONRPC: "2.0", ID: id, Error: &rpcError{Code: code, Message: msg}}
}

func (h *RPC) one(ctx context.Context, raw json.RawMessage) rpcReply {
	var req rpcRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return fail(nil, errParse, "Parse error")
	}
	if req.JSONRPC != "2.0" {
		return fail(req.ID, errRequest, "Invalid request")
	}
	if req.Method != "call" {
		return fail(req.ID, errMethod, "Method not found")
	}
	if len(req.Params) != 4 {
		return fail(req.ID, errParams, "Invalid parameters")
	}
	var sid, object, method string
	if json.Unmarshal(req.Params[0], &sid) != nil || json.Unmarshal(req.Params[1], &object) != nil ||
		json.Unmarshal(req.Params[2], &method) != nil {
		return fail(req.ID, errParams, "Invalid parameters")
	}
	argv, err := ubus.ParseJSON(req.Params[3])
	args, ok := argv.(ubus.Table)
	if err != nil || !ok {
		return fail(req.ID, errParams, "Invalid parameters")
	}
	if sid != h.Session {
		return fail(req.ID, errAccess, "Access denied")
	}
	if !h.allowed(object, method, args) {
		return fail(req.ID, errAccess, "Access denied")
	}
	// Like rpcd, tell the callee which session calls.
	args = append(args, ubus.Field{Name: "ubus_rpc_session", Value: ubus.String(sid)})
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	data, err := h.Caller.Call(ctx, object, method, args)
	var ue *ubus.Error
	switch {
	case err == nil && data == nil:
		return rpcReply{JSONRPC: "2.0", ID: req.ID, Result: []any{0}}
	case err == nil:
		return rpcReply{JSONRPC: "2.0", ID: req.ID, Result: []any{0, data}}
	case errors.As(err, &ue) && ue.Status == ubus.StatusNotFound && !h.exists(ctx, object):
		return fail(req.ID, errObject, "Object not found")
	case errors.As(err, &ue):
		return rpcReply{JSONRPC: "2.0", ID: req.ID, Result: []any{int(ue.Status)}}
	case errors.Is(err, context.DeadlineExceeded):
		return fail(req.ID, errTimeout, "ubus request timed out")
	default:
		return rpcReply{JSONRPC: "2.0", ID: req.ID, Result: []any{int(ubus.StatusUnknownError)}}
	}
}

// exists tells "no such object" from a method's NOT_FOUND status.
func (h *RPC) exists(ctx context.Context, object string) bool {
	l, ok := h.Caller.(interface {
		Lookup(ctx context.Context, path string) ([]ubus.ObjectInfo, error)
	})
	if !ok {
		return true
	}
	objs, err := l.Lookup(ctx, object)
	return err == nil && len(objs) > 0
}

// allowed applies the session's ACL as rpcd does: session access is open
// to every session, uci methods need the config's read or write grant,
// everything else an explicit ubus grant.
func (h *RPC) allowed(object, method string, args ubus.Table) bool {
	switch object {
	case "session":
		return method == "access"
	case "uci":
		config, _ := args.Map()["config"].(string)
		if method == "apply" || method == "confirm" || method == "rollback" {
			return !h.ACL.ReadOnly // rpcd checks these against every changed config
		}
		return config != "" && h.ACL.AllowUCI(config, !uciReadMethods[method])
	}
	return h.ACL.AllowUbus(object, method)
}
