package awsx

import "time"

// SetRoleExpiryWindow shortens the expiry window of role credentials made
// from now on, until the returned function restores it. Tests using it do
// not run in parallel.
func SetRoleExpiryWindow(w time.Duration) (restore func()) {
	old := roleExpiryWindow
	roleExpiryWindow = w
	return func() { roleExpiryWindow = old }
}
