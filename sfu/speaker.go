package sfu

import "sync/atomic"

// loudness accumulates the audio levels (RFC 6464) a track's packets carry between two samples.
// It is written by the track's read loop and read by the SFU's housekeeping loop.
type loudness struct {
	sum, count atomic.Int64
}

// add records one packet's level: 0 dBov (loudest) … 127 (silence).
func (l *loudness) add(level uint8) {
	l.sum.Add(int64(127 - level))
	l.count.Add(1)
}

// take returns the mean loudness (0 silence … 127 loudest) since the last call.
func (l *loudness) take() float64 {
	n, s := l.count.Swap(0), l.sum.Swap(0)
	if n == 0 {
		return 0
	}
	return float64(s) / float64(n)
}

// speakerDetector picks a room's active speaker from its audio tracks' loudness, smoothed so
// that a cough does not move the leader's big tile, and with hysteresis so that two people
// talking at once do not make it flicker.
type speakerDetector struct {
	smoothed map[string]float64 // participant id → smoothed loudness
	current  string
}

const (
	speakerSmoothing = 0.4  // weight of the newest sample
	speakerThreshold = 45.0 // below this (about -82 dBov) nobody is speaking
	speakerMargin    = 1.15 // a challenger must be this much louder than the current speaker
)

// update folds in one sample per participant (the loudest of its tracks) and reports the speaker
// and whether it changed. Participants missing from levels count as silent.
func (s *speakerDetector) update(levels map[string]float64) (string, bool) {
	if s.smoothed == nil {
		s.smoothed = map[string]float64{}
	}
	for id := range s.smoothed {
		if _, ok := levels[id]; !ok {
			levels[id] = 0
		}
	}
	best, bestLevel := "", 0.0
	for id, l := range levels {
		v := (1-speakerSmoothing)*s.smoothed[id] + speakerSmoothing*l
		if v < 1 && l == 0 {
			delete(s.smoothed, id)
			continue
		}
		s.smoothed[id] = v
		if v > bestLevel || (v == bestLevel && id < best) {
			best, bestLevel = id, v
		}
	}
	next := s.current
	cur := s.smoothed[s.current]
	switch {
	case cur < speakerThreshold && bestLevel < speakerThreshold:
		next = ""
	case cur < speakerThreshold || bestLevel > cur*speakerMargin:
		next = best
	}
	changed := next != s.current
	s.current = next
	return next, changed
}
