//go:build !unix

package conf

import "os"

// othersMayRead: permission bits say nothing about who may read a file
// outside Unix (Windows has ACLs), so nothing is reported.
func othersMayRead(string) (os.FileMode, bool) { return 0, false }
