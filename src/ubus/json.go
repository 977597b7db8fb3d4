package ubus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// ValueOf converts a Go value to blobmsg the way the ubus CLI converts JSON
// (blobmsg_add_json_element): nil → null, bool → Int8, string → String,
// integers → Int32 when they fit and Int64 otherwise, floats → Double,
// map[string]any → Table with sorted keys, []any → Array. A Value is kept
// as it is. Anything else (structs, typed maps and slices) goes through
// encoding/json, so struct field order, tags and MarshalJSON are honoured.
func ValueOf(v any) (Value, error) {
	switch x := v.(type) {
	case nil:
		return Null, nil
	case Value:
		return x, nil
	case bool:
		return Bool(x), nil
	case string:
		return String(x), nil
	case int:
		return intValue(int64(x)), nil
	case int8:
		return Int32(x), nil
	case int16:
		return Int32(x), nil
	case int32:
		return Int32(x), nil
	case int64:
		return intValue(x), nil
	case uint:
		return uintValue(uint64(x))
	case uint8:
		return Int32(x), nil
	case uint16:
		return Int32(x), nil
	case uint32:
		return intValue(int64(x)), nil
	case uint64:
		return uintValue(x)
	case float32:
		return Double(x), nil
	case float64:
		return Double(x), nil
	case json.Number:
		return numberValue(string(x))
	case json.RawMessage:
		return ParseJSON(x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t := make(Table, 0, len(x))
		for _, k := range keys {
			fv, err := ValueOf(x[k])
			if err != nil {
				return nil, fmt.Errorf("%q: %w", k, err)
			}
			t = append(t, Field{Name: k, Value: fv})
		}
		return t, nil
	case []any:
		arr := make(Array, 0, len(x))
		for i, e := range x {
			ev, err := ValueOf(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			arr = append(arr, ev)
		}
		return arr, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("convert %T to blobmsg: %w", v, err)
	}
	return ParseJSON(data)
}

// TableOf is ValueOf for values that must become a table, such as call
// arguments and method replies; nil gives an empty table.
func TableOf(v any) (Table, error) {
	if v == nil {
		return Table{}, nil
	}
	val, err := ValueOf(v)
	if err != nil {
		return nil, err
	}
	t, ok := val.(Table)
	if !ok {
		return nil, fmt.Errorf("%T converts to blobmsg %s, want table", v, val.Type())
	}
	return t, nil
}

func intValue(i int64) Value {
	if i >= math.MinInt32 && i <= math.MaxInt32 {
		return Int32(i)
	}
	return Int64(i)
}

func uintValue(u uint64) (Value, error) {
	if u > math.MaxInt64 {
		return nil, fmt.Errorf("integer %d does not fit blobmsg int64", u)
	}
	return intValue(int64(u)), nil
}

// numberValue applies json-c's split: a number token without fraction or
// exponent is an integer, anything else a double.
func numberValue(s string) (Value, error) {
	if !strings.ContainsAny(s, ".eE") {
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("integer %s does not fit blobmsg int64", s)
		}
		return intValue(i), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("number %s: %w", s, err)
	}
	return Double(f), nil
}

// ParseJSON converts one JSON value to blobmsg with the CLI's rules (see
// ValueOf), keeping the key order of objects.
func ParseJSON(data []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseJSONValue(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("parse JSON: data after the top-level value")
	}
	return v, nil
}

func parseJSONValue(dec *json.Decoder, depth int) (Value, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := tok.(type) {
	case nil:
		return Null, nil
	case bool:
		return Bool(x), nil
	case string:
		return String(x), nil
	case json.Number:
		return numberValue(string(x))
	case json.Delim:
		if x == '[' {
			arr := Array{}
			for dec.More() {
				v, err := parseJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
		t := Table{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := parseJSONValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			t = append(t, Field{Name: k.(string), Value: v})
		}
		_, err := dec.Token()
		return t, err
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// UnmarshalJSON parses a JSON object into t, keeping key order.
func (t *Table) UnmarshalJSON(data []byte) error {
	v, err := ParseJSON(data)
	if err != nil {
		return err
	}
	tab, ok := v.(Table)
	if !ok {
		return fmt.Errorf("parse JSON: %s where an object was expected", v.Type())
	}
	*t = tab
	return nil
}

// ToAny converts blobmsg to plain Go values as the CLI prints them as JSON:
// Table → map[string]any (the last duplicate name wins), Array → []any,
// Int8 → bool, Int16/Int32/Int64 → int64, Double → float64, String →
// string, Unspec → nil.
func ToAny(v Value) any {
	switch x := v.(type) {
	case Table:
		m := make(map[string]any, len(x))
		for _, f := range x {
			m[f.Name] = ToAny(f.Value)
		}
		return m
	case Array:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = ToAny(e)
		}
		return s
	case String:
		return string(x)
	case Int8:
		return x != 0
	case Int16:
		return int64(x)
	case Int32:
		return int64(x)
	case Int64:
		return int64(x)
	case Double:
		return float64(x)
	}
	return nil
}

// Map returns t as a map (see ToAny).
func (t Table) Map() map[string]any {
	return ToAny(t).(map[string]any)
}

// Decode fills the struct or map that v points to from t through
// encoding/json, so `json:"name"` tags apply and unknown fields are ignored
// like blobmsg_parse ignores them. A mismatch is an *Error with
// StatusInvalidArgument, ready to be returned by a method handler.
func (t Table) Decode(v any) error {
	data, err := t.MarshalJSON()
	if err != nil {
		return &Error{Status: StatusInvalidArgument, Msg: err.Error()}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return &Error{Status: StatusInvalidArgument, Msg: err.Error()}
	}
	return nil
}

// MarshalJSON writes t as a compact JSON object in field order with the
// CLI's value mapping (see ToAny); non-finite doubles become null.
func (t Table) MarshalJSON() ([]byte, error) {
	return appendJSON(nil, t), nil
}

// MarshalJSON writes a as a compact JSON array.
func (a Array) MarshalJSON() ([]byte, error) {
	return appendJSON(nil, a), nil
}

func appendJSON(b []byte, v Value) []byte {
	switch x := v.(type) {
	case Table:
		b = append(b, '{')
		for i, f := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, f.Name)
			b = append(b, ':')
			b = appendJSON(b, f.Value)
		}
		return append(b, '}')
	case Array:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case String:
		return appendJSONString(b, string(x))
	case Int8:
		return strconv.AppendBool(b, x != 0)
	case Int16:
		return strconv.AppendInt(b, int64(x), 10)
	case Int32:
		return strconv.AppendInt(b, int64(x), 10)
	case Int64:
		return strconv.AppendInt(b, int64(x), 10)
	case Double:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...)
		}
		out, _ := json.Marshal(f)
		return append(b, out...)
	}
	return append(b, "null"...)
}

func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // strings always encode
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...)
}
