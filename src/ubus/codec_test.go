package ubus_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/ubus"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestDecodeRejects feeds invalid messages to Decode: each must fail with
// ErrMalformed (never panic), because accepting it would break the
// decode → encode identity or libubus would not accept it either.
func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		name, hex, errText string
	}{
		{"short", "0000000026cdf486", "shorter than its headers"},
		{"version 1", "01000000 26cdf486 00000004", "version 1"},
		{"blob id", "00000000 26cdf486 01000004", "id/flags"},
		{"blob length beyond data", "00000000 26cdf486 00000008", "blob length 8"},
		{"trailing bytes", "00000000 26cdf486 00000004 00000000", "blob length 4"},
		{"attr length below 4", "00040001 00000000 00000008 02000002", "below 4"},
		{"attr past end", "00040001 00000000 00000008 02000009", "exceeds"},
		{"non-zero padding", "00040001 00000000 00000010 02000009 74657374 00 000100", "non-zero padding"},
		{"string without NUL", "00040001 00000000 0000000c 02000008 74657374", "NUL"},
		{"int32 of 3 bytes", "00010001 00000000 0000000c 01000007 000000 00", "int32 of 3 bytes"},
		{"int8 of 4 bytes", "000a0001 00000000 0000000c 09000008 00000001", "int8 of 4 bytes"},
		{"extended ubus attr", "00010001 00000000 0000000c 81000008 00000000", "extended flag"},
		{"plain attr in DATA", "00020001 00000000 0000000c 07000008 05000004", "plain attribute"},
		{"blobmsg name too long", "00020001 00000000 00000010 0700000c 8500000c 00090000", "exceeds"},
		{"blobmsg name not terminated", "00020001 00000000 00000014 07000010 8500000c 00017801 00000001", "NUL-terminated"},
		{"int32 value of 2 bytes", "00020001 00000000 00000014 07000010 8500000a 00017800 0001 0000", "int32 value of 2 bytes"},
		{"unknown blobmsg type", "00020001 00000000 00000014 07000010 8900000c 00017800 00000001", "unknown blobmsg type 9"},
		{"named array element", "00020001 00000000 0000001c 07000018 81000014 00000000 8500000c 00017800 00000001", "array element named"},
		{"bad subscriber entry", "00010001 00000000 00000010 0b00000c 01000008 00000001", "subscriber entry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ubus.Decode(unhex(t, c.hex))
			if !errors.Is(err, ubus.ErrMalformed) || !strings.Contains(err.Error(), c.errText) {
				t.Errorf("Decode error %v, want ErrMalformed containing %q", err, c.errText)
			}
		})
	}
}

func TestDecodeDeepNesting(t *testing.T) {
	// 600 nested tables; decoding must stop at the depth limit, not recurse
	// without bound.
	v := ubus.Value(ubus.Int32(1))
	for range 600 {
		v = ubus.Table{{Name: "t", Value: v}}
	}
	m := ubus.Message{Header: ubus.Header{Type: ubus.MsgData}, Attrs: []ubus.Attr{{ID: ubus.AttrData, Value: ubus.Table{{Name: "t", Value: v}}}}}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ubus.Decode(b); !errors.Is(err, ubus.ErrMalformed) || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("Decode error %v, want depth limit", err)
	}
}

func TestEncodeTooLarge(t *testing.T) {
	// MaxReplyData is the largest DATA payload of a reply (DATA + OBJID).
	fits := ubus.Table{{Name: "s", Value: ubus.String(strings.Repeat("x", ubus.MaxReplyData-8-1))}}
	if n := fits.EncodedLen(); n != ubus.MaxReplyData {
		t.Fatalf("EncodedLen %d, want %d", n, ubus.MaxReplyData)
	}
	reply := func(t ubus.Table) ubus.Message {
		return ubus.Message{Header: ubus.Header{Type: ubus.MsgData}, Attrs: []ubus.Attr{
			{ID: ubus.AttrObjID, Value: uint32(1)}, {ID: ubus.AttrData, Value: t}}}
	}
	m := reply(fits)
	b, err := m.Encode()
	if err != nil {
		t.Fatalf("message of exactly MaxMessageLen: %v", err)
	}
	if len(b) != ubus.HeaderLen+ubus.MaxMessageLen {
		t.Errorf("len %d", len(b))
	}
	if _, err := ubus.Decode(b); err != nil {
		t.Errorf("decode maximal message: %v", err)
	}
	over := reply(ubus.Table{{Name: "s", Value: ubus.String(strings.Repeat("x", ubus.MaxReplyData-8))}})
	if _, err := over.Encode(); !errors.Is(err, ubus.ErrTooLarge) {
		t.Errorf("Encode of MaxMessageLen+4: %v, want ErrTooLarge", err)
	}
}

func TestEncodeWrongAttrType(t *testing.T) {
	m := ubus.Message{Attrs: []ubus.Attr{{ID: ubus.AttrObjID, Value: "x"}}}
	if _, err := m.Encode(); err == nil || !strings.Contains(err.Error(), "want uint32") {
		t.Errorf("Encode error %v", err)
	}
}

