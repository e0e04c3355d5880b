package store

import (
	"testing"

	"github.com/quota-svc/quota/store/internal/schema"
)

// packedLayout packs a value for each field of l as a script would: text
// fields from str (by name, else an id-like string), integers of
// µcredit size.
func packedLayout(l *schema.Layout, str map[string]string) string {
	var b []byte
	for i, f := range l.Fields {
		if f.Str {
			s, ok := str[f.Name]
			if !ok {
				s = "c_0123456789abcdef0123456789abcdef_3"
			}
			b = appendStr(b, s)
		} else {
			b = appendInt(b, 1_234_567_890+int64(i))
		}
	}
	return string(b)
}

// BenchmarkReserveReplyDecode measures what quotad does with a Reserve's
// reply once Redis sent it: the packed values (a reservation and its
// owner's balance, each carrying its record) read into quota.Outcome.
func BenchmarkReserveReplyDecode(b *testing.B) {
	res := packedLayout(schema.Reservation, map[string]string{"owner": "member-0042", "h_grants": "", "c_grants": "",
		"parent": "", "root": "", "cost": ""})
	acct := packedLayout(schema.Account, nil)
	parts := []any{int64(schema.StatusPacked),
		packedLayout(schema.ReplyReservation, map[string]string{"res": res, "parent": "", "root": ""}),
		packedLayout(schema.ReplyBalance, map[string]string{"acct": acct})}
	b.ReportAllocs()
	for b.Loop() {
		r, err := newReply(parts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.outcome("ws-1"); err != nil {
			b.Fatal(err)
		}
	}
}
