package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// envMap is a getenv over a fixed map, so tests do not touch the process environment.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultConfigIsValidAndLoopback(t *testing.T) {
	cfg, err := loadConfig(nil, envMap(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("loadConfig with nothing set: %v", err)
	}
	if !reflect.DeepEqual(cfg, defaultConfig()) {
		t.Errorf("loadConfig() = %+v, want defaultConfig() %+v", cfg, defaultConfig())
	}
	want := rtcConfig{ListenIP: "127.0.0.1", UDPPort: 7882, TCPPort: 7881, LoopbackOnly: true, MaxDelay: 100 * time.Millisecond}
	if !reflect.DeepEqual(cfg.RTC, want) {
		t.Errorf("default RTC = %+v, want %+v", cfg.RTC, want)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.DataDir != "./data" || cfg.Dev {
		t.Errorf("defaults: listen %q data dir %q dev %v", cfg.Listen, cfg.DataDir, cfg.Dev)
	}
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "sanji.yaml", `
listen: 127.0.0.1:1001
data_dir: /from/file
log_level: warn
shutdown_timeout: 3s
rtc:
  udp_port: 1002
  tcp_port: 1003
  public_ips: [203.0.113.1]
`)
	env := map[string]string{
		"SANJI_CONFIG":        file,
		"SANJI_DATA_DIR":      "/from/env",
		"SANJI_LOG_LEVEL":     "error",
		"SANJI_RTC_UDP_PORT":  "2002",
		"SANJI_RTC_LISTEN_IP": "0.0.0.0",
		"SANJI_TOKEN_SECRET":  strings.Repeat("s", 32),
	}
	args := []string{"--log-level", "debug", "--rtc-udp-port=3002", "--dev"}
	cfg, err := loadConfig(args, envMap(env), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen (file only)", cfg.Listen, "127.0.0.1:1001"},
		{"shutdown_timeout (file only)", cfg.ShutdownTimeout, 3 * time.Second},
		{"rtc.tcp_port (file only)", cfg.RTC.TCPPort, 1003},
		{"rtc.public_ips (file only)", cfg.RTC.PublicIPs, []string{"203.0.113.1"}},
		{"data_dir (env over file)", cfg.DataDir, "/from/env"},
		{"rtc.listen_ip (env over derived default)", cfg.RTC.ListenIP, "0.0.0.0"},
		{"token_secret (env)", cfg.TokenSecret, strings.Repeat("s", 32)},
		{"log_level (flag over env over file)", cfg.LogLevel, "debug"},
		{"rtc.udp_port (flag over env over file)", cfg.RTC.UDPPort, 3002},
		{"dev (bare bool flag)", cfg.Dev, true},
		{"log_format (default)", cfg.LogFormat, "json"},
		{"rtc.loopback_only (derived from 0.0.0.0)", cfg.RTC.LoopbackOnly, false},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestConfigFlagNamesConfigFile(t *testing.T) {
	fromEnv := writeFile(t, "env.yaml", "listen: 127.0.0.1:1111\n")
	fromFlag := writeFile(t, "flag.yaml", "listen: 127.0.0.1:2222\n")
	cfg, err := loadConfig([]string{"--config", fromFlag}, envMap(map[string]string{"SANJI_CONFIG": fromEnv}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:2222" {
		t.Errorf("listen = %q: --config should win over SANJI_CONFIG", cfg.Listen)
	}
}

func TestConfigEmptyEnvIsUnset(t *testing.T) {
	file := writeFile(t, "sanji.yaml", "data_dir: /from/file\n")
	cfg, err := loadConfig([]string{"--config", file}, envMap(map[string]string{"SANJI_DATA_DIR": ""}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/from/file" {
		t.Errorf("data_dir = %q, want the file's value: an empty variable must not blank it", cfg.DataDir)
	}
}

func TestConfigDerivedRTC(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		wantIP       string
		wantLoopback bool
	}{
		{"default", nil, "127.0.0.1", true},
		{"listen on all interfaces", []string{"--listen", "0.0.0.0:8080"}, "0.0.0.0", false},
		{"listen with empty host", []string{"--listen", ":8080"}, "0.0.0.0", false},
		{"listen on localhost", []string{"--listen", "localhost:8080"}, "127.0.0.1", true},
		{"listen on a LAN address", []string{"--listen", "192.0.2.10:8080"}, "192.0.2.10", false},
		{"explicit rtc ip wins", []string{"--listen", "0.0.0.0:8080", "--rtc-listen-ip", "127.0.0.1"}, "127.0.0.1", true},
		{"explicit loopback flag wins", []string{"--listen", "0.0.0.0:8080", "--rtc-loopback-only"}, "0.0.0.0", true},
		{"loopback can be turned off", []string{"--rtc-loopback-only=false"}, "127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(tt.args, envMap(nil), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RTC.ListenIP != tt.wantIP || cfg.RTC.LoopbackOnly != tt.wantLoopback {
				t.Errorf("rtc listen_ip %q loopback_only %v, want %q %v", cfg.RTC.ListenIP, cfg.RTC.LoopbackOnly, tt.wantIP, tt.wantLoopback)
			}
		})
	}
}

func TestConfigUnknownYAMLKey(t *testing.T) {
	tests := []struct {
		name, yaml, key string
	}{
		{"top level", "listen: 127.0.0.1:8080\nlisten_adress: x\n", "listen_adress"},
		{"nested", "rtc:\n  udp_port: 1\n  udp_prot: 2\n", "rtc.udp_prot"},
		{"unknown section", "database:\n  url: x\n", "database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "bad.yaml", tt.yaml)
			_, err := loadConfig([]string{"--config", p}, envMap(nil), &bytes.Buffer{})
			if err == nil {
				t.Fatal("loadConfig accepted an unknown key")
			}
			msg := err.Error()
			if !strings.Contains(msg, `"`+tt.key+`"`) || !strings.Contains(msg, "未知的配置项") || !strings.Contains(msg, "unknown key") {
				t.Errorf("error %q should name the key %q in Chinese and English", msg, tt.key)
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"wrong type", "rtc:\n  udp_port: many\n", "config file"},
		{"not yaml", "listen: [\n", "not valid YAML"},
		{"not a mapping", "- a\n- b\n", "mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "bad.yaml", tt.yaml)
			_, err := loadConfig([]string{"--config", p}, envMap(nil), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := loadConfig([]string{"--config", filepath.Join(t.TempDir(), "nope.yaml")}, envMap(nil), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "无法读取配置文件") || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v, want a bilingual not-exist error", err)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		p := writeFile(t, "empty.yaml", "# nothing here\n")
		cfg, err := loadConfig([]string{"--config", p}, envMap(nil), &bytes.Buffer{})
		if err != nil || !reflect.DeepEqual(cfg, defaultConfig()) {
			t.Fatalf("empty file: cfg %+v err %v, want the defaults", cfg, err)
		}
	})
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of the error, at least one Chinese and one English
	}{
		{"bad listen", []string{"--listen", "8080"}, nil, []string{"listen 地址", "listen address"}},
		{"listen port out of range", []string{"--listen", "127.0.0.1:70000"}, nil, []string{"listen 端口", "listen port"}},
		{"udp port out of range", []string{"--rtc-udp-port", "65536"}, nil, []string{"rtc.udp_port 65536 超出范围", "rtc.udp_port 65536 is out of range"}},
		{"negative udp port", []string{"--rtc-udp-port", "-1"}, nil, []string{"rtc.udp_port -1 超出范围", "out of range"}},
		{"tcp port out of range", []string{"--rtc-tcp-port", "-2"}, nil, []string{"rtc.tcp_port -2 超出范围", "rtc.tcp_port -2 is out of range"}},
		{"port not a number", []string{"--rtc-tcp-port", "abc"}, nil, []string{"不是整数", "is not an integer", "--rtc-tcp-port"}},
		{"log level", []string{"--log-level", "verbose"}, nil, []string{"log_level \"verbose\" 无效", "log_level \"verbose\" is unknown"}},
		{"log format", []string{"--log-format", "xml"}, nil, []string{"log_format \"xml\" 无效", "is unknown"}},
		{"rtc listen ip", []string{"--rtc-listen-ip", "my-host"}, nil, []string{"rtc.listen_ip \"my-host\" 不是 IP 地址", "is not an IP address"}},
		{"public ip", []string{"--rtc-listen-ip", "0.0.0.0", "--rtc-public-ips", "203.0.113.1,not-an-ip"}, nil, []string{"\"not-an-ip\"", "不是 IP 地址", "is not an IP address"}},
		{"public ip unspecified", []string{"--listen", "0.0.0.0:8080", "--rtc-public-ips", "0.0.0.0"}, nil, []string{"rtc.public_ips 不能包含", "cannot contain"}},
		{"public ip with loopback only", []string{"--rtc-public-ips", "203.0.113.1"}, nil, []string{"rtc.loopback_only 为 true 时", "cannot be set while rtc.loopback_only"}},
		{"loopback only on a LAN address", []string{"--rtc-listen-ip", "192.0.2.1", "--rtc-loopback-only"}, nil, []string{"不是回环地址", "not a loopback address"}},
		{"short secret", nil, map[string]string{"SANJI_TOKEN_SECRET": "short"}, []string{"token_secret 太短", "token_secret is too short"}},
		{"shutdown timeout", []string{"--shutdown-timeout", "0s"}, nil, []string{"shutdown_timeout 必须大于 0", "must be greater than 0"}},
		{"max delay", []string{"--rtc-max-delay", "0s"}, nil, []string{"rtc.max_delay 必须大于 0", "rtc.max_delay must be greater than 0"}},
		{"relay ports reversed", []string{"--rtc-relay-ports", "50199-50000"}, nil, []string{"rtc.relay_ports \"50199-50000\"", "min-max"}},
		{"relay ports not a range", []string{"--rtc-relay-ports", "50000"}, nil, []string{"rtc.relay_ports \"50000\"", "min-max"}},
		{"resume grace", []string{"--resume-grace", "-1s"}, nil, []string{"resume_grace 不能为负", "must not be negative"}},
		{"resume grace on stage", []string{"--resume-grace-on-stage", "-1s"}, nil, []string{"resume_grace_on_stage 不能为负", "must not be negative"}},
		{"bad duration", []string{"--shutdown-timeout", "soon"}, nil, []string{"不是时长", "is not a duration"}},
		{"webhook not http", []string{"--notify-webhook-url", "ftp://hooks.example.org"}, nil, []string{"notify.webhook_url", "must be an http:// or https:// URL"}},
		{"bad env bool", nil, map[string]string{"SANJI_DEV": "yes please"}, []string{"SANJI_DEV", "不是布尔值", "is not a boolean"}},
		{"host name without rtc ip", []string{"--listen", "sanji.example.org:8080"}, nil, []string{"请同时设置 rtc.listen_ip", "also set rtc.listen_ip"}},
		{"node ttl under 2.5 heartbeats", []string{"--redis-addr", "127.0.0.1:6379", "--cluster-heartbeat", "2s", "--cluster-node-ttl", "4s"}, nil, []string{"cluster.node_ttl 4s 太短", "at least 2.5 times cluster.heartbeat (2s), i.e. 5s"}},
		{"default node ttl under 2.5 heartbeats", []string{"--redis-addr", "127.0.0.1:6379", "--cluster-heartbeat", "1500ms"}, nil, []string{"cluster.node_ttl 3s 太短", "i.e. 3.75s"}},
		{"negative heartbeat", []string{"--redis-addr", "127.0.0.1:6379", "--cluster-heartbeat", "-1s"}, nil, []string{"cluster.heartbeat 和 cluster.node_ttl 不能为负数", "cannot be negative"}},
		{"heartbeat without redis", []string{"--cluster-heartbeat", "1s"}, nil, []string{"cluster.* 设置只在配置了 Redis 时有效", "apply only with Redis"}},
		{"empty data dir", []string{"--data-dir", ""}, nil, []string{"data_dir 不能为空", "data_dir must not be empty"}},
		{"stray argument", []string{"extra"}, nil, []string{"多余的参数", "unexpected argument"}},
		{"unknown flag", []string{"--no-such-flag"}, nil, []string{"命令行参数有误", "bad command line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(tt.args, envMap(tt.env), &bytes.Buffer{})
			if err == nil {
				t.Fatal("loadConfig accepted an invalid config")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestConfigValidationReportsAllProblems(t *testing.T) {
	_, err := loadConfig([]string{"--log-level", "loud", "--rtc-udp-port", "99999"}, envMap(nil), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "log_level") || !strings.Contains(err.Error(), "rtc.udp_port") {
		t.Fatalf("err = %v, want both problems reported", err)
	}
}

func TestConfigHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := loadConfig([]string{"--help"}, envMap(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, s := range settings {
		if !strings.Contains(out.String(), s.envName()) {
			t.Errorf("help does not mention %s", s.envName())
		}
		if f := s.flagName(); f != "" && !strings.Contains(out.String(), "-"+f) {
			t.Errorf("help does not mention --%s", f)
		}
	}
	if strings.Contains(out.String(), "-token-secret") {
		t.Error("the token secret must not be a flag (it would show in the process list)")
	}
	if strings.Contains(out.String(), "-store-dsn") {
		t.Error("the store DSN must not be a flag (its password would show in the process list)")
	}
}

// TestSettingsMatchYAMLTags keeps the settings table and the YAML struct tags in step: every
// key must decode from a file and be applied from the environment to the same field.
func TestSettingsMatchYAMLTags(t *testing.T) {
	values := map[string]string{
		"listen":                          "127.0.0.1:9999",
		"dev":                             "true",
		"data_dir":                        "/d",
		"log_level":                       "warn",
		"log_format":                      "console",
		"token_secret":                    strings.Repeat("k", 40),
		"shutdown_timeout":                "7s",
		"resume_grace":                    "45s",
		"resume_grace_on_stage":           "5m",
		"limits.upload_mib":               "100",
		"limits.case_files":               "50",
		"casework.forward_days_per_level": "3",
		"limits.case_mib":                 "1024",
		"limits.unit_mib":                 "4096",
		"limits.bundle_files":             "500",
		"limits.bundle_mib":               "2048",
		"limits.bundle_ratio":             "50",
		"limits.ws_messages_per_second":   "30",
		"limits.joins_per_second":         "3",
		"limits.join_burst":               "10",
		"redis.addr":                      "127.0.0.1:6380",
		"redis.sentinel_addrs":            "127.0.0.1:26379",
		"redis.master_name":               "sanji",
		"redis.cluster_addrs":             "127.0.0.1:7000",
		"redis.username":                  "sanji",
		"redis.password":                  "redis-pass",
		"redis.db":                        "2",
		"redis.tls":                       "true",
		"redis.tls_ca_file":               "/etc/sanji/redis-ca.pem",
		"redis.dial_timeout":              "3s",
		"redis.read_timeout":              "2s",
		"redis.write_timeout":             "2s",
		"redis.pool_size":                 "20",
		"redis.key_prefix":                "xf",
		"cluster.node_id":                 "node-a",
		"cluster.url":                     "https://a.example.org",
		"cluster.serves":                  "330102",
		"cluster.cascade":                 "false",
		"cluster.heartbeat":               "2s",
		"cluster.node_ttl":                "6s",
		"rtc.listen_ip":                   "0.0.0.0",
		"rtc.udp_port":                    "1234",
		"rtc.tcp_port":                    "-1",
		"rtc.public_ips":                  "198.51.100.7",
		"rtc.loopback_only":               "false",
		"rtc.max_delay":                   "250ms",
		"rtc.relay_ports":                 "50000-50199",
		"demo":                            "true",
		"store.dsn":                       "postgres://sanji@127.0.0.1:5432/sanji",
		"notify.webhook_url":              "https://hooks.example.org/sanji",
		"notify.webhook_secret":           "hook-secret",
		"recording.dir":                   "/rec",
		"recording.hash":                  "sm3",
		"crypto.suite":                    "gm",
		"auth.totp_roles":                 "admin,supervisor",
		"identity.key_file":               "/etc/sanji/identity.keys",
		"identity.keys":                   "current k1;key k1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
		"log.client_ip":                   "true",
		"recording.retention":             "87600h",
		"exchange.trusted_keys":           "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"tls.cert_file":                   "/etc/sanji/cert.pem",
		"tls.key_file":                    "/etc/sanji/key.pem",
		"one_port":                        "true",
		"turn.enabled":                    "true",
		"turn.udp_port":                   "3479",
		"turn.tcp_port":                   "3480",
		"turn.tls_port":                   "5349",
		"turn.realm":                      "xinfang",
		"turn.public_ips":                 "198.51.100.8",
		"turn.domain":                     "media.example.org",
		"turn.credential_ttl":             "3h",
		"turn.external_urls":              "turns:turn.example.org:443",
		"turn.external_secret":            "coturn-secret",
		"turn.external_username":          "hall",
		"turn.external_credential":        "hall-pass",
		"cases.document_header":           "杭州市上城区信访局",
		"cases.rating_window_days":        "20",
		"cases.terminal_rating":           "true",
	}
	if len(values) != len(settings) {
		t.Fatalf("test covers %d keys, settings has %d: update the test", len(values), len(settings))
	}
	// Redis has one topology at a time: a single server, Sentinel or Cluster. The first load
	// takes the single server, then each other topology in its place.
	others := [][]string{{"redis.sentinel_addrs", "redis.master_name"}, {"redis.cluster_addrs"}}
	// A cluster has database 0 only.
	without := map[string][]string{"redis.cluster_addrs": {"redis.db"}}
	skip := map[string]bool{}
	for _, keys := range others {
		for _, k := range keys {
			skip[k] = true
		}
	}
	settingsMatch(t, values, skip)
	for _, keys := range others {
		except := map[string]bool{"redis.addr": true}
		for k := range skip {
			except[k] = !slices.Contains(keys, k)
		}
		for _, k := range without[keys[0]] {
			except[k] = true
		}
		settingsMatch(t, values, except)
	}
}

// settingsMatch loads every setting but those in skip from a file and from the environment and
// wants the same config, changed from the defaults.
func settingsMatch(t *testing.T, values map[string]string, skip map[string]bool) {
	t.Helper()
	// The file: top-level keys, then one block per section (rtc:, store:, tls:, turn:, …).
	var top strings.Builder
	sections := map[string]*strings.Builder{}
	var order []string
	env := map[string]string{}
	for _, s := range settings {
		v, ok := values[s.key]
		if !ok {
			t.Fatalf("no test value for %s", s.key)
		}
		if skip[s.key] {
			continue
		}
		env[s.envName()] = v
		yv := v
		if strings.HasSuffix(s.key, "public_ips") || strings.HasSuffix(s.key, "_addrs") || s.key == "exchange.trusted_keys" ||
			s.key == "turn.external_urls" || s.key == "cluster.serves" || s.key == "auth.totp_roles" {
			yv = "[" + v + "]"
		}
		sec, k, nested := strings.Cut(s.key, ".")
		if !nested {
			top.WriteString(s.key + ": " + yv + "\n")
			continue
		}
		if sections[sec] == nil {
			sections[sec] = &strings.Builder{}
			order = append(order, sec)
		}
		sections[sec].WriteString("  " + k + ": " + yv + "\n")
	}
	for _, sec := range order {
		top.WriteString(sec + ":\n" + sections[sec].String())
	}
	file := writeFile(t, "all.yaml", top.String())
	fromFile, err := loadConfig([]string{"--config", file}, envMap(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("from file: %v", err)
	}
	fromEnv, err := loadConfig(nil, envMap(env), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("from env: %v", err)
	}
	if !reflect.DeepEqual(fromFile, fromEnv) {
		t.Errorf("file and environment disagree:\nfile %+v\nenv  %+v", fromFile, fromEnv)
	}
	if reflect.DeepEqual(fromFile, defaultConfig()) {
		t.Error("nothing changed from the defaults")
	}
}

// TestOperationsDocCoversSettings fails when a setting is added without documenting it.
func TestOperationsDocCoversSettings(t *testing.T) {
	for _, doc := range []string{"../../docs/operations.md", "../../README.md"} {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatalf("read %s: %v", doc, err)
		}
		for _, s := range settings {
			for _, name := range []string{"`" + s.key + "`", "`" + s.envName() + "`"} {
				if !bytes.Contains(data, []byte(name)) {
					t.Errorf("%s does not document %s", doc, name)
				}
			}
			if f := s.flagName(); f != "" && !bytes.Contains(data, []byte("`--"+f)) {
				t.Errorf("%s does not document --%s", doc, f)
			}
		}
	}
}

func TestTokenSecretPersists(t *testing.T) {
	cfg := defaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "nested", "data")
	log := zaptest.NewLogger(t)
	first, err := tokenSecret(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < 32 {
		t.Fatalf("generated secret of %d bytes", len(first))
	}
	fi, err := os.Stat(filepath.Join(cfg.DataDir, "token.secret"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token.secret mode %v, want 0600", fi.Mode().Perm())
	}
	second, err := tokenSecret(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("secret changed between starts: tokens would not survive a restart")
	}

	other := cfg
	other.DataDir = t.TempDir()
	third, err := tokenSecret(other, log)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, third) {
		t.Error("two data directories got the same secret")
	}

	configured := cfg
	configured.TokenSecret = strings.Repeat("c", 32)
	got, err := tokenSecret(configured, log)
	if err != nil || string(got) != configured.TokenSecret {
		t.Errorf("configured secret: got %q, %v", got, err)
	}
}

func TestTokenSecretFileCorrupt(t *testing.T) {
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "token.secret"), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := tokenSecret(cfg, zaptest.NewLogger(t))
	if err == nil || !strings.Contains(err.Error(), "删除它后重启") || !strings.Contains(err.Error(), "delete it and restart") {
		t.Fatalf("err = %v, want a bilingual error saying what to do", err)
	}
}
