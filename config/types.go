package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML as Go duration text: "15s",
// "48h", "1h30m". A bare number is rejected: it has no unit.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as \"15s\" or \"1h30m\", got a %s", kindName(n.Kind))
	}
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("want a duration such as \"15s\" or \"1h30m\", got %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler, writing the form UnmarshalYAML reads.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String formats d like time.Duration but without trailing zero units:
// "48h" rather than "48h0m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Size is a byte count written in YAML as a plain number of bytes or a number
// with a unit: "16MiB", "8MB", "5242880". Units are case-insensitive; KB, MB,
// GB and TB are powers of 1000, KiB, MiB, GiB and TiB powers of 1024.
type Size int64

// Byte-count units for Size.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
	TiB Size = 1 << 40
)

// sizeUnits is ordered so that longer suffixes are tried first ("MiB" before
// "B").
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", int64(KiB)}, {"mib", int64(MiB)}, {"gib", int64(GiB)}, {"tib", int64(TiB)},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// ParseSize parses the text form of a Size. The number must be a
// non-negative integer; a space between it and the unit is allowed.
func ParseSize(s string) (Size, error) {
	text := strings.TrimSpace(s)
	mult := int64(1)
	lower := strings.ToLower(text)
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.suffix) {
			text = strings.TrimSpace(text[:len(text)-len(u.suffix)])
			mult = u.mult
			break
		}
	}
	n, err := strconv.ParseUint(text, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("want a size such as \"16MiB\", \"8MB\" or \"5242880\", got %q", s)
	}
	if n > math.MaxInt64/uint64(mult) {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return Size(int64(n) * mult), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a size such as \"16MiB\", got a %s", kindName(n.Kind))
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*z = v
	return nil
}

// MarshalYAML implements yaml.Marshaler, writing the form UnmarshalYAML reads.
func (z Size) MarshalYAML() (any, error) { return z.String(), nil }

// String formats z exactly, in the largest binary unit that divides it:
// "16MiB", "1536KiB", "1000".
func (z Size) String() string {
	for _, u := range []struct {
		name string
		mult Size
	}{{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}} {
		if z != 0 && z%u.mult == 0 {
			return strconv.FormatInt(int64(z/u.mult), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(z), 10)
}

// kindName names a YAML node kind for error messages.
func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "node"
}
