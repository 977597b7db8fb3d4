package eve

import "fmt"

// ParseTimestamp parses the timestamps Suricata writes, such as
// "2024-05-01T12:00:00.123456+0200", as well as RFC 3339 forms ("Z",
// "+02:00", any number of fractional digits). It avoids time.Parse, which
// would dominate decoding cost.
func ParseTimestamp(b []byte) (Timestamp, error) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, fmt.Errorf("invalid timestamp %q", b)
	}
	num := func(from, to int) (int64, bool) {
		var n int64
		for _, c := range b[from:to] {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return 0, fmt.Errorf("invalid timestamp %q", b)
	}
	i := 19
	var micros int64
	if i < len(b) && b[i] == '.' {
		i++
		digits := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if digits < 6 {
				micros = micros*10 + int64(b[i]-'0')
			}
			digits++
			i++
		}
		if digits == 0 {
			return 0, fmt.Errorf("invalid timestamp %q", b)
		}
		for ; digits < 6; digits++ {
			micros *= 10
		}
	}
	var offset int64
	switch {
	case i == len(b):
	case b[i] == 'Z' && i+1 == len(b):
	case (b[i] == '+' || b[i] == '-') && (len(b)-i == 5 || (len(b)-i == 6 && b[i+3] == ':')):
		hh, ok1 := num(i+1, i+3)
		mm, ok2 := num(len(b)-2, len(b))
		if !ok1 || !ok2 || hh > 23 || mm > 59 {
			return 0, fmt.Errorf("invalid timestamp zone %q", b)
		}
		offset = (hh*60 + mm) * 60
		if b[i] == '-' {
			offset = -offset
		}
	default:
		return 0, fmt.Errorf("invalid timestamp %q", b)
	}
	secs := daysFromCivil(year, month, day)*86400 + hour*3600 + minute*60 + sec - offset
	return Timestamp(secs*1e6 + micros), nil
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
