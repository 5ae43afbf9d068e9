package apidocs

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestOpenAPIParses keeps the document valid YAML with the OpenAPI 3 skeleton; the scheduler/api
// tests check that it describes every route.
func TestOpenAPIParses(t *testing.T) {
	var doc struct {
		OpenAPI string         `yaml:"openapi"`
		Info    map[string]any `yaml:"info"`
		Paths   map[string]map[string]struct {
			Summary   string         `yaml:"summary"`
			Responses map[string]any `yaml:"responses"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if doc.OpenAPI != "3.0.3" || doc.Info["title"] == nil || len(doc.Paths) < 20 {
		t.Fatalf("openapi.yaml: version %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if method == "parameters" {
				continue
			}
			if op.Summary == "" || len(op.Responses) == 0 {
				t.Errorf("%s %s lacks a summary or responses", method, path)
			}
		}
	}
}
