//go:build !race

package sitelink

const raceBuild = false
