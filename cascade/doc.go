// Package cascade lets one call span several nodes along the tier tree (docs/architecture.md,
// "Cascade"). The call (its signaling, roster, queue, stage, policy and recording) stays on its
// owner, the node its placement chose; a participant's media may be held by the node nearest it
// (a district's node for its halls). Between the owner and each such node there is one link, a
// WebSocket the owner opens with a node token (auth.RoleNode, signed with the installation's
// token_secret), which carries:
//
//   - the owner's commands to the participants whose media the other node holds (join, publish,
//     answer, candidates, subscribe, settings, close) and their answers;
//   - those participants' SFU events back to the owner's sessions, which send them on to the
//     clients as if the media were local;
//   - the call's policy whenever it changes, which the other node's room enforces on its own
//     participants with the owner's rule;
//   - the messages of the room's media relay between the two SFUs (sfu.Relay), opaque here.
//
// The owner's side of a participant held elsewhere is a Remote; the other node's side is an
// ordinary sfu.Participant whose sink writes to the link. Requests on a link are handled in
// order, one at a time, so a participant's candidates never overtake its offer.
package cascade
