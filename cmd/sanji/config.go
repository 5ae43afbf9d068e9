package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"sanji/auth"
	"sanji/i18n"
	"sanji/scheduler/exchange"
	"sanji/sfu"
)

// config is everything `sanji serve` can be told. Layers, later wins: defaults, the YAML file
// (--config or SANJI_CONFIG), SANJI_* environment variables, command-line flags.
type config struct {
	// Listen is the HTTP address (web client, /ws, health, metrics). "127.0.0.1:0" picks a port.
	Listen string `yaml:"listen"`
	// Dev turns on development conveniences: POST /dev/token hands out join tokens to anyone.
	Dev bool `yaml:"dev"`
	// Demo seeds the demo tier tree and one user per role on a store that lacks it, and prints
	// their passwords once.
	Demo bool `yaml:"demo"`
	// DataDir holds state that must survive restarts (the generated token secret, later the database).
	DataDir string `yaml:"data_dir"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is json (for machines, the default) or console (for people).
	LogFormat string `yaml:"log_format"`
	// TokenSecret signs join tokens. Empty: generated once and kept in <DataDir>/token.secret.
	TokenSecret string `yaml:"token_secret"`
	// ShutdownTimeout bounds the graceful shutdown; after it connections are cut.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// ResumeGrace is how long a participant whose connection dropped keeps its place (its media,
	// its seat on stage) for the client to come back with its resume token; 0 turns resume off.
	ResumeGrace time.Duration `yaml:"resume_grace"`
	// ResumeGraceOnStage is the grace of a participant on a reception call's stage (the hall in a
	// hearing, the studio, units brought on): a hearing should outlive an outage an idle seat need
	// not. Shorter than ResumeGrace (or 0): the same as ResumeGrace.
	ResumeGraceOnStage time.Duration `yaml:"resume_grace_on_stage"`
	// RTC configures the media plane's sockets and candidates.
	RTC rtcConfig `yaml:"rtc"`
	// Store selects the scheduler's database.
	Store storeConfig `yaml:"store"`
	// Notify says where notices (invitations to hearings and their answers) go besides the log.
	Notify notifyConfig `yaml:"notify"`
	// Recording configures the hearings' recordings (同步录音录像).
	Recording recordingConfig `yaml:"recording"`
	// Exchange configures case bundles to and from other systems (docs/exchange.md).
	Exchange exchangeConfig `yaml:"exchange"`
	// Crypto chooses the cryptographic suite: intl or gm (国密) (suite.go), for seals, signatures
	// and the identity at rest (identity.go).
	Crypto cryptoConfig `yaml:"crypto"`
	// Auth configures the staff's login: who must give a second factor (twofactor.go).
	Auth authConfig `yaml:"auth"`
	// TLS serves HTTPS and WSS from the binary (firewall.go).
	TLS tlsConfig `yaml:"tls"`
	// OnePort carries ICE-TCP and TURN on the HTTPS port too, for halls that reach only TCP 443.
	OnePort bool `yaml:"one_port"`
	// TURN configures the embedded TURN server and external ones (firewall.go).
	TURN turnConfig `yaml:"turn"`
	// Limits bound uploads, bundles, sockets and joins (limits.go).
	Limits limitsConfig `yaml:"limits"`
	// Redis, when set, makes this node one of a cluster (cluster.go); Cluster describes the node.
	Redis   redisConfig   `yaml:"redis"`
	Cluster clusterConfig `yaml:"cluster"`
	// Identity says where the keys sealing the petitioners' identity come from (identity.go).
	Identity identityConfig `yaml:"identity"`
	// Log says what log lines may carry.
	Log logConfig `yaml:"log"`
	// Casework holds the petition rules a province sets (docs/casework.md).
	Casework caseworkConfig `yaml:"casework"`
	// Cases are the office's settings of case documents and ratings (cases.go).
	Cases casesConfig `yaml:"cases"`
}

// identityConfig gives the keys that seal the petitioners' identity at rest. Neither set: with
// SQLite, <DataDir>/identity.keys, generated on first start; PostgreSQL requires one of them.
type identityConfig struct {
	// KeyFile is a key file (internal/sealed's format), mode 0600.
	KeyFile string `yaml:"key_file"`
	// Keys is a key file's text itself (entries separated by newlines or ';'), for an environment
	// variable (SANJI_IDENTITY_KEYS) filled from a secret store; set, it wins over KeyFile.
	Keys string `yaml:"keys"`
}

// logConfig says what log lines may carry.
type logConfig struct {
	// ClientIP puts the client's address (a hall terminal's) in the signaling's log lines and in
	// the API's failed-login alert.
	ClientIP bool `yaml:"client_ip"`
}

// caseworkConfig holds the petition rules a province sets.
type caseworkConfig struct {
	// ForwardDaysPerLevel is the working days each level has to pass a forwarded matter on
	// (逐级转送); 0: the default, 5.
	ForwardDaysPerLevel int `yaml:"forward_days_per_level"`
}

// exchangeConfig says whose case bundles this system imports. Its own signing key is generated
// once and kept in <DataDir>/exchange.key.
type exchangeConfig struct {
	// TrustedKeys are the Ed25519 or SM2 public keys (base64 as GET /api/v1/exchange/public-key
	// gives them, or PEM) of the systems whose bundles are imported; this system's own keys are
	// always trusted.
	TrustedKeys []string `yaml:"trusted_keys"`
}

// recordingConfig configures where hearings are recorded, how they are sealed and how long they
// are kept.
type recordingConfig struct {
	// Dir holds one directory per hearing. Empty: <DataDir>/recordings.
	Dir string `yaml:"dir"`
	// Hash seals the recordings and the audit log: sha256 or sm3 (国密). Empty: the suite's.
	Hash string `yaml:"hash"`
	// Retention is how long a recording is kept after its case closed; 0 keeps it for ever.
	Retention time.Duration `yaml:"retention"`
}

// notifyConfig configures the scheduler's notices.
type notifyConfig struct {
	// WebhookURL receives every notice as a JSON POST; empty: no webhook.
	WebhookURL string `yaml:"webhook_url"`
	// WebhookSecret signs the webhook's body (HMAC-SHA256 in X-Sanji-Signature); empty: unsigned.
	WebhookSecret string `yaml:"webhook_secret"`
}

// storeConfig selects the database: SQLite under DataDir unless a PostgreSQL DSN is given.
type storeConfig struct {
	// DSN is a PostgreSQL connection string (postgres://user:pass@host:5432/sanji). Empty: the
	// embedded SQLite file <DataDir>/sanji.db.
	DSN string `yaml:"dsn"`
}

// rtcConfig is the part of the config handed to the SFU.
type rtcConfig struct {
	// ListenIP is the address the ICE sockets bind to. Unset, it follows the host of Listen.
	ListenIP string `yaml:"listen_ip"`
	// UDPPort carries all ICE UDP traffic (0 = any free port).
	UDPPort int `yaml:"udp_port"`
	// TCPPort is the ICE-TCP fallback (0 = any free port, -1 = off).
	TCPPort int `yaml:"tcp_port"`
	// PublicIPs are announced instead of the host addresses, for a server behind 1:1 NAT.
	PublicIPs []string `yaml:"public_ips"`
	// LoopbackOnly limits ICE candidates to loopback addresses. Unset, it is true exactly when
	// ListenIP is a loopback address.
	LoopbackOnly bool `yaml:"loopback_only"`
	// MaxDelay bounds the delay the SFU adds to a packet: what its forwarding reaches later is
	// dropped (and the subscriber stepped down a layer if it keeps lagging), not sent late.
	MaxDelay time.Duration `yaml:"max_delay"`
	// RelayPorts bound the UDP ports of the media relays between nodes ("50000-50199"; each
	// relay takes two); empty: any ephemeral port.
	RelayPorts string `yaml:"relay_ports"`
}

// relayPorts is RelayPorts as a range; ok is false when it is not "min-max" with
// 1024 ≤ min ≤ max ≤ 65535. Empty is the zero range.
func (r rtcConfig) relayPorts() (lo, hi uint16, ok bool) {
	if r.RelayPorts == "" {
		return 0, 0, true
	}
	a, b, found := strings.Cut(r.RelayPorts, "-")
	x, errA := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y, errB := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if !found || errA != nil || errB != nil || x < 1024 || x > y {
		return 0, 0, false
	}
	return uint16(x), uint16(y), true
}

const (
	defaultListen          = "127.0.0.1:8080"
	defaultDataDir         = "./data"
	defaultUDPPort         = 7882
	defaultTCPPort         = 7881
	defaultShutdownTimeout = 10 * time.Second
	defaultResumeGrace     = 30 * time.Second
	// defaultResumeGraceOnStage covers an outage of a few minutes (a township router restarting,
	// a radio link lost and found) without ending the hearing; the seat held meanwhile is the
	// hearing's own.
	defaultResumeGraceOnStage = 3 * time.Minute
)

// defaultConfig is what `sanji serve` runs with when nothing is configured: everything on
// loopback, so a fresh start exposes nothing to the network.
func defaultConfig() config {
	return config{
		Listen:             defaultListen,
		DataDir:            defaultDataDir,
		LogLevel:           "info",
		LogFormat:          "json",
		ShutdownTimeout:    defaultShutdownTimeout,
		ResumeGrace:        defaultResumeGrace,
		ResumeGraceOnStage: defaultResumeGraceOnStage,
		RTC: rtcConfig{
			ListenIP:     "127.0.0.1",
			UDPPort:      defaultUDPPort,
			TCPPort:      defaultTCPPort,
			LoopbackOnly: true,
			MaxDelay:     sfu.DefaultMaxDelay,
		},
		TURN:    defaultTURN(),
		Limits:  defaultLimits(),
		Crypto:  cryptoConfig{Suite: suiteIntl},
		Cluster: clusterConfig{Cascade: true},
	}
}

// setting is one configurable value: its YAML key, and how a string from the environment or a
// flag sets it. The environment variable and flag names derive from the key, so the three
// spellings cannot drift apart.
type setting struct {
	key    string // YAML key, dotted when nested: "rtc.udp_port"
	usage  string
	isBool bool
	noFlag bool // secrets stay out of the process list: no flag, only file or environment
	set    func(c *config, v string) error
}

// envName is the setting's environment variable, e.g. SANJI_RTC_UDP_PORT.
func (s setting) envName() string {
	return "SANJI_" + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

// flagName is the setting's flag, e.g. rtc-udp-port; "" when it has none.
func (s setting) flagName() string {
	if s.noFlag {
		return ""
	}
	return strings.NewReplacer(".", "-", "_", "-").Replace(s.key)
}

// settings lists every configurable value; the YAML struct tags above must match the keys.
var settings = []setting{
	{key: "listen", usage: "HTTP listen address (host:port; port 0 picks one)", set: func(c *config, v string) error {
		c.Listen = v
		return nil
	}},
	{key: "dev", usage: "development mode: enables POST /dev/token", isBool: true, set: func(c *config, v string) error {
		return parseBool(v, &c.Dev)
	}},
	{key: "demo", usage: "seed the demo tier tree and one user per role (passwords printed once)", isBool: true, set: func(c *config, v string) error {
		return parseBool(v, &c.Demo)
	}},
	{key: "store.dsn", usage: "PostgreSQL DSN; empty: SQLite in data_dir", noFlag: true, set: func(c *config, v string) error {
		c.Store.DSN = v
		return nil
	}},
	{key: "notify.webhook_url", usage: "URL that receives notices as JSON POSTs (empty: none)", set: func(c *config, v string) error {
		c.Notify.WebhookURL = v
		return nil
	}},
	{key: "notify.webhook_secret", usage: "HMAC-SHA256 key signing the webhook's body", noFlag: true, set: func(c *config, v string) error {
		c.Notify.WebhookSecret = v
		return nil
	}},
	{key: "recording.dir", usage: "directory of the hearings' recordings (default: data_dir/recordings)", set: func(c *config, v string) error {
		c.Recording.Dir = v
		return nil
	}},
	{key: "auth.totp_roles", usage: "comma-separated roles that must log in with TOTP (default: those that see identity or administer; none: nobody)", set: func(c *config, v string) error {
		c.Auth.TOTPRoles = splitList(v)
		return nil
	}},
	{key: "crypto.suite", usage: "cryptographic suite: intl (SHA-256, Ed25519, AES-256-GCM, HMAC-SHA-256) or gm (国密: SM3, SM2, SM4-GCM, HMAC-SM3)", set: func(c *config, v string) error {
		c.Crypto.Suite = v
		return nil
	}},
	{key: "recording.hash", usage: "hash sealing the recordings and the audit log: sha256 or sm3 (default: the suite's)", set: func(c *config, v string) error {
		c.Recording.Hash = v
		return nil
	}},
	{key: "recording.retention", usage: "how long recordings are kept after their case closed, e.g. 87600h (0 = for ever)", set: func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errMsg("cmd.config.not_duration", "value", strconv.Quote(v), "example", "87600h")
		}
		c.Recording.Retention = d
		return nil
	}},
	{key: "casework.forward_days_per_level", usage: "working days each level has to pass a forwarded matter on (default 5)", set: func(c *config, v string) error {
		return parseInt(v, &c.Casework.ForwardDaysPerLevel)
	}},
	{key: "exchange.trusted_keys", usage: "comma-separated Ed25519 or SM2 public keys (base64) whose case bundles are imported", set: func(c *config, v string) error {
		c.Exchange.TrustedKeys = splitList(v)
		return nil
	}},
	{key: "data_dir", usage: "directory for state kept across restarts", set: func(c *config, v string) error {
		c.DataDir = v
		return nil
	}},
	{key: "log_level", usage: "log level: debug, info, warn, error", set: func(c *config, v string) error {
		c.LogLevel = v
		return nil
	}},
	{key: "log_format", usage: "log format: json or console", set: func(c *config, v string) error {
		c.LogFormat = v
		return nil
	}},
	{key: "identity.key_file", usage: "key file sealing the petitioners' identity (default with SQLite: data_dir/identity.keys, generated)", set: func(c *config, v string) error {
		c.Identity.KeyFile = v
		return nil
	}},
	{key: "identity.keys", usage: "the identity keys' text itself (instead of a file)", noFlag: true, set: func(c *config, v string) error {
		c.Identity.Keys = v
		return nil
	}},
	{key: "log.client_ip", usage: "log the client's address (hall terminals) in signaling's log lines and the failed-login alert", isBool: true, set: func(c *config, v string) error {
		return parseBool(v, &c.Log.ClientIP)
	}},
	{key: "token_secret", usage: "HMAC secret for join tokens (≥ 32 characters)", noFlag: true, set: func(c *config, v string) error {
		c.TokenSecret = v
		return nil
	}},
	{key: "shutdown_timeout", usage: "longest graceful shutdown, e.g. 10s", set: func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errMsg("cmd.config.not_duration", "value", strconv.Quote(v), "example", "10s")
		}
		c.ShutdownTimeout = d
		return nil
	}},
	{key: "resume_grace", usage: "how long a dropped participant keeps its place for a resume, e.g. 30s (0 = off)", set: func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errMsg("cmd.config.not_duration", "value", strconv.Quote(v), "example", "30s")
		}
		c.ResumeGrace = d
		return nil
	}},
	{key: "resume_grace_on_stage", usage: "how long a dropped participant on a reception call's stage keeps its place, e.g. 3m (0 = as resume_grace)", set: func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errMsg("cmd.config.not_duration", "value", strconv.Quote(v), "example", "3m")
		}
		c.ResumeGraceOnStage = d
		return nil
	}},
	{key: "rtc.listen_ip", usage: "IP the ICE sockets bind to (default: host of --listen)", set: func(c *config, v string) error {
		c.RTC.ListenIP = v
		return nil
	}},
	{key: "rtc.udp_port", usage: "ICE UDP port, all media on one port (0 = any)", set: func(c *config, v string) error {
		return parseInt(v, &c.RTC.UDPPort)
	}},
	{key: "rtc.tcp_port", usage: "ICE-TCP port (0 = any, -1 = off)", set: func(c *config, v string) error {
		return parseInt(v, &c.RTC.TCPPort)
	}},
	{key: "rtc.public_ips", usage: "comma-separated public IPs announced for 1:1 NAT", set: func(c *config, v string) error {
		c.RTC.PublicIPs = splitList(v)
		return nil
	}},
	{key: "rtc.loopback_only", usage: "offer only loopback ICE candidates (default: when rtc.listen_ip is loopback)", isBool: true, set: func(c *config, v string) error {
		return parseBool(v, &c.RTC.LoopbackOnly)
	}},
	{key: "rtc.relay_ports", usage: "UDP port range of the media relays between cluster nodes, e.g. 50000-50199 (default: any)", set: func(c *config, v string) error {
		c.RTC.RelayPorts = v
		return nil
	}},
	{key: "rtc.max_delay", usage: "most delay the SFU adds to a packet before it drops it, e.g. 100ms", set: func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errMsg("cmd.config.not_duration", "value", strconv.Quote(v), "example", "100ms")
		}
		c.RTC.MaxDelay = d
		return nil
	}},
}

// splitList reads a comma-separated list, leaving out empty entries.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func parseBool(v string, dst *bool) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errMsg("cmd.config.not_boolean", "value", strconv.Quote(v))
	}
	*dst = b
	return nil
}

func parseInt(v string, dst *int) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return errMsg("cmd.config.not_integer", "value", strconv.Quote(v))
	}
	*dst = n
	return nil
}

// flagValue is a flag seen on the command line, applied after the file and the environment.
type flagValue struct {
	s     setting
	value string
}

// loadConfig builds the serve command's config from args (after "serve"), the environment
// (through getenv, so tests need not touch the process environment) and the YAML file they
// name. It returns flag.ErrHelp when -h or --help was asked for; usage went to out.
func loadConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("sanji serve", flag.ContinueOnError)
	fs.SetOutput(out)
	configPath := fs.String("config", "", "YAML config file (env SANJI_CONFIG)")
	var seen []flagValue
	for _, s := range settings {
		name := s.flagName()
		if name == "" {
			continue
		}
		record := func(v string) error {
			seen = append(seen, flagValue{s: s, value: v})
			return nil
		}
		if s.isBool {
			fs.BoolFunc(name, s.usage, record)
		} else {
			fs.Func(name, s.usage, record)
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(out, "%s: sanji serve [flags]\n\n", msg("cmd.usage.label"))
		fs.PrintDefaults()
		fmt.Fprintf(out, "\n%s:\n", msg("cmd.usage.serve_env"))
		for _, s := range settings {
			fmt.Fprintf(out, "  %-22s %s\n", s.key, s.envName())
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, wrapMsg(err, "cmd.config.bad_command_line")
	}
	if fs.NArg() > 0 {
		return config{}, errMsg("cmd.config.stray_argument", "arg", strconv.Quote(fs.Arg(0)))
	}

	cfg := defaultConfig()
	// explicit records which keys some layer set, so derived defaults do not override them.
	explicit := map[string]bool{}

	path := *configPath
	if path == "" {
		path = getenv("SANJI_CONFIG")
	}
	if path != "" {
		keys, err := loadConfigFile(path, &cfg)
		if err != nil {
			return config{}, err
		}
		for _, k := range keys {
			explicit[k] = true
		}
	}
	for _, s := range settings {
		// An empty variable counts as unset: `SANJI_X=` in a compose file should not blank a value.
		v := getenv(s.envName())
		if v == "" {
			continue
		}
		if err := s.set(&cfg, v); err != nil {
			return config{}, wrapMsg(err, "cmd.config.bad_env", "name", s.envName())
		}
		explicit[s.key] = true
	}
	for _, f := range seen {
		if err := f.s.set(&cfg, f.value); err != nil {
			return config{}, wrapMsg(err, "cmd.config.bad_flag", "name", f.s.flagName())
		}
		explicit[f.s.key] = true
	}

	if err := deriveDefaults(&cfg, explicit); err != nil {
		return config{}, err
	}
	if err := cfg.validate(); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// deriveDefaults fills the values whose default depends on other values. Binding the ICE sockets
// where the HTTP server listens means `--listen 0.0.0.0:8080` alone makes calls work from other
// machines, instead of serving pages whose media can never connect.
func deriveDefaults(c *config, explicit map[string]bool) error {
	if !explicit["rtc.listen_ip"] {
		host, _, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return nil // validate reports the bad address
		}
		switch {
		case host == "":
			c.RTC.ListenIP = "0.0.0.0"
		case host == "localhost":
			c.RTC.ListenIP = "127.0.0.1"
		case net.ParseIP(host) != nil:
			c.RTC.ListenIP = host
		default:
			return errMsg("cmd.config.listen_host_name", "host", strconv.Quote(host))
		}
	}
	if !explicit["rtc.loopback_only"] {
		ip := net.ParseIP(c.RTC.ListenIP)
		c.RTC.LoopbackOnly = ip != nil && ip.IsLoopback()
	}
	return nil
}

// loadConfigFile decodes the YAML file at path onto cfg and returns the keys it set (dotted).
// Unknown keys are an error naming the key: a misspelt setting silently ignored is a setting
// that is silently wrong.
func loadConfigFile(path string, cfg *config) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, wrapMsg(err, "cmd.config.file_unreadable", "path", path)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, wrapMsg(err, "cmd.config.file_not_yaml", "path", path)
	}
	if len(root.Content) == 0 {
		return nil, nil // an empty file configures nothing
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.key] = true
		if i := strings.LastIndex(s.key, "."); i > 0 {
			known[s.key[:i]] = true // a section such as "rtc"
		}
	}
	var keys []string
	if err := walkKeys(root.Content[0], "", known, &keys, path); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // backstop for anything walkKeys lets through
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, wrapMsg(err, "cmd.config.file_invalid", "path", path)
	}
	return keys, nil
}

// walkKeys checks every mapping key under n against known and collects the leaf keys present.
func walkKeys(n *yaml.Node, prefix string, known map[string]bool, keys *[]string, path string) error {
	if n.Kind != yaml.MappingNode {
		if prefix == "" {
			return errMsg("cmd.config.file_not_mapping", "path", path)
		}
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		if !known[key] {
			return errMsg("cmd.config.file_unknown_key", "path", path, "line", k.Line, "key", strconv.Quote(key), "known", knownKeys())
		}
		if v.Kind == yaml.MappingNode {
			if err := walkKeys(v, key, known, keys, path); err != nil {
				return err
			}
			continue
		}
		*keys = append(*keys, key)
	}
	return nil
}

func knownKeys() string {
	var ks []string
	for _, s := range settings {
		ks = append(ks, s.key)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// serverStore is the server's configuration as a subcommand on its machine sees it (the
// server's file and SANJI_* variables, configPath and dataDir, when set, as the server's flags),
// for a subcommand that works on the server's store. It says on stderr what is wrong, and false,
// for a bad configuration or a SQLite database that is not there: opening it would create an
// empty one, where the person meant another directory.
func serverStore(configPath, dataDir string, getenv func(string) string, stderr io.Writer) (config, bool) {
	var args []string
	if configPath != "" {
		args = append(args, "--config", configPath)
	}
	if dataDir != "" {
		args = append(args, "--data-dir", dataDir)
	}
	cfg, err := loadConfig(args, getenv, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", msg("cmd.main.config_error"), err)
		return cfg, false
	}
	if cfg.Store.DSN != "" {
		return cfg, true
	}
	path := filepath.Join(cfg.DataDir, storeFile)
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintln(stderr, msg("cmd.password.no_store", "path", path))
		return cfg, false
	}
	return cfg, true
}

// validate reports every problem at once, so a person fixes the config in one go.
func (c config) validate() error {
	var errs []error
	bad := func(k i18n.Key, args ...any) { errs = append(errs, errMsg(k, args...)) }

	// Host names are allowed: the listener resolves them and its error names the host.
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("cmd.config.listen_address", "addr", strconv.Quote(c.Listen))
	} else {
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad("cmd.config.listen_port", "port", strconv.Quote(port))
		}
	}
	if c.DataDir == "" {
		bad("cmd.config.data_dir_empty")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("cmd.config.log_level", "level", strconv.Quote(c.LogLevel))
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		bad("cmd.config.log_format", "format", strconv.Quote(c.LogFormat))
	}
	if c.TokenSecret != "" && len(c.TokenSecret) < auth.MinSecretLen {
		bad("cmd.config.token_secret_short", "min", auth.MinSecretLen)
	}
	if d := c.Store.DSN; d != "" && !strings.HasPrefix(d, "postgres://") && !strings.HasPrefix(d, "postgresql://") && !strings.Contains(d, "host=") {
		bad("cmd.config.store_dsn")
	}
	if u := c.Notify.WebhookURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		bad("cmd.config.webhook_url", "url", strconv.Quote(u))
	}
	if h := c.Recording.Hash; h != "" && h != "sha256" && h != "sm3" {
		bad("cmd.config.recording_hash", "hash", strconv.Quote(h))
	}
	if c.Recording.Retention < 0 {
		bad("cmd.config.recording_retention")
	}
	if n := c.Casework.ForwardDaysPerLevel; n < 0 || n > 15 {
		bad("cmd.casework.forward_days_per_level")
	}
	c.validateSuite(bad)
	c.Auth.validate(bad)
	for i, k := range c.Exchange.TrustedKeys {
		if _, err := exchange.ParsePublicKey(k); err != nil {
			bad("cmd.config.trusted_key", "n", i+1)
		}
	}
	if c.ShutdownTimeout <= 0 {
		bad("cmd.config.shutdown_timeout")
	}
	if c.ResumeGrace < 0 {
		bad("cmd.resume.grace")
	}
	if c.ResumeGraceOnStage < 0 {
		bad("cmd.resume.grace_on_stage")
	}
	if c.RTC.MaxDelay <= 0 {
		bad("cmd.sendpath.max_delay")
	}
	if _, _, ok := c.RTC.relayPorts(); !ok {
		bad("cmd.relayports.range", "value", strconv.Quote(c.RTC.RelayPorts))
	}
	if c.RTC.UDPPort < 0 || c.RTC.UDPPort > 65535 {
		bad("cmd.config.udp_port", "port", c.RTC.UDPPort)
	}
	if c.RTC.TCPPort < -1 || c.RTC.TCPPort > 65535 {
		bad("cmd.config.tcp_port", "port", c.RTC.TCPPort)
	}
	listenIP := net.ParseIP(c.RTC.ListenIP)
	if listenIP == nil {
		bad("cmd.config.listen_ip", "ip", strconv.Quote(c.RTC.ListenIP))
	}
	for _, s := range c.RTC.PublicIPs {
		ip := net.ParseIP(s)
		switch {
		case ip == nil:
			bad("cmd.config.public_ip", "ip", strconv.Quote(s))
		case ip.IsUnspecified():
			bad("cmd.config.public_ip_unspecified", "ip", s)
		}
	}
	errs = append(errs, c.validateFirewall()...)
	errs = append(errs, c.validateLimits()...)
	errs = append(errs, c.validateCluster()...)
	if c.RTC.LoopbackOnly {
		if listenIP != nil && !listenIP.IsLoopback() && !listenIP.IsUnspecified() {
			bad("cmd.config.loopback_listen_ip", "ip", c.RTC.ListenIP)
		}
		if len(c.RTC.PublicIPs) > 0 {
			bad("cmd.config.loopback_public_ips")
		}
	}
	return errors.Join(errs...)
}
