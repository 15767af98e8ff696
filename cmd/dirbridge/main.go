// Command dirbridge is the SCIM-to-directory gateway. It owns the command
// line, signals, the logger and the wiring of conf, mapping, ldapside,
// testenv, bridge and scimside; nothing else knows every piece.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// The gateway's live heap is small and does not grow with the
	// directory (a page of entries, the pool, caches: a few MB), so Go's
	// default target, collect when the heap has doubled, collects every
	// few pages of an import and costs a quarter of the gateway's CPU.
	// Collecting at five times the live heap costs some MB of memory
	// instead (see the README's Performance section). GOGC, when set,
	// decides as usual.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// gcPercent is the garbage collector's target unless GOGC is set.
const gcPercent = 400

const usage = `usage: dirbridge <command> [flags]

commands:
  serve [--config FILE]   run the gateway; without --config, the embedded default
  check --config FILE     validate the config and tables and test the directory
  map --config FILE [--resource User|Group] [--file F]
                          show, as LDIF, what a SCIM resource (JSON) becomes; writes nothing
  version                 print the version
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = serveCmd(ctx, args[1:], stdout, stderr)
	case "check":
		err = checkCmd(ctx, args[1:], stdout, stderr)
	case "map":
		err = mapCmd(ctx, args[1:], os.Stdin, stdout)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "dirbridge %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "dirbridge: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "dirbridge: %v\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "dirbridge: %v\n", err)
		return 1
	}
	return 0
}

type usageError struct{ error }

func newLogger(level, format string, out io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "dirbridge",
		Level:      hclog.LevelFromString(strings.ToLower(level)),
		JSONFormat: strings.EqualFold(format, "json"),
		Output:     out,
	})
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}
