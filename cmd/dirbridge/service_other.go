//go:build !windows

package main

import (
	"context"
	"errors"
	"io"
)

const serviceOnThisOS = false

// serviceAction: the service manager is Windows'; elsewhere systemd runs
// `dirbridge serve`.
func serviceAction(_ context.Context, _ serviceArgs, _, _ io.Writer) error {
	return usageError{errors.New("the service command is for Windows; on Linux, run `dirbridge serve --config FILE` under the systemd unit (docs/install.md)")}
}
