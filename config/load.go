package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

const (
	// DefaultFile is the config file Resolve picks from the working directory
	// when neither the flag nor EnvFile names one.
	DefaultFile = "reelvault.yaml"
	// EnvFile is the environment variable Resolve reads the config path from.
	EnvFile = "REELVAULT_CONFIG"
)

// ParseError is a problem at a position in a config file: an unknown or
// duplicate key, a value of the wrong type, or a ${VAR} that cannot be
// expanded. Parse joins one ParseError per problem with errors.Join.
type ParseError struct {
	Name    string // file name as given to Parse or Load
	Line    int    // 1-based line of the offending key or value
	Field   string // YAML path of the offending key, e.g. "storage.s3.bukcet"
	Problem string // what is wrong, in words, naming the key
	Err     error  // underlying cause, if any
}

// Error formats the problem as "name:line: problem".
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Problem)
}

// Unwrap returns the underlying cause.
func (e *ParseError) Unwrap() error { return e.Err }

// Resolve picks the config file: flagValue when set, else $REELVAULT_CONFIG
// when set and non-empty, else DefaultFile when exists reports it present in
// the working directory, else "" (meaning the built-in defaults).
func Resolve(flagValue string, lookupEnv func(string) (string, bool), exists func(string) bool) string {
	if flagValue != "" {
		return flagValue
	}
	if lookupEnv != nil {
		if v, ok := lookupEnv(EnvFile); ok && v != "" {
			return v
		}
	}
	if exists != nil && exists(DefaultFile) {
		return DefaultFile
	}
	return ""
}

// Load reads the file at path and parses it with Parse. An empty path (what
// Resolve returns when there is no file) yields Default(). The result is not
// validated.
func Load(path string, lookupEnv func(string) (string, bool)) (Config, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, lookupEnv)
}

// Parse decodes data, a YAML config file, strictly on top of Default(): an
// unknown or duplicate key is an error naming the key, its section and its
// line. Before a value is decoded, ${VAR} and ${VAR:-default} in it are
// expanded through lookupEnv (nil means no variable is set); see expand. name
// is used in error messages. All problems are reported, joined with
// errors.Join. The result is not validated.
func Parse(name string, data []byte, lookupEnv func(string) (string, bool)) (Config, error) {
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return cfg, nil // empty file: all defaults
	case err != nil:
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%s: want a single YAML document", name)
	}

	d := decoder{name: name, lookupEnv: lookupEnv}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.decodeStruct(root, reflect.ValueOf(&cfg).Elem(), "")
	if len(d.errs) > 0 {
		return Config{}, errors.Join(d.errs...)
	}
	return cfg, nil
}

// decoder walks the YAML node tree alongside the Config struct. Walking it
// ourselves, rather than using yaml.Decoder.KnownFields, gives every error
// its key's full path and line without picking apart yaml's message text, and
// lets ${VAR} expansion happen per value, never in comments or keys.
type decoder struct {
	name      string
	lookupEnv func(string) (string, bool)
	errs      []error
}

func (d *decoder) fail(line int, field, problem string, err error) {
	d.errs = append(d.errs, &ParseError{Name: d.name, Line: line, Field: field, Problem: problem, Err: err})
}

// decodeStruct sets the fields of out (a struct) from the mapping n. Keys not
// present keep their current (default) values; so does a null section.
func (d *decoder) decodeStruct(n *yaml.Node, out reflect.Value, path string) {
	n = resolveAlias(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		where := path
		if where == "" {
			where = "the top level"
		}
		d.fail(n.Line, path, fmt.Sprintf("%s: want a mapping of keys, got a %s", where, kindName(n.Kind)), nil)
		return
	}
	fields := yamlFields(out.Type())
	seen := make(map[string]int) // key -> line of first occurrence
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		field := join(path, key)
		if first, dup := seen[key]; dup {
			d.fail(k.Line, field, fmt.Sprintf("duplicate key %q%s (first set at line %d)", key, in(path), first), nil)
			continue
		}
		seen[key] = k.Line
		idx, ok := fields[key]
		if !ok {
			problem := fmt.Sprintf("unknown key %q%s", key, in(path))
			if key == "<<" {
				problem += ": YAML merge keys are not supported"
			} else if s := suggest(key, fields); s != "" {
				problem += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.fail(k.Line, field, problem, nil)
			continue
		}
		fv := out.Field(idx)
		if fv.Kind() == reflect.Struct {
			d.decodeStruct(v, fv, field)
			continue
		}
		d.decodeValue(v, fv, field)
	}
}

// decodeValue expands ${VAR} references in the scalar n and decodes it into
// out, a leaf field.
func (d *decoder) decodeValue(n *yaml.Node, out reflect.Value, field string) {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "$") {
		val, err := expand(n.Value, d.lookupEnv)
		if err != nil {
			d.fail(n.Line, field, fmt.Sprintf("%s: %v", field, err), err)
			return
		}
		if out.Kind() == reflect.String {
			// An environment value is text: set it as is, so that a secret
			// such as "null", "~" or "" is not reinterpreted by YAML.
			out.SetString(val)
			return
		}
		expanded := *n
		expanded.Value = val
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			expanded.Tag = "" // re-resolve a plain scalar: "15" becomes !!int
		}
		n = &expanded
	}
	if err := n.Decode(out.Addr().Interface()); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			d.fail(n.Line, field, fmt.Sprintf("%s: want %s, got %s", field, typeName(out.Type()), describe(n)), err)
			return
		}
		d.fail(n.Line, field, fmt.Sprintf("%s: %v", field, err), err)
	}
}

// expand replaces ${VAR} with the variable's value and ${VAR:-default} with
// the value, or default when the variable is unset or empty (as in the
// shell). "$${" is a literal "${"; any other "$" is kept as is, so a secret
// may contain "$". Defaults are literal text and cannot nest. A ${VAR} whose
// variable is unset, with no default, is an error naming it.
func expand(s string, lookupEnv func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // "$${": escaped
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated %q: want ${VAR} or ${VAR:-default}", s[i:])
		}
		ref := s[i : i+end+1]
		body := s[i+2 : i+end]
		varName, def, hasDef := strings.Cut(body, ":-")
		if !validVarName(varName) {
			return "", fmt.Errorf("invalid reference %s: want ${VAR} or ${VAR:-default}, VAR made of letters, digits and _", ref)
		}
		var val string
		var ok bool
		if lookupEnv != nil {
			val, ok = lookupEnv(varName)
		}
		switch {
		case hasDef && val == "":
			val = def
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set (referenced as %s); set it or give a default: ${%s:-default}", varName, ref, varName)
		}
		b.WriteString(val)
		s = s[i+end+1:]
	}
}

func validVarName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, r := range s {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// yamlFields maps the yaml tag names of struct type t to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			m[name] = i
		}
	}
	return m
}

// yamlName returns the YAML key of a struct field, or "" if it has none.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// suggest returns the known key closest to key when it is a likely typo.
func suggest(key string, fields map[string]int) string {
	best, bestDist := "", 3 // suggest only within two edits
	for name := range fields {
		if dist := editDistance(key, name); dist < bestDist || (dist == bestDist && name < best) {
			best, bestDist = name, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// in names the section a key is in, for messages: ` in storage.s3`, or
// nothing at the top level.
func in(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

// typeName names the kind of value a field wants, for messages.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return "a " + t.String()
}

// describe shows what a node holds, for messages.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q", n.Value)
	}
	return "a " + kindName(n.Kind)
}
