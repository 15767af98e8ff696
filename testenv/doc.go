// Package testenv owns the launchers for real directories used in tests
// and the bench, and a fault-injecting TCP proxy.
//
// The launchers (openldap.go, samba.go, replicated.go, process.go) are
// built on Unix only: they start Debian's slapd and samba by process group
// and signal them, which Windows has no equivalent of. The binary must not
// import this package (it would ship test code and fail to build for
// Windows); the embedded directory it serves lives in testenv/embedded,
// which imports no launcher.
package testenv
