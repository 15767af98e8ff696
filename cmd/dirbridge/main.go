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
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/dirbridge/dirbridge/conf"
	"github.com/dirbridge/dirbridge/mapping"
)

func main() {
	// Until serve knows its memory budget (applyMemoryLimit), the
	// collector runs at gcPercent; GOGC, when set, decides as usual.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// gcPercent is the garbage collector's target when no memory limit is in
// force (GOMEMLIMIT=off) and GOGC is not set: the gateway's live heap is
// small, so Go's default, collect when the heap has doubled, collects every
// few pages of an import and costs a quarter of the gateway's CPU.
const gcPercent = 400

// The gateway runs in a fixed memory budget: a soft memory limit, and no
// collection before the heap reaches it (GOGC off), so that its RSS is the
// budget whatever the directory's size rather than a multiple of a live
// heap that grows with it (the DN index's ~49 B per id, up to
// users.dn_index ids). A collector that ran at five times the live heap
// made RSS grow 1.6-1.8x from 10,000 to 100,000 users in make bench. The
// budget is the room an import or a large group PATCH works in plus what
// the two caches hold when full, so they never leave the collector
// without room: ~1.2 KB per remembered entry (bridge.DefaultEntryCache)
// and ~49 B per DN index id (bridge.TestDNIndexMemory), ~43 MiB with the
// defaults (5,000 entries, 250,000 ids). GOMEMLIMIT, when set, decides the
// budget (docs/operations.md: raise it for a large users.entry_cache), and
// GOGC, when set, when the collector runs.
const (
	memoryLimitBase     = 24 << 20
	memoryLimitPerEntry = 1280
	memoryLimitPerDN    = 52
)

// memoryLimit is the soft memory limit for a users service remembering
// entryCache entries and the DNs of dnIndex ids.
func memoryLimit(entryCache, dnIndex int) int64 {
	return memoryLimitBase + int64(max(entryCache, 0))*memoryLimitPerEntry + int64(max(dnIndex, 0))*memoryLimitPerDN
}

// applyMemoryLimit sets memoryLimit(entryCache, dnIndex) unless GOMEMLIMIT
// is set, turns the collector's own target off while a limit is in force
// (unless GOGC is set), and returns the limit in force (math.MaxInt64:
// none).
func applyMemoryLimit(entryCache, dnIndex int) int64 {
	var limit int64
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		limit = debug.SetMemoryLimit(-1) // the runtime's, from the variable
	} else {
		limit = memoryLimit(entryCache, dnIndex)
		debug.SetMemoryLimit(limit)
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		if limit == math.MaxInt64 {
			// GOMEMLIMIT=off: without a budget the collector needs a target.
			debug.SetGCPercent(gcPercent)
		} else {
			debug.SetGCPercent(-1)
		}
	}
	return limit
}

// commands are what the usage lists, in this order. Each command's flags
// are its own flag.FlagSet's, printed by parseFlags when it is asked for
// help or given a wrong flag.
var commands = []struct{ name, synopsis, summary string }{
	{"serve", "serve [--config FILE] [flags]", "run the gateway; without --config, on the embedded directory (loopback only)"},
	{"check", "check --config FILE [flags]", "validate the configuration and tables and test the directory; exit 0 ready, 1 not, 2 usage"},
	{"map", "map --config FILE [--resource User|Group] [--file F]", "show, as LDIF, what a SCIM resource (JSON) becomes; writes nothing"},
	{"service", "service install|uninstall|start|stop [flags]", "Windows: run the gateway as a Windows service (docs/windows.md)"},
	{"version", "version", "print the version"},
	{"help", "help [command]", "print this, or a command's usage and flags"},
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: dirbridge <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-52s %s\n", c.synopsis, c.summary)
	}
	b.WriteString("\n'dirbridge help <command>' or 'dirbridge <command> --help' lists a command's flags.\n")
	return b.String()
}

