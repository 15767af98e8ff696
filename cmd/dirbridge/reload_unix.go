//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// onReload calls reload on every SIGHUP until the returned stop is called.
// Without it SIGHUP would end the process, as its default action does.
func onReload(reload func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				reload()
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
