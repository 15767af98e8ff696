package main

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/journal"
	"github.com/dirbridge/dirbridge/ldapside"
	"github.com/dirbridge/dirbridge/scimside"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics holds the Prometheus collectors of one gateway: SCIM requests by
// route and status, directory operations by operation and outcome, and the
// LDAP pool's use. A registry of its own (not the global one) keeps tests
// and several gateways in one process apart.
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	reqSeconds *prometheus.HistogramVec
	dirOps     *prometheus.CounterVec
	dirSeconds *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirbridge_scim_requests_total", Help: "SCIM requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		reqSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dirbridge_scim_request_duration_seconds", Help: "SCIM request latency by route and method.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"route", "method"}),
		dirOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirbridge_directory_operations_total", Help: "Directory operations by operation and outcome (ok or the error kind).",
		}, []string{"op", "outcome"}),
		dirSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dirbridge_directory_operation_duration_seconds", Help: "Directory operation latency by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"op"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dirbridge_build_info", Help: "Always 1; the labels say which build runs.",
	}, []string{"version", "commit", "go_version"})
	b := currentBuild()
	build.WithLabelValues(b.Version, b.Commit, b.GoVersion).Set(1)
	m.reg.MustRegister(build, m.requests, m.reqSeconds, m.dirOps, m.dirSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records a finished SCIM request.
func (m *metrics) observe(s scimside.RequestStats) {
	m.requests.WithLabelValues(s.Route, s.Method, strconv.Itoa(s.Status)).Inc()
	m.reqSeconds.WithLabelValues(s.Route, s.Method).Observe(s.Duration.Seconds())
}

// watchPool exports the pool's use when the directory has one.
func (m *metrics) watchPool(dir bridge.Directory) {
	p, ok := dir.(interface{ PoolStats() ldapside.PoolStats })
	if !ok {
		return
	}
	gauge := func(name, help string, f func(ldapside.PoolStats) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(f(p.PoolStats())) })
	}
	m.reg.MustRegister(
		gauge("dirbridge_ldap_pool_size", "Connections the LDAP pool may hold.", func(s ldapside.PoolStats) int { return s.Size }),
		gauge("dirbridge_ldap_pool_in_use", "LDAP connections lent to requests now.", func(s ldapside.PoolStats) int { return s.InUse }),
		gauge("dirbridge_ldap_pool_idle", "Bound LDAP connections waiting.", func(s ldapside.PoolStats) int { return s.Idle }),
		gauge("dirbridge_ldap_server_index", "Position in ldap.urls of the directory server in use (0: the first).", func(s ldapside.PoolStats) int { return s.Server }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "dirbridge_ldap_server_switches_total", Help: "Failovers to another directory server and fail-backs."},
			func() float64 { return float64(p.PoolStats().Switches) }),
	)
}

// watchDirectoryUp exports, per ldap.urls entry, whether the last attempt
// to connect and bind there succeeded.
func (m *metrics) watchDirectoryUp(dir bridge.Directory) {
	d, ok := dir.(interface{ DirectoryUp() map[string]bool })
	if !ok {
		return
	}
	m.reg.MustRegister(&upCollector{f: d.DirectoryUp, desc: prometheus.NewDesc("dirbridge_directory_up",
		"1 when the last connection and service bind to this directory URL succeeded (servers not in use are checked every 30s), 0 when it failed or was not tried yet.", []string{"url"}, nil)})
}

type upCollector struct {
	f    func() map[string]bool
	desc *prometheus.Desc
}

func (c *upCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *upCollector) Collect(ch chan<- prometheus.Metric) {
	for u, up := range c.f() {
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, u)
	}
}

// watchReadAhead exports what the list read-ahead did.
func (m *metrics) watchReadAhead(ra *bridge.ReadAhead) {
	counter := func(name, help string, f func(bridge.ReadAheadStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(ra.Stats())) })
	}
	m.reg.MustRegister(
		counter("dirbridge_list_read_ahead_hits_total", "List pages answered from a page fetched ahead.", func(s bridge.ReadAheadStats) uint64 { return s.Hits }),
		counter("dirbridge_list_read_ahead_misses_total", "Pages of a walk that had to be read when asked for.", func(s bridge.ReadAheadStats) uint64 { return s.Misses }),
		counter("dirbridge_list_read_ahead_dropped_total", "Pages fetched ahead and dropped unused (a write, age, room).", func(s bridge.ReadAheadStats) uint64 { return s.Dropped }),
	)
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// meteredDirectory counts and times every directory operation.
type meteredDirectory struct {
	bridge.Directory
	m *metrics
}

var _ bridge.Directory = meteredDirectory{}

func (d meteredDirectory) done(op string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = bridge.KindOf(err).String()
	}
	d.m.dirOps.WithLabelValues(op, outcome).Inc()
	d.m.dirSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (d meteredDirectory) Get(ctx context.Context, base, id string, attrs []string) (*bridge.Entry, error) {
	start := time.Now()
	e, err := d.Directory.Get(ctx, base, id, attrs)
	d.done("get", start, err)
	return e, err
}

func (d meteredDirectory) GetByDN(ctx context.Context, dn string, attrs []string) (*bridge.Entry, error) {
	start := time.Now()
	e, err := d.Directory.GetByDN(ctx, dn, attrs)
	d.done("get_by_dn", start, err)
	return e, err
}

func (d meteredDirectory) Search(ctx context.Context, req bridge.SearchRequest) (*bridge.SearchResult, error) {
	start := time.Now()
	r, err := d.Directory.Search(ctx, req)
	d.done("search", start, err)
	return r, err
}

func (d meteredDirectory) Add(ctx context.Context, req bridge.AddRequest) (*bridge.Entry, error) {
	start := time.Now()
	e, err := d.Directory.Add(ctx, req)
	d.done("add", start, err)
	return e, err
}

func (d meteredDirectory) Modify(ctx context.Context, req bridge.ModifyRequest) (*bridge.Entry, error) {
	start := time.Now()
	e, err := d.Directory.Modify(ctx, req)
	d.done("modify", start, err)
	return e, err
}

func (d meteredDirectory) Delete(ctx context.Context, id string) error {
	start := time.Now()
	err := d.Directory.Delete(ctx, id)
	d.done("delete", start, err)
	return err
}

// watchJournal exports the journal: writes waiting for recovery, and
// recovery attempts by kind and outcome.
func (m *metrics) watchJournal(j *journal.Store) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dirbridge_journal_pending", Help: "Multi-step writes cut short and not yet finished or reversed.",
	}, func() float64 {
		p, _ := j.Pending()
		return float64(len(p))
	}))
	m.reg.MustRegister(&journalCollector{j: j, desc: prometheus.NewDesc("dirbridge_journal_recoveries_total",
		"Recovery attempts of writes cut short, by kind and outcome (settled, retry).", []string{"kind", "outcome"}, nil)})
}

type journalCollector struct {
	j    *journal.Store
	desc *prometheus.Desc
}

func (c *journalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *journalCollector) Collect(ch chan<- prometheus.Metric) {
	for k, v := range c.j.Stats() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(v), k[0], k[1])
	}
}
