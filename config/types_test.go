package config

import (
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDurationYAML(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "15s", want: 15 * time.Second},
		{in: "48h", want: 48 * time.Hour},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: `"2m"`, want: 2 * time.Minute},
		{in: "0s", want: 0},
		{in: "-5s", want: -5 * time.Second}, // parses; Validate rejects it where it matters
		{in: "15", wantErr: true},           // no unit
		{in: "2d", wantErr: true},
		{in: "soon", wantErr: true},
		{in: `""`, wantErr: true},
		{in: "[1s]", wantErr: true},
	} {
		var got struct {
			D Duration `yaml:"d"`
		}
		err := yaml.Unmarshal([]byte("d: "+tt.in), &got)
		switch {
		case tt.wantErr && err == nil:
			t.Errorf("Duration %s: got %v, want an error", tt.in, time.Duration(got.D))
		case !tt.wantErr && err != nil:
			t.Errorf("Duration %s: %v", tt.in, err)
		case !tt.wantErr && time.Duration(got.D) != tt.want:
			t.Errorf("Duration %s = %v, want %v", tt.in, time.Duration(got.D), tt.want)
		}
	}
}

func TestDurationString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15 * time.Second:        "15s",
		48 * time.Hour:          "48h",
		90 * time.Minute:        "1h30m",
		time.Hour + time.Second: "1h0m1s",
		time.Minute:             "1m",
		0:                       "0s",
		1500 * time.Millisecond: "1.5s",
	} {
		if got := Duration(d).String(); got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, got, want)
		}
		out, err := yaml.Marshal(Duration(d))
		if err != nil || string(out) != want+"\n" {
			t.Errorf("yaml.Marshal(Duration(%v)) = %q, %v, want %q", d, out, err, want+"\n")
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Size
		wantErr bool
	}{
		{in: "16MiB", want: 16 << 20},
		{in: "8MB", want: 8_000_000},
		{in: "5242880", want: 5 << 20},
		{in: "16 MiB", want: 16 << 20},
		{in: "16mib", want: 16 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "2gb", want: 2_000_000_000},
		{in: "512KiB", want: 512 << 10},
		{in: "3kB", want: 3000},
		{in: "1TiB", want: 1 << 40},
		{in: "100B", want: 100},
		{in: "0", want: 0},
		{in: "", wantErr: true},
		{in: "MiB", wantErr: true},
		{in: "-1MiB", wantErr: true},
		{in: "+1MiB", wantErr: true},
		{in: "1.5GiB", wantErr: true},
		{in: "16M", wantErr: true}, // ambiguous: say MB or MiB
		{in: "16 megabytes", wantErr: true},
		{in: "9223372036854775807", want: 1<<63 - 1},
		{in: "9223372036854775808", wantErr: true},
		{in: "8388608TiB", wantErr: true}, // 2^63 bytes: overflows
	} {
		got, err := ParseSize(tt.in)
		switch {
		case tt.wantErr && err == nil:
			t.Errorf("ParseSize(%q) = %d, want an error", tt.in, got)
		case !tt.wantErr && err != nil:
			t.Errorf("ParseSize(%q): %v", tt.in, err)
		case !tt.wantErr && got != tt.want:
			t.Errorf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestSizeYAML(t *testing.T) {
	var got struct {
		S Size `yaml:"s"`
	}
	if err := yaml.Unmarshal([]byte("s: 5242880"), &got); err != nil || got.S != 5*MiB {
		t.Errorf("Size from a YAML integer = %d, %v, want %d", got.S, err, 5*MiB)
	}
	if err := yaml.Unmarshal([]byte("s: {a: 1}"), &got); err == nil {
		t.Error("Size from a mapping: got nil error")
	}

	for z, want := range map[Size]string{
		16 * MiB:      "16MiB",
		1536 * KiB:    "1536KiB",
		5 * GiB:       "5GiB",
		2 * TiB:       "2TiB",
		8_000_000:     "8000000",
		0:             "0",
		1000:          "1000",
		3*GiB + 1*KiB: "3145729KiB",
	} {
		if got := z.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(z), got, want)
		}
		back, err := ParseSize(want)
		if err != nil || back != z {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", want, back, err, z)
		}
	}
}
