package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// column describes one column of a text table.
type column struct {
	title string
	right bool // right-aligned (numbers, sizes)
	// shrink says how the column gives up width when the table is too
	// wide: elideLeft keeps the end (host names: the end says the most),
	// elideRight keeps the start (device names); 0 never shrinks.
	shrink int
	min    int // narrowest it may get when shrinking
	// trim drops that many leading runes of every cell when the table
	// does not fit otherwise (the year of a date).
	trim int
	// drop is the order in which columns are left out when even that
	// does not fit: 1 first; 0 never.
	drop int
}

const (
	fixed = iota
	elideLeft
	elideRight
)

// table is rows of cells rendered with aligned columns.
type table struct {
	cols  []column
	cells [][]string
}

func (t *table) add(cells ...string) { t.cells = append(t.cells, cells) }

// write renders the table within width columns (0: no limit). When it is
// too wide, it gives up in this order until it fits: shrinkable columns
// down to their minimum (host names first), the trimmable parts of
// cells, whole columns by their drop order, and last the shrinkable
// columns down to a few characters.
func (t *table) write(w io.Writer, width int) error {
	widths := make([]int, len(t.cols))
	for i, c := range t.cols {
		widths[i] = utf8.RuneCountInString(c.title)
	}
	for _, row := range t.cells {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	shown := make([]bool, len(t.cols))
	for i := range shown {
		shown[i] = true
	}
	trimmed := false
	if width > 0 {
		total := func() int {
			n := 0
			for i, w := range widths {
				if shown[i] {
					n += w + 2
				}
			}
			return n - 2
		}
		shrink := func(floor func(column) int) {
			for _, kind := range []int{elideLeft, elideRight} {
				for i, c := range t.cols {
					if over := total() - width; over > 0 && shown[i] && c.shrink == kind {
						widths[i] -= max(0, min(over, widths[i]-floor(c)))
					}
				}
			}
		}
		shrink(func(c column) int { return max(c.min, utf8.RuneCountInString(c.title)) })
		if total() > width {
			for i, c := range t.cols {
				if c.trim > 0 {
					trimmed = true
					widths[i] = max(utf8.RuneCountInString(c.title), widths[i]-c.trim)
				}
			}
		}
		for order := 1; total() > width && order <= len(t.cols); order++ {
			for i, c := range t.cols {
				if c.drop == order {
					shown[i] = false
				}
			}
		}
		shrink(func(c column) int { return max(6, utf8.RuneCountInString(c.title)) })
	}
	var b strings.Builder
	line := func(row []string) error {
		b.Reset()
		first := true
		for i, c := range row {
			col := t.cols[i]
			if !shown[i] {
				continue
			}
			if trimmed && col.trim > 0 && c != col.title {
				c = string([]rune(c)[min(col.trim, utf8.RuneCountInString(c)):])
			}
			switch {
			case col.shrink == elideLeft:
				c = elideStart(c, widths[i])
			case col.shrink == elideRight:
				c = elideEnd(c, widths[i])
			}
			pad := strings.Repeat(" ", max(0, widths[i]-utf8.RuneCountInString(c)))
			if !first {
				b.WriteString("  ")
			}
			first = false
			if col.right {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		_, err := fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		return err
	}
	header := make([]string, len(t.cols))
	for i, c := range t.cols {
		header[i] = c.title
	}
	if err := line(header); err != nil {
		return err
	}
	for _, row := range t.cells {
		if err := line(row); err != nil {
			return err
		}
	}
	return nil
}

// elideStart shortens s to width runes by dropping its start.
func elideStart(s string, width int) string {
	r := []rune(s)
	if len(r) <= width || width < 2 {
		return s
	}
	return "…" + string(r[len(r)-width+1:])
}

// elideEnd shortens s to width runes by dropping its end.
func elideEnd(s string, width int) string {
	r := []rune(s)
	if len(r) <= width || width < 2 {
		return s
	}
	return string(r[:width-1]) + "…"
}
