// Package apidocs embeds the HTTP API's OpenAPI description (openapi.yaml beside this file), so
// the server serves the same document people read in the repository.
package apidocs

import _ "embed"

// OpenAPI is docs/api/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