func TestReadFrame(t *testing.T) {
	good := vectorAt(t, "invoke.hex", 5).Bytes
	cases := []struct {
		name    string
		stream  []byte
		wantErr error
	}{
		{"one message", good, nil},
		{"clean EOF", nil, nil},
		{"truncated header", good[:6], ubus.ErrFraming},
		{"truncated body", good[:20], ubus.ErrFraming},
		{"version", append([]byte{1}, good[1:]...), ubus.ErrFraming},
		{"blob length 0", unhex(t, "00000000 00000000 00000000"), ubus.ErrFraming},
		{"over 1 MiB", unhex(t, "00020001 00000000 00100004"), ubus.ErrFraming},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frame, err := ubus.ReadFrame(bytes.NewReader(c.stream))
			switch {
			case c.stream == nil:
				if err == nil || err.Error() != "EOF" {
					t.Errorf("err %v, want io.EOF", err)
				}
			case c.wantErr == nil:
				if err != nil || !bytes.Equal(frame, good) {
					t.Errorf("frame %x err %v", frame, err)
				}
			default:
				if !errors.Is(err, c.wantErr) {
					t.Errorf("err %v, want %v", err, c.wantErr)
				}
			}
		})
	}
}

func TestValueOf(t *testing.T) {
	type reply struct {
		Name  string   `json:"name"`
		Count int      `json:"count"`
		Tags  []string `json:"tags,omitempty"`
		Skip  string   `json:"-"`
	}
	var nilPtr *reply
	cases := []struct {
		name string
		in   any
		want ubus.Value
	}{
		{"nil", nil, ubus.Null},
		{"bool", true, ubus.Int8(1)},
		{"string", "x", ubus.String("x")},
		{"int fits int32", -7, ubus.Int32(-7)},
		{"int above int32", int64(5000000000), ubus.Int64(5000000000)},
		{"int32 min", int64(math.MinInt32), ubus.Int32(math.MinInt32)},
		{"below int32 min", int64(math.MinInt32) - 1, ubus.Int64(math.MinInt32 - 1)},
		{"uint32 max", uint32(math.MaxUint32), ubus.Int64(math.MaxUint32)},
		{"float", 1.5, ubus.Double(1.5)},
		{"json.Number int", json.Number("12"), ubus.Int32(12)},
		{"json.Number float", json.Number("1e3"), ubus.Double(1000)},
		{"Value kept", ubus.Int16(3), ubus.Int16(3)},
		{"map sorted", map[string]any{"b": 1, "a": "x"}, ubus.Table{{Name: "a", Value: ubus.String("x")}, {Name: "b", Value: ubus.Int32(1)}}},
		{"slice", []any{1, nil, false}, ubus.Array{ubus.Int32(1), ubus.Null, ubus.Int8(0)}},
		{"struct in field order", reply{Name: "n", Count: 2}, ubus.Table{{Name: "name", Value: ubus.String("n")}, {Name: "count", Value: ubus.Int32(2)}}},
		{"typed slice", []string{"a"}, ubus.Array{ubus.String("a")}},
		{"nil pointer", nilPtr, ubus.Null},
		{"raw JSON", json.RawMessage(`{"z":1,"a":2}`), ubus.Table{{Name: "z", Value: ubus.Int32(1)}, {Name: "a", Value: ubus.Int32(2)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ubus.ValueOf(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("ValueOf(%#v) = %#v, want %#v", c.in, got, c.want)
			}
		})
	}
	for _, bad := range []any{uint64(math.MaxUint64), json.Number("99999999999999999999"), func() {}} {
		if _, err := ubus.ValueOf(bad); err == nil {
			t.Errorf("ValueOf(%T %v) succeeded", bad, bad)
		}
	}
	if _, err := ubus.TableOf([]any{1}); err == nil {
		t.Error("TableOf(array) succeeded")
	}
	if tab, err := ubus.TableOf(nil); err != nil || tab == nil || len(tab) != 0 {
		t.Errorf("TableOf(nil) = %#v, %v; want empty table", tab, err)
	}
}

func TestTableJSON(t *testing.T) {
	got, err := json.Marshal(typesAll)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"string":"hello","empty":"","bool_true":true,"bool_false":false,"int8":true,"int16":4660,"int32":305419896,"int32_neg":-2,"int64":81985529216486895,"int64_neg":-5000000000,"double":3.14159,"null":null,"array":[1,"two",true],"table":{"x":1,"inner":{"y":"z"}}}`
	if string(got) != want {
		t.Errorf("MarshalJSON\n got %s\nwant %s", got, want)
	}
	// MarshalJSON itself does not escape HTML (json.Marshal re-escapes it).
	nan, _ := ubus.Table{{Name: "x", Value: ubus.Double(math.NaN())}, {Name: "s", Value: ubus.String("<&>")}}.MarshalJSON()
	if string(nan) != `{"x":null,"s":"<&>"}` {
		t.Errorf("MarshalJSON NaN/HTML: %s", nan)
	}
	m := typesAll.Map()
	if m["int8"] != true || m["int64_neg"] != int64(-5000000000) || m["null"] != nil || m["double"] != 3.14159 {
		t.Errorf("Map = %#v", m)
	}
	if inner := m["table"].(map[string]any)["inner"].(map[string]any); inner["y"] != "z" {
		t.Errorf("Map nested = %#v", inner)
	}
}

func TestTableDecode(t *testing.T) {
	var args struct {
		Limit  int    `json:"limit"`
		Device string `json:"device"`
		Active bool   `json:"active"`
	}
	tab := ubus.Table{{Name: "limit", Value: ubus.Int32(5)}, {Name: "active", Value: ubus.Int8(1)}, {Name: "unknown", Value: ubus.Null}}
	if err := tab.Decode(&args); err != nil {
		t.Fatal(err)
	}
	if args.Limit != 5 || !args.Active || args.Device != "" {
		t.Errorf("Decode = %+v", args)
	}
	err := ubus.Table{{Name: "limit", Value: ubus.String("x")}}.Decode(&args)
	if ubus.StatusOf(err) != ubus.StatusInvalidArgument {
		t.Errorf("Decode of a string into int: %v, want INVALID_ARGUMENT", err)
	}
}

// TestFormatJSON checks the CLI's output format: `ubus listen` printed
// {"a":1} for event.hex [9] and `ubus call` prints replies indented with
// tabs (blobmsg_format_json_indent).
func TestFormatJSON(t *testing.T) {
	cases := []struct {
		name   string
		v      ubus.Value
		indent bool
		want   string
	}{
		{"event.hex [9] as ubus listen prints it", ubus.Table{{Name: "a", Value: ubus.Int32(1)}}, false, `{"a":1}`},
		{"invoke.hex [8] as ubus call prints it", ubus.Table{{Name: "message", Value: ubus.String("test received a message: hi")}}, true,
			"{\n\t\"message\": \"test received a message: hi\"\n}"},
		{"empty reply", ubus.Table{}, true, "{\n\t\n}"},
		{"blobmsg_types.hex [11]", typesAll, false,
			`{"string":"hello","empty":"","bool_true":true,"bool_false":false,"int8":true,"int16":4660,"int32":305419896,"int32_neg":-2,"int64":81985529216486895,"int64_neg":-5000000000,"double":3.141590,"null":null,"array":[1,"two",true],"table":{"x":1,"inner":{"y":"z"}}}`},
		{"nested indent", ubus.Table{{Name: "t", Value: ubus.Table{{Name: "a", Value: ubus.Array{ubus.Int8(0)}}}}}, true,
			"{\n\t\"t\": {\n\t\t\"a\": [\n\t\t\tfalse\n\t\t]\n\t}\n}"},
		{"escapes and NUL", ubus.Table{{Name: "s", Value: ubus.String("a\"\\\n\x01/é\x00cut")}}, false, `{"s":"a\"\\\n\u0001/é"}`},
		{"non-finite doubles", ubus.Array{ubus.Double(math.Inf(1)), ubus.Double(math.Inf(-1)), ubus.Double(math.NaN())}, false, `[inf,-inf,nan]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ubus.FormatJSON(c.v, c.indent); got != c.want {
				t.Errorf("FormatJSON\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestStatusAndError(t *testing.T) {
	if s := ubus.StatusMethodNotFound.String(); s != "Method not found" {
		t.Errorf("String %q", s)
	}
	if s := ubus.Status(99).String(); s != "Unknown error: 99" {
		t.Errorf("String %q", s)
	}
	err := error(ubus.Errorf(ubus.StatusNotFound, "device %s", "x"))
	if err.Error() != "ubus: Not found: device x" {
		t.Errorf("Error %q", err)
	}
	wrapped := errors.Join(errors.New("ctx"), err)
	if !errors.Is(wrapped, &ubus.Error{Status: ubus.StatusNotFound}) || errors.Is(wrapped, &ubus.Error{Status: ubus.StatusTimeout}) {
		t.Error("errors.Is by status")
	}
	if ubus.StatusOf(wrapped) != ubus.StatusNotFound || ubus.StatusOf(nil) != ubus.StatusOK || ubus.StatusOf(errors.New("x")) != ubus.StatusUnknownError {
		t.Error("StatusOf")
	}
}

// BenchmarkDecode decodes the `all` reply (blobmsg_types.hex [11]), which
// holds every blobmsg type.
func BenchmarkDecode(b *testing.B) {
	data := vectorAt(b, "blobmsg_types.hex", 11).Bytes
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ubus.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode encodes the same message.
func BenchmarkEncode(b *testing.B) {
	data := vectorAt(b, "blobmsg_types.hex", 11).Bytes
	m, err := ubus.Decode(data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
