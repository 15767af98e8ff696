//go:build windows

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/dirbridge/dirbridge/conf"
)

const serviceOnThisOS = true

// stateWait bounds how long start, stop and uninstall wait for the service
// to reach the state they asked for; the gateway's own drain is bounded
// below that.
const stateWait = 60 * time.Second

func serviceAction(ctx context.Context, sa serviceArgs, stdout, stderr io.Writer) error {
	switch sa.action {
	case "install":
		return installService(sa, stdout)
	case "uninstall":
		return uninstallService(sa, stdout)
	case "start":
		return startService(sa, stdout)
	case "stop":
		return stopService(sa, stdout)
	case "run":
		return runService(ctx, sa, stderr)
	}
	return usageError{fmt.Errorf("unknown action %q", sa.action)}
}

func connectSCM() (*mgr.Mgr, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, fmt.Errorf("cannot reach the service manager (run this from an Administrator prompt): %w", err)
	}
	return m, nil
}

// withService runs f on the installed service name, holding the service
// manager and the service handle for its duration.
func withService(name string, f func(s *mgr.Service) error) error {
	m, err := connectSCM()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(name)
	if err != nil {
		return fmt.Errorf("service %q is not installed: %w", name, err)
	}
	defer s.Close()
	return f(s)
}

func installService(sa serviceArgs, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find this program's path: %w", err)
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return err
	}
	// A configuration the service cannot load fails at every start; say so now.
	if _, err := conf.Load(sa.config, nil); err != nil {
		return err
	}
	m, err := connectSCM()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	if s, err := m.OpenService(sa.name); err == nil {
		s.Close()
		return fmt.Errorf("service %q is installed already; `dirbridge service uninstall --name %s` first", sa.name, sa.name)
	}
	cfg := mgr.Config{
		DisplayName:      serviceDisplayName,
		Description:      serviceDescription,
		StartType:        mgr.StartAutomatic,
		ServiceStartName: sa.account,
	}
	if sa.name != defaultServiceName {
		cfg.DisplayName = serviceDisplayName + " (" + sa.name + ")"
	}
	s, err := m.CreateService(sa.name, exe, cfg, sa.runArgs()...)
	if err != nil {
		return fmt.Errorf("cannot create service %q: %w", sa.name, err)
	}
	defer s.Close()
	// Restart after a crash or a failed start: at once, after 10 s, then
	// every minute; the count resets after a day without failure.
	if err := s.SetRecoveryActions([]mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 1 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 10 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 60 * time.Second},
	}, 24*60*60); err != nil {
		_ = s.Delete()
		return fmt.Errorf("cannot set the recovery actions of %q: %w", sa.name, err)
	}
	// A non-zero exit (the gateway refusing its configuration) counts as a
	// failure too, not only a crash.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		_ = s.Delete()
		return fmt.Errorf("cannot set the recovery actions of %q: %w", sa.name, err)
	}
	if err := eventlog.InstallAsEventCreate(sa.name, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		_ = s.Delete()
		return fmt.Errorf("cannot register the event log source %q: %w", sa.name, err)
	}
	fmt.Fprintf(stdout, "installed service %q (automatic start, as %s):\n  %s\n", sa.name, sa.account, serviceCommandLine(exe, sa.runArgs()))
	fmt.Fprintf(stdout, "logs: %s and the Application event log (source %q)\n", sa.logFileOrDefault(), sa.name)
	fmt.Fprintf(stdout, "start it with: dirbridge service start --name %s\n", sa.name)
	return nil
}

func uninstallService(sa serviceArgs, stdout io.Writer) error {
	return withService(sa.name, func(s *mgr.Service) error {
		if st, err := s.Query(); err == nil && st.State != svc.Stopped {
			if err := stopAndWait(s); err != nil {
				return err
			}
		}
		if err := s.Delete(); err != nil {
			return fmt.Errorf("cannot remove service %q: %w", sa.name, err)
		}
		if err := eventlog.Remove(sa.name); err != nil {
			return fmt.Errorf("service %q removed, but not its event log source: %w", sa.name, err)
		}
		fmt.Fprintf(stdout, "removed service %q and its event log source; the log file and state stay\n", sa.name)
		return nil
	})
}

func startService(sa serviceArgs, stdout io.Writer) error {
	return withService(sa.name, func(s *mgr.Service) error {
		if err := s.Start(); err != nil {
			return fmt.Errorf("cannot start service %q: %w", sa.name, err)
		}
		if err := waitState(s, svc.Running); err != nil {
			return fmt.Errorf("%w (its log file and the Application event log say why)", err)
		}
		fmt.Fprintf(stdout, "service %q is running\n", sa.name)
		return nil
	})
}

