package query

import (
	"errors"
	"fmt"
)

// Sentinels that every *Error matches with errors.Is, by code.
var (
	// ErrInvalid is a parameter that cannot be understood (ubus
	// INVALID_ARGUMENT).
	ErrInvalid = errors.New("invalid parameter")
	// ErrNotFound is a parameter naming something no source knows, such
	// as a device name (ubus NOT_FOUND).
	ErrNotFound = errors.New("not found")
)

// Code classifies an Error.
type Code int

// Error codes.
const (
	CodeInvalid Code = iota + 1
	CodeNotFound
)

// Error is a bad parameter: Param names it (as in the Params docs), Msg
// says what is wrong in one line.
type Error struct {
	Code  Code
	Param string
	Msg   string
}

// Error returns "param: msg".
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Param, e.Msg) }

// Is matches ErrInvalid or ErrNotFound according to the code.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeInvalid:
		return target == ErrInvalid
	case CodeNotFound:
		return target == ErrNotFound
	}
	return false
}

func invalidf(param, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Param: param, Msg: fmt.Sprintf(format, args...)}
}

func notFoundf(param, format string, args ...any) *Error {
	return &Error{Code: CodeNotFound, Param: param, Msg: fmt.Sprintf(format, args...)}
}
