//go:build !unix

package main

// onReload does nothing where there is no SIGHUP (Windows): a renewed
// certificate is taken at the service's restart.
func onReload(func()) (stop func()) { return func() {} }
