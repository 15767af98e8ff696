package ldapside

// PoolStats is a snapshot of the connection pool, for metrics.
type PoolStats struct {
	Size  int // connections that may exist at most
	InUse int // connections lent out to requests now
	Idle  int // bound connections waiting for a request
}

// PoolStats reports the pool's use now.
func (c *Conn) PoolStats() PoolStats {
	p := c.pool
	size := cap(p.tokens)
	return PoolStats{Size: size, InUse: size - len(p.tokens), Idle: p.idleCount()}
}
