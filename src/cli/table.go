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

// write renders the table within width columns (0: no limit): shrinkable
// columns give up width, host names first, until the table fits or they
// reach their minimum.
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
	if width > 0 {
		total := 2 * (len(widths) - 1)
		for _, n := range widths {
			total += n
		}
		for _, kind := range []int{elideLeft, elideRight} {
			for i, c := range t.cols {
				if total <= width || c.shrink != kind {
					continue
				}
				cut := min(total-width, widths[i]-max(c.min, utf8.RuneCountInString(c.title)))
				if cut > 0 {
					widths[i] -= cut
					total -= cut
				}
			}
		}
	}
	var b strings.Builder
	line := func(row []string) error {
		b.Reset()
		for i, c := range row {
			col := t.cols[i]
			switch {
			case col.shrink == elideLeft:
				c = elideStart(c, widths[i])
			case col.shrink == elideRight:
				c = elideEnd(c, widths[i])
			}
			pad := strings.Repeat(" ", max(0, widths[i]-utf8.RuneCountInString(c)))
			if i > 0 {
				b.WriteString("  ")
			}
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
