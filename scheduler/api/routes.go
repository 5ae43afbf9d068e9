package api

import (
	"net/http"

	apidocs "sanji/docs/api"
	"sanji/scheduler/org"
)

// routeTable is every endpoint with its access. The authorization matrix test walks it: a route
// added here without a row in that test fails the test.
func (s *Server) routeTable() []route {
	return []route{
		// Core (routes.go, session.go).
		{method: "GET", pattern: "/api/v1/openapi.yaml", access: accessPublic, handle: s.openapi},
		{method: "POST", pattern: "/api/v1/session", access: accessPublic, handle: s.login},
		{method: "DELETE", pattern: "/api/v1/session", access: accessSelf, beforePasswordChange: true, beforeSecondFactor: true, handle: s.logout},
		{method: "GET", pattern: "/api/v1/me", access: accessSelf, beforePasswordChange: true, beforeSecondFactor: true, handle: s.me},
		// The second factor (totp.go): the login's second step, the caller's enrolment, an admin's reset.
		{method: "POST", pattern: "/api/v1/session/totp", access: accessSelf, beforePasswordChange: true, beforeSecondFactor: true, handle: s.loginSecondFactor},
		{method: "POST", pattern: "/api/v1/me/totp", access: accessSelf, beforePasswordChange: true, beforeSecondFactor: true, handle: s.beginTOTP},
		{method: "POST", pattern: "/api/v1/me/totp/confirm", access: accessSelf, beforePasswordChange: true, beforeSecondFactor: true, handle: s.confirmTOTP},
		{method: "DELETE", pattern: "/api/v1/users/{id}/totp", access: org.ActUserWrite, handle: s.resetTOTP},
		{method: "POST", pattern: "/api/v1/me/password", access: accessSelf, beforePasswordChange: true, handle: s.changePassword},

		// The organisation (units.go, users.go, devices.go, tokens.go, audit.go, joins.go).
		{method: "GET", pattern: "/api/v1/units", access: org.ActUnitRead, handle: s.listUnits},
		{method: "POST", pattern: "/api/v1/units", access: org.ActUnitWrite, handle: s.createUnit},
		{method: "PATCH", pattern: "/api/v1/units/{id}", access: org.ActUnitWrite, handle: s.renameUnit},
		{method: "POST", pattern: "/api/v1/units/import", access: org.ActUnitWrite, bodyLimit: maxImportBody, handle: s.importUnits},
		{method: "GET", pattern: "/api/v1/halls", access: org.ActUnitRead, handle: s.listHalls},
		{method: "POST", pattern: "/api/v1/halls", access: org.ActUnitWrite, handle: s.createHall},
		{method: "GET", pattern: "/api/v1/categories", access: org.ActUnitRead, handle: s.listCategories},
		{method: "POST", pattern: "/api/v1/categories", access: org.ActCategoryWrite, handle: s.createCategory},

		{method: "GET", pattern: "/api/v1/users", access: org.ActUserRead, handle: s.listUsers},
		{method: "POST", pattern: "/api/v1/users", access: org.ActUserWrite, handle: s.createUser},
		{method: "PATCH", pattern: "/api/v1/users/{id}", access: org.ActUserWrite, handle: s.updateUser},
		{method: "POST", pattern: "/api/v1/users/{id}/password-reset", access: org.ActUserWrite, handle: s.resetPassword},
		{method: "POST", pattern: "/api/v1/users/{id}/grants", access: org.ActUserWrite, handle: s.addGrant},
		{method: "DELETE", pattern: "/api/v1/users/{id}/grants/{grant}", access: org.ActUserWrite, handle: s.removeGrant},
		{method: "POST", pattern: "/api/v1/devices", access: org.ActUserWrite, handle: s.createDevice},
		{method: "POST", pattern: "/api/v1/devices/{id}/pairing-code", access: org.ActUserWrite, handle: s.newPairingCode},
		{method: "POST", pattern: "/api/v1/devices/pair", access: accessPublic, handle: s.pairDevice},

		{method: "GET", pattern: "/api/v1/tokens", access: accessSelf, handle: s.listTokens},
		{method: "POST", pattern: "/api/v1/tokens", access: accessSelf, handle: s.createToken},
		{method: "DELETE", pattern: "/api/v1/tokens/{id}", access: accessSelf, handle: s.revokeToken},

		{method: "GET", pattern: "/api/v1/audit", access: org.ActAuditRead, handle: s.searchAudit},
		{method: "GET", pattern: "/api/v1/nodes", access: org.ActNodeAdmin, handle: s.listNodes},
		{method: "POST", pattern: "/api/v1/nodes/{id}/drain", access: org.ActNodeAdmin, handle: s.drainNode},
		{method: "GET", pattern: "/api/v1/audit/head", access: org.ActAuditRead, handle: s.auditHead},
		{method: "POST", pattern: "/api/v1/join-tokens", access: org.ActCallJoin, handle: s.joinToken},

		// Receptions (sessions.go, holidays.go, appointments.go, bookingchecks.go, joins.go).
		{method: "GET", pattern: "/api/v1/public/sessions", access: accessPublic, handle: s.publicSessions},
		{method: "GET", pattern: "/api/v1/holidays", access: org.ActSessionRead, handle: s.listHolidays},
		{method: "PUT", pattern: "/api/v1/holidays/{date}", access: org.ActHolidayWrite, handle: s.putHoliday},
		{method: "GET", pattern: "/api/v1/holiday-calendar", access: org.ActHolidayWrite, handle: s.holidayCalendar},
		{method: "GET", pattern: "/api/v1/leaders", access: org.ActSessionWrite, handle: s.listLeaders},
		{method: "GET", pattern: "/api/v1/sessions", access: org.ActSessionRead, handle: s.listSessions},
		{method: "POST", pattern: "/api/v1/sessions", access: org.ActSessionWrite, handle: s.createSession},
		{method: "PATCH", pattern: "/api/v1/sessions/{id}", access: org.ActSessionWrite, handle: s.updateSession},
		{method: "POST", pattern: "/api/v1/sessions/{id}/cancel", access: org.ActSessionWrite, handle: s.cancelSession},
		{method: "POST", pattern: "/api/v1/schedules", access: org.ActSessionWrite, handle: s.createSchedule},
		{method: "POST", pattern: "/api/v1/schedules/{id}/materialize", access: org.ActSessionWrite, handle: s.materializeSchedule},
		{method: "POST", pattern: "/api/v1/sessions/{id}/appointments", access: org.ActApptWrite, handle: s.book},
		{method: "POST", pattern: "/api/v1/sessions/{id}/join-token", access: org.ActCallJoin, handle: s.callJoinToken},
		{method: "GET", pattern: "/api/v1/sessions/{id}/seats", access: org.ActCallJoin, handle: s.sessionSeats},
		{method: "GET", pattern: "/api/v1/sessions/{id}/queue", access: org.ActApptRead, handle: s.queue},
		{method: "PATCH", pattern: "/api/v1/appointments/{id}", access: org.ActApptWrite, handle: s.updateAppointment},
		{method: "GET", pattern: "/api/v1/sessions/{id}/query-codes", access: org.ActApptWrite, handle: s.hearingCodesOf},
		{method: "POST", pattern: "/api/v1/sessions/{id}/booking-checks", access: org.ActApptWrite, handle: s.precheck},
		// Multi-site hearings (invitations.go).
		{method: "POST", pattern: "/api/v1/sessions/{id}/invitations", access: org.ActSessionWrite, handle: s.invite},
		{method: "GET", pattern: "/api/v1/sessions/{id}/invitations", access: org.ActSessionRead, handle: s.sessionInvitations},
		{method: "GET", pattern: "/api/v1/invitations", access: org.ActInvitationAnswer, handle: s.myInvitations},
		{method: "POST", pattern: "/api/v1/invitations/{id}/answer", access: org.ActInvitationAnswer, handle: s.answerInvitation},
		// Calendar feeds (feeds.go): staff make and revoke them; the feed itself is fetched by its secret URL.
		{method: "GET", pattern: "/api/v1/feeds", access: org.ActSessionRead, handle: s.listFeeds},
		{method: "POST", pattern: "/api/v1/feeds", access: org.ActSessionRead, handle: s.createFeed},
		{method: "DELETE", pattern: "/api/v1/feeds/{id}", access: org.ActSessionRead, handle: s.revokeFeed},
		{method: "GET", pattern: feedPrefix + "{file}", access: accessPublic, handle: s.icalFeed},
		// Cases (cases.go, casework.go, assignments.go, supervisions.go, attachments.go).
		{method: "POST", pattern: "/api/v1/cases", access: org.ActCaseRegister, handle: s.createCase},
		{method: "GET", pattern: "/api/v1/cases/{id}", access: org.ActCaseRead, handle: s.getCase},
		{method: "GET", pattern: "/api/v1/cases/{id}/timeline", access: org.ActCaseRead, handle: s.caseTimeline},
		{method: "PUT", pattern: "/api/v1/cases/{id}/privacy", access: org.ActCaseRegister, handle: s.setCasePrivacy},
		{method: "GET", pattern: "/api/v1/cases/{id}/deadline", access: org.ActCaseRead, handle: s.caseDeadline},
		{method: "POST", pattern: "/api/v1/cases/{id}/transitions", access: org.ActCaseHandle, handle: s.transitionCase},
		{method: "POST", pattern: "/api/v1/cases/{id}/assignments", access: org.ActCaseHandle, handle: s.assignCase},
		{method: "GET", pattern: "/api/v1/cases/{id}/assignments", access: org.ActCaseRead, handle: s.listAssignments},
		{method: "POST", pattern: "/api/v1/assignments/{id}/objection", access: org.ActCaseHandle, handle: s.objectAssignment},
		{method: "POST", pattern: "/api/v1/cases/{id}/supervisions", access: org.ActCaseSupervise, handle: s.superviseCase},
		{method: "POST", pattern: "/api/v1/cases/{id}/attachments", access: org.ActCaseAttach, bodyLimit: s.blobs.MaxSize + 1, handle: s.uploadAttachment},
		{method: "GET", pattern: "/api/v1/attachments/{id}", access: org.ActCaseRead, handle: s.downloadAttachment},
		{method: "POST", pattern: "/api/v1/cases/{id}/supervision/escalate", access: org.ActCaseSupervise, handle: s.escalateSupervision},
		{method: "POST", pattern: "/api/v1/cases/{id}/supervision/close", access: org.ActCaseSupervise, handle: s.closeSupervision},
		{method: "GET", pattern: "/api/v1/cases/{id}/supervisions", access: org.ActCaseRead, handle: s.listSupervisions},
		{method: "GET", pattern: "/api/v1/supervisions/escalated", access: org.ActCaseSupervise, handle: s.listEscalatedSupervisions},
		{method: "POST", pattern: "/api/v1/cases/{id}/supervision/reports", access: org.ActCaseHandle, handle: s.reportSupervision},
		{method: "POST", pattern: "/api/v1/cases/{id}/supervision/extension-decision", access: org.ActCaseSupervise, handle: s.decideSupervisionExtension},
		{method: "POST", pattern: "/api/v1/cases/{id}/clock-events", access: org.ActCaseHandle, handle: s.addClockEvent},
		{method: "GET", pattern: "/api/v1/cases", access: org.ActCaseRead, handle: s.listCases},
		// Documents, service and ratings (documents.go).
		{method: "POST", pattern: "/api/v1/cases/{id}/documents", access: org.ActCaseHandle, handle: s.createDocument},
		{method: "GET", pattern: "/api/v1/cases/{id}/documents", access: org.ActCaseRead, handle: s.listDocuments},
		{method: "GET", pattern: "/api/v1/cases/{id}/documents/{doc}", access: org.ActCaseHandle, handle: s.printDocument},
		{method: "POST", pattern: "/api/v1/cases/{id}/documents/{doc}/service", access: org.ActCaseHandle, handle: s.serveDocument},
		{method: "POST", pattern: "/api/v1/cases/{id}/ratings", access: org.ActCaseHandle, handle: s.recordRating},
		{method: "GET", pattern: "/api/v1/documents/unserved", access: org.ActCaseRead, handle: s.unservedDocuments},
		{method: "GET", pattern: "/api/v1/ratings/pending", access: org.ActCaseRead, handle: s.pendingRatings},
		{method: "GET", pattern: "/api/v1/routing-units", access: org.ActCaseHandle, handle: s.routingUnits},
		{method: "POST", pattern: "/api/v1/cases/{id}/owner", access: org.ActCaseOwn, handle: s.setOwner},
		{method: "GET", pattern: "/api/v1/me/owned-cases", access: accessSelf, handle: s.ownedCases},
		// 会商 (consultations.go).
		{method: "POST", pattern: "/api/v1/cases/{id}/consultations", access: org.ActCaseHandle, handle: s.createConsultation},
		{method: "GET", pattern: "/api/v1/cases/{id}/consultations", access: org.ActCaseRead, handle: s.listConsultations},
		{method: "POST", pattern: "/api/v1/consultations/{id}/opinions", access: org.ActCaseHandle, handle: s.addOpinion},
		{method: "POST", pattern: "/api/v1/consultations/{id}/sign", access: org.ActCaseHandle, handle: s.signConsultation},
		{method: "POST", pattern: "/api/v1/consultations/{id}/absences", access: org.ActCaseHandle, handle: s.recordAbsence},
		// Recordings of hearings (recordings.go).
		{method: "GET", pattern: "/api/v1/cases/{id}/recordings", access: org.ActRecordingView, handle: s.caseRecordings},
		{method: "GET", pattern: "/api/v1/recordings/{hearing}/manifest", access: org.ActRecordingView, handle: s.recordingManifest},
		{method: "GET", pattern: "/api/v1/recordings/{hearing}/files/{name}", access: org.ActRecordingView, handle: s.recordingFile},
		{method: "POST", pattern: "/api/v1/recordings/{hearing}/verify", access: org.ActRecordingView, handle: s.verifyRecording},
		// Rates (rates.go).
		{method: "GET", pattern: "/api/v1/rates", access: org.ActStatsRead, handle: s.rates},
		// Exchange with other systems (exchange.go).
		{method: "POST", pattern: "/api/v1/cases/export", access: org.ActCaseExchange, handle: s.exportCases},
		{method: "POST", pattern: "/api/v1/cases/import", access: org.ActCaseExchange, bodyLimit: maxBundleBody, handle: s.importCases},
		{method: "GET", pattern: "/api/v1/exchange/public-key", access: accessPublic, handle: s.exchangePublicKey},
		// The petitioner's query page (query.go).
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
