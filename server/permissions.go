package server

import quotav1 "github.com/quota-svc/quota/gen/quota/v1"

// api is the service a method belongs to, as roles see it.
type api int

const (
	// apiQuota is QuotaService: the orchestrator's.
	apiQuota api = iota + 1
	// apiAdmin is AdminService: operators'.
	apiAdmin
)

// access is what calling a method takes: its service and whether it
// changes anything. Role.permits decides from it.
type access struct {
	api     api
	mutates bool
}

var (
	quotaRead   = access{api: apiQuota}
	quotaMutate = access{api: apiQuota, mutates: true}
	adminRead   = access{api: apiAdmin}
	adminMutate = access{api: apiAdmin, mutates: true}
)

// methodAccess is the access every RPC of QuotaService and AdminService
// needs, by full method name. A method missing here is denied to every
// token; TestEveryMethodHasAnAccess fails when one is missing, so every
// new RPC must be given its access here.
//
// A "read" that releases expired holds or rolls a period over (IDEMPOTENT
// rather than NO_SIDE_EFFECTS) is still a read here: it changes nothing a
// caller asked for, only what time already decided.
var methodAccess = map[string]access{
	quotav1.QuotaService_Reserve_FullMethodName:        quotaMutate,
	quotav1.QuotaService_Extend_FullMethodName:         quotaMutate,
	quotav1.QuotaService_Commit_FullMethodName:         quotaMutate,
	quotav1.QuotaService_Refund_FullMethodName:         quotaMutate,
	quotav1.QuotaService_GetReservation_FullMethodName: quotaRead,
	quotav1.QuotaService_GetBalance_FullMethodName:     quotaRead,
	quotav1.QuotaService_EstimateCost_FullMethodName:   quotaRead,
	quotav1.QuotaService_ListRunCosts_FullMethodName:   quotaRead,

	quotav1.AdminService_SetWorkspace_FullMethodName:        adminMutate,
	quotav1.AdminService_GetWorkspace_FullMethodName:        adminRead,
	quotav1.AdminService_SetSeat_FullMethodName:             adminMutate,
	quotav1.AdminService_GetPricing_FullMethodName:          adminRead,
	quotav1.AdminService_SetPricing_FullMethodName:          adminMutate,
	quotav1.AdminService_ListPricingVersions_FullMethodName: adminRead,
	quotav1.AdminService_SetWorkspacePolicy_FullMethodName:  adminMutate,
	quotav1.AdminService_SetMemberPoolCap_FullMethodName:    adminMutate,
	quotav1.AdminService_AddPoolGrant_FullMethodName:        adminMutate,
	quotav1.AdminService_VoidPoolGrant_FullMethodName:       adminMutate,
	quotav1.AdminService_ListPoolGrants_FullMethodName:      adminRead,
	quotav1.AdminService_GetWorkspaceBalance_FullMethodName: adminRead,
	quotav1.AdminService_GetUsage_FullMethodName:            adminRead,
	quotav1.AdminService_ListMembers_FullMethodName:         adminRead,
	quotav1.AdminService_ListLedgerEntries_FullMethodName:   adminRead,
	quotav1.AdminService_ListReservations_FullMethodName:    adminRead,
	quotav1.AdminService_ExplainBalance_FullMethodName:      adminRead,
	quotav1.AdminService_AuditWorkspace_FullMethodName:      adminRead,
	quotav1.AdminService_RefundReservation_FullMethodName:   adminMutate,
	quotav1.AdminService_AdjustBalance_FullMethodName:       adminMutate,
}
