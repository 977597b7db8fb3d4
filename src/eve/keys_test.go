package eve_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/eve/evetest"
)

// TestGuessedKeys checks that a Decoder which has learned Suricata's order
// of keys decodes every line as a new one does (which guesses nothing
// right), also when the order, the spacing or the spelling of keys
// changes, or the line is cut short.
func TestGuessedKeys(t *testing.T) {
	base := evetest.New(30, 7, time.Unix(1_700_000_000, 0)).Lines(600)
	variants := []func(string) string{
		func(l string) string { return l },
		// space before every key: no guess matches
		func(l string) string { return strings.ReplaceAll(l, `,"`, `, "`) },
		// an escaped key
		func(l string) string { return strings.Replace(l, `"src_ip":`, `"src\u005fip":`, 1) },
		// an unknown key first
		func(l string) string { return `{"x_new":[1,{"a":"}"}],` + l[1:] },
		// the timestamp moved to the end
		func(l string) string {
			const n = len(`{"timestamp":"2023-11-14T22:13:20.001054+0000",`)
			return "{" + l[n:len(l)-1] + "," + l[1:n-1] + "}"
		},
		// a key given twice
		func(l string) string { return strings.Replace(l, `"proto":"`, `"proto":"X","proto":"`, 1) },
		// members swapped, some of keys that share their first bytes
		func(l string) string {
			return strings.NewReplacer(`"rrname"`, `"rrtype"`, `"rrtype"`, `"rrname"`, `"src_mac"`, `"dest_mac"`, `"dest_mac"`, `"src_mac"`,
				`"bytes_toserver"`, `"bytes_toclient"`, `"bytes_toclient"`, `"bytes_toserver"`, `"src_port"`, `"dest_port"`, `"dest_port"`, `"src_port"`).Replace(l)
		},
	}
	warm := eve.Decoder{Lean: true}
	check := func(line string) {
		t.Helper()
		var cold eve.Decoder
		cold.Lean = true
		var got, want eve.Event
		gotErr := warm.Decode([]byte(line), &got)
		wantErr := cold.Decode([]byte(line), &want)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s\nlearned: %+v %v\nnew:     %+v %v", line, got, gotErr, want, wantErr)
		}
	}
	for i, b := range base {
		l := string(b)
		for _, v := range variants {
			check(v(l))
		}
		if i%50 == 0 {
			for j := range len(l) {
				check(l[:j])
			}
		}
	}
}