// commandUsage is a command's usage with every flag of fs (nil: none).
func commandUsage(name string, fs *flag.FlagSet) string {
	var b strings.Builder
	for _, c := range commands {
		if c.name == name {
			fmt.Fprintf(&b, "usage: dirbridge %s\n\n%s\n", c.synopsis, c.summary)
		}
	}
	if fs != nil {
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			b.WriteString("\nflags:\n")
			fs.SetOutput(&b)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	return b.String()
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
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
	case "service":
		err = serviceCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		if err = parseFlags(flag.NewFlagSet("version", flag.ContinueOnError), args[1:]); err == nil {
			fmt.Fprint(stdout, versionText(currentBuild()))
		}
	case "help", "-h", "--help", "-help":
		switch {
		case len(args) == 1:
			fmt.Fprint(stdout, usage())
			return 0
		case len(args) == 2 && args[1] != "help" && isCommand(args[1]):
			return run([]string{args[1], "--help"}, stdout, stderr)
		case len(args) == 2 && args[1] == "help":
			fmt.Fprint(stdout, commandUsage("help", nil))
			return 0
		}
		fmt.Fprintf(stderr, "dirbridge: help %s: no such command\n\n%s", strings.Join(args[1:], " "), usage())
		return 2
	default:
		fmt.Fprintf(stderr, "dirbridge: unknown command %q\n\n%s", args[0], usage())
		return 2
	}
	if err != nil {
		var he helpRequested
		if errors.As(err, &he) {
			fmt.Fprint(stdout, he.usage)
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "dirbridge %s: %v\n\n", args[0], ue.error)
			var wu withUsage
			if errors.As(ue.error, &wu) {
				fmt.Fprint(stderr, wu.usage)
			} else {
				fmt.Fprint(stderr, commandUsage(args[0], nil)+fmt.Sprintf("\n'dirbridge %s --help' lists its flags.\n", args[0]))
			}
			return 2
		}
		printError(stderr, err)
		return 1
	}
	return 0
}

func isCommand(name string) bool {
	for _, c := range commands {
		if c.name == name {
			return true
		}
	}
	return false
}

// usageError is a command line that does not say what to do: exit 2, with
// the command's usage (its flags when a withUsage inside carries them).
type usageError struct{ error }

// withUsage is a flag parsing error with the usage of the command's flags.
type withUsage struct {
	error
	usage string
}

func (w withUsage) Unwrap() error { return w.error }

// helpRequested is -h or --help: the usage on standard output, exit 0.
type helpRequested struct{ usage string }

func (helpRequested) Error() string { return "help requested" }

// printError writes err to w: a configuration's or a table's problems one
// a line as they are ("FILE:LINE: key: problem — what to do", which editors
// and people can follow), anything else after "dirbridge: ".
func printError(w io.Writer, err error) {
	for _, line := range errorLines(err) {
		fmt.Fprintln(w, line)
	}
}

func errorLines(err error) []string {
	for cur := err; cur != nil; {
		var cle *conf.LoadError
		var mle *mapping.LoadError
		switch {
		case errors.As(cur, &cle) && cur == error(cle):
			return strings.Split(cle.Error(), "\n")
		case errors.As(cur, &mle) && cur == error(mle):
			return strings.Split(mle.Error(), "\n")
		}
		if j, ok := cur.(interface{ Unwrap() []error }); ok {
			var lines []string
			for _, e := range j.Unwrap() {
				lines = append(lines, errorLines(e)...)
			}
			return lines
		}
		cur = errors.Unwrap(cur)
	}
	return []string{"dirbridge: " + err.Error()}
}

func newLogger(level, format string, out io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "dirbridge",
		Level:      hclog.LevelFromString(strings.ToLower(level)),
		JSONFormat: strings.EqualFold(format, "json"),
		Output:     out,
	})
}

// parseFlags parses a command's flags. -h and --help return helpRequested
// with the command's usage; a wrong flag or an argument returns a
// usageError with it. The flag package's own printing is off: run decides
// where usage goes (standard output when asked for, standard error on a
// mistake).
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpRequested{commandUsage(fs.Name(), fs)}
		}
		return usageError{withUsage{err, commandUsage(fs.Name(), fs)}}
	}
	if fs.NArg() > 0 {
		return usageError{withUsage{fmt.Errorf("unexpected argument %q", fs.Arg(0)), commandUsage(fs.Name(), fs)}}
	}
	return nil
}
