package bridge

// Lifecycle says how a directory account is disabled and enabled: which
// attribute holds the state and which values mean what. It lives here,
// free of any protocol, because the mapping table chooses it and the LDAP
// side carries it out.
type Lifecycle struct {
	// Disable is the mechanism: LifecyclePPolicy, LifecycleAttribute or
	// LifecycleAD. "" means the dialect's default (ppolicy on OpenLDAP, the
	// UAC bit on AD).
	Disable string
	// Attribute holds the state: pwdAccountLockedTime for ppolicy,
	// userAccountControl for AD, the table's attribute otherwise.
	Attribute string
	// DisabledValue is the value that marks the account disabled
	// (ppolicy: 000001010000Z; attribute: e.g. "TRUE").
	DisabledValue string
	// EnabledValue is written when the account is enabled; "" removes
	// the attribute instead.
	EnabledValue string
}

// The values of Lifecycle.Disable.
const (
	LifecyclePPolicy   = "ppolicy"
	LifecycleAttribute = "attribute"
	LifecycleAD        = "ad"
)
