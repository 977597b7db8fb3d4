// Package ubus is a pure-Go client for OpenWrt's ubus message bus: the
// blob/blobmsg wire codec, and a connection to ubusd that registers objects,
// answers their method calls, calls other objects, follows notifications and
// events, and reconnects when ubusd restarts.
//
// The wire format follows what a real ubusd, libubus and the ubus CLI exchange
// (openwrt/ubus@3cc98db, openwrt/libubox@1aa36ee); the captures in
// shared/ubus-vectors are the reference the tests check against.
package ubus

import (
	"context"
	"errors"
	"fmt"
)

// MsgType is the type byte of a ubus message header (UBUS_MSG_*).
type MsgType uint8

// Message types, in the order of enum ubus_msg_type.
const (
	MsgHello        MsgType = 0
	MsgStatus       MsgType = 1
	MsgData         MsgType = 2
	MsgPing         MsgType = 3
	MsgLookup       MsgType = 4
	MsgInvoke       MsgType = 5
	MsgAddObject    MsgType = 6
	MsgRemoveObject MsgType = 7
	MsgSubscribe    MsgType = 8
	MsgUnsubscribe  MsgType = 9
	MsgNotify       MsgType = 10
	MsgMonitor      MsgType = 11
)

var msgTypeNames = [...]string{
	"HELLO", "STATUS", "DATA", "PING", "LOOKUP", "INVOKE", "ADD_OBJECT",
	"REMOVE_OBJECT", "SUBSCRIBE", "UNSUBSCRIBE", "NOTIFY", "MONITOR",
}

// String returns the upstream name without the UBUS_MSG_ prefix, or TYPEn.
func (t MsgType) String() string {
	if int(t) < len(msgTypeNames) {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("TYPE%d", uint8(t))
}

// AttrID is the id of a ubus attribute inside a message blob (UBUS_ATTR_*).
type AttrID uint8

// Attribute ids, in the order of enum ubus_msg_attr.
const (
	AttrUnspec      AttrID = 0
	AttrStatus      AttrID = 1
	AttrObjPath     AttrID = 2
	AttrObjID       AttrID = 3
	AttrMethod      AttrID = 4
	AttrObjType     AttrID = 5
	AttrSignature   AttrID = 6
	AttrData        AttrID = 7
	AttrTarget      AttrID = 8
	AttrActive      AttrID = 9
	AttrNoReply     AttrID = 10
	AttrSubscribers AttrID = 11
	AttrUser        AttrID = 12
	AttrGroup       AttrID = 13
)

var attrNames = [...]string{
	"UNSPEC", "STATUS", "OBJPATH", "OBJID", "METHOD", "OBJTYPE", "SIGNATURE",
	"DATA", "TARGET", "ACTIVE", "NO_REPLY", "SUBSCRIBERS", "USER", "GROUP",
}

// String returns the upstream name without the UBUS_ATTR_ prefix, or ATTRn.
func (id AttrID) String() string {
	if int(id) < len(attrNames) {
		return attrNames[id]
	}
	return fmt.Sprintf("ATTR%d", uint8(id))
}

// Status is a ubus status code (UBUS_STATUS_*), carried by STATUS messages.
type Status uint32

// Status codes, in the order of enum ubus_msg_status.
const (
	StatusOK               Status = 0
	StatusInvalidCommand   Status = 1
	StatusInvalidArgument  Status = 2
	StatusMethodNotFound   Status = 3
	StatusNotFound         Status = 4
	StatusNoData           Status = 5
	StatusPermissionDenied Status = 6
	StatusTimeout          Status = 7
	StatusNotSupported     Status = 8
	StatusUnknownError     Status = 9
	StatusConnectionFailed Status = 10
	StatusNoMemory         Status = 11
	StatusParseError       Status = 12
	StatusSystemError      Status = 13
)

// statusText is ubus_strerror's text, so errors read like the CLI's.
var statusText = [...]string{
	"Success", "Invalid command", "Invalid argument", "Method not found",
	"Not found", "No response", "Permission denied", "Request timed out",
	"Operation not supported", "Unknown error", "Connection failed",
	"Out of memory", "Parsing message data failed", "System error",
}

// String returns the text ubus_strerror gives for s.
func (s Status) String() string {
	if int(s) < len(statusText) {
		return statusText[s]
	}
	return fmt.Sprintf("Unknown error: %d", int32(s))
}

// Error is a ubus status as an error: a method handler returns it to answer
// with that status, and Call returns it when the callee answered with one.
// Msg is for logs only; ubus carries no error text on the wire.
type Error struct {
	Status Status
	Msg    string
}

// Errorf returns an *Error with status s and a formatted message.
func Errorf(s Status, format string, args ...any) *Error {
	return &Error{Status: s, Msg: fmt.Sprintf(format, args...)}
}

// Error formats the status like the CLI does, plus Msg when set.
func (e *Error) Error() string {
	if e.Msg == "" {
		return "ubus: " + e.Status.String()
	}
	return "ubus: " + e.Status.String() + ": " + e.Msg
}

// Is reports whether target is an *Error with the same status, so that
// errors.Is(err, &ubus.Error{Status: ubus.StatusNotFound}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// StatusOf returns the ubus status an error maps to: StatusOK for nil, the
// status of an *Error in the chain, StatusTimeout for a deadline, and
// StatusUnknownError for anything else.
func StatusOf(err error) Status {
	if err == nil {
		return StatusOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return StatusTimeout
	}
	return StatusUnknownError
}

// Sentinel errors.
var (
	// ErrMalformed wraps every error about bytes that are not a valid ubus
	// message or blobmsg value.
	ErrMalformed = errors.New("malformed ubus data")
	// ErrFraming means the byte stream cannot be split into messages any
	// more (bad length or version); the connection must be dropped.
	ErrFraming = errors.New("ubus framing")
	// ErrTooLarge means a message would exceed MaxMessageLen; ubusd drops
	// the connection of a client that sends one.
	ErrTooLarge = errors.New("ubus message too large")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("ubus client closed")
	// ErrDisconnected is returned when there is no connection to ubusd, or
	// it was lost while a request was waiting for its reply.
	ErrDisconnected = errors.New("not connected to ubusd")
)
