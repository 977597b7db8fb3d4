package query

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSelectFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	o := &order{kind: keyStart}
	inputs := map[string]func(i int) float64{
		"sorted":   func(i int) float64 { return float64(i / 3) },
		"reversed": func(i int) float64 { return float64(-i / 3) },
		"random":   func(int) float64 { return float64(r.IntN(50)) },
		"equal":    func(int) float64 { return 7 },
	}
	for name, gen := range inputs {
		for _, n := range []int{0, 1, 2, 17, 100, 5000} {
			for _, k := range []int{0, 1, n / 3, n - 1, n} {
				k = min(max(k, 0), n)
				c := make([]cand, n)
				for i := range c {
					c[i] = cand{start: gen(i), id: int64(i)}
				}
				want := slices.Clone(c)
				slices.SortFunc(want, func(a, b cand) int { return o.cmp(&a, &b) })
				o.selectFirst(c, k)
				got := slices.Clone(c[:k])
				slices.SortFunc(got, func(a, b cand) int { return o.cmp(&a, &b) })
				if !slices.Equal(got, want[:k]) {
					t.Fatalf("%s n %d k %d: c[:k] are not the first k", name, n, k)
				}
			}
		}
	}
}

func TestCompareNoCase(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"abc", "ABC", 0}, {"abc", "abd", -1}, {"B", "a", 1}, {"ab", "abc", -1}, {"Ä", "ä", -1}, {"[", "a", -1}, {"[", "A", -1},
	} {
		if got := compareNoCase(tc.a, tc.b); got != tc.want {
			t.Errorf("compareNoCase(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestKeyMap(t *testing.T) {
	m := newKeyMap(0)
	want := map[[2]uint64]int32{}
	r := rand.New(rand.NewPCG(9, 9))
	for range 20000 {
		k := [2]uint64{uint64(r.IntN(3000)), uint64(r.IntN(4)) << 33}
		i, added := m.index(k)
		w, seen := want[k]
		if added == seen {
			t.Fatalf("key %v: added %v, seen before %v", k, added, seen)
		}
		if !seen {
			want[k], w = int32(len(want)), int32(len(want))
		}
		if i != w {
			t.Fatalf("key %v: index %d, want %d", k, i, w)
		}
	}
	if len(m.keys) != len(want) {
		t.Fatalf("%d keys, want %d", len(m.keys), len(want))
	}
}

func TestSkipDays(t *testing.T) {
	o := &order{kind: keyStart}
	// Four days in walk order; each overlaps the next by its last row.
	edges := []cand{{start: 0, id: 1}, {start: 10, id: 2}, {start: 20, id: 3}, {start: 30, id: 4}}
	bounds := []cand{{start: 11, id: 10}, {start: 21, id: 20}, {start: 31, id: 30}, {start: 41, id: 40}}
	counts := []int{5, 6, 7, 8}
	live := &cand{start: 35, id: 99}
	for _, tc := range []struct {
		name    string
		offset  int
		live    *cand
		keep    []int
		skipped int
	}{
		{"first page", 0, nil, []int{0, 1, 2, 3}, 0},
		// Day 0's last row may follow day 1's first: both count.
		{"day 0 and the next", 11, nil, []int{1, 2, 3}, 5},
		{"just short", 10, nil, []int{0, 1, 2, 3}, 0},
		{"two days", 18, nil, []int{2, 3}, 11},
		{"all but the live rows' neighbour", 26, live, []int{3}, 18},
		{"all", 26, nil, []int{}, 26},
		{"past the end", 100, nil, []int{}, 26},
		{"live first", 100, &cand{start: -1, id: 1}, []int{0, 1, 2, 3}, 0},
	} {
		keep, skipped := skipDays(o, []int{0, 1, 2, 3}, edges, bounds, counts, tc.live, tc.offset)
		if !slices.Equal(keep, tc.keep) || skipped != tc.skipped {
			t.Errorf("%s: kept %v, skipped %d rows; want %v, %d", tc.name, keep, skipped, tc.keep, tc.skipped)
		}
	}
	// Descending: walk order reversed, and so are the edges and bounds.
	od := &order{kind: keyStart, desc: true}
	keep, skipped := skipDays(od, []int{1, 0}, []cand{{start: 7, id: 7}, {start: 19, id: 19}},
		[]cand{{start: 0, id: 1}, {start: 8, id: 8}}, []int{4, 4}, nil, 7)
	if !slices.Equal(keep, []int{0}) || skipped != 4 {
		t.Errorf("descending: kept %v, skipped %d rows; want [0], 4", keep, skipped)
	}
}

func TestCountNames(t *testing.T) {
	for _, tc := range []struct {
		list string
		want []nameGroup
		bad  bool
	}{
		{"", []nameGroup{}, false},
		{"0,0,", []nameGroup{{observed: "", n: 1}}, false},
		{"5,0,a.com5,0,a.com3,1,a,b0,0,", []nameGroup{{observed: "", n: 1}, {observed: "a,b", ipHit: true, n: 1},
			{observed: "a.com", n: 2}}, false},
		{"3,0,a.c3,1,a.c", []nameGroup{{observed: "a.c", n: 1}, {observed: "a.c", ipHit: true, n: 1}}, false},
		{"7,0,bücher", []nameGroup{{observed: "bücher", n: 1}}, false},
		{"9,0,short", nil, true},
		{"x,0,a", nil, true},
		{"1,2,a", nil, true},
		{"-1,0,", nil, true},
		{"1,0", nil, true},
	} {
		got, err := countNames(tc.list)
		if (err != nil) != tc.bad {
			t.Errorf("%q: error %v, want error %v", tc.list, err, tc.bad)
			continue
		}
		if !tc.bad && !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.list, got, tc.want)
		}
	}
}

func TestCountNameList(t *testing.T) {
	for _, tc := range []struct {
		list string
		rows int
		want []nameGroup
		ok   bool
	}{
		{"", 0, []nameGroup{}, true},
		{"", 1, []nameGroup{{observed: "", n: 1}}, true},
		{"\x00\x00", 3, []nameGroup{{observed: "", n: 3}}, true},
		{"b.com\x00a.com\x00b.com\x00", 4, []nameGroup{{observed: "", n: 1}, {observed: "a.com", n: 1}, {observed: "b.com", n: 2}}, true},
		{"a\x00b", 1, nil, false}, // one name holding a NUL
		{"a\x00b", 3, nil, false},
		{"a", 0, nil, false},
	} {
		got, ok := countNameList(tc.list, tc.rows)
		if ok != tc.ok || (ok && !slices.Equal(got, tc.want)) {
			t.Errorf("%q (%d rows): %v, %v; want %v, %v", tc.list, tc.rows, got, ok, tc.want, tc.ok)
		}
	}
}
