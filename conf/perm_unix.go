//go:build unix

package conf

import "os"

// othersMayRead reports whether group or others may read file, and its
// permission bits. A file that cannot be stat'ed is not reported here:
// reading it fails, and that is a problem of its own.
func othersMayRead(file string) (os.FileMode, bool) {
	fi, err := os.Stat(file)
	if err != nil {
		return 0, false
	}
	return fi.Mode().Perm(), fi.Mode().Perm()&0o044 != 0
}
