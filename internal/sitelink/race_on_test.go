//go:build race

package sitelink

// raceBuild: the race detector is on; sync.Pool then drops what it is given at random, so a
// count of allocations means nothing.
const raceBuild = true
