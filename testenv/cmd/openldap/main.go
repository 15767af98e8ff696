// Command openldap starts a throw-away OpenLDAP on loopback (see
// testenv.StartOpenLDAP), prints its connection details as KEY=VALUE lines
// (LDAP_URL, LDAPS_URL, LDAPS_CA_CERT, LDAP_BASE_DN, LDAP_BIND_DN,
// LDAP_BIND_PW, LDAP_USERS_DN, LDAP_GROUPS_DN, PID) and stays in the
// foreground until SIGTERM or SIGINT, then stops slapd and removes its files.
//
//	go run ./testenv/cmd/openldap
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dirbridge/dirbridge/testenv"
)

func main() {
	o, err := testenv.StartOpenLDAP(nil, testenv.OpenLDAPOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "openldap:", err)
		os.Exit(1)
	}
	fmt.Print(o.Env())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	if err := o.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "openldap: stop:", err)
		os.Exit(1)
	}
}
