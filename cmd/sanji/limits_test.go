package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestLimitsConfig: each limit is set from the file, the environment and a flag, reaches the
// API's and the bundle reader's settings, and a value below 1 stops the start naming its key.
func TestLimitsConfig(t *testing.T) {
	path := writeFile(t, "sanji.yaml", "limits:\n  case_files: 7\n  bundle_ratio: 9\n")
	cfg, err := loadConfig([]string{"--config", path, "--limits-joins-per-second", "3"},
		envMap(map[string]string{"SANJI_LIMITS_UNIT_MIB": "10"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits
	if l.CaseFiles != 7 || l.BundleRatio != 9 || l.JoinsPerSecond != 3 || l.UnitMiB != 10 || l.UploadMiB != 200 || l.JoinBurst != 20 {
		t.Errorf("limits %+v", l)
	}
	if u := l.uploads(); u.CaseFiles != 7 || u.UnitBytes != 10<<20 || u.CaseBytes != 2048<<20 {
		t.Errorf("upload limits %+v", u)
	}
	if b := l.bundles(); b.MaxRatio != 9 || b.MaxFiles != 10000 || b.MaxBytes != 8<<30 {
		t.Errorf("bundle limits %+v", b)
	}
	_, err = loadConfig([]string{"--limits-case-mib", "0"}, envMap(nil), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "limits.case_mib") || !strings.Contains(err.Error(), "至少") && !strings.Contains(err.Error(), "不小于") {
		t.Errorf("a zero limit: %v", err)
	}
}
