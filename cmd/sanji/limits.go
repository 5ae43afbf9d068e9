package main

import (
	"strconv"

	"sanji/scheduler/api"
	"sanji/scheduler/exchange"
)

// limitsConfig bounds what one case, one unit, one bundle, one socket and one address may cost
// the server (docs/operations.md, "Limits"). Every value must be at least 1.
type limitsConfig struct {
	UploadMiB           int `yaml:"upload_mib"`             // one case file
	CaseFiles           int `yaml:"case_files"`             // files per case
	CaseMiB             int `yaml:"case_mib"`               // bytes per case
	UnitMiB             int `yaml:"unit_mib"`               // bytes uploaded by one unit's users
	BundleFiles         int `yaml:"bundle_files"`           // entries in an imported bundle
	BundleMiB           int `yaml:"bundle_mib"`             // an imported bundle, unpacked
	BundleRatio         int `yaml:"bundle_ratio"`           // an entry's unpacked over packed size
	WSMessagesPerSecond int `yaml:"ws_messages_per_second"` // per signaling session
	JoinsPerSecond      int `yaml:"joins_per_second"`       // join/resume per client address
	JoinBurst           int `yaml:"join_burst"`             // ... at once
}

func defaultLimits() limitsConfig {
	return limitsConfig{UploadMiB: 200, CaseFiles: 200, CaseMiB: 2048, UnitMiB: 50 << 10, BundleFiles: 10000,
		BundleMiB: 8 << 10, BundleRatio: 100, WSMessagesPerSecond: 50, JoinsPerSecond: 5, JoinBurst: 20}
}

func init() {
	settings = append(settings, limitSettings...)
}

func limitSetting(key, usage string, field func(*limitsConfig) *int) setting {
	return setting{key: "limits." + key, usage: usage, set: func(c *config, v string) error {
		return parseInt(v, field(&c.Limits))
	}}
}

var limitSettings = []setting{
	limitSetting("upload_mib", "largest case file, MiB (default 200)", func(l *limitsConfig) *int { return &l.UploadMiB }),
	limitSetting("case_files", "most files on one case (default 200)", func(l *limitsConfig) *int { return &l.CaseFiles }),
	limitSetting("case_mib", "most MiB of files on one case (default 2048)", func(l *limitsConfig) *int { return &l.CaseMiB }),
	limitSetting("unit_mib", "most MiB of files uploaded by one unit's users (default 51200)", func(l *limitsConfig) *int { return &l.UnitMiB }),
	limitSetting("bundle_files", "most entries in an imported case bundle (default 10000)", func(l *limitsConfig) *int { return &l.BundleFiles }),
	limitSetting("bundle_mib", "most MiB an imported case bundle may unpack to (default 8192)", func(l *limitsConfig) *int { return &l.BundleMiB }),
	limitSetting("bundle_ratio", "most an entry of a case bundle may be compressed, times (default 100)", func(l *limitsConfig) *int { return &l.BundleRatio }),
	limitSetting("ws_messages_per_second", "signaling messages per second per session (default 50)", func(l *limitsConfig) *int { return &l.WSMessagesPerSecond }),
	limitSetting("joins_per_second", "signaling join/resume attempts per second per client address (default 5)", func(l *limitsConfig) *int { return &l.JoinsPerSecond }),
	limitSetting("join_burst", "signaling join/resume attempts at once per client address (default 20)", func(l *limitsConfig) *int { return &l.JoinBurst }),
}

func (c config) validateLimits() []error {
	var errs []error
	l := c.Limits
	for _, v := range []struct {
		key string
		n   int
	}{{"upload_mib", l.UploadMiB}, {"case_files", l.CaseFiles}, {"case_mib", l.CaseMiB}, {"unit_mib", l.UnitMiB},
		{"bundle_files", l.BundleFiles}, {"bundle_mib", l.BundleMiB}, {"bundle_ratio", l.BundleRatio},
		{"ws_messages_per_second", l.WSMessagesPerSecond}, {"joins_per_second", l.JoinsPerSecond}, {"join_burst", l.JoinBurst}} {
		if v.n < 1 {
			errs = append(errs, errMsg("cmd.limits.positive", "key", "limits."+v.key, "value", strconv.Itoa(v.n)))
		}
	}
	return errs
}

func (l limitsConfig) uploads() api.UploadLimits {
	return api.UploadLimits{CaseFiles: l.CaseFiles, CaseBytes: int64(l.CaseMiB) << 20, UnitBytes: int64(l.UnitMiB) << 20}
}

func (l limitsConfig) bundles() exchange.Limits {
	return exchange.Limits{MaxFiles: l.BundleFiles, MaxBytes: int64(l.BundleMiB) << 20, MaxRatio: l.BundleRatio}
}
