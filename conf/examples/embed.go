// Package examples holds the shipped example configurations and mapping
// tables; the embedded default mode reads its tables from here, so the
// tables it runs on are the ones the README documents.
package examples

import "embed"

// FS holds every file in this folder that ends in .toml.
//
//go:embed *.toml
var FS embed.FS
