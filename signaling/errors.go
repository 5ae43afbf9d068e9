package signaling

import (
	"context"
	"errors"
	"fmt"

	"sanji/auth"
	"sanji/call"
	"sanji/scheduler/org"
	"sanji/sfu"
)

// The errors a client can get. Each says, Chinese first, what went wrong and what to do.

func errBadJSON(detail string) *Error {
	return newError(CodeBadJSON,
		"消息不是合法的 JSON 对象或字段类型错误（"+detail+"），请按协议发送一个 JSON 对象",
		"the message is not a valid JSON object or a field has the wrong type ("+detail+"); send one JSON object as the protocol describes")
}

func errTooLarge(limit int) *Error {
	return newError(CodeTooLarge,
		fmt.Sprintf("消息超过 %d 字节，连接将关闭；请重新连接并发送更小的消息", limit),
		fmt.Sprintf("the message is over %d bytes and the connection will close; reconnect and send smaller messages", limit))
}

func errBadVersion() *Error {
	return newError(CodeBadVersion,
		"协议版本 v 必须为 1，请更新客户端",
		"the protocol version v must be 1; update the client")
}

func errUnknownType(typ string) *Error {
	return newError(CodeUnknownType,
		fmt.Sprintf("未知的消息类型 %q，请检查客户端是否与服务器版本一致", typ),
		fmt.Sprintf("unknown message type %q; check that the client matches the server version", typ))
}

func errInvalid(field, want string) *Error {
	return newError(CodeInvalid,
		fmt.Sprintf("字段 %s 缺失或超出范围（应为%s），请修正后重发", field, wantZH[want]),
		fmt.Sprintf("field %s is missing or out of range (want %s); fix it and send again", field, want))
}

// wantZH translates the few range descriptions errInvalid is called with.
var wantZH = map[string]string{
	wantNonEmpty:  "非空字符串",
	wantShortID:   "不超过 64 个字符的字符串",
	wantTarget:    "publisher 或 subscriber",
	wantBool:      "布尔值",
	wantTrackList: fmt.Sprintf("1 到 %d 个非空轨道 ID", maxTrackIDs),
	wantCandidate: "浏览器 RTCIceCandidateInit 格式且可被接受的候选",
	wantPixels:    "0 到 7680 之间的整数像素",
	wantPriority:  "0 到 10 之间的整数",
	wantPositive:  "正整数编号",
	wantOutcome:   "assigned、supervised、consulted、answered 或 referred",
	wantNote:      "不超过 2000 字的文字",
	wantNames:     "1 到 50 个字的姓名",
	wantOther:     "另一名参会者的编号",
	wantRecord:    "不超过 20000 字的笔录",
	wantSignature: "PNG 图片的 data URL（不超过 48 KiB）",
}

const (
	wantNonEmpty  = "a non-empty string"
	wantShortID   = "a string of at most 64 characters"
	wantTarget    = `"publisher" or "subscriber"`
	wantBool      = "true or false"
	wantTrackList = "1 to 100 non-empty track ids"
	wantCandidate = "an acceptable candidate in the browser's RTCIceCandidateInit form"
	wantPixels    = "whole pixels from 0 to 7680"
	wantPriority  = "a whole number from 0 to 10"
	wantPositive  = "a positive id"
	wantOutcome   = "assigned, supervised, consulted, answered or referred"
	wantNote      = "text of at most 2000 characters"
	wantNames     = "names of 1 to 50 characters"
	wantOther     = "the id of another participant"
	wantRecord    = "a record of at most 20000 characters"
	wantSignature = "a PNG image as a data URL (at most 48 KiB)"
)

func errNotJoined() *Error {
	return newError(CodeNotJoined,
		"尚未加入会议，请先发送 join",
		"not joined yet; send join first")
}

func errAlreadyJoined() *Error {
	return newError(CodeAlreadyJoined,
		"已经加入会议，不能再次 join；如需进入其他会议请新建连接",
		"already joined; to enter another room open a new connection")
}

func errToken(err error) *Error {
	if errors.Is(err, auth.ErrExpired) {
		return newError(CodeTokenExpired,
			"入会凭证已过期，请重新获取凭证后再 join",
			"the join token has expired; get a new token and join again")
	}
	return newError(CodeBadToken,
		"入会凭证无效，请重新获取凭证后再 join",
		"the join token is not valid; get a new token and join again")
}

func errRateLimited(limit int) *Error {
	return newError(CodeRateLimited,
		fmt.Sprintf("消息过于频繁（每秒超过 %d 条），多余的消息已丢弃，请放慢发送", limit),
		fmt.Sprintf("too many messages (over %d per second); the excess was dropped, slow down", limit))
}

func errInternal() *Error {
	return newError(CodeInternal,
		"服务器内部错误，请稍后重试；如一直出现请联系管理员",
		"server error; try again shortly and tell the administrator if it keeps happening")
}

