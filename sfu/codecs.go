package sfu

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The codecs Sanji forwards. Each PeerConnection gets its own MediaEngine with this table, so
// payload types are the same on every subscriber connection we offer.
var (
	videoFeedback = []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
		{Type: "transport-cc"},
	}
	audioCodecs = []webrtc.RTPCodecParameters{{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			// In-band FEC repairs single losses on thin links; DTX stops sending during silence.
			SDPFmtpLine: "minptime=10;useinbandfec=1;usedtx=1", RTCPFeedback: []webrtc.RTCPFeedback{{Type: "transport-cc"}},
		},
		PayloadType: 111,
	}, {
		// RED (RFC 2198) carries the previous Opus frame again in each packet: a lost packet's
		// audio arrives with the next one, which is what a thin township link needs. Browsers
		// offer it; we ask publishers for it and unwrap it for receivers that lack it.
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"},
		PayloadType:        63,
	}}
	videoCodecs = []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96"}, PayloadType: 97},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFeedback,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, PayloadType: 102},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=102"}, PayloadType: 103},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFeedback,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"}, PayloadType: 104},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=104"}, PayloadType: 105},
	}
	headerExtensions = map[webrtc.RTPCodecType][]string{
		webrtc.RTPCodecTypeAudio: {sdp.SDESMidURI, sdp.AudioLevelURI},
		webrtc.RTPCodecTypeVideo: {sdp.SDESMidURI, sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI},
	}
)

func newMediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m); err != nil {
		return nil, err
	}
	for kind, uris := range headerExtensions {
		for _, uri := range uris {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, kind); err != nil {
				return nil, fmt.Errorf("register extension %s: %w", uri, err)
			}
		}
	}
	return m, nil
}

// registerCodecs registers the codecs we forward.
func registerCodecs(m *webrtc.MediaEngine) error {
	for _, c := range audioCodecs {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	for _, c := range videoCodecs {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	return nil
}

// mimeRED is RED's MIME type; pion has no constant for it.
const mimeRED = "audio/red"

// isRED reports whether a codec is RED.
func isRED(c webrtc.RTPCodecParameters) bool { return strings.EqualFold(c.MimeType, mimeRED) }

// preferRED asks the publisher to send its audio as RED where it offered it: the answer lists
// RED first on every audio transceiver. Where RED was not offered the answer falls back to Opus.
func preferRED(pc *webrtc.PeerConnection) {
	var red, opus []webrtc.RTPCodecParameters
	for _, c := range audioCodecs {
		if isRED(c) {
			red = append(red, c)
		} else {
			opus = append(opus, c)
		}
	}
	for _, tr := range pc.GetTransceivers() {
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			_ = tr.SetCodecPreferences(append(append([]webrtc.RTPCodecParameters{}, red...), opus...))
		}
	}
}

// redPrimary returns the primary (newest) block of a RED payload: the Opus frame of this
// packet, without copying. ok is false for a payload that is not well-formed RED.
//
//	redundant block header: F=1 | block PT (7) | timestamp offset (14) | block length (10)
//	primary block header:   F=0 | block PT (7)
func redPrimary(payload []byte) (primary []byte, ok bool) {
	off, skip := 0, 0
	for {
		if off >= len(payload) {
			return nil, false
		}
		if payload[off]&0x80 == 0 {
			off++
			break
		}
		if off+4 > len(payload) {
			return nil, false
		}
		skip += int(binary.BigEndian.Uint16(payload[off+2:]) & 0x03ff)
		off += 4
	}
	if off+skip > len(payload) {
		return nil, false
	}
	return payload[off+skip:], true
}

// supportedEncoding reports whether an SDP rtpmap encoding name is one we forward.
func supportedEncoding(name string) bool {
	switch strings.ToLower(name) {
	case "opus", "vp8", "h264":
		return true
	}
	return false
}

// checkOffer parses an offer and refuses it when an active audio or video section offers no codec
// that we forward; pion would otherwise answer with the section rejected and no error.
func checkOffer(offer string) error {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	for _, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		if (kind != "audio" && kind != "video") || md.MediaName.Port.Value == 0 {
			continue
		}
		ok := false
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			// "111 opus/48000/2"
			_, enc, found := strings.Cut(a.Value, " ")
			name, _, _ := strings.Cut(enc, "/")
			if found && supportedEncoding(name) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("%w: %s section offers none of opus, VP8, H264", ErrUnsupportedCodec, kind)
		}
	}
	return nil
}

// localCodec finds our registered codec (and its RTX companion) that matches a publisher's codec,
// for the subscriber transceiver's codec preferences.
func localCodec(c webrtc.RTPCodecParameters) []webrtc.RTPCodecParameters {
	if isRED(c) {
		// The receiver takes RED if it can, else the Opus inside it.
		return append([]webrtc.RTPCodecParameters{}, audioCodecs[1], audioCodecs[0])
	}
	table := audioCodecs
	if strings.HasPrefix(strings.ToLower(c.MimeType), "video/") {
		table = videoCodecs
	}
	for _, lc := range table {
		if !strings.EqualFold(lc.MimeType, c.MimeType) || !fmtpCompatible(lc, c) {
			continue
		}
		out := []webrtc.RTPCodecParameters{lc}
		for _, rtx := range table {
			if strings.EqualFold(rtx.MimeType, webrtc.MimeTypeRTX) && rtx.SDPFmtpLine == fmt.Sprintf("apt=%d", lc.PayloadType) {
				out = append(out, rtx)
			}
		}
		return out
	}
	return nil
}

// fmtpCompatible matches H.264 by profile (the part of profile-level-id before the level) and
// packetization mode; other codecs match by MIME type alone.
func fmtpCompatible(a, b webrtc.RTPCodecParameters) bool {
	if !strings.EqualFold(a.MimeType, webrtc.MimeTypeH264) {
		return true
	}
	return fmtpValue(a.SDPFmtpLine, "packetization-mode") == fmtpValue(b.SDPFmtpLine, "packetization-mode") &&
		prefix4(fmtpValue(a.SDPFmtpLine, "profile-level-id")) == prefix4(fmtpValue(b.SDPFmtpLine, "profile-level-id"))
}

func prefix4(s string) string {
	s = strings.ToLower(s)
	if len(s) >= 4 {
		return s[:4]
	}
	return s
}

func fmtpValue(line, key string) string {
	for _, kv := range strings.Split(line, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}
