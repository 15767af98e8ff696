package ldapside

// PoolStats is a snapshot of the connection pool, for metrics.
type PoolStats struct {
	Size  int // connections that may exist at most
	InUse int // connections lent out to requests now
	Idle  int // bound connections waiting for a request
	// Server is the index in the configured URLs of the server in use
	// (0: the preferred one); Switches counts failovers and fail-backs.
	Server   int
	Switches int
}

// PoolStats reports the pool's use now.
func (c *Conn) PoolStats() PoolStats {
	p := c.pool
	size := cap(p.tokens)
	return PoolStats{Size: size, InUse: size - len(p.tokens), Idle: p.idleCount(),
		Server: int(c.active.Load()), Switches: int(c.failovers.Load())}
}

// DirectoryUp reports, for every configured URL, whether the last attempt
// to connect and bind there succeeded; the servers not in use are tried
// every standbyInterval (standby.go), and a URL not tried yet is false.
func (c *Conn) DirectoryUp() map[string]bool {
	out := make(map[string]bool, len(c.cfg.URLs))
	for _, u := range c.cfg.URLs {
		v, _ := c.up.Load(u)
		up, _ := v.(bool)
		out[u] = up
	}
	return out
}
