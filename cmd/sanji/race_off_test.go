//go:build !race

package main

// raceBuild: the tests run without the race detector; so do the nodes they start as processes.
const raceBuild = false
