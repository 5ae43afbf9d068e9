//go:build race

package main

// raceBuild: the tests run with the race detector, and so do the nodes they start as processes.
const raceBuild = true
