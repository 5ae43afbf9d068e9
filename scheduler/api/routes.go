package api

import (
	"net/http"

	apidocs "sanji/docs/api"
	"sanji/scheduler"
)

// routeTable is every endpoint with its access. The authorization matrix test walks it: a route
// added here without a row in that test fails the test.
func (s *Server) routeTable() []route {
	return []route{
		{method: "GET", pattern: "/api/v1/openapi.yaml", access: accessPublic, handle: s.openapi},
		{method: "POST", pattern: "/api/v1/session", access: accessPublic, handle: s.login},
		{method: "DELETE", pattern: "/api/v1/session", access: accessSelf, beforePasswordChange: true, handle: s.logout},
		{method: "GET", pattern: "/api/v1/me", access: accessSelf, beforePasswordChange: true, handle: s.me},
		{method: "POST", pattern: "/api/v1/me/password", access: accessSelf, beforePasswordChange: true, handle: s.changePassword},

		{method: "GET", pattern: "/api/v1/units", access: scheduler.ActUnitRead, handle: s.listUnits},
		{method: "POST", pattern: "/api/v1/units", access: scheduler.ActUnitWrite, handle: s.createUnit},
		{method: "PATCH", pattern: "/api/v1/units/{id}", access: scheduler.ActUnitWrite, handle: s.renameUnit},
		{method: "POST", pattern: "/api/v1/units/import", access: scheduler.ActUnitWrite, bodyLimit: maxImportBody, handle: s.importUnits},
		{method: "GET", pattern: "/api/v1/halls", access: scheduler.ActUnitRead, handle: s.listHalls},
		{method: "POST", pattern: "/api/v1/halls", access: scheduler.ActUnitWrite, handle: s.createHall},
		{method: "GET", pattern: "/api/v1/categories", access: scheduler.ActUnitRead, handle: s.listCategories},
		{method: "POST", pattern: "/api/v1/categories", access: scheduler.ActCategoryWrite, handle: s.createCategory},

		{method: "GET", pattern: "/api/v1/users", access: scheduler.ActUserRead, handle: s.listUsers},
		{method: "POST", pattern: "/api/v1/users", access: scheduler.ActUserWrite, handle: s.createUser},
		{method: "PATCH", pattern: "/api/v1/users/{id}", access: scheduler.ActUserWrite, handle: s.updateUser},
		{method: "POST", pattern: "/api/v1/users/{id}/password-reset", access: scheduler.ActUserWrite, handle: s.resetPassword},
		{method: "POST", pattern: "/api/v1/users/{id}/grants", access: scheduler.ActUserWrite, handle: s.addGrant},
		{method: "DELETE", pattern: "/api/v1/users/{id}/grants/{grant}", access: scheduler.ActUserWrite, handle: s.removeGrant},
		{method: "POST", pattern: "/api/v1/devices", access: scheduler.ActUserWrite, handle: s.createDevice},
		{method: "POST", pattern: "/api/v1/devices/{id}/pairing-code", access: scheduler.ActUserWrite, handle: s.newPairingCode},
		{method: "POST", pattern: "/api/v1/devices/pair", access: accessPublic, handle: s.pairDevice},

		{method: "GET", pattern: "/api/v1/tokens", access: accessSelf, handle: s.listTokens},
		{method: "POST", pattern: "/api/v1/tokens", access: accessSelf, handle: s.createToken},
		{method: "DELETE", pattern: "/api/v1/tokens/{id}", access: accessSelf, handle: s.revokeToken},

		{method: "GET", pattern: "/api/v1/audit", access: scheduler.ActAuditRead, handle: s.searchAudit},
		{method: "POST", pattern: "/api/v1/join-tokens", access: scheduler.ActCallJoin, handle: s.joinToken},

		// Receptions (receptions.go).
		{method: "GET", pattern: "/api/v1/public/sessions", access: accessPublic, handle: s.publicSessions},
		{method: "GET", pattern: "/api/v1/holidays", access: scheduler.ActSessionRead, handle: s.listHolidays},
		{method: "PUT", pattern: "/api/v1/holidays/{date}", access: scheduler.ActHolidayWrite, handle: s.putHoliday},
		{method: "GET", pattern: "/api/v1/leaders", access: scheduler.ActSessionWrite, handle: s.listLeaders},
		{method: "GET", pattern: "/api/v1/sessions", access: scheduler.ActSessionRead, handle: s.listSessions},
		{method: "POST", pattern: "/api/v1/sessions", access: scheduler.ActSessionWrite, handle: s.createSession},
		{method: "PATCH", pattern: "/api/v1/sessions/{id}", access: scheduler.ActSessionWrite, handle: s.updateSession},
		{method: "POST", pattern: "/api/v1/sessions/{id}/cancel", access: scheduler.ActSessionWrite, handle: s.cancelSession},
		{method: "POST", pattern: "/api/v1/schedules", access: scheduler.ActSessionWrite, handle: s.createSchedule},
		{method: "POST", pattern: "/api/v1/schedules/{id}/materialize", access: scheduler.ActSessionWrite, handle: s.materializeSchedule},
		{method: "POST", pattern: "/api/v1/sessions/{id}/appointments", access: scheduler.ActApptWrite, handle: s.book},
		{method: "POST", pattern: "/api/v1/sessions/{id}/join-token", access: scheduler.ActCallJoin, handle: s.callJoinToken},
		{method: "GET", pattern: "/api/v1/sessions/{id}/queue", access: scheduler.ActApptRead, handle: s.queue},
		{method: "PATCH", pattern: "/api/v1/appointments/{id}", access: scheduler.ActApptWrite, handle: s.updateAppointment},
		{method: "POST", pattern: "/api/v1/sessions/{id}/booking-checks", access: scheduler.ActApptWrite, handle: s.precheck},
		// Multi-site hearings (hearings.go).
		{method: "POST", pattern: "/api/v1/sessions/{id}/invitations", access: scheduler.ActSessionWrite, handle: s.invite},
		{method: "GET", pattern: "/api/v1/sessions/{id}/invitations", access: scheduler.ActSessionRead, handle: s.sessionInvitations},
		{method: "GET", pattern: "/api/v1/invitations", access: scheduler.ActInvitationAnswer, handle: s.myInvitations},
		{method: "POST", pattern: "/api/v1/invitations/{id}/answer", access: scheduler.ActInvitationAnswer, handle: s.answerInvitation},
		// Calendar feeds (feeds.go): staff make and revoke them; the feed itself is fetched by its secret URL.
		{method: "GET", pattern: "/api/v1/feeds", access: scheduler.ActSessionRead, handle: s.listFeeds},
		{method: "POST", pattern: "/api/v1/feeds", access: scheduler.ActSessionRead, handle: s.createFeed},
		{method: "DELETE", pattern: "/api/v1/feeds/{id}", access: scheduler.ActSessionRead, handle: s.revokeFeed},
		{method: "GET", pattern: feedPrefix + "{file}", access: accessPublic, handle: s.icalFeed},
		// Cases (cases.go).
		{method: "POST", pattern: "/api/v1/cases", access: scheduler.ActCaseRegister, handle: s.createCase},
		{method: "GET", pattern: "/api/v1/cases/{id}", access: scheduler.ActCaseRead, handle: s.getCase},
		{method: "GET", pattern: "/api/v1/cases/{id}/timeline", access: scheduler.ActCaseRead, handle: s.caseTimeline},
		{method: "GET", pattern: "/api/v1/cases/{id}/deadline", access: scheduler.ActCaseRead, handle: s.caseDeadline},
		{method: "POST", pattern: "/api/v1/cases/{id}/transitions", access: scheduler.ActCaseHandle, handle: s.transitionCase},
		{method: "POST", pattern: "/api/v1/cases/{id}/assignments", access: scheduler.ActCaseHandle, handle: s.assignCase},
		{method: "GET", pattern: "/api/v1/cases/{id}/assignments", access: scheduler.ActCaseRead, handle: s.listAssignments},
		{method: "POST", pattern: "/api/v1/assignments/{id}/objection", access: scheduler.ActCaseHandle, handle: s.objectAssignment},
		{method: "POST", pattern: "/api/v1/cases/{id}/supervisions", access: scheduler.ActCaseSupervise, handle: s.superviseCase},
		{method: "POST", pattern: "/api/v1/cases/{id}/attachments", access: scheduler.ActCaseAttach, bodyLimit: s.blobs.MaxSize + 1, handle: s.uploadAttachment},
		{method: "GET", pattern: "/api/v1/attachments/{id}", access: scheduler.ActCaseRead, handle: s.downloadAttachment},
		{method: "POST", pattern: "/api/v1/cases/{id}/supervision/escalate", access: scheduler.ActCaseSupervise, handle: s.escalateSupervision},
		{method: "POST", pattern: "/api/v1/cases/{id}/supervision/close", access: scheduler.ActCaseSupervise, handle: s.closeSupervision},
		{method: "GET", pattern: "/api/v1/cases/{id}/supervisions", access: scheduler.ActCaseRead, handle: s.listSupervisions},
		{method: "POST", pattern: "/api/v1/cases/{id}/supervision/reports", access: scheduler.ActCaseHandle, handle: s.reportSupervision},
		{method: "POST", pattern: "/api/v1/cases/{id}/supervision/extension-decision", access: scheduler.ActCaseSupervise, handle: s.decideSupervisionExtension},
		{method: "POST", pattern: "/api/v1/cases/{id}/clock-events", access: scheduler.ActCaseHandle, handle: s.addClockEvent},
		{method: "GET", pattern: "/api/v1/cases", access: scheduler.ActCaseRead, handle: s.listCases},
		{method: "GET", pattern: "/api/v1/routing-units", access: scheduler.ActCaseHandle, handle: s.routingUnits},
		{method: "POST", pattern: "/api/v1/cases/{id}/owner", access: scheduler.ActCaseOwn, handle: s.setOwner},
		{method: "GET", pattern: "/api/v1/me/owned-cases", access: accessSelf, handle: s.ownedCases},
		// 会商 (consultations.go).
		{method: "POST", pattern: "/api/v1/cases/{id}/consultations", access: scheduler.ActCaseHandle, handle: s.createConsultation},
		{method: "GET", pattern: "/api/v1/cases/{id}/consultations", access: scheduler.ActCaseRead, handle: s.listConsultations},
		{method: "POST", pattern: "/api/v1/consultations/{id}/opinions", access: scheduler.ActCaseHandle, handle: s.addOpinion},
		{method: "POST", pattern: "/api/v1/consultations/{id}/sign", access: scheduler.ActCaseHandle, handle: s.signConsultation},
		// Recordings of hearings (recordings.go).
		{method: "GET", pattern: "/api/v1/cases/{id}/recordings", access: scheduler.ActRecordingView, handle: s.caseRecordings},
		{method: "GET", pattern: "/api/v1/recordings/{hearing}/manifest", access: scheduler.ActRecordingView, handle: s.recordingManifest},
		{method: "GET", pattern: "/api/v1/recordings/{hearing}/files/{name}", access: scheduler.ActRecordingView, handle: s.recordingFile},
		{method: "POST", pattern: "/api/v1/recordings/{hearing}/verify", access: scheduler.ActRecordingView, handle: s.verifyRecording},
		{method: "GET", pattern: "/api/v1/rates", access: scheduler.ActStatsRead, handle: s.rates},
		// Exchange with other systems (exchange.go).
		{method: "POST", pattern: "/api/v1/cases/export", access: scheduler.ActCaseExchange, handle: s.exportCases},
		{method: "POST", pattern: "/api/v1/cases/import", access: scheduler.ActCaseExchange, bodyLimit: maxBundleBody, handle: s.importCases},
		{method: "GET", pattern: "/api/v1/exchange/public-key", access: accessPublic, handle: s.exchangePublicKey},
		{method: "POST", pattern: "/api/v1/query", access: accessPublic, handle: s.publicQuery},
		{method: "POST", pattern: "/api/v1/query/evaluation", access: accessPublic, handle: s.publicEvaluate},
	}
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request, _ *reqCtx) error {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(apidocs.OpenAPI)
	return nil
}