func stopService(sa serviceArgs, stdout io.Writer) error {
	return withService(sa.name, func(s *mgr.Service) error {
		if err := stopAndWait(s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "service %q is stopped\n", sa.name)
		return nil
	})
}

func stopAndWait(s *mgr.Service) error {
	if _, err := s.Control(svc.Stop); err != nil {
		return fmt.Errorf("cannot stop service %q: %w", s.Name, err)
	}
	return waitState(s, svc.Stopped)
}

// waitState polls until s is in want, for at most stateWait.
func waitState(s *mgr.Service, want svc.State) error {
	deadline := time.Now().Add(stateWait)
	for {
		st, err := s.Query()
		if err != nil {
			return fmt.Errorf("cannot query service %q: %w", s.Name, err)
		}
		if st.State == want {
			return nil
		}
		if want == svc.Running && st.State == svc.Stopped {
			return fmt.Errorf("service %q stopped while starting", s.Name)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("service %q did not reach state %d within %s (now %d)", s.Name, want, stateWait, st.State)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (sa serviceArgs) logFileOrDefault() string {
	if sa.logFile != "" {
		return sa.logFile
	}
	return defaultServiceLogFile(os.Getenv("ProgramData"))
}

// runService is what the service manager starts. Started any other way
// it refuses: `serve --config` is the command for a console.
func runService(ctx context.Context, sa serviceArgs, stderr io.Writer) error {
	isSvc, err := svc.IsWindowsService()
	if err != nil {
		return fmt.Errorf("cannot tell whether the service manager started this: %w", err)
	}
	if !isSvc {
		return usageError{errors.New("run is what the service manager starts; in a console use `dirbridge serve --config FILE`")}
	}
	logPath := sa.logFileOrDefault()
	if err := os.MkdirAll(filepath.Dir(logPath), 0o750); err != nil {
		return fmt.Errorf("cannot make the log folder %q: %w", filepath.Dir(logPath), err)
	}
	elog, elogErr := eventlog.Open(sa.name)
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		if elogErr == nil {
			_ = elog.Error(eventIDError, fmt.Sprintf("cannot open the log file %s (may the service account write it?): %v", logPath, err))
			elog.Close()
		}
		return fmt.Errorf("cannot open the log file %q: %w", logPath, err)
	}
	defer f.Close()
	var out io.Writer = f
	if elogErr == nil {
		defer elog.Close()
		out = io.MultiWriter(f, eventWriter{elog})
	} else {
		fmt.Fprintf(f, "event log source %q cannot be opened (reinstall the service): %v\n", sa.name, elogErr)
	}
	h := &serviceHandler{sa: sa, out: out, elog: elog}
	if err := svc.Run(sa.name, h); err != nil {
		return fmt.Errorf("service %q: %w", sa.name, err)
	}
	return h.err
}

type serviceHandler struct {
	sa   serviceArgs
	out  io.Writer
	elog *eventlog.Log // nil: not registered
	err  error
}

func (h *serviceHandler) info(msg string) {
	if h.elog != nil {
		_ = h.elog.Info(eventIDInfo, msg)
	}
}

// Execute runs the gateway until the service manager says stop or
// shutdown; then it cancels the gateway's context, which drains in-flight
// requests, and reports StopPending until the gateway has returned.
func (h *serviceHandler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	cfg, err := conf.Load(h.sa.config, nil)
	if err != nil {
		for _, line := range errorLines(err) {
			fmt.Fprintln(h.out, "[ERROR] dirbridge: "+line)
		}
		h.err = err
		return true, 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serveConfig(ctx, cfg, h.out) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	h.info(fmt.Sprintf("service %s started with %s", h.sa.name, h.sa.config))
	for {
		select {
		case err := <-done:
			// The gateway ended on its own: a failure the recovery actions
			// restart.
			if err == nil {
				err = errors.New("the gateway stopped without being asked")
			}
			for _, line := range errorLines(err) {
				fmt.Fprintln(h.out, "[ERROR] dirbridge: "+line)
			}
			h.err = err
			return true, 1
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32(stateWait / time.Millisecond)}
				cancel()
				err := <-done
				if err != nil && !errors.Is(err, context.Canceled) {
					for _, line := range errorLines(err) {
						fmt.Fprintln(h.out, "[ERROR] dirbridge: "+line)
					}
				}
				h.info(fmt.Sprintf("service %s stopped", h.sa.name))
				status <- svc.Status{State: svc.Stopped}
				return false, 0
			}
		}
	}
}
