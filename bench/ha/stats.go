package main

import (
	"os"
	"sort"
	"strconv"
	"strings"
)

// series is one figure measured several times.
type series []float64

func (s series) sorted() series {
	c := append(series(nil), s...)
	sort.Float64s(c)
	return c
}

func (s series) median() float64 {
	if len(s) == 0 {
		return 0
	}
	c := s.sorted()
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func (s series) max() float64 {
	if len(s) == 0 {
		return 0
	}
	return s.sorted()[len(s)-1]
}

// format prints "median (min–max)" with prec decimals.
func (s series) format(prec int) string {
	if len(s) == 0 {
		return "n/a"
	}
	c := s.sorted()
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	if len(c) == 1 {
		return f(c[0])
	}
	return f(s.median()) + " (" + f(c[0]) + "–" + f(c[len(c)-1]) + ")"
}

// collect maps every result of a trial to one figure.
func collect[T any](rs []T, f func(T) float64) series {
	s := make(series, len(rs))
	for i, r := range rs {
		s[i] = f(r)
	}
	return s
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// memTotal is MemTotal of /proc/meminfo, in GiB.
func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
				return strconv.FormatFloat(kb/(1<<20), 'f', 0, 64) + " GiB"
			}
		}
	}
	return "unknown"
}

// kernel is the running kernel's release.
func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return "Linux " + strings.TrimSpace(string(b))
}
