package mp4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// parseMoov reads mvhd and every trak's tkhd from the payload of a moov box.
func parseMoov(b []byte, info *Info) error {
	var mvhd bool
	err := walk(b, func(typ string, payload []byte) error {
		switch typ {
		case "mvhd":
			if mvhd {
				return nil
			}
			mvhd = true
			d, err := parseMvhd(payload)
			info.Duration = d
			return err
		case "trak":
			if info.Width > 0 {
				return nil // the first video track counts
			}
			return walk(payload, func(typ string, payload []byte) error {
				if typ != "tkhd" {
					return nil
				}
				w, h, err := parseTkhd(payload)
				if err == nil && w > 0 && h > 0 && info.Width == 0 {
					info.Width, info.Height = w, h
				}
				return err
			})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("moov: %w", err)
	}
	if !mvhd {
		return errors.New("moov has no mvhd box")
	}
	return nil
}

// walk calls fn with the type and payload of each box in b, in order. A box
// whose size is 0 runs to the end of b.
func walk(b []byte, fn func(typ string, payload []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return fmt.Errorf("%d stray bytes where a box header should be", len(b))
		}
		size, typ := boxHeader(b)
		hlen := uint64(8)
		if size == 1 {
			if len(b) < 16 {
				return fmt.Errorf("box %q: truncated largesize", printable(typ))
			}
			hlen = 16
		}
		if size == 0 {
			size = uint64(len(b))
		}
		if size < hlen || size > uint64(len(b)) {
			return fmt.Errorf("box %q declares size %d, %d bytes available", printable(typ), size, len(b))
		}
		if err := fn(typ, b[hlen:size]); err != nil {
			return fmt.Errorf("%s: %w", printable(typ), err)
		}
		b = b[size:]
	}
	return nil
}

// parseMvhd returns the movie's duration in seconds. An all-ones duration
// means "unknown" (fragmented files) and gives 0.
func parseMvhd(b []byte) (float64, error) {
	if len(b) < 4 {
		return 0, errors.New("truncated")
	}
	var timescale uint32
	var dur uint64
	unknown := false
	switch v := b[0]; v {
	case 0:
		if len(b) < 20 {
			return 0, errors.New("truncated version 0 box")
		}
		timescale = binary.BigEndian.Uint32(b[12:])
		d := binary.BigEndian.Uint32(b[16:])
		dur, unknown = uint64(d), d == math.MaxUint32
	case 1:
		if len(b) < 32 {
			return 0, errors.New("truncated version 1 box")
		}
		timescale = binary.BigEndian.Uint32(b[20:])
		dur = binary.BigEndian.Uint64(b[24:])
		unknown = dur == math.MaxUint64
	default:
		return 0, fmt.Errorf("unknown version %d", v)
	}
	if timescale == 0 {
		return 0, errors.New("timescale 0")
	}
	if unknown {
		return 0, nil
	}
	return float64(dur) / float64(timescale), nil
}

// parseTkhd returns a track's frame size, 16.16 fixed point in the file,
// rounded down to whole pixels.
func parseTkhd(b []byte) (width, height int, err error) {
	var at int
	switch v := b[0:min(len(b), 1)]; {
	case len(v) == 0:
		return 0, 0, errors.New("truncated")
	case v[0] == 0:
		at = 4 + 20 + 16 + 36 // version/flags, times..duration, reserved..volume, matrix
	case v[0] == 1:
		at = 4 + 32 + 16 + 36
	default:
		return 0, 0, fmt.Errorf("unknown version %d", v[0])
	}
	if len(b) < at+8 {
		return 0, 0, fmt.Errorf("truncated version %d box (%d bytes)", b[0], len(b))
	}
	return int(binary.BigEndian.Uint32(b[at:]) >> 16), int(binary.BigEndian.Uint32(b[at+4:]) >> 16), nil
}
