// Package layering holds no code: its test checks the direction of the imports between Sanji's
// packages (docs/architecture.md, "Direction of dependencies"). The rules are the table in
// layering_test.go.
package layering
