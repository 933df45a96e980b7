package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/reelvault/reelvault/config"
)

func TestValidateChecksKeyTemplate(t *testing.T) {
	for _, tt := range []struct {
		template string
		ok       bool
	}{
		{"{year}/{month}/{day}/{task_id}", true},
		{"videos/{action}/{year}/{task_id}", true},
		{"{year}/{month}/{day}", false},
		{"../{task_id}", false},
		{"{task_id}{day}", false},
	} {
		c := config.Default()
		c.Storage.KeyTemplate = tt.template
		err := c.Validate()
		var fe *config.FieldError
		found := false
		for _, e := range unjoin(err) {
			if errors.As(e, &fe) && fe.Field == "storage.key_template" {
				found = true
			}
		}
		if found == tt.ok {
			t.Errorf("key_template %q: Validate() = %v; want ok %v", tt.template, err, tt.ok)
		}
		if found && !strings.Contains(err.Error(), tt.template) {
			t.Errorf("key_template %q: error %q does not quote the value", tt.template, err)
		}
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