// sfuError maps an error of the SFU to what the client is told.
func sfuError(err error) *Error {
	switch {
	case errors.Is(err, sfu.ErrBadSDP):
		return newError(CodeBadSDP,
			"SDP 无法解析或应用，请重新创建 offer/answer 后再发",
			"the SDP could not be parsed or applied; create a new offer/answer and send it again")
	case errors.Is(err, sfu.ErrUnsupportedCodec):
		return newError(CodeUnsupportedCodec,
			"音频或视频没有 Sanji 支持的编码（音频 Opus，视频 VP8 或 H.264），请使用支持这些编码的浏览器或设备",
			"an audio or video section offers no codec Sanji supports (audio Opus, video VP8 or H.264); use a browser or device that offers them")
	case errors.Is(err, sfu.ErrTrackNotFound):
		return newError(CodeNotFound,
			"找不到该轨道，或它不是你发布的；请刷新成员列表后重试",
			"no such track, or it is not yours; refresh the participant list and try again")
	case errors.Is(err, sfu.ErrForbidden):
		return newError(CodeForbidden,
			"当前接访安排不允许你接收该轨道",
			"the current reception arrangement does not allow you to receive this track")
	case errors.Is(err, sfu.ErrWrongState):
		return newError(CodeWrongState,
			"当前协商状态不允许此操作（例如没有待回答的 subscribe_offer），请按协议顺序发送",
			"not allowed in the current negotiation state (e.g. no subscribe_offer is outstanding); follow the protocol's order")
	case errors.Is(err, sfu.ErrClosed):
		return newError(CodeInternal,
			"媒体连接已关闭，请重新连接",
			"the media session is closed; reconnect")
	}
	return errInternal()
}

// Errors of the reception call.

func errNoCalls() *Error {
	return newError(CodeForbidden, "本服务器未启用视频接访，请联系管理员", "this server does not run reception calls; ask the administrator")
}

func errNotInCall() *Error {
	return newError(CodeWrongState, "此操作只能在视频接访中使用", "this works only in a reception call")
}

func errNotModerator() *Error {
	return newError(CodeForbidden, "只有主会场（领导及工作人员）可以主持接访", "only the studio (the leader and staff) runs the reception")
}

func errQueueEmpty() *Error {
	return newError(CodeNotFound, "队列中已没有候访人", "nobody is waiting in the queue")
}

func errHearingUnderWay() *Error {
	return newError(CodeWrongState, "当前接访尚未结束，请先结束接访（记录处理结果）", "a hearing is under way; end it (with its outcome) first")
}

func errNoHearing() *Error {
	return newError(CodeWrongState, "当前没有进行中的接访，请先叫号", "no hearing is under way; call a petitioner first")
}

func errNotStageHall() *Error {
	return newError(CodeForbidden, "只有当前接访所在大厅可以这样做", "only the hall of the current hearing can do this")
}

func errObserver() *Error {
	return newError(CodeForbidden, "列席人员不能发言", "observers do not speak")
}

func errNoParticipant() *Error {
	return newError(CodeNotFound, "该参会者不在本次接访中，请刷新名单", "that participant is not in this call; refresh the roster")
}

func errTooManySpeakers() *Error {
	return newError(CodeInvalid, "集体访最多 5 名代表发言，其余人员计入涉及人数", "at most 5 representatives of a collective visit speak; the others are counted")
}

func errNotRepresentative() *Error {
	return newError(CodeInvalid, "发言人须为该预约登记的信访人或代表", "speakers must be the petitioner or representatives named in the booking")
}

func errRecordConfirmed() *Error {
	return newError(CodeWrongState, "笔录已经信访人确认并归档，不能再修改", "the record was confirmed by the petitioner and filed; it cannot change")
}

func errNoRecord() *Error {
	return newError(CodeInvalid, "笔录为空，请先记录接访内容再请信访人确认", "the record is empty; write it before the petitioner confirms it")
}

// callError maps an error of a reception call's command to what the client is told.
func callError(err error) *Error {
	switch {
	case errors.Is(err, call.ErrNotModerator):
		return errNotModerator()
	case errors.Is(err, call.ErrQueueEmpty):
		return errQueueEmpty()
	case errors.Is(err, call.ErrHearingUnderWay):
		return errHearingUnderWay()
	case errors.Is(err, call.ErrNoHearing):
		return errNoHearing()
	case errors.Is(err, call.ErrNotStageHall):
		return errNotStageHall()
	case errors.Is(err, call.ErrObserver):
		return errObserver()
	case errors.Is(err, call.ErrNoParticipant):
		return errNoParticipant()
	case errors.Is(err, call.ErrTooManySpeakers):
		return errTooManySpeakers()
	case errors.Is(err, call.ErrNotRepresentative):
		return errNotRepresentative()
	case errors.Is(err, call.ErrRecordConfirmed):
		return errRecordConfirmed()
	case errors.Is(err, call.ErrNoRecord):
		return errNoRecord()
	}
	return backendError(err)
}

// backendError maps a scheduler error to what the client is told.
func backendError(err error) *Error {
	var fe *org.FieldError
	switch {
	case errors.As(err, &fe):
		return newError(CodeInvalid, fe.ZH, fe.EN)
	case errors.Is(err, org.ErrNotFound):
		return newError(CodeNotFound, "找不到该会次、预约或事项，请刷新后重试", "no such session, appointment or case; refresh and try again")
	case errors.Is(err, org.ErrConflict):
		return newError(CodeWrongState, "该预约已接访、已取消或未到场，不能再次操作；请刷新队列", "the appointment was heard, cancelled or marked absent already; refresh the queue")
	case errors.Is(err, context.DeadlineExceeded):
		return newError(CodeInternal, "后台处理超时，请稍后重试", "the scheduler did not answer in time; try again shortly")
	}
	return errInternal()
}
