package ubusapi

import (
	"context"
	"slices"

	"github.com/pakon/pakon/src/ubus"
)

// RootUser is the user ubusd names for uid 0.
const RootUser = "root"

// MayWrite reports whether a caller, as ubusd names its user and group,
// may call the write methods. rpcd checks LuCI users against the rpcd
// ACL and calls as root; a local process that talks to ubusd itself
// reaches pakon past rpcd, so the daemon checks again. Root always may;
// so does a member of group when it is not "".
func MayWrite(group string) func(user, callerGroup string) bool {
	return func(user, callerGroup string) bool {
		return user == RootUser || (group != "" && callerGroup == group)
	}
}

// guardWrites makes every method named in WriteMethods answer
// PERMISSION_DENIED to callers that Service.Writers refuses.
func (s *Service) guardWrites(obj *ubus.Object) *ubus.Object {
	for i := range obj.Methods {
		m := &obj.Methods[i]
		if !slices.Contains(WriteMethods, m.Name) {
			continue
		}
		next, name := m.Handler, m.Name
		m.Handler = func(ctx context.Context, req *ubus.Request) (any, error) {
			allowed := s.Writers
			if allowed == nil {
				allowed = MayWrite("")
			}
			if !allowed(req.User, req.Group) {
				return nil, ubus.Errorf(ubus.StatusPermissionDenied, "%s: user %q (group %q) may not change pakon's data",
					name, req.User, req.Group)
			}
			return next(ctx, req)
		}
	}
	return obj
}
