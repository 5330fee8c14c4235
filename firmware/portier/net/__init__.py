# Network edges: the signalling link to the switchboard and the UDP media socket.
