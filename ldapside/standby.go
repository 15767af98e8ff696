package ldapside

import (
	"context"
	"time"
)

// The servers not in use are checked too. One server at a time means a
// standby is never dialled while the preferred one serves, so without a
// check dirbridge_directory_up could not tell a standby that would take
// over from one that is gone: a dead standby would show only at the
// failover that needs it. Every standbyInterval each configured server
// other than the active one gets a connection and the service bind, and
// nothing else; the result is its directory_up, and a change is logged.

// standbyInterval is how often the servers not in use are checked. Open
// copies it (tests shorten it before Open).
var standbyInterval = 30 * time.Second

// startStandbyChecks checks the servers not in use now and then every
// standbyInterval, until Close; with one URL there are none.
func (c *Conn) startStandbyChecks() {
	if len(c.cfg.URLs) < 2 {
		return
	}
	go c.standbyLoop(standbyInterval)
}

func (c *Conn) standbyLoop(every time.Duration) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
		}
		cur := int(c.active.Load())
		for i, u := range c.cfg.URLs {
			if i != cur {
				c.noteStandby(u, c.checkStandby(u))
			}
		}
		t.Reset(every)
	}
}

// checkStandby connects to raw and binds as the service account, as a
// pooled connection would, without the pool's logging (noteStandby logs
// a change only).
func (c *Conn) checkStandby(raw string) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.DialTimeout)
	defer cancel()
	l, _, err := c.dialGoLDAP(ctx, raw)
	if err != nil {
		return err
	}
	defer l.Close()
	return l.Bind(c.cfg.BindDN, c.cfg.BindPassword)
}

// noteStandby records a standby check and logs what changed: the first
// failure and the first success after one.
func (c *Conn) noteStandby(u string, err error) {
	prev, known := c.up.Swap(u, err == nil)
	wasUp, _ := prev.(bool)
	switch {
	case err != nil && (!known || wasUp):
		c.log.Warn("standby directory server does not answer the service bind: a failover to it would fail", "url", u, "error", err)
	case err == nil && known && !wasUp:
		c.log.Info("standby directory server answers", "url", u)
	}
}
