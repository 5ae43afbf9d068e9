package cascade

// testRelays are the SFU's relays: the tests run the real media path between nodes.
var testRelays = SFURelays
